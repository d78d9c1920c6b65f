"""Celery tasks for the success gap: thin, idempotent, always scoped to one organization."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from outcomes.models import SuccessGapRun
from outcomes.partitions import ensure_snapshot_weeks
from outcomes.scoring import (
    MemberRange,
    member_id_chunks,
    success_gap_run_repair,
    success_gap_run_start,
    success_gap_runs_short,
    success_gaps_compute,
    success_gaps_recompute,
)
from tenancy.models import Organization
from tenancy.scope import scoped_task

TASK_OPTIONS = {"max_retries": 3, "default_retry_delay": 30, "acks_late": True}
RUN_REPAIRS = 3  # times a run's chunks are sent again before it is left to the nightly run


@shared_task(name="outcomes.recompute_all_organizations", **TASK_OPTIONS)
def recompute_all_organizations() -> int:
    """Nightly fan-out: one task per organization, once the snapshots' partitions for this
    week and the next few are there (outcomes/partitions.py)."""
    ensure_snapshot_weeks(moment=timezone.now())
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
    chunks = member_id_chunks(organization=organization, size=settings.SUCCESS_GAP_CHUNK_SIZE)
    if len(chunks) <= 1:
        run = success_gap_run_start(organization=organization)
        return success_gaps_compute(organization=organization, run=run).members_scored
    run = success_gap_run_start(organization=organization, chunked=True)
    _send_chunks(organization, run.pk)
    return 0


def _send_chunks(organization: Organization, run_id: int) -> int:
    """One ``recompute_chunk`` per id range of the organization's members, into ``run_id``."""
    chunks = member_id_chunks(organization=organization, size=settings.SUCCESS_GAP_CHUNK_SIZE)
    for chunk in chunks:
        recompute_chunk.apply_async(
            kwargs={
                "organization_id": organization.pk,
                "run_id": run_id,
                "low": chunk.low,
                "high": chunk.high,
            },
            expires=6 * 3600,
        )
    return len(chunks)


@shared_task(name="outcomes.repair_unfinished_runs")
def repair_unfinished_runs() -> int:
    """Hourly: a chunked run still short of members an hour after it opened lost a chunk (the
    file broker cannot redeliver a message whose worker died). Its chunks are sent again —
    each skips the members the run already holds — at most ``RUN_REPAIRS`` times; a run whose
    missing members were deleted meanwhile is finished as it stands. Returns the runs repaired.
    """
    repaired = 0
    for run in success_gap_runs_short(older_than=dt.timedelta(hours=1), repairs_below=RUN_REPAIRS):
        organization = Organization.objects.get(pk=run.organization_id)
        if success_gap_run_repair(organization=organization, run_id=run.pk):
            _send_chunks(organization, run.pk)
            repaired += 1
    return repaired


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
