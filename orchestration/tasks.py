"""Celery tasks for orchestration: thin adapters over the orchestration services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from orchestration.dispatch import nudges_dispatch, nudges_due_count
from tenancy.scope import scoped_task

DISPATCH_EXPIRES = 90  # seconds: a run that could not start before the next minute's is dropped


@shared_task(
    name="orchestration.dispatch_nudges",
    bind=True,
    acks_late=True,
    expires=DISPATCH_EXPIRES,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
    soft_time_limit=240,  # below the claim lease (NUDGE_LEASE_SECONDS): a hung send cannot
    time_limit=270,  # outlive its claim on the prefork pool
)
def dispatch_nudges(self, *, helpers: int | None = None) -> dict[str, int]:
    """Send the due nudges of every organization (beat runs it every minute).

    Running it twice, or redelivering it after a worker died (``acks_late``), is safe: each run
    claims its own nudges and records each as sent only once (see orchestration/dispatch.py).
    When more than one batch is due, it asks ``helpers`` more workers to dispatch alongside it
    (they ask nobody else), so two workers share a large backlog.
    """
    helpers = settings.NUDGE_DISPATCH_HELPERS if helpers is None else helpers
    batch_size = settings.NUDGE_DISPATCH_BATCH
    if helpers > 0 and nudges_due_count(limit=batch_size + 1) > batch_size:
        for _ in range(helpers):
            dispatch_nudges.apply_async(kwargs={"helpers": 0}, expires=DISPATCH_EXPIRES)
    return nudges_dispatch(batch_size=batch_size, worker=self.request.hostname or "").as_dict()


# --- coverage ---------------------------------------------------------------------------------

COVERAGE_EXPIRES = 6 * 3600  # a nightly run not started within six hours waits for the next


@shared_task(
    name="orchestration.apply_coverage",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=10,
    retry_backoff_max=300,
)
@scoped_task
def apply_coverage(*, organization_id: int, member_ids: list[int] | None = None) -> int:
    """Match the organization's members (or the ones given) to their coverage model, assign
    owners and enrol; returns how many changed model. Idempotent: a re-run changes nothing."""
    from orchestration.coverage import coverage_apply
    from tenancy.models import Organization

    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:  # deleted since the task was sent
        return 0
    return coverage_apply(organization=organization, member_ids=member_ids).changed_model


@shared_task(name="orchestration.apply_coverage_all", acks_late=True, max_retries=3)
def apply_coverage_all() -> int:
    """Nightly fan-out (after the nightly scoring, so new bands count): one task per
    organization."""
    from tenancy.models import Organization

    organization_ids = list(Organization.objects.values_list("pk", flat=True))
    for organization_id in organization_ids:
        apply_coverage.apply_async(
            kwargs={"organization_id": organization_id}, expires=COVERAGE_EXPIRES
        )
    return len(organization_ids)


# --- orchestrated events -------------------------------------------------------------------------
# Events are announced when they are created (their nudges wait in the queue until due), so no
# "announce due events" task is needed: the only sweep is marking the missed ones.

EVENTS_EXPIRES = 6 * 3600  # a nightly run not started within six hours waits for the next


@shared_task(name="orchestration.mark_missed_events", acks_late=True, max_retries=3)
def mark_missed_events() -> int:
    """Nightly: in each organization, events still announced two days after their time with no
    ``happened_at`` become missed (one guarded set-based UPDATE per organization, so a re-run or a
    duplicate delivery changes nothing more). Returns how many."""
    from orchestration.events import orchestrated_events_mark_missed
    from tenancy.models import Organization

    return sum(
        orchestrated_events_mark_missed(organization=organization)
        for organization in Organization.objects.only("pk").iterator()
    )


# --- playbook triggers ---------------------------------------------------------------------------

TRIGGERS_EXPIRES = 50 * 60  # an hourly run not started within 50 minutes waits for the next


@shared_task(
    name="orchestration.evaluate_triggers",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=30,
    retry_backoff_max=600,
)
@scoped_task
def evaluate_triggers(*, organization_id: int) -> dict[str, int]:
    """Enrol the members each active playbook's trigger finds now, then complete the enrolments
    with nothing left to do. Safe to re-run or redeliver: nobody is enrolled twice and the band
    cursor moves with the enrolments it led to. Returns the counts per playbook id."""
    from orchestration.playbooks import enrollments_complete_finished
    from orchestration.triggers import triggers_evaluate
    from tenancy.models import Organization

    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:  # deleted since the task was sent
        return {}
    enrolled = triggers_evaluate(organization=organization)
    completed = enrollments_complete_finished(organization=organization)
    return {**{str(pk): count for pk, count in enrolled.items()}, "completed": completed}


@shared_task(name="orchestration.evaluate_triggers_all", acks_late=True, max_retries=3)
def evaluate_triggers_all() -> int:
    """Hourly fan-out: one trigger evaluation per organization."""
    from tenancy.models import Organization

    organization_ids = list(Organization.objects.values_list("pk", flat=True))
    for organization_id in organization_ids:
        evaluate_triggers.apply_async(
            kwargs={"organization_id": organization_id}, expires=TRIGGERS_EXPIRES
        )
    return len(organization_ids)
