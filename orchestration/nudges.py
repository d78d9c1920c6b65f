"""Planning nudges: set-based, idempotent by key (sending lives in orchestration/dispatch.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from orchestration.models import Nudge
from tenancy.models import Organization

PLAN_BATCH = 5000


@dataclass(frozen=True)
class NudgeSpec:
    """One nudge to plan. ``idempotency_key`` names it: planning the same key twice is a no-op."""

    idempotency_key: str
    subject: str
    body: str
    scheduled_for: dt.datetime
    member_id: int | None = None
    seat_id: int | None = None
    to_email: str = ""
    channel: str = Nudge.Channel.EMAIL
    kind: str = Nudge.Kind.MESSAGE
    event_id: int | None = None
    enrollment_id: int | None = None


@transaction.atomic
def nudges_plan(*, organization: Organization, specs: Iterable[NudgeSpec]) -> int:
    """Insert the nudges whose keys are new, in batches; returns how many were new.

    ``bulk_create(ignore_conflicts=True)`` is an INSERT … ON CONFLICT DO NOTHING on PostgreSQL and
    INSERT OR IGNORE on SQLite, so a re-run, a retry or a race plans nothing twice. The count is
    taken before and after, since ignored rows are not reported back.
    """
    rows = [
        Nudge(
            organization=organization,
            idempotency_key=spec.idempotency_key,
            subject=spec.subject[:200],
            body=spec.body,
            scheduled_for=spec.scheduled_for,
            member_id=spec.member_id,
            seat_id=spec.seat_id,
            to_email=spec.to_email,
            channel=spec.channel,
            kind=spec.kind,
            event_id=spec.event_id,
            enrollment_id=spec.enrollment_id,
        )
        for spec in specs
    ]
    if not rows:
        return 0
    nudges = Nudge.objects.for_org(organization)
    before = nudges.count()
    nudges.bulk_create(rows, batch_size=PLAN_BATCH, ignore_conflicts=True)
    return nudges.count() - before


@transaction.atomic
def nudges_cancel(
    *, organization: Organization, event_id: int | None = None, enrollment_id: int | None = None
) -> int:
    """Cancel the still-scheduled nudges of an event or an enrolment; returns how many."""
    if event_id is None and enrollment_id is None:
        raise ValueError("Say which event or enrolment's nudges to cancel.")
    pending = Nudge.objects.for_org(organization).filter(status=Nudge.Status.SCHEDULED)
    if event_id is not None:
        pending = pending.filter(event_id=event_id)
    if enrollment_id is not None:
        pending = pending.filter(enrollment_id=enrollment_id)
    return pending.update(status=Nudge.Status.CANCELLED)


@transaction.atomic
def nudges_requeue_failed(
    *, organization: Organization, nudge_ids: Iterable[int], at: dt.datetime | None = None
) -> int:
    """Put failed nudges back in the queue with their attempts reset (once the cause is fixed);
    returns how many. The last error stays visible until a send succeeds."""
    return (
        Nudge.objects.for_org(organization)
        .filter(pk__in=list(nudge_ids), status=Nudge.Status.FAILED)
        .update(
            status=Nudge.Status.SCHEDULED,
            attempts=0,
            scheduled_for=at or timezone.now(),
            claim_token="",
            claimed_at=None,
        )
    )
