"""Member 360's inline actions: each one writes through its service, scores the member at once
and answers the changed section with the header (the new gap) out of band; bad input comes back
in place and writes nothing; viewers and other organizations change nothing."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import Member, OwnershipChange
from milestones.models import Commitment, ProgressMilestone
from orchestration.models import Task
from outcomes.models import Condition, DesiredOutcome, Goal, GoalMetricReading
from outcomes.scoring import success_gaps_recompute
from tenancy.models import Seat
from tests.factories import (
    CommitmentFactory,
    ConditionFactory,
    GoalFactory,
    MemberFactory,
    ProgressMilestoneFactory,
    SeatFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, tenant, **kwargs) -> str:
    return reverse(name, kwargs={"org_slug": tenant.organization.slug, **kwargs})


def today():
    return timezone.localdate()


def scored_member(tenant, **fields) -> Member:
    """A member of the MSM's book: one goal at half its pace (5 of 40 credits, a quarter of its
    time used) and one achieved functional milestone, so F = 1 and O = 0.5: a gap of 50."""
    member = MemberFactory(organization=tenant.organization, owner=tenant.msm, **fields)
    GoalFactory(desired_outcome__member=member, current_value=Decimal(5))
    ProgressMilestoneFactory(
        member=member,
        name="Orientation done",
        due_on=today() - dt.timedelta(days=10),
        achieved_at=timezone.now() - dt.timedelta(days=11),
        achieved_via=ProgressMilestone.Via.MANUAL,
    )
    return rescored(tenant, member)


def rescored(tenant, member: Member) -> Member:
    success_gaps_recompute(organization=tenant.organization, member_ids=[member.pk])
    return Member.objects.unscoped().get(pk=member.pk)


def fresh(model, pk):
    return model.objects.unscoped().get(pk=pk)


def header_of(body: str) -> str:
    """The out-of-band header of an htmx answer."""
    match = re.search(r'<header id="member-header"[^>]*hx-swap-oob="true".*?</header>', body, re.S)
    assert match, "no out-of-band header in the answer"
    return match.group(0)


def assert_new_gap_shown(body: str, before: Member, after: Member) -> None:
    assert after.success_gap is not None and after.success_gap != before.success_gap
    assert f"gap {after.success_gap:.0f}" in header_of(body)


def error_under(body: str, field_id: str, message: str) -> None:
    """``message`` is shown as the error of the input ``field_id``, after it, in the element
    its ``aria-describedby`` points at."""
    field = re.search(rf'<[^>]* id="{re.escape(field_id)}"[^>]*>', body)
    assert field, f"no #{field_id}"
    assert f'aria-describedby="{field_id}_error"' in field.group(0)
    error = re.search(
        rf'<div class="field-error" id="{re.escape(field_id)}_error">(.*?)</div>', body, re.S
    )
    assert error and error.start() > field.start(), f"no error under #{field_id}"
    assert message in html.unescape(error.group(1)), html.unescape(error.group(1))


# --- milestones ---------------------------------------------------------------------------------


def test_marking_a_milestone_achieved_updates_the_section_and_the_gap(login, tenant_a):
    member = scored_member(tenant_a)
    overdue = ProgressMilestoneFactory(
        member=member, name="Filed the first CPD log", due_on=today() - dt.timedelta(days=2)
    )
    before = rescored(tenant_a, member)  # F = 1/2 now
    response = login(tenant_a.msm).post(
        url("members:milestone_achieve", tenant_a, milestone_id=overdue.pk), **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="milestones"' in body
    milestone = fresh(ProgressMilestone, overdue.pk)
    assert milestone.achieved_at is not None and milestone.achieved_via == "manual"
    assert "Reopen<span" in body and "Filed the first CPD log" in body
    assert_new_gap_shown(body, before, Member.objects.unscoped().get(pk=member.pk))


def test_reopening_a_milestone_and_a_refusal_shown_in_place(login, tenant_a):
    member = scored_member(tenant_a)
    achieved = ProgressMilestone.objects.unscoped().get(member=member)
    client = login(tenant_a.msm)
    target = url("members:milestone_reopen", tenant_a, milestone_id=achieved.pk)
    response = client.post(target, **HTMX)
    assert response.status_code == 200
    assert fresh(ProgressMilestone, achieved.pk).achieved_at is None
    assert "Mark achieved<span" in response.content.decode()

    again = client.post(target, **HTMX)  # already open: the service refuses, in place
    assert again.status_code == 200
    assert "This milestone is not achieved, so it stays open." in again.content.decode()
    no_js = client.post(target)
    assert no_js.status_code == 400
    body = no_js.content.decode()
    assert "<html" in body and "This milestone is not achieved, so it stays open." in body


def test_without_javascript_an_action_redirects_back_to_its_section(login, tenant_a):
    member = scored_member(tenant_a)
    pending = ProgressMilestoneFactory(member=member, due_on=today() - dt.timedelta(days=1))
    response = login(tenant_a.msm).post(
        url("members:milestone_achieve", tenant_a, milestone_id=pending.pk)
    )
    assert response.status_code == 302
    assert response["Location"] == url("members:detail", tenant_a, member_id=member.pk) + (
        "#milestones"
    )
    assert fresh(ProgressMilestone, pending.pk).achieved_at is not None


def test_an_action_answers_only_post(login, tenant_a):
    member = scored_member(tenant_a)
    milestone = ProgressMilestone.objects.unscoped().get(member=member)
    response = login(tenant_a.msm).get(
        url("members:milestone_reopen", tenant_a, milestone_id=milestone.pk)
    )
    assert response.status_code == 405
    assert fresh(ProgressMilestone, milestone.pk).achieved_at is not None


# --- commitments --------------------------------------------------------------------------------


def test_ticking_and_unticking_a_commitment(login, tenant_a):
    member = scored_member(tenant_a)
    goal = Goal.objects.unscoped().get(member=member)
    commitment = CommitmentFactory(
        goal=goal,
        party=Commitment.Party.TOGETHER,
        description="Review the study plan together",
        due_on=today() - dt.timedelta(days=1),
    )
    before = rescored(tenant_a, member)  # F = (3·1 + 1·0) / 4
    client = login(tenant_a.msm)
    response = client.post(
        url("members:commitment_complete", tenant_a, commitment_id=commitment.pk), **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="plan"' in body
    assert fresh(Commitment, commitment.pk).done_at is not None
    assert "Untick “Review the study plan together”" in body
    after = Member.objects.unscoped().get(pk=member.pk)
    assert_new_gap_shown(body, before, after)

    response = client.post(
        url("members:commitment_reopen", tenant_a, commitment_id=commitment.pk), **HTMX
    )
    assert response.status_code == 200
    assert fresh(Commitment, commitment.pk).done_at is None
    assert "Tick “Review the study plan together” as done" in response.content.decode()
    assert_new_gap_shown(
        response.content.decode(), after, Member.objects.unscoped().get(pk=member.pk)
    )


# --- conditions ---------------------------------------------------------------------------------


def test_recording_a_confirmed_condition_as_met_narrows_the_gap(login, tenant_a):
    member = scored_member(tenant_a)
    goal = Goal.objects.unscoped().get(member=member)
    condition = ConditionFactory(goal=goal, description="Feels ready for the board")
    before = rescored(tenant_a, member)
    response = login(tenant_a.msm).post(
        url("members:condition_assess", tenant_a, condition_id=condition.pk),
        {"state": "met"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    stored = fresh(Condition, condition.pk)
    assert stored.state == "met" and stored.assessed_on is not None
    assert "Feels ready for the board" in body and "(met)" in body
    # The goal may have changed, so the board comes along out of band too.
    assert 'id="plan"' in body
    after = Member.objects.unscoped().get(pk=member.pk)
    assert after.success_gap < before.success_gap
    assert_new_gap_shown(body, before, after)


def test_recording_not_met(login, tenant_a):
    member = scored_member(tenant_a)
    condition = ConditionFactory(goal=Goal.objects.unscoped().get(member=member))
    response = login(tenant_a.msm).post(
        url("members:condition_assess", tenant_a, condition_id=condition.pk),
        {"state": "not_met"},
        **HTMX,
    )
    assert response.status_code == 200
    assert fresh(Condition, condition.pk).state == "not_met"


def measurable_condition(member: Member) -> Condition:
    return ConditionFactory(
        goal=Goal.objects.unscoped().get(member=member),
        description="Presents at two chapter meetings",
        kind=Condition.Kind.MEASURABLE,
        comparison=Condition.Comparison.GTE,
        threshold=Decimal(2),
    )


def test_a_measurable_condition_is_decided_by_the_observed_value(login, tenant_a):
    member = scored_member(tenant_a)
    condition = measurable_condition(member)
    before = rescored(tenant_a, member)
    response = login(tenant_a.msm).post(
        url("members:condition_assess", tenant_a, condition_id=condition.pk),
        {"observed_value": "3"},
        **HTMX,
    )
    assert response.status_code == 200
    stored = fresh(Condition, condition.pk)
    assert stored.state == "met" and stored.observed_value == Decimal(3)
    assert "observed 3" in response.content.decode()
    assert_new_gap_shown(
        response.content.decode(), before, Member.objects.unscoped().get(pk=member.pk)
    )


def test_an_observed_value_that_is_not_a_number_is_refused_in_place(login, tenant_a):
    member = scored_member(tenant_a)
    condition = measurable_condition(member)
    client = login(tenant_a.msm)
    target = url("members:condition_assess", tenant_a, condition_id=condition.pk)
    response = client.post(target, {"observed_value": "three"}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    error_under(body, f"id_condition-{condition.pk}_observed_value", "Enter a number.")
    missing = client.post(target, {"observed_value": ""}, **HTMX)  # the service's rule
    error_under(
        missing.content.decode(),
        f"id_condition-{condition.pk}_observed_value",
        "Give the value observed for this measurable condition.",
    )
    no_js = client.post(target, {"observed_value": "three"})
    assert no_js.status_code == 400 and "Enter a number." in no_js.content.decode()
    stored = fresh(Condition, condition.pk)
    assert stored.state == "unknown" and stored.observed_value is None and not stored.assessed_on


def test_a_confirmed_condition_takes_no_observed_value(login, tenant_a):
    member = scored_member(tenant_a)
    condition = ConditionFactory(goal=Goal.objects.unscoped().get(member=member))
    response = login(tenant_a.msm).post(
        url("members:condition_assess", tenant_a, condition_id=condition.pk),
        {"state": "met", "observed_value": "4"},
        **HTMX,
    )
    assert "A condition the member confirms has no observed value." in response.content.decode()
    assert fresh(Condition, condition.pk).state == "unknown"


# --- ownership ----------------------------------------------------------------------------------


def test_reassigning_the_owner_keeps_the_hand_off_note(login, tenant_a):
    member = scored_member(tenant_a)
    response = login(tenant_a.msm).post(
        url("members:owner_reassign", tenant_a, member_id=member.pk),
        {"to_seat": tenant_a.admin.pk, "note": "Prefers calls on Tuesdays; renewal in March."},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="ownership"' in body
    assert fresh(Member, member.pk).owner_id == tenant_a.admin.pk
    change = OwnershipChange.objects.unscoped().filter(member=member).get()
    assert change.from_seat_id == tenant_a.msm.pk and change.to_seat_id == tenant_a.admin.pk
    assert change.changed_by_id == tenant_a.msm.pk
    assert change.note == "Prefers calls on Tuesdays; renewal in March."
    assert "Prefers calls on Tuesdays" in body
    assert f"owner {tenant_a.admin.user.display_name}" in header_of(body)


def test_the_owner_choices_are_the_msm_and_admin_seats(login, tenant_a, tenant_b):
    member = scored_member(tenant_a)
    body = (
        login(tenant_a.msm)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    assert f'<option value="{tenant_a.admin.pk}"' in body
    assert f'<option value="{tenant_a.msm.pk}" selected' in body
    assert f'<option value="{tenant_a.viewer.pk}"' not in body
    assert f'<option value="{tenant_b.admin.pk}"' not in body


@pytest.mark.parametrize(
    ("to_seat", "message"),
    [
        ("viewer", "A viewer cannot own accounts"),
        ("other", "Choose a seat of this organization."),
        ("msm", "This seat already owns this account."),
    ],
)
def test_reassigning_to_a_seat_that_cannot_own_it_is_refused(
    login, tenant_a, tenant_b, to_seat, message
):
    member = scored_member(tenant_a)
    seat = {"viewer": tenant_a.viewer, "other": tenant_b.msm, "msm": tenant_a.msm}[to_seat]
    client = login(tenant_a.msm)
    target = url("members:owner_reassign", tenant_a, member_id=member.pk)
    response = client.post(target, {"to_seat": seat.pk, "note": "Hand-off"}, **HTMX)
    assert response.status_code == 200
    error_under(response.content.decode(), "id_to_seat", message)
    assert client.post(target, {"to_seat": seat.pk, "note": "Hand-off"}).status_code == 400
    assert fresh(Member, member.pk).owner_id == tenant_a.msm.pk
    assert not OwnershipChange.objects.unscoped().filter(member=member).exists()


def test_a_hand_off_needs_a_note(login, tenant_a):
    member = scored_member(tenant_a)
    response = login(tenant_a.msm).post(
        url("members:owner_reassign", tenant_a, member_id=member.pk),
        {"to_seat": tenant_a.admin.pk, "note": ""},
        **HTMX,
    )
    error_under(response.content.decode(), "id_note", "Write what the next owner needs to know.")
    assert fresh(Member, member.pk).owner_id == tenant_a.msm.pk


# --- desired outcomes and goals -----------------------------------------------------------------


def test_creating_a_desired_outcome(login, tenant_a):
    member = scored_member(tenant_a)
    client = login(tenant_a.msm)
    target = url("members:outcome_create", tenant_a, member_id=member.pk)
    response = client.post(
        target, {"title": "Lead a chapter", "description": "In two years"}, **HTMX
    )
    assert response.status_code == 200
    assert "Lead a chapter" in response.content.decode()
    assert DesiredOutcome.objects.unscoped().filter(member=member, title="Lead a chapter").exists()
    assert 'id="member-header"' in response.content.decode()

    blank = client.post(target, {"title": "  "}, **HTMX)
    error_under(blank.content.decode(), "id_outcome_title", "Say what the member wants to reach.")
    assert DesiredOutcome.objects.unscoped().filter(member=member).count() == 2


def goal_data(**overrides) -> dict:
    data = {
        "objective": "Speak at the regional conference",
        "starts_on": today().isoformat(),
        "due_on": (today() + dt.timedelta(days=180)).isoformat(),
        "metric_name": "",
        "metric_unit": "",
        "baseline": "",
        "target": "",
        "condition": "",
        "condition_comparison": "",
        "condition_threshold": "",
    }
    return {**data, **overrides}


def test_creating_a_goal_with_a_condition(login, tenant_a):
    member = scored_member(tenant_a)
    outcome = DesiredOutcome.objects.unscoped().get(member=member)
    before = member
    response = login(tenant_a.msm).post(
        url("members:goal_create", tenant_a, outcome_id=outcome.pk),
        goal_data(
            metric_name="talks",
            baseline="0",
            target="2",
            condition="Rated well by the audience",
            condition_comparison="gte",
            condition_threshold="4.5",
        ),
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    goal = Goal.objects.unscoped().get(member=member, objective="Speak at the regional conference")
    assert goal.due_on == today() + dt.timedelta(days=180) and goal.target == Decimal(2)
    condition = Condition.objects.unscoped().get(goal=goal)
    assert condition.kind == "measurable" and condition.threshold == Decimal("4.5")
    assert "Speak at the regional conference" in body and "Rated well by the audience" in body
    assert 'id="plan"' in body  # the new goal's (empty) board, out of band
    # A goal that just started is on pace, so the mean pace rises and the gap narrows.
    assert_new_gap_shown(body, before, Member.objects.unscoped().get(pk=member.pk))


def test_a_goal_without_a_due_date_shows_the_error_under_the_due_field(login, tenant_a):
    member = scored_member(tenant_a)
    outcome = DesiredOutcome.objects.unscoped().get(member=member)
    client = login(tenant_a.msm)
    target = url("members:goal_create", tenant_a, outcome_id=outcome.pk)
    response = client.post(target, goal_data(due_on=""), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    error_under(
        body, f"id_goal-{outcome.pk}_due_on", "A goal needs a time frame: give the date it is due."
    )
    assert "Speak at the regional conference" in body  # what was typed stays in the form
    assert '<details class="action-details" open>' in body
    no_js = client.post(target, goal_data(due_on=""))
    assert no_js.status_code == 400
    error_under(
        no_js.content.decode(),
        f"id_goal-{outcome.pk}_due_on",
        "A goal needs a time frame: give the date it is due.",
    )
    assert Goal.objects.unscoped().filter(member=member).count() == 1
    assert not Condition.objects.unscoped().filter(goal__member=member).exists()


def test_a_condition_threshold_that_is_not_a_number_writes_nothing(login, tenant_a):
    member = scored_member(tenant_a)
    outcome = DesiredOutcome.objects.unscoped().get(member=member)
    response = login(tenant_a.msm).post(
        url("members:goal_create", tenant_a, outcome_id=outcome.pk),
        goal_data(condition="Scores well", condition_comparison="gte", condition_threshold="high"),
        **HTMX,
    )
    error_under(
        response.content.decode(), f"id_goal-{outcome.pk}_condition_threshold", "Enter a number."
    )
    assert Goal.objects.unscoped().filter(member=member).count() == 1


def test_the_services_goal_rules_come_back_under_their_fields(login, tenant_a):
    member = scored_member(tenant_a)
    outcome = DesiredOutcome.objects.unscoped().get(member=member)
    response = login(tenant_a.msm).post(
        url("members:goal_create", tenant_a, outcome_id=outcome.pk),
        goal_data(
            due_on=(today() - dt.timedelta(days=1)).isoformat(),
            target="10",
            condition_comparison="gte",
        ),
        **HTMX,
    )
    body = response.content.decode()
    error_under(
        body, f"id_goal-{outcome.pk}_due_on", "The due date cannot be before the start date."
    )
    error_under(body, f"id_goal-{outcome.pk}_baseline", "A measurable objective needs a baseline")
    error_under(body, f"id_goal-{outcome.pk}_condition", "Condition 1, description")
    assert Goal.objects.unscoped().filter(member=member).count() == 1


# --- progress -----------------------------------------------------------------------------------


def test_recording_progress_on_a_measurable_goal(login, tenant_a):
    member = scored_member(tenant_a)
    goal = Goal.objects.unscoped().get(member=member)
    response = login(tenant_a.msm).post(
        url("members:goal_progress", tenant_a, goal_id=goal.pk), {"value": "30"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert fresh(Goal, goal.pk).current_value == Decimal(30)
    assert GoalMetricReading.objects.unscoped().filter(goal=goal, value=Decimal(30)).exists()
    assert "30 of 40 credits" in body
    after = Member.objects.unscoped().get(pk=member.pk)
    assert after.success_gap < member.success_gap
    assert_new_gap_shown(body, member, after)


def test_bad_progress_is_refused_in_place(login, tenant_a):
    member = scored_member(tenant_a)
    goal = Goal.objects.unscoped().get(member=member)
    client = login(tenant_a.msm)
    target = url("members:goal_progress", tenant_a, goal_id=goal.pk)
    error_under(
        client.post(target, {"value": "lots"}, **HTMX).content.decode(),
        f"id_progress-{goal.pk}_value",
        "Enter a number.",
    )
    error_under(
        client.post(target, {"value": ""}, **HTMX).content.decode(),
        f"id_progress-{goal.pk}_value",
        "Give the value reached.",
    )
    qualitative = GoalFactory(
        desired_outcome__member=member, baseline=None, target=None, current_value=None
    )
    refused = client.post(
        url("members:goal_progress", tenant_a, goal_id=qualitative.pk), {"value": "3"}, **HTMX
    )
    assert "This objective has no target to measure" in refused.content.decode()
    assert fresh(Goal, goal.pk).current_value == Decimal(5)
    assert not GoalMetricReading.objects.unscoped().filter(goal__member=member).exists()


# --- tasks --------------------------------------------------------------------------------------


def test_completing_and_reopening_a_task_on_member_360(login, tenant_a):
    member = scored_member(tenant_a)
    task = TaskFactory(member=member, owner=tenant_a.msm, title="Send the CPD guide")
    client = login(tenant_a.msm)
    response = client.post(url("members:task_complete", tenant_a, task_id=task.pk), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="tasks"' in body
    assert fresh(Task, task.pk).done_at is not None
    assert "Reopen “Send the CPD guide”" in body and "done " in body
    assert 'id="member-header"' in body
    response = client.post(url("members:task_reopen", tenant_a, task_id=task.pk), **HTMX)
    assert fresh(Task, task.pk).done_at is None
    assert "Mark “Send the CPD guide” done" in response.content.decode()


def test_completing_a_task_from_my_book_answers_the_panel(login, tenant_a):
    member = scored_member(tenant_a, name="Olga Overdue")
    task = TaskFactory(
        member=member,
        owner=tenant_a.msm,
        title="Call about the renewal",
        due_on=today() - dt.timedelta(days=3),
    )
    client = login(tenant_a.msm)
    response = client.post(
        url("members:task_complete", tenant_a, task_id=task.pk), {"from": "book"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="tasks-panel"' in body and 'id="member-header"' not in body
    assert "Done: Call about the renewal." in body and "Undo" in body
    assert "0 open tasks due today or overdue" in body
    assert fresh(Task, task.pk).done_at is not None

    undo = client.post(
        url("members:task_reopen", tenant_a, task_id=task.pk), {"from": "book"}, **HTMX
    )
    assert "Back on the list: Call about the renewal." in undo.content.decode()
    assert fresh(Task, task.pk).done_at is None
    no_js = client.post(url("members:task_complete", tenant_a, task_id=task.pk), {"from": "book"})
    assert no_js.status_code == 302 and no_js["Location"] == url("members:book", tenant_a)


# --- who may act ----------------------------------------------------------------------------------


def snapshot_of_everything(member: Member) -> dict:
    """What any action could change, to compare before and after a refused request."""
    return {
        "member": Member.objects.unscoped().filter(pk=member.pk).values("owner_id").get(),
        "milestones": list(
            ProgressMilestone.objects.unscoped()
            .filter(member=member)
            .order_by("pk")
            .values_list("achieved_at", flat=True)
        ),
        "commitments": list(
            Commitment.objects.unscoped()
            .filter(member=member)
            .order_by("pk")
            .values_list("done_at", flat=True)
        ),
        "conditions": list(
            Condition.objects.unscoped()
            .filter(goal__member=member)
            .order_by("pk")
            .values_list("state", "observed_value")
        ),
        "goals": list(
            Goal.objects.unscoped()
            .filter(member=member)
            .order_by("pk")
            .values_list("pk", "current_value")
        ),
        "outcomes": DesiredOutcome.objects.unscoped().filter(member=member).count(),
        "tasks": list(
            Task.objects.unscoped()
            .filter(member=member)
            .order_by("pk")
            .values_list("done_at", flat=True)
        ),
        "handoffs": OwnershipChange.objects.unscoped().filter(member=member).count(),
    }


def every_action(tenant, member: Member) -> list[tuple[str, dict]]:
    """Every action URL of the member, with valid data."""
    goal = Goal.objects.unscoped().get(member=member)
    outcome = goal.desired_outcome
    pending = ProgressMilestoneFactory(member=member, due_on=today() - dt.timedelta(days=1))
    achieved = ProgressMilestone.objects.unscoped().filter(member=member).first()
    open_commitment = CommitmentFactory(goal=goal, party="together")
    done_commitment = CommitmentFactory(goal=goal, party="together", done_at=timezone.now())
    condition = ConditionFactory(goal=goal)
    open_task = TaskFactory(member=member, owner=tenant.msm)
    done_task = TaskFactory(member=member, owner=tenant.msm, done_at=timezone.now())
    return [
        (url("members:milestone_achieve", tenant, milestone_id=pending.pk), {}),
        (url("members:milestone_reopen", tenant, milestone_id=achieved.pk), {}),
        (url("members:commitment_complete", tenant, commitment_id=open_commitment.pk), {}),
        (url("members:commitment_reopen", tenant, commitment_id=done_commitment.pk), {}),
        (url("members:condition_assess", tenant, condition_id=condition.pk), {"state": "met"}),
        (url("members:goal_progress", tenant, goal_id=goal.pk), {"value": "20"}),
        (url("members:goal_create", tenant, outcome_id=outcome.pk), goal_data()),
        (url("members:outcome_create", tenant, member_id=member.pk), {"title": "More"}),
        (
            url("members:owner_reassign", tenant, member_id=member.pk),
            {"to_seat": tenant.admin.pk, "note": "Over to you"},
        ),
        (url("members:task_complete", tenant, task_id=open_task.pk), {}),
        (url("members:task_reopen", tenant, task_id=done_task.pk), {}),
    ]


def test_a_viewer_is_refused_every_action_and_nothing_changes(login, tenant_a):
    member = scored_member(tenant_a)
    actions = every_action(tenant_a, member)
    before = snapshot_of_everything(member)
    client = login(tenant_a.viewer)
    for target, data in actions:
        assert client.post(target, data, **HTMX).status_code == 403, target
        assert client.post(target, data).status_code == 403, target
    assert snapshot_of_everything(member) == before


def test_the_same_actions_by_an_msm_all_succeed(login, tenant_a):
    """The counterpart of the viewer test: the data is valid, so a 403 there is the role."""
    member = scored_member(tenant_a)
    actions = every_action(tenant_a, member)
    before = snapshot_of_everything(member)
    client = login(tenant_a.msm)
    for target, data in actions:
        assert client.post(target, data, **HTMX).status_code == 200, target
    after = snapshot_of_everything(member)
    assert all(after[key] != before[key] for key in before), after


def test_another_organizations_rows_are_404_and_unchanged(login, tenant_a, tenant_b):
    theirs = scored_member(tenant_b)
    actions = every_action(tenant_b, theirs)
    before = snapshot_of_everything(theirs)
    client = login(tenant_a.msm)
    for target, data in actions:
        # Their ids under our organization's slug: the row is not found in our scope.
        ours = target.replace(tenant_b.organization.slug, tenant_a.organization.slug, 1)
        assert client.post(ours, data, **HTMX).status_code == 404, ours
        # Their slug: we have no seat there.
        assert client.post(target, data, **HTMX).status_code == 404, target
    assert snapshot_of_everything(theirs) == before


def test_a_viewer_sees_no_write_controls(login, tenant_a):
    member = scored_member(tenant_a)
    every_action(tenant_a, member)
    body = (
        login(tenant_a.viewer)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    assert "Orientation done" in body and "Tasks" in body and "Ownership" in body
    for control in (
        "Mark achieved",
        "Reopen",
        "Tick “",
        "Untick",
        "Add a goal",
        "Add a desired outcome",
        "Record progress",
        "Hand the account over",
        'name="state"',
        "Mark “",
    ):
        assert control not in body, control
    # The one form a viewer gets is the layout's log-out button.
    assert body.count('<form method="post"') == 1


def test_an_msm_sees_every_control(login, tenant_a):
    member = scored_member(tenant_a)
    every_action(tenant_a, member)
    body = (
        login(tenant_a.msm)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    for control in (
        "Mark achieved",
        "Reopen<span",
        "Tick “",
        "Untick “",
        "Add a goal",
        "Add a desired outcome",
        "Record progress",
        "Hand the account over",
        'name="state" value="met"',
        "Mark “",
        "Reopen “",
    ):
        assert control in body, control


def test_seats_of_the_organization_only_are_offered_even_with_many(login, tenant_a, tenant_b):
    SeatFactory.create_batch(3, organization=tenant_a.organization, role=Seat.Role.MSM)
    member = scored_member(tenant_a)
    body = (
        login(tenant_a.msm)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    select = re.search(r'<select name="to_seat".*?</select>', body, re.S).group(0)
    # Nobody, then the admin, the MSM and the three new MSMs: no viewer, nobody of B.
    assert select.count("<option value=") == 1 + 5
