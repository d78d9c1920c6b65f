"""Celery tasks of the engagement app: thin, idempotent, scoped to one organization."""

from __future__ import annotations

from celery import shared_task

from engagement.services import context_events_follow_up
from tenancy.models import Organization
from tenancy.scope import scoped_task


@shared_task(
    name="engagement.context_events_ingested",
    max_retries=3,
    default_retry_delay=30,
    acks_late=True,
)
@scoped_task
def context_events_ingested(*, organization_id: int, event_ids: list[int]) -> int:
    """After a bulk ingest commits: match milestones, then schedule the score recompute."""
    organization = Organization.objects.get(pk=organization_id)
    return context_events_follow_up(organization=organization, event_ids=event_ids)
