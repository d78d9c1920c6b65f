"""Enrolling a member: exactly once while active, every step materialised at its offset (tasks,
nudges, events), steps that cannot reach anyone skipped and noted; cancelling stops what is
pending; completing needs every step done."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orchestration.events import orchestrated_event_mark_happened
from orchestration.models import Enrollment, Nudge, OrchestratedEvent, PlaybookStep, Task
from orchestration.playbooks import (
    enrollment_cancel,
    enrollment_complete,
    enrollment_start,
    enrollments_complete_finished,
    playbook_create,
)
from tests.factories import (
    EnrollmentFactory,
    MemberFactory,
    NudgeFactory,
    PlaybookFactory,
    TaskFactory,
)


def _counts() -> dict[str, int]:
    return {
        "enrollments": Enrollment.objects.unscoped().count(),
        "tasks": Task.objects.unscoped().count(),
        "nudges": Nudge.objects.unscoped().count(),
        "events": OrchestratedEvent.objects.unscoped().count(),
    }


@pytest.fixture
def owner(tenant_a):
    return tenant_a.msm


@pytest.fixture
def member(tenant_a, owner):
    return MemberFactory(
        organization=tenant_a.organization,
        name="Grace <Hopper>",
        email="grace@example.test",
        owner=owner,
    )


@pytest.fixture
def playbook(tenant_a):
    return playbook_create(
        organization=tenant_a.organization,
        name="Onboarding",
        steps=[
            {
                "offset_days": 2,
                "action": "task",
                "title": "Call the new member",
                "message_template": "Ask {{ member.name }} about their goals.",
            },
            {
                "offset_days": 5,
                "action": "nudge",
                "title": "How is it going?",
                "message_template": "Dear {{ member.name }}, how are your first days?",
            },
            {
                "offset_days": 3,
                "action": "nudge",
                "channel": "in_app",
                "title": "Check the welcome email was read",
                "message_template": "{{ member.name }} joined three days ago.",
            },
            {
                "offset_days": 21,
                "action": "event",
                "title": "Kick-off call",
                "event_lead_days": [14, 2],
                "message_template": "A first look at {{ member.attributes.goal }}.",
            },
        ],
    )


def _steps(playbook):
    steps = PlaybookStep.objects.unscoped().filter(playbook=playbook)
    return {f"{step.action}:{step.channel}": step for step in steps}


AT = dt.datetime(2030, 3, 10, 22, 30, tzinfo=dt.UTC)  # 23:30 in Paris, the factories' zone


def test_start_materialises_every_step_at_its_offset(tenant_a, member, owner, playbook):
    organization = tenant_a.organization
    enrollment = enrollment_start(
        organization=organization, playbook=playbook, member=member, reason="Joined", at=AT
    )
    assert (enrollment.status, enrollment.enrolled_at, enrollment.reason) == (
        "active",
        AT,
        "Joined",
    )
    steps = _steps(playbook)

    task = Task.objects.for_org(organization).get(enrollment=enrollment)
    # Due on the organization's calendar day: 12 March 23:30 in Paris.
    assert (task.owner, task.member, task.step, task.due_on, task.title) == (
        owner,
        member,
        steps["task:email"],
        dt.date(2030, 3, 12),
        "Call the new member",
    )
    assert task.notes == "Ask Grace &lt;Hopper&gt; about their goals."

    email = Nudge.objects.for_org(organization).get(
        idempotency_key=f"enrollment:{enrollment.pk}:step:{steps['nudge:email'].pk}"
    )
    assert email.scheduled_for == AT + dt.timedelta(days=5)
    assert (email.subject, email.body) == (
        "How is it going?",
        "Dear Grace &lt;Hopper&gt;, how are your first days?",
    )
    assert (email.channel, email.kind, email.to_email, email.member, email.seat) == (
        "email",
        "message",
        "grace@example.test",
        member,
        None,
    )
    assert (email.enrollment, email.status) == (enrollment, "scheduled")

    in_app = Nudge.objects.for_org(organization).get(
        idempotency_key=f"enrollment:{enrollment.pk}:step:{steps['nudge:in_app'].pk}"
    )
    assert (in_app.channel, in_app.seat, in_app.member, in_app.to_email) == (
        "in_app",
        owner,
        member,
        "",
    )
    assert in_app.scheduled_for == AT + dt.timedelta(days=3)

    event = OrchestratedEvent.objects.for_org(organization).get(enrollment=enrollment)
    assert (event.step, event.member, event.title, event.lead_days, event.status) == (
        steps["event:email"],
        member,
        "Kick-off call",
        [14, 2],
        "announced",
    )
    assert event.scheduled_for == AT + dt.timedelta(days=21)
    announcements = (
        Nudge.objects.for_org(organization).filter(event=event).order_by("scheduled_for")
    )
    assert [n.idempotency_key for n in announcements] == [
        f"event:{event.pk}:lead:14",
        f"event:{event.pk}:lead:2",
    ]
    assert _counts() == {"enrollments": 1, "tasks": 1, "nudges": 4, "events": 1}


def test_start_defaults_to_now(tenant_a, member, playbook):
    before = timezone.now()
    enrollment = enrollment_start(
        organization=tenant_a.organization, playbook=playbook, member=member
    )
    assert before <= enrollment.enrolled_at <= timezone.now()


def test_a_second_start_while_active_returns_none_and_plans_nothing(tenant_a, member, playbook):
    organization = tenant_a.organization
    assert enrollment_start(organization=organization, playbook=playbook, member=member, at=AT)
    before = _counts()
    assert enrollment_start(organization=organization, playbook=playbook, member=member) is None
    assert _counts() == before


@pytest.mark.parametrize("ended", ["completed", "cancelled"])
def test_an_ended_enrolment_allows_a_new_one(tenant_a, member, playbook, ended):
    organization = tenant_a.organization
    first = enrollment_start(organization=organization, playbook=playbook, member=member, at=AT)
    Enrollment.objects.for_org(organization).filter(pk=first.pk).update(status=ended)
    second = enrollment_start(organization=organization, playbook=playbook, member=member, at=AT)
    assert second is not None and second.pk != first.pk
    assert Task.objects.for_org(organization).filter(member=member).count() == 2


def test_the_database_refuses_a_second_active_enrolment(tenant_a, member, playbook):
    """The race guard enrollment_start relies on: a concurrent second insert fails."""
    EnrollmentFactory(playbook=playbook, member=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        EnrollmentFactory(playbook=playbook, member=member)


def test_the_same_member_may_be_active_in_two_playbooks(tenant_a, member, playbook):
    other = PlaybookFactory(organization=tenant_a.organization)
    assert enrollment_start(organization=tenant_a.organization, playbook=playbook, member=member)
    assert enrollment_start(organization=tenant_a.organization, playbook=other, member=member)


def test_email_steps_are_skipped_and_noted_for_a_member_without_email(tenant_a, playbook):
    organization = tenant_a.organization
    member = MemberFactory(organization=organization, email="", owner=tenant_a.msm)
    enrollment = enrollment_start(
        organization=organization, playbook=playbook, member=member, reason="By hand", at=AT
    )
    enrollment.refresh_from_db()
    email_step = _steps(playbook)["nudge:email"]
    assert enrollment.reason.startswith("By hand; ")
    assert (
        f"step {email_step.position} skipped: the member has no email address" in enrollment.reason
    )
    nudges = Nudge.objects.for_org(organization).filter(enrollment=enrollment)
    assert [n.channel for n in nudges] == ["in_app"]  # the owner is still told
    assert Task.objects.for_org(organization).filter(enrollment=enrollment).count() == 1
    event = OrchestratedEvent.objects.for_org(organization).get(enrollment=enrollment)
    assert not Nudge.objects.for_org(organization).filter(event=event).exists()


def test_owner_steps_are_skipped_and_noted_for_a_member_without_owner(tenant_a, playbook):
    organization = tenant_a.organization
    member = MemberFactory(organization=organization, owner=None)
    enrollment = enrollment_start(
        organization=organization, playbook=playbook, member=member, at=AT
    )
    enrollment.refresh_from_db()
    assert "skipped: the member has no owner to notify" in enrollment.reason
    task = Task.objects.for_org(organization).get(enrollment=enrollment)
    assert task.owner is None  # an unassigned task, for whoever picks up the account
    assert [
        n.channel for n in Nudge.objects.for_org(organization).filter(enrollment=enrollment)
    ] == ["email"]


def test_long_notes_are_cut_to_the_reason_field(tenant_a, playbook):
    member = MemberFactory(organization=tenant_a.organization, email="", owner=None)
    enrollment = enrollment_start(
        organization=tenant_a.organization, playbook=playbook, member=member, reason="x" * 190
    )
    enrollment.refresh_from_db()
    assert len(enrollment.reason) == 200 and enrollment.reason.endswith("…")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"reason": "x" * 201}, "reason"),
        ({"reason": None}, "reason"),
        ({"at": dt.datetime(2030, 3, 10, 9, 0)}, "at"),  # naive on purpose
        ({"at": dt.date(2030, 3, 10)}, "at"),
    ],
)
def test_start_refuses_bad_input_and_writes_nothing(tenant_a, member, playbook, arguments, field):
    before = _counts()
    with pytest.raises(ValidationError) as error:
        enrollment_start(
            organization=tenant_a.organization, playbook=playbook, member=member, **arguments
        )
    assert field in error.value.message_dict
    assert _counts() == before


def test_start_refuses_an_inactive_playbook(tenant_a, member):
    playbook = PlaybookFactory(organization=tenant_a.organization, is_active=False)
    with pytest.raises(ValidationError) as error:
        enrollment_start(organization=tenant_a.organization, playbook=playbook, member=member)
    assert "playbook" in error.value.message_dict
    assert _counts()["enrollments"] == 0


def test_start_refuses_rows_of_another_organization(tenant_a, tenant_b, member, playbook):
    stranger = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as error:
        enrollment_start(organization=tenant_a.organization, playbook=playbook, member=stranger)
    assert "member" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        enrollment_start(organization=tenant_b.organization, playbook=playbook, member=stranger)
    assert "playbook" in error.value.message_dict
    assert _counts()["enrollments"] == 0


# --- cancelling ----------------------------------------------------------------------------


def test_cancel_stops_what_is_pending_and_keeps_history(tenant_a, tenant_b, member, playbook):
    organization = tenant_a.organization
    enrollment = enrollment_start(
        organization=organization, playbook=playbook, member=member, at=AT
    )
    other = enrollment_start(
        organization=organization,
        playbook=playbook,
        member=MemberFactory(organization=organization, owner=tenant_a.msm),
        at=AT,
    )
    sent = Nudge.objects.for_org(organization).filter(enrollment=enrollment, channel="in_app")
    sent.update(status="sent")
    done = TaskFactory(member=member, enrollment=enrollment, done_at=timezone.now(), title="Done")
    foreign = NudgeFactory(member__organization=tenant_b.organization)

    cancelled = enrollment_cancel(organization=organization, enrollment=enrollment)

    assert cancelled.status == "cancelled" and cancelled.ended_at is not None
    stored = Enrollment.objects.for_org(organization).get(pk=enrollment.pk)
    assert (stored.status, stored.ended_at) == ("cancelled", cancelled.ended_at)
    statuses = dict(
        Nudge.objects.for_org(organization)
        .filter(enrollment=enrollment)
        .values_list("channel", "status")
    )
    assert statuses == {"email": "cancelled", "in_app": "sent"}
    event = OrchestratedEvent.objects.for_org(organization).get(enrollment=enrollment)
    assert event.status == "cancelled"
    assert set(
        Nudge.objects.for_org(organization).filter(event=event).values_list("status", flat=True)
    ) == {"cancelled"}
    # The open task it created is gone; the done one stays as history.
    assert list(Task.objects.for_org(organization).filter(enrollment=enrollment)) == [done]
    # Another enrolment, and another organization, are untouched.
    assert Enrollment.objects.for_org(organization).get(pk=other.pk).status == "active"
    assert set(
        Nudge.objects.for_org(organization)
        .filter(enrollment=other)
        .values_list("status", flat=True)
    ) == {"scheduled"}
    assert (
        OrchestratedEvent.objects.for_org(organization).get(enrollment=other).status == "announced"
    )
    assert Task.objects.for_org(organization).filter(enrollment=other).count() == 1
    assert Nudge.objects.unscoped().get(pk=foreign.pk).status == "scheduled"


def test_cancel_is_idempotent(tenant_a, member, playbook):
    organization = tenant_a.organization
    enrollment = enrollment_start(
        organization=organization, playbook=playbook, member=member, at=AT
    )
    first = enrollment_cancel(organization=organization, enrollment=enrollment).ended_at
    again = enrollment_cancel(organization=organization, enrollment=enrollment)
    assert (again.status, again.ended_at) == ("cancelled", first)
    assert Enrollment.objects.for_org(organization).get(pk=enrollment.pk).ended_at == first


def test_cancel_leaves_a_completed_enrolment_as_it_is(tenant_a, member, playbook):
    enrollment = EnrollmentFactory(playbook=playbook, member=member, status="completed")
    assert enrollment_cancel(organization=tenant_a.organization, enrollment=enrollment).status == (
        "completed"
    )
    assert Enrollment.objects.unscoped().get(pk=enrollment.pk).status == "completed"


def test_cancel_refuses_another_organizations_enrolment(tenant_a, tenant_b):
    enrollment = EnrollmentFactory(playbook__organization=tenant_b.organization)
    with pytest.raises(ValidationError) as error:
        enrollment_cancel(organization=tenant_a.organization, enrollment=enrollment)
    assert "enrollment" in error.value.message_dict
    assert Enrollment.objects.unscoped().get(pk=enrollment.pk).status == "active"


# --- completing ----------------------------------------------------------------------------


def _finish_everything(organization, enrollment) -> None:
    Task.objects.for_org(organization).filter(enrollment=enrollment).update(done_at=timezone.now())
    Nudge.objects.for_org(organization).filter(enrollment=enrollment).update(status="sent")
    for event in OrchestratedEvent.objects.for_org(organization).filter(enrollment=enrollment):
        OrchestratedEvent.objects.for_org(organization).filter(pk=event.pk).update(
            scheduled_for=timezone.now() - dt.timedelta(hours=1)
        )
        orchestrated_event_mark_happened(organization=organization, event=event)


def test_complete_needs_every_step_done(tenant_a, member, playbook):
    organization = tenant_a.organization
    enrollment = enrollment_start(organization=organization, playbook=playbook, member=member)
    with pytest.raises(ValidationError) as error:
        enrollment_complete(organization=organization, enrollment=enrollment)
    assert "enrollment" in error.value.message_dict
    assert Enrollment.objects.for_org(organization).get(pk=enrollment.pk).status == "active"

    _finish_everything(organization, enrollment)
    completed = enrollment_complete(organization=organization, enrollment=enrollment)
    assert completed.status == "completed" and completed.ended_at is not None
    again = enrollment_complete(organization=organization, enrollment=enrollment)
    assert again.ended_at == completed.ended_at


def test_complete_refuses_a_cancelled_enrolment(tenant_a, member, playbook):
    enrollment = EnrollmentFactory(playbook=playbook, member=member, status="cancelled")
    with pytest.raises(ValidationError) as error:
        enrollment_complete(organization=tenant_a.organization, enrollment=enrollment)
    assert "enrollment" in error.value.message_dict


def test_finished_enrolments_are_completed_in_one_statement(tenant_a, tenant_b, playbook):
    organization = tenant_a.organization
    enrollments = [
        enrollment_start(
            organization=organization,
            playbook=playbook,
            member=MemberFactory(organization=organization, owner=tenant_a.msm),
        )
        for _ in range(4)
    ]
    finished, half, untouched, stepless = enrollments
    _finish_everything(organization, finished)
    Task.objects.for_org(organization).filter(enrollment=half).update(done_at=timezone.now())
    empty = EnrollmentFactory(playbook__organization=organization)  # a playbook with no steps
    theirs = EnrollmentFactory(playbook__organization=tenant_b.organization)
    Enrollment.objects.for_org(organization).filter(pk=stepless.pk).update(status="cancelled")

    with CaptureQueriesContext(connection) as queries:
        assert enrollments_complete_finished(organization=organization) == 2
    assert len([q for q in queries.captured_queries if "UPDATE" in q["sql"]]) == 1

    status = dict(Enrollment.objects.unscoped().values_list("pk", "status"))
    assert status[finished.pk] == status[empty.pk] == "completed"
    assert status[half.pk] == status[untouched.pk] == "active"
    assert status[stepless.pk] == "cancelled"
    assert status[theirs.pk] == "active"


def test_a_message_this_members_data_breaks_skips_the_step_for_them_only(tenant_a):
    organization = tenant_a.organization
    playbook = playbook_create(
        organization=organization,
        name="Loop",
        steps=[
            {
                "offset_days": 0,
                "action": "nudge",
                "title": "Your topics",
                "message_template": "{% for t in member.attributes.topics %}{{ t }};{% endfor %}",
            },
            {"offset_days": 1, "action": "task", "title": "Call"},
        ],
    )
    fine = MemberFactory(organization=organization, attributes={"topics": ["a", "b"]})
    odd = MemberFactory(organization=organization, attributes={"topics": 3})
    for member in (fine, odd):
        enrollment_start(organization=organization, playbook=playbook, member=member)
    assert Nudge.objects.for_org(organization).get(member=fine).body == "a;b;"
    assert not Nudge.objects.for_org(organization).filter(member=odd).exists()
    odd_enrollment = Enrollment.objects.for_org(organization).get(member=odd)
    assert "step 1 skipped: its message could not be rendered" in odd_enrollment.reason
    assert Task.objects.for_org(organization).filter(member=odd).count() == 1
