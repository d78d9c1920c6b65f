"""``/api/v1/engagements`` and ``/api/v1/context-events``: append-only streams.

Engagements and context events are records of what happened, so they are listed (with cursor
pages that stay correct while rows arrive), read and created, never edited: the domain has no
service that changes or removes one. Creation goes through the same services as the pages.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from engagement.api.filters import ContextEventFilter, EngagementFilter, StreamOrderingFilter
from engagement.api.serializers import (
    ContextEventCreateSerializer,
    ContextEventSerializer,
    EngagementCreateSerializer,
    EngagementSerializer,
)
from engagement.models import ContextEvent, Engagement
from engagement.selectors import context_events_for_api, engagements_for_api
from engagement.services import context_event_record_once, engagement_record
from tenancy.api.filters import TandemFilterBackend
from tenancy.api.pagination import StreamCursorPagination
from tenancy.api.views import TenantViewSet

STREAM_LIST = (
    "Cursor pages (follow `next`), newest first by default; `ordering` by {fields}, ties broken "
    "by id. Filter with the query parameters; `updated_since` returns rows recorded at or after "
    "an instant, for incremental sync."
)


class _StreamViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    pagination_class = StreamCursorPagination
    filter_backends = [TandemFilterBackend, StreamOrderingFilter]
    ordering = ["-occurred_at", "-id"]


@extend_schema_view(
    list=extend_schema(
        summary="List engagements",
        description=STREAM_LIST.format(fields="occurred_at, created_at or id"),
    ),
    retrieve=extend_schema(
        summary="One engagement", description="An engagement of your organization, by id."
    ),
    create=extend_schema(
        summary="Record an engagement",
        description=(
            "Record one interaction with a member: its direction (inbound-reactive, "
            "outbound-reactive, outbound-proactive), type and time. Not in the future; a goal "
            "must be the member's own. Without `seat`, a key's engagement is automated and a "
            "signed-in person's is theirs. The member's success gap is recomputed shortly after."
        ),
        request=EngagementCreateSerializer,
        responses={201: EngagementSerializer},
        examples=[
            OpenApiExample(
                "A proactive call",
                request_only=True,
                value={
                    "member": 42,
                    "direction": "outbound_proactive",
                    "type": "call",
                    "occurred_at": "2026-03-02T15:30:00+01:00",
                    "summary": "Planned the certification exam together.",
                    "duration_minutes": 25,
                },
            )
        ],
    ),
)
class EngagementViewSet(_StreamViewSet):
    queryset_model = Engagement
    serializer_class = EngagementSerializer
    lookup_url_kwarg = "engagement_id"
    filterset_class = EngagementFilter
    ordering_fields = ["occurred_at", "created_at", "id"]

    def get_tenant_queryset(self):
        return engagements_for_api(organization=self.organization)

    def get_serializer_class(self):
        return EngagementCreateSerializer if self.action == "create" else EngagementSerializer

    def create(self, request, *args, **kwargs):
        incoming = EngagementCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        if "seat" not in data:
            data["seat"] = self.principal.seat
        engagement = engagement_record(organization=self.organization, **data)
        return Response(EngagementSerializer(engagement).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="List context events",
        description=STREAM_LIST.format(fields="occurred_at, recorded_at or id"),
    ),
    retrieve=extend_schema(
        summary="One context event", description="A context event of your organization, by id."
    ),
    create=extend_schema(
        summary="Record a context event",
        description=(
            "Record one data point about a member (usage, activity, a team, company, goal or "
            "membership change). Idempotent by `external_id`: sending an id already stored "
            "stores nothing and answers 200 with the stored event (201 when it is new). A new "
            "event achieves the member's pending milestones whose rule it matches. For many "
            "events at once use `POST /api/v1/context-events/bulk`."
        ),
        request=ContextEventCreateSerializer,
        responses={
            201: OpenApiResponse(ContextEventSerializer, description="Stored now."),
            200: OpenApiResponse(
                ContextEventSerializer, description="Already stored under this external_id."
            ),
        },
        examples=[
            OpenApiExample(
                "A completed course",
                request_only=True,
                value={
                    "member": 42,
                    "kind": "activity",
                    "name": "course_completed",
                    "occurred_at": "2026-03-02T09:12:00Z",
                    "value": 1,
                    "payload": {"course": "Advanced estimating"},
                    "external_id": "lms-completion-98765",
                },
            )
        ],
    ),
)
class ContextEventViewSet(_StreamViewSet):
    queryset_model = ContextEvent
    serializer_class = ContextEventSerializer
    lookup_url_kwarg = "context_event_id"
    filterset_class = ContextEventFilter
    ordering_fields = ["occurred_at", "recorded_at", "id"]

    def get_tenant_queryset(self):
        return context_events_for_api(organization=self.organization)

    def get_serializer_class(self):
        return ContextEventCreateSerializer if self.action == "create" else ContextEventSerializer

    def create(self, request, *args, **kwargs):
        incoming = ContextEventCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        event, created = context_event_record_once(
            organization=self.organization,
            source=ContextEvent.Source.API,
            **incoming.validated_data,
        )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(ContextEventSerializer(event).data, status=answer)
