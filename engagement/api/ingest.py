"""``POST /api/v1/context-events/bulk``: many context events in one request.

The envelope (a JSON array of at most ``TANDEM_CONTEXT_EVENTS_BULK_MAX`` items) is checked
here; each item is checked, resolved and stored by ``context_events_ingest`` in one set-based
write, and the answer says, item by item, what was accepted and what was refused and why.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from engagement.api.serializers import BulkResultSerializer, ContextEventBulkItemSerializer
from engagement.services import IngestResult, context_events_ingest
from tenancy.api.views import TenantAPIView

# How many events one request may carry; more answers 400 (send several requests).
BULK_MAX = getattr(settings, "TANDEM_CONTEXT_EVENTS_BULK_MAX", 1000)

DESCRIPTION = f"""Send up to **{BULK_MAX:,} context events** in one request, as a JSON array.

Each item names its member by `member_id` or `member_external_id` (the member's id in your own
systems) and is checked on its own: the answer lists every item as `accepted` (with the stored
event's id) or `refused` (with its position and the reasons, field by field). Refused items store
nothing; the others are stored all the same.

Idempotent by `external_id`: an event whose external id is already stored (or repeated in the
request) stores nothing again and is accepted with `already_stored: true` and the stored id, so
re-sending a batch after a timeout is safe. Events without an external id are stored every time.

New events achieve the pending milestones they match once the batch is stored, and the success
gaps of their members are recomputed shortly after. The answer is 400 only when the request
itself is wrong: not an array, or more than {BULK_MAX:,} items."""

EXAMPLE = [
    {
        "member_external_id": "crm-00017",
        "kind": "usage",
        "name": "logins",
        "value": 14,
        "occurred_at": "2026-03-01T00:00:00Z",
        "external_id": "usage-2026-03-01-crm-00017",
    },
    {
        "member_id": 42,
        "kind": "activity",
        "name": "course_completed",
        "occurred_at": "2026-03-02T09:12:00+01:00",
        "payload": {"course": "Advanced estimating"},
        "external_id": "lms-completion-98765",
    },
]


def _answer(result: IngestResult) -> dict:
    stored = result.stored
    return {
        "stored": stored,
        "already_stored": len(result.accepted) - stored,
        "accepted": [
            {
                "index": item.index,
                "id": item.id,
                "member": item.member_id,
                "external_id": item.external_id,
                "already_stored": item.already_stored,
            }
            for item in result.accepted
        ],
        "refused": [
            {
                "index": item.index,
                "errors": {field: [message] for field, message in item.errors.items()},
            }
            for item in result.refused
        ],
    }


class ContextEventBulkView(TenantAPIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="context_events_bulk_create",
        summary=f"Record up to {BULK_MAX:,} context events at once",
        description=DESCRIPTION,
        request=ContextEventBulkItemSerializer(many=True),
        responses={200: BulkResultSerializer},
        examples=[OpenApiExample("Two events", value=EXAMPLE, request_only=True)],
    )
    def post(self, request):
        items = request.data
        if not isinstance(items, list):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send a JSON array of events."]}
            )
        if len(items) > BULK_MAX:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"At most {BULK_MAX:,} events per request ({len(items):,} sent); "
                        "send them in several requests."
                    ]
                }
            )
        result = context_events_ingest(organization=self.organization, items=items)
        return Response(_answer(result), status=status.HTTP_200_OK)
