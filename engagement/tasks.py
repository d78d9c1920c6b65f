"""Celery tasks of the engagement app: thin, idempotent, scoped to one organization."""

from __future__ import annotations

from celery import shared_task

from engagement.services import context_events_follow_up, ingest_follow_ups_resend
from tenancy.models import Organization
from tenancy.scope import scoped_task


@shared_task(
    name="engagement.context_events_ingested",
    max_retries=3,
    default_retry_delay=30,
    acks_late=True,
)
@scoped_task
def context_events_ingested(
    *, organization_id: int, event_ids: list[int], follow_up_id: int | None = None
) -> int:
    """After a bulk ingest commits: match milestones, then schedule the score recompute."""
    organization = Organization.objects.get(pk=organization_id)
    return context_events_follow_up(
        organization=organization, event_ids=event_ids, follow_up_id=follow_up_id
    )


@shared_task(name="engagement.resend_ingest_follow_ups")
def resend_ingest_follow_ups() -> int:
    """Every few minutes: send again the follow-ups of bulk batches still pending (every
    organization; each send names its own)."""
    return ingest_follow_ups_resend()
