"""Set-based writes leave one summary entry per organization and run: the nudge dispatcher and its
lease sweeper, bulk nudge cancels and requeues, milestone planning. Each entry names the actor and
the counts, and no organization's trail tells of another's work."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.context import acting_as, seat_actor
from audit.models import AuditEntry
from milestones.models import MilestoneDefinition
from milestones.services import milestone_plan_for_goal, milestone_plan_for_member
from orchestration.dispatch import nudges_claim, nudges_dispatch, nudges_release_stale
from orchestration.events import orchestrated_event_create, orchestrated_events_mark_missed
from orchestration.models import Nudge, OrchestratedEvent
from orchestration.nudges import nudges_cancel, nudges_requeue_failed
from orchestration.tasks import dispatch_nudges
from tests.factories import (
    GoalFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    NudgeFactory,
    OrchestratedEventFactory,
)

pytestmark = pytest.mark.django_db

SYSTEM = AuditEntry.ActorKind.SYSTEM
AUDIT_TABLE = AuditEntry._meta.db_table


def entries(tenant, action: str) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.for_org(tenant.organization).filter(action=action).order_by("pk")
    )


def trail(tenant) -> list[AuditEntry]:
    return list(AuditEntry.objects.for_org(tenant.organization).order_by("pk"))


def audit_inserts(queries) -> int:
    return sum(
        1
        for query in queries
        if query["sql"].upper().startswith("INSERT") and AUDIT_TABLE in query["sql"]
    )


def due_nudges(tenant, count: int, **extra) -> list[Nudge]:
    member = MemberFactory(organization=tenant.organization, email=f"m@{tenant.organization.slug}")
    extra.setdefault("scheduled_for", timezone.now() - dt.timedelta(minutes=5))
    return NudgeFactory.create_batch(count, member=member, **extra)


@pytest.fixture
def outbox(settings, tmp_path) -> Path:
    settings.EMAIL_BACKEND = "orchestration.email.OutboxEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")
    return tmp_path / "outbox"


def assert_summary(entry: AuditEntry, tenant, action: str, changes: dict) -> None:
    assert entry.organization_id == tenant.organization.pk
    assert entry.action == action
    assert entry.actor_kind == SYSTEM and entry.actor_label == "system"
    assert entry.seat_id is None and entry.api_key_id is None
    assert (entry.model_label, entry.object_id) == ("orchestration.Nudge", None)
    assert entry.changes == changes


# --- the dispatcher ----------------------------------------------------------------------------


def test_a_dispatch_run_records_one_summary_per_organization_in_one_insert(
    outbox, tenant_a, tenant_b
):
    due_nudges(tenant_a, 3)
    due_nudges(tenant_b, 1)
    due_nudges(tenant_b, 1, to_email="")  # no address: fails for good

    with CaptureQueriesContext(connection) as queries:
        result = dispatch_nudges.apply(kwargs={"helpers": 0}).get()  # the task: the system

    assert (result["claimed"], result["sent"], result["failed"]) == (5, 4, 1)
    assert audit_inserts(queries) == 1  # every organization's entry in one statement
    [entry_a] = entries(tenant_a, "nudges.dispatch")
    assert_summary(
        entry_a, tenant_a, "nudges.dispatch", {"claimed": 3, "sent": 3, "retried": 0, "failed": 0}
    )
    [entry_b] = entries(tenant_b, "nudges.dispatch")
    assert_summary(
        entry_b, tenant_b, "nudges.dispatch", {"claimed": 2, "sent": 1, "retried": 0, "failed": 1}
    )


def test_a_dispatch_run_sums_its_batches_and_records_retries(outbox, settings, tenant_a, tenant_b):
    settings.EMAIL_BACKEND = "tests.audit.test_bulk_writes.RefusingBackend"
    due_nudges(tenant_a, 5)

    report = nudges_dispatch(batch_size=2, budget_seconds=30, lease_seconds=300)

    assert (report.batches, report.retried) >= (1, 1)
    [entry] = entries(tenant_a, "nudges.dispatch")  # one per run, however many batches
    assert entry.changes["claimed"] == report.claimed
    assert entry.changes["retried"] == report.retried and entry.changes["sent"] == 0
    assert entries(tenant_b, "nudges.dispatch") == []


def test_a_run_with_nothing_due_records_nothing(outbox, tenant_a):
    due_nudges(tenant_a, 2, scheduled_for=timezone.now() + dt.timedelta(days=1))
    assert nudges_dispatch(budget_seconds=30).claimed == 0
    assert entries(tenant_a, "nudges.dispatch") == []


def test_the_dispatcher_stays_one_statement_per_nudge(outbox, tenant_a, tenant_b):
    """The summary costs the same whatever the run's size: its query count grows by one
    statement per nudge (recording it as sent), as before there was an entry."""
    counts = {}
    for size in (5, 50):
        due_nudges(tenant_a, size)
        due_nudges(tenant_b, size)
        with CaptureQueriesContext(connection) as queries:
            assert nudges_dispatch(batch_size=200, budget_seconds=30).sent == 2 * size
        counts[size] = len(queries)
    assert counts[50] - counts[5] == 2 * 45
    assert len(entries(tenant_a, "nudges.dispatch")) == 2  # one per run
    assert len(entries(tenant_b, "nudges.dispatch")) == 2


def test_a_claim_on_its_own_is_recorded_in_its_transaction(tenant_a, tenant_b):
    due_nudges(tenant_a, 2)
    with transaction.atomic():
        nudges_claim(batch_size=10)
        [entry] = entries(tenant_a, "nudges.dispatch")
        transaction.set_rollback(True)
    assert entry.changes == {"claimed": 2, "sent": 0, "retried": 0, "failed": 0}
    assert entries(tenant_a, "nudges.dispatch") == []  # rolled back with the claim
    assert entries(tenant_b, "nudges.dispatch") == []


# --- the lease sweeper -------------------------------------------------------------------------


def test_released_claims_are_summed_per_organization(tenant_a, tenant_b):
    due_nudges(tenant_a, 2)
    [worn] = due_nudges(tenant_a, 1, attempts=settings.NUDGE_MAX_ATTEMPTS - 1)
    nudges_claim(batch_size=10)  # the worker then dies
    released = nudges_release_stale(lease_seconds=0, now=timezone.now() + dt.timedelta(seconds=1))

    assert released == 3
    [entry] = entries(tenant_a, "nudges.release")
    assert_summary(entry, tenant_a, "nudges.release", {"requeued": 2, "failed": 1})
    assert Nudge.objects.for_org(tenant_a.organization).get(pk=worn.pk).status == "failed"
    assert entries(tenant_b, "nudges.release") == []
    # A second sweep finds nothing and records nothing.
    assert nudges_release_stale(lease_seconds=0) == 0
    assert len(entries(tenant_a, "nudges.release")) == 1


def test_a_rolled_back_release_takes_its_entry_along(tenant_a):
    due_nudges(tenant_a, 2)
    nudges_claim(batch_size=10)
    with transaction.atomic():
        assert nudges_release_stale(lease_seconds=0, now=timezone.now()) == 2
        transaction.set_rollback(True)
    assert entries(tenant_a, "nudges.release") == []
    assert Nudge.objects.for_org(tenant_a.organization).filter(status="sending").count() == 2


# --- bulk cancels and requeues -----------------------------------------------------------------


def test_cancelling_an_events_nudges_records_one_summary(tenant_a, tenant_b):
    event = OrchestratedEventFactory(member__organization=tenant_a.organization)
    due_nudges(tenant_a, 3, event=event)

    assert nudges_cancel(organization=tenant_b.organization, event_id=event.pk) == 0
    assert nudges_cancel(organization=tenant_a.organization, event_id=event.pk) == 3
    assert nudges_cancel(organization=tenant_a.organization, event_id=event.pk) == 0

    [entry] = entries(tenant_a, "nudges.cancel")
    assert entry.actor_kind == SYSTEM and entry.object_id is None
    assert entry.changes == {"cancelled": 3, "event": event.pk}
    assert entries(tenant_b, "nudges.cancel") == []


def test_an_event_cancelled_through_the_api_records_its_nudges_cancel_by_the_key(
    api, tenant_a, tenant_b
):
    event = orchestrated_event_create(
        organization=tenant_a.organization,
        member=MemberFactory(organization=tenant_a.organization),
        title="Annual membership review",
        scheduled_for=timezone.now() + dt.timedelta(days=21),
        lead_days=[14, 2],
    )
    client = api(tenant_a)
    url = reverse("api:orchestrated-events-cancel", kwargs={"event_id": event.pk})
    response = client.post(url, {"reason": "Asked to skip"}, format="json")

    assert response.status_code == 200, response.content
    [entry] = entries(tenant_a, "nudges.cancel")
    assert entry.actor_kind == AuditEntry.ActorKind.API_KEY
    assert entry.api_key_id == client.api_key.pk
    assert entry.changes == {"cancelled": 2, "event": event.pk}
    assert entry.request_id == response["X-Request-ID"]
    assert entries(tenant_b, "nudges.cancel") == []


def test_requeueing_failed_nudges_records_the_seat(tenant_a, tenant_b):
    failed = due_nudges(tenant_a, 2, status=Nudge.Status.FAILED, attempts=5)
    ids = [nudge.pk for nudge in failed]

    with acting_as(seat_actor(tenant_a.admin)):
        assert nudges_requeue_failed(organization=tenant_b.organization, nudge_ids=ids) == 0
        assert nudges_requeue_failed(organization=tenant_a.organization, nudge_ids=ids) == 2

    [entry] = entries(tenant_a, "nudges.requeue")
    assert entry.actor_kind == AuditEntry.ActorKind.SEAT and entry.seat_id == tenant_a.admin.pk
    assert (entry.model_label, entry.object_id) == ("orchestration.Nudge", None)
    assert entry.changes == {"requeued": 2}
    assert entries(tenant_b, "nudges.requeue") == []


def test_the_missed_events_sweep_counts_the_nudges_it_called_off(tenant_a, tenant_b):
    event = OrchestratedEventFactory(
        member__organization=tenant_a.organization,
        status=OrchestratedEvent.Status.ANNOUNCED,
        scheduled_for=timezone.now() - dt.timedelta(days=5),
    )
    due_nudges(tenant_a, 2, event=event, scheduled_for=timezone.now() + dt.timedelta(days=1))

    assert orchestrated_events_mark_missed(organization=tenant_a.organization) == 1

    [entry] = entries(tenant_a, "events.mark_missed")
    assert entry.actor_kind == SYSTEM
    assert entry.changes == {"missed": 1, "nudges_cancelled": 2}
    assert entries(tenant_b, "events.mark_missed") == []


# --- milestone planning ------------------------------------------------------------------------


def test_planning_a_members_milestones_records_one_summary(tenant_a, tenant_b):
    org = tenant_a.organization
    definitions = MilestoneDefinitionFactory.create_batch(
        3, organization=org, anchor=MilestoneDefinition.Anchor.JOINED
    )
    member = MemberFactory(organization=org)
    before = len(trail(tenant_a))

    with CaptureQueriesContext(connection) as queries:
        assert len(milestone_plan_for_member(organization=org, member=member)) == 3
    assert milestone_plan_for_member(organization=org, member=member) == []  # nothing new

    assert audit_inserts(queries) == 1
    [entry] = entries(tenant_a, "milestones.plan")
    assert len(trail(tenant_a)) == before + 1
    assert entry.actor_kind == SYSTEM
    assert (entry.model_label, entry.object_id) == ("milestones.ProgressMilestone", None)
    assert entry.changes == {
        "planned": 3,
        "member": member.pk,
        "definitions": sorted(definition.pk for definition in definitions),
    }
    assert entries(tenant_b, "milestones.plan") == []


def test_planning_a_goals_milestones_records_the_seat(tenant_a, tenant_b):
    org = tenant_a.organization
    MilestoneDefinitionFactory.create_batch(
        2, organization=org, anchor=MilestoneDefinition.Anchor.GOAL_START
    )
    goal = GoalFactory(desired_outcome__member__organization=org)

    with acting_as(seat_actor(tenant_a.msm)):
        assert len(milestone_plan_for_goal(organization=org, goal=goal)) == 2

    [entry] = entries(tenant_a, "milestones.plan")
    assert entry.actor_kind == AuditEntry.ActorKind.SEAT and entry.seat_id == tenant_a.msm.pk
    assert entry.changes["planned"] == 2
    assert (entry.changes["member"], entry.changes["goal"]) == (goal.member_id, goal.pk)
    assert entries(tenant_b, "milestones.plan") == []


class RefusingBackend:
    """A mail server that takes the connection but refuses every message (the nudge retries)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def open(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def send_messages(self, messages) -> int:
        raise ConnectionRefusedError("refused for the test")
