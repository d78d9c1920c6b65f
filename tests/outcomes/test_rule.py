"""The rule that judges a goal: achieved, hollow success, missed or still active.

First as a table over the pure decision function, then through the services that feed it
(progress, conditions, the nightly sweep), so a break in either place fails here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagement.models import ContextEvent
from outcomes.models import Condition, Goal
from outcomes.services import (
    condition_assess,
    goal_create,
    goal_evaluate,
    goal_mark_objective_reached,
    goal_record_progress,
    goal_status_for,
    goals_evaluate_due,
    organization_today,
)
from tenancy.models import DomainEvent
from tests.factories import ConditionFactory, DesiredOutcomeFactory, GoalFactory

S = Goal.Status
START = dt.date(2025, 1, 1)
DUE = dt.date(2025, 6, 30)
EARLY = dt.date(2025, 5, 1)
BEFORE_DUE = dt.date(2025, 6, 15)
AFTER_DUE = dt.date(2025, 7, 15)

MET = (Condition.State.MET, EARLY)
MET_LATE = (Condition.State.MET, AFTER_DUE)
UNKNOWN = (Condition.State.UNKNOWN, None)
NOT_MET = (Condition.State.NOT_MET, EARLY)

# (case, status before, objective reached on, conditions (state, assessed on), today, expected)
CASES = [
    ("reached early, all conditions met", S.ACTIVE, EARLY, [MET, MET], BEFORE_DUE, S.ACHIEVED),
    ("reached, one condition unknown", S.ACTIVE, EARLY, [MET, UNKNOWN], BEFORE_DUE, S.HOLLOW),
    ("reached, one condition not met", S.ACTIVE, EARLY, [NOT_MET], BEFORE_DUE, S.HOLLOW),
    ("reached, condition met after due", S.ACTIVE, EARLY, [MET_LATE], AFTER_DUE, S.HOLLOW),
    ("hollow stays hollow past due", S.HOLLOW, EARLY, [UNKNOWN], AFTER_DUE, S.HOLLOW),
    ("hollow becomes achieved in time", S.HOLLOW, EARLY, [MET], BEFORE_DUE, S.ACHIEVED),
    ("hollow, met late, still hollow", S.HOLLOW, EARLY, [MET_LATE], AFTER_DUE, S.HOLLOW),
    ("not reached, past due", S.ACTIVE, None, [MET], AFTER_DUE, S.MISSED),
    ("not reached, on the due date", S.ACTIVE, None, [], DUE, S.ACTIVE),
    ("not reached, before due", S.ACTIVE, None, [UNKNOWN], BEFORE_DUE, S.ACTIVE),
    ("reached after the due date", S.ACTIVE, AFTER_DUE, [], AFTER_DUE, S.MISSED),
    ("reached on the due date", S.ACTIVE, DUE, [], DUE, S.ACHIEVED),
    ("no conditions, reached in time", S.ACTIVE, EARLY, [], BEFORE_DUE, S.ACHIEVED),
    ("superseded stays superseded", S.SUPERSEDED, EARLY, [MET], BEFORE_DUE, S.SUPERSEDED),
    ("abandoned stays abandoned", S.ABANDONED, None, [], AFTER_DUE, S.ABANDONED),
    ("achieved stays achieved", S.ACHIEVED, EARLY, [NOT_MET], AFTER_DUE, S.ACHIEVED),
    ("missed stays missed", S.MISSED, EARLY, [MET], BEFORE_DUE, S.MISSED),
]


@pytest.mark.parametrize(
    ("status", "reached_on", "conditions", "today", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_goal_status_for(status, reached_on, conditions, today, expected):
    goal = Goal(status=status, starts_on=START, due_on=DUE, objective_reached_on=reached_on)
    rows = [Condition(state=state, assessed_on=day) for state, day in conditions]
    assert goal_status_for(goal, rows, today) == expected


# --- the same rule, through the services --------------------------------------------------------


def _goal(organization, **fields):
    outcome = DesiredOutcomeFactory(member__organization=organization)
    today = organization_today(organization)
    return goal_create(
        organization=organization,
        desired_outcome=outcome,
        objective=fields.pop("objective", "Cut the annual conference cost"),
        starts_on=fields.pop("starts_on", today - dt.timedelta(days=30)),
        due_on=fields.pop("due_on", today + dt.timedelta(days=60)),
        **fields,
    )


def _events(goal):
    return list(
        ContextEvent.objects.unscoped()
        .filter(payload__goal_id=goal.pk)
        .order_by("pk")
        .values_list("name", flat=True)
    )


def test_target_below_baseline_is_reached_from_above(tenant_a):
    """Reducing a cost: 100 → 60. Going up is not progress; reaching 60 or less is."""
    org = tenant_a.organization
    goal = _goal(org, baseline=Decimal("100"), target=Decimal("60"), current_value="100")
    assert goal.objective_reached_on is None
    goal = goal_record_progress(organization=org, goal=goal, value="120")
    assert (goal.status, goal.objective_reached_on) == (S.ACTIVE, None)
    goal = goal_record_progress(organization=org, goal=goal, value="61")
    assert (goal.status, goal.objective_reached_on) == (S.ACTIVE, None)
    goal = goal_record_progress(organization=org, goal=goal, value="55.5")
    assert goal.status == S.ACHIEVED
    assert goal.objective_reached_on == organization_today(org)
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.ACHIEVED


def test_target_above_baseline_needs_the_target(tenant_a):
    org = tenant_a.organization
    goal = _goal(org, baseline=0, target=40)
    goal = goal_record_progress(organization=org, goal=goal, value="39.9999")
    assert goal.status == S.ACTIVE
    goal = goal_record_progress(organization=org, goal=goal, value=40)
    assert goal.status == S.ACHIEVED


def test_reached_with_an_unknown_condition_is_hollow_then_achieved_when_met(tenant_a):
    org = tenant_a.organization
    goal = _goal(
        org,
        baseline=0,
        target=40,
        conditions=[{"description": "Feels ready for the board exam"}],
    )
    goal = goal_record_progress(organization=org, goal=goal, value=41)
    assert goal.status == S.HOLLOW
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.HOLLOW
    condition = Condition.objects.for_org(org).get(goal=goal)
    condition_assess(organization=org, condition=condition, state=Condition.State.MET)
    stored = Goal.objects.for_org(org).get(pk=goal.pk)
    assert stored.status == S.ACHIEVED
    assert stored.status_changed_at is not None
    assert _events(goal) == [
        "goal_created",
        "goal_progress",
        "goal_status_hollow",
        "goal_status_achieved",
    ]


def test_measurable_condition_is_decided_by_its_observed_value(tenant_a):
    org = tenant_a.organization
    goal = _goal(
        org,
        objective="Present at the annual meeting",
        conditions=[
            {
                "description": "Audience of at least 50",
                "kind": "measurable",
                "comparison": "gte",
                "threshold": "50",
            }
        ],
    )
    goal = goal_mark_objective_reached(organization=org, goal=goal)
    assert goal.status == S.HOLLOW
    condition = Condition.objects.for_org(org).get(goal=goal)
    condition = condition_assess(organization=org, condition=condition, observed_value=49)
    assert condition.state == Condition.State.NOT_MET
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.HOLLOW
    condition = condition_assess(organization=org, condition=condition, observed_value="50")
    assert condition.state == Condition.State.MET
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.ACHIEVED


def test_condition_met_after_the_due_date_leaves_the_goal_hollow(tenant_a):
    org = tenant_a.organization
    today = organization_today(org)
    goal = GoalFactory(
        desired_outcome__member__organization=org,
        starts_on=today - dt.timedelta(days=100),
        due_on=today - dt.timedelta(days=10),
        objective_reached_on=today - dt.timedelta(days=20),
        status=S.HOLLOW,
    )
    condition = ConditionFactory(goal=goal)
    condition_assess(organization=org, condition=condition, state=Condition.State.MET)
    assert Condition.objects.for_org(org).get(pk=condition.pk).assessed_on == today
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.HOLLOW


def test_goal_evaluate_marks_a_goal_past_due_missed(tenant_a):
    org = tenant_a.organization
    goal = _goal(org, baseline=0, target=40)
    goal = goal_evaluate(organization=org, goal=goal, today=goal.due_on)
    assert goal.status == S.ACTIVE
    goal = goal_evaluate(organization=org, goal=goal, today=goal.due_on + dt.timedelta(days=1))
    assert goal.status == S.MISSED
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.MISSED
    assert _events(goal)[-1] == "goal_status_missed"


def test_superseded_goal_is_not_reopened_by_evaluation(tenant_a):
    org = tenant_a.organization
    goal = GoalFactory(
        desired_outcome__member__organization=org,
        status=S.SUPERSEDED,
        objective_reached_on=organization_today(org),
    )
    goal = goal_evaluate(organization=org, goal=goal)
    assert Goal.objects.for_org(org).get(pk=goal.pk).status == S.SUPERSEDED


def _goals_past_due(org, count, today):
    return [
        GoalFactory(
            desired_outcome__member__organization=org,
            starts_on=today - dt.timedelta(days=60),
            due_on=today - dt.timedelta(days=1),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("count", [5, 50])
def test_goals_evaluate_due_sweeps_in_constant_queries(tenant_a, count):
    org = tenant_a.organization
    today = organization_today(org)
    missed = _goals_past_due(org, count, today)
    with CaptureQueriesContext(connection) as queries:
        assert goals_evaluate_due(organization=org, today=today) == count
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    # UPDATE, read back the swept rows, insert their context events and their domain events
    # (plus savepoint bookkeeping), and the sweep's one audit summary entry.
    assert len(queries.captured_queries) <= 7
    assert set(
        Goal.objects.for_org(org)
        .filter(pk__in=[g.pk for g in missed])
        .values_list("status", flat=True)
    ) == {S.MISSED}
    events = ContextEvent.objects.for_org(org).filter(name="goal_status_missed")
    assert sorted(e.payload["goal_id"] for e in events) == sorted(g.pk for g in missed)
    assert {e.kind for e in events} == {ContextEvent.Kind.GOAL_CHANGE}
    changed = DomainEvent.objects.for_org(org).filter(kind=DomainEvent.Kind.GOAL_STATUS_CHANGED)
    assert sorted(e.subject_id for e in changed) == sorted(g.pk for g in missed)
    assert {(e.payload["previous_status"], e.payload["status"]) for e in changed} == {
        (S.ACTIVE, S.MISSED)
    }


def test_goals_evaluate_due_leaves_other_goals_alone(tenant_a, tenant_b):
    org = tenant_a.organization
    today = organization_today(org)
    yesterday = today - dt.timedelta(days=1)
    past = {"starts_on": today - dt.timedelta(days=60), "due_on": yesterday}
    due_today = GoalFactory(desired_outcome__member__organization=org, due_on=today)
    hollow = GoalFactory(
        desired_outcome__member__organization=org,
        status=S.HOLLOW,
        objective_reached_on=yesterday,
        **past,
    )
    reached_in_time = GoalFactory(
        desired_outcome__member__organization=org, objective_reached_on=yesterday, **past
    )
    abandoned = GoalFactory(desired_outcome__member__organization=org, status=S.ABANDONED, **past)
    other_org = GoalFactory(desired_outcome__member__organization=tenant_b.organization, **past)
    reached_late = GoalFactory(
        desired_outcome__member__organization=org,
        starts_on=today - dt.timedelta(days=60),
        due_on=today - dt.timedelta(days=2),
        objective_reached_on=yesterday,
    )
    assert goals_evaluate_due(organization=org, today=today) == 1
    statuses = dict(Goal.objects.unscoped().values_list("pk", "status"))
    assert statuses[reached_late.pk] == S.MISSED
    assert statuses[due_today.pk] == S.ACTIVE
    assert statuses[hollow.pk] == S.HOLLOW
    assert statuses[reached_in_time.pk] == S.ACTIVE
    assert statuses[abandoned.pk] == S.ABANDONED
    assert statuses[other_org.pk] == S.ACTIVE
    assert goals_evaluate_due(organization=org, today=today) == 0


def test_a_goal_moved_by_the_rule_or_by_hand_writes_one_status_domain_event(tenant_a):
    from outcomes.services import goal_abandon

    org = tenant_a.organization
    goal = GoalFactory(desired_outcome__member__organization=org)
    goal_abandon(organization=org, goal=goal, reason="Changed jobs")
    [event] = DomainEvent.objects.for_org(org).filter(kind=DomainEvent.Kind.GOAL_STATUS_CHANGED)
    assert event.subject_id == goal.pk
    assert event.payload == {
        "goal_id": goal.pk,
        "member_id": goal.member_id,
        "previous_status": S.ACTIVE,
        "status": S.ABANDONED,
    }
