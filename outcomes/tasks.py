"""Celery tasks for the success gap: thin, idempotent, always scoped to one organization."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from outcomes.models import SuccessGapRun
from outcomes.scoring import (
    MemberRange,
    member_id_chunks,
    success_gap_run_start,
    success_gaps_compute,
    success_gaps_recompute,
)
from tenancy.models import Organization
from tenancy.scope import scoped_task

TASK_OPTIONS = {"max_retries": 3, "default_retry_delay": 30, "acks_late": True}


@shared_task(name="outcomes.recompute_all_organizations", **TASK_OPTIONS)
def recompute_all_organizations() -> int:
    """Nightly fan-out: one task per organization."""
    organization_ids = list(Organization.objects.values_list("pk", flat=True))
    for organization_id in organization_ids:
        recompute_organization.apply_async(
            kwargs={"organization_id": organization_id}, expires=6 * 3600
        )
    return len(organization_ids)


@shared_task(name="outcomes.recompute_organization", bind=True, **TASK_OPTIONS)
@scoped_task
def recompute_organization(self, *, organization_id: int) -> int:
    """Open a run for the organization; score it inline, or fan out chunks when it is large."""
    organization = Organization.objects.get(pk=organization_id)
    run = success_gap_run_start(organization=organization)
    chunks = member_id_chunks(organization=organization, size=settings.SUCCESS_GAP_CHUNK_SIZE)
    if len(chunks) <= 1:
        return success_gaps_compute(organization=organization, run=run).members_scored
    for chunk in chunks:
        recompute_chunk.apply_async(
            kwargs={
                "organization_id": organization_id,
                "run_id": run.pk,
                "low": chunk.low,
                "high": chunk.high,
            },
            expires=6 * 3600,
        )
    return 0


@shared_task(name="outcomes.recompute_chunk", **TASK_OPTIONS)
@scoped_task
def recompute_chunk(*, organization_id: int, run_id: int, low: int, high: int | None) -> int:
    """Score one id range into an existing run (re-running it writes nothing twice)."""
    organization = Organization.objects.get(pk=organization_id)
    run = SuccessGapRun.objects.get(pk=run_id)
    return success_gaps_compute(
        organization=organization, run=run, scope=MemberRange(low=low, high=high)
    ).members_scored


@shared_task(name="outcomes.recompute_members", **TASK_OPTIONS)
@scoped_task
def recompute_members(*, organization_id: int, member_ids: list[int]) -> int:
    """The debounced recompute of members whose data changed."""
    organization = Organization.objects.get(pk=organization_id)
    return success_gaps_recompute(organization=organization, member_ids=member_ids).members_scored
