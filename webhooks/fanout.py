"""Fan-out: each new domain event of an organization becomes one delivery per active endpoint
subscribed to its kind.

Per organization, a ``WebhookCursor`` says how far the events were read. A run reads the events
after it in batches (a fixed number of queries per batch), builds the deliveries in memory and
inserts them in one statement per batch; the unique (organization, endpoint, event) rule makes
a repeated run insert nothing twice. The cursor moves in the same transaction.

An event ``occurred_at`` before an endpoint was registered is not sent to it: an endpoint
receives what happens from its registration on, not the organization's history.

Ids are handed out before commit, so on PostgreSQL an event may become visible after a newer
one. The cursor therefore consumes up to a *horizon*: the newest id seen by an earlier run at
least ``WEBHOOK_FANOUT_GRACE_SECONDS`` ago (see ``WebhookCursor``). With a grace of 0 it reads
up to the newest event at once (SQLite, tests).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from tenancy.models import DomainEvent, Organization
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint

BATCH = 1000


def envelope(event: DomainEvent, organization: Organization) -> dict:
    """What a receiver gets: the event's id, type and time, and its data."""
    return {
        "id": f"evt_{event.pk}",
        "type": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "organization": organization.slug,
        "data": {"subject_id": event.subject_id, **(event.payload or {})},
    }


def _cursor(organization: Organization) -> WebhookCursor:
    """The organization's cursor, locked until commit (created at 0 the first time)."""
    cursors = WebhookCursor.objects.for_org(organization)
    cursors.bulk_create([WebhookCursor(organization=organization)], ignore_conflicts=True)
    return cursors.select_for_update().get()


def _upto(cursor: WebhookCursor, newest: int, now: dt.datetime) -> int:
    """How far this run may read, moving the horizon when the last one is used up."""
    grace = settings.WEBHOOK_FANOUT_GRACE_SECONDS
    if grace <= 0:
        return newest
    upto = cursor.last_event_id
    if cursor.horizon_at is not None and cursor.horizon_at <= now - dt.timedelta(seconds=grace):
        upto = max(upto, cursor.horizon_event_id or 0)
    if cursor.horizon_at is None or upto >= (cursor.horizon_event_id or 0):
        cursor.horizon_event_id, cursor.horizon_at = newest, now
    return upto


def _subscriptions(endpoints: list[WebhookEndpoint]) -> dict[str, list[WebhookEndpoint]]:
    by_kind: dict[str, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        for kind in endpoint.event_types:
            by_kind[kind].append(endpoint)
    return by_kind


def _deliveries(
    organization: Organization,
    events: list[DomainEvent],
    by_kind: dict[str, list[WebhookEndpoint]],
    now: dt.datetime,
) -> list[WebhookDelivery]:
    return [
        WebhookDelivery(
            organization=organization,
            endpoint=endpoint,
            domain_event_id=event.pk,
            event_kind=event.kind,
            payload=envelope(event, organization),
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
        for endpoint in by_kind.get(event.kind, ())
        if event.occurred_at >= endpoint.created_at
    ]


@transaction.atomic
def webhook_deliveries_fan_out(
    *, organization: Organization, now: dt.datetime | None = None
) -> int:
    """Create the deliveries of the organization's new domain events; returns how many rows it
    offered (a row already there from an earlier read is skipped by the database)."""
    now = now or timezone.now()
    cursor = _cursor(organization)
    events = DomainEvent.objects.for_org(organization)
    newest = events.aggregate(newest=Max("pk"))["newest"] or 0
    upto = _upto(cursor, newest, now)
    endpoints = list(WebhookEndpoint.objects.for_org(organization).filter(is_active=True))
    by_kind = _subscriptions(endpoints)
    created = 0
    if by_kind and upto > cursor.last_event_id:
        since = min(endpoint.created_at for endpoint in endpoints)
        wanted = events.filter(kind__in=list(by_kind), occurred_at__gte=since)
        last = cursor.last_event_id
        while last < upto:
            batch = list(wanted.filter(pk__gt=last, pk__lte=upto).order_by("pk")[:BATCH])
            if not batch:
                break
            rows = _deliveries(organization, batch, by_kind, now)
            WebhookDelivery.objects.for_org(organization).bulk_create(rows, ignore_conflicts=True)
            created += len(rows)
            last = batch[-1].pk
    cursor.last_event_id = max(cursor.last_event_id, upto)
    cursor.save(update_fields=["last_event_id", "horizon_event_id", "horizon_at", "updated_at"])
    return created


def organizations_with_endpoints() -> list[int]:
    """Organizations with at least one active endpoint: a cross-organization read by design
    (the beat task's list of whom to fan out for)."""
    return list(
        WebhookEndpoint.objects.unscoped()
        .filter(is_active=True)
        .values("organization_id")
        .annotate(first=Min("pk"))
        .values_list("organization_id", flat=True)
        .order_by("organization_id")
    )
