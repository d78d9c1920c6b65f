"""The other set-based writes that send no signal (``bulk_create``, guarded ``update``): member
CSV imports, coverage pools, playbook steps and switches, enrolment tasks, the sweeps. Each leaves
one entry for the call, with its actor and counts, in its own organization's trail only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.context import acting_as, seat_actor
from audit.models import AuditEntry
from members.imports import member_import_create
from members.models import Member
from orchestration.coverage import coverage_model_create, coverage_model_update
from orchestration.models import PlaybookStep
from orchestration.playbooks import (
    enrollment_start,
    enrollments_complete_finished,
    playbook_activate,
    playbook_create,
    playbook_deactivate,
    steps_reorder,
)
from outcomes.services import goals_evaluate_due
from tests.factories import GoalFactory, MemberFactory

pytestmark = pytest.mark.django_db

SYSTEM = AuditEntry.ActorKind.SYSTEM
SEAT = AuditEntry.ActorKind.SEAT
TASK = {"offset_days": 2, "action": "task", "title": "Call the new member"}
OTHER_TASK = {"offset_days": 5, "action": "task", "title": "Send the welcome pack"}


def entries(tenant, action: str) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.for_org(tenant.organization).filter(action=action).order_by("pk")
    )


def test_a_member_import_records_one_summary_for_its_rows(tenant_a, tenant_b):
    from members.tasks import import_members

    csv = "name,email\nAda Lovelace,ada@example.test\nGrace Hopper,grace@example.test\n"
    member_import = member_import_create(
        organization=tenant_a.organization,
        created_by=tenant_a.msm,
        file_name="members.csv",
        content=csv.encode(),
    )
    import_members(import_id=member_import.pk, organization_id=tenant_a.organization.pk)

    assert Member.objects.for_org(tenant_a.organization).count() == 2
    [entry] = entries(tenant_a, "members.import")
    assert entry.actor_kind == SYSTEM and entry.object_id is None
    assert entry.model_label == "members.Member"
    assert entry.changes == {"created": 2, "import": member_import.pk}
    assert entries(tenant_b, "members.import") == []


def test_a_coverage_pool_set_in_bulk_is_recorded_on_the_model(tenant_a, tenant_b):
    org = tenant_a.organization
    with acting_as(seat_actor(tenant_a.admin)):
        model = coverage_model_create(organization=org, name="Fellows", pool_seats=[tenant_a.msm])
        coverage_model_update(
            organization=org, coverage_model=model, pool_seats=[tenant_a.msm, tenant_a.admin]
        )
        coverage_model_update(  # the same pool again: nothing to record
            organization=org, coverage_model=model, pool_seats=[tenant_a.msm, tenant_a.admin]
        )

    created, changed = entries(tenant_a, "coverage_model.set_pool")
    assert created.actor_kind == SEAT and created.seat_id == tenant_a.admin.pk
    assert (created.model_label, created.object_id) == ("orchestration.CoverageModel", model.pk)
    assert created.changes == {"pool": [[], [tenant_a.msm.pk]]}
    assert changed.changes == {"pool": [[tenant_a.msm.pk], [tenant_a.msm.pk, tenant_a.admin.pk]]}
    assert entries(tenant_b, "coverage_model.set_pool") == []


def test_playbook_steps_switches_and_renumbering_are_recorded(tenant_a, tenant_b):
    org = tenant_a.organization
    with acting_as(seat_actor(tenant_a.admin)):
        playbook = playbook_create(organization=org, name="Onboarding", steps=[TASK, OTHER_TASK])
        first, second = PlaybookStep.objects.for_org(org).filter(playbook=playbook).order_by("pk")
        steps_reorder(organization=org, playbook=playbook, step_ids=[second.pk, first.pk])
        playbook_deactivate(organization=org, playbook=playbook)
        playbook_deactivate(organization=org, playbook=playbook)  # already off: nothing
        playbook_activate(organization=org, playbook=playbook)

    [steps] = entries(tenant_a, "playbook.add_steps")
    assert steps.actor_kind == SEAT and steps.object_id == playbook.pk
    assert steps.changes == {"steps": [TASK["title"], OTHER_TASK["title"]]}
    [renumber] = entries(tenant_a, "playbook.renumber_steps")
    assert renumber.changes == {str(first.pk): [1, 2], str(second.pk): [2, 1]}
    [off] = entries(tenant_a, "playbook.deactivate")
    assert off.changes == {"is_active": [True, False]}
    [on] = entries(tenant_a, "playbook.activate")
    assert on.changes == {"is_active": [False, True]}
    for action in ("playbook.add_steps", "playbook.renumber_steps", "playbook.deactivate"):
        assert entries(tenant_b, action) == []


def test_an_enrolments_tasks_and_the_completion_sweep_are_summed(tenant_a, tenant_b):
    org = tenant_a.organization
    playbook = playbook_create(organization=org, name="Onboarding", steps=[TASK, OTHER_TASK])
    member = MemberFactory(organization=org, owner=tenant_a.msm)
    enrollment = enrollment_start(organization=org, playbook=playbook, member=member)

    [planned] = entries(tenant_a, "tasks.plan")
    assert planned.actor_kind == SYSTEM
    assert planned.changes == {"planned": 2, "enrollment": enrollment.pk}

    from orchestration.models import Task

    Task.objects.for_org(org).filter(enrollment=enrollment).update(done_at=timezone.now())
    assert enrollments_complete_finished(organization=org) == 1
    assert enrollments_complete_finished(organization=org) == 0
    [completed] = entries(tenant_a, "enrollments.complete_finished")
    assert completed.changes == {"completed": 1}
    assert entries(tenant_b, "tasks.plan") == []
    assert entries(tenant_b, "enrollments.complete_finished") == []


def test_the_missed_goals_sweep_counts_its_context_events(tenant_a, tenant_b):
    today = timezone.localdate()
    GoalFactory(
        desired_outcome__member__organization=tenant_a.organization,
        status="active",
        due_on=today - dt.timedelta(days=3),
    )
    assert goals_evaluate_due(organization=tenant_a.organization, today=today) == 1

    [entry] = entries(tenant_a, "goals.evaluate_due")
    assert entry.actor_kind == SYSTEM
    assert entry.changes == {"missed": 1, "context_events": 1}
    assert entries(tenant_b, "goals.evaluate_due") == []


def test_an_enrolment_started_and_cancelled_by_hand_is_in_the_trail(tenant_a, tenant_b):
    """Enrolments are captured like any row: who enrolled the member, and who stopped it."""
    from orchestration.playbooks import enrollment_cancel
    from tests.factories import PlaybookFactory

    organization = tenant_a.organization
    playbook = PlaybookFactory(organization=organization)
    member = MemberFactory(organization=organization)
    with acting_as(seat_actor(tenant_a.msm)):
        enrollment = enrollment_start(organization=organization, playbook=playbook, member=member)
        enrollment_cancel(organization=organization, enrollment=enrollment)

    trail = AuditEntry.objects.for_org(organization).filter(
        model_label="orchestration.Enrollment", object_id=enrollment.pk
    )
    created, cancelled = trail.order_by("pk")
    assert (created.action, created.actor_kind, created.seat_id) == (
        "create",
        SEAT,
        tenant_a.msm.pk,
    )
    assert cancelled.action == "update" and cancelled.changes["status"] == ["active", "cancelled"]
    assert (
        not AuditEntry.objects.for_org(tenant_b.organization)
        .filter(model_label="orchestration.Enrollment")
        .exists()
    )
