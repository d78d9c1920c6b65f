"""Reads for desired outcomes: a fixed number of queries whatever the number of rows, outside
any organization scope (so a forgotten scoped prefetch would raise), and the pace maths."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.models import Goal
from outcomes.selectors import (
    goal_history,
    goal_pace,
    goals_due_within,
    hollow_goals,
    member_desired_outcomes,
    member_experience,
)
from outcomes.services import organization_today
from tests.factories import (
    AppropriateExperienceFactory,
    ConditionFactory,
    DesiredOutcomeFactory,
    GoalFactory,
    MemberFactory,
)


def _member_with_goals(org, goals: int):
    member = MemberFactory(organization=org)
    outcomes = [DesiredOutcomeFactory(member=member) for _ in range(max(1, goals // 5))]
    for number in range(goals):
        goal = GoalFactory(desired_outcome=outcomes[number % len(outcomes)])
        ConditionFactory(goal=goal)
        ConditionFactory(goal=goal, description="Second condition")
    for outcome in outcomes:
        AppropriateExperienceFactory(member=member, desired_outcome=outcome)
        AppropriateExperienceFactory(member=member, desired_outcome=outcome, is_active=False)
    return member


def _read_everything(org, member):
    with CaptureQueriesContext(connection) as queries:
        outcomes = list(member_desired_outcomes(organization=org, member=member))
        seen = [
            (goal.objective, [c.description for c in goal.conditions.all()])
            for outcome in outcomes
            for goal in outcome.goals.all()
        ]
        elements = [e.description for outcome in outcomes for e in outcome.experience.all()]
    return len(queries), seen, elements


def test_member_desired_outcomes_in_constant_queries(tenant_a, tenant_b):
    org = tenant_a.organization
    few = _member_with_goals(org, 5)
    many = _member_with_goals(org, 50)
    _member_with_goals(tenant_b.organization, 5)
    few_queries, few_goals, _ = _read_everything(org, few)
    many_queries, many_goals, many_elements = _read_everything(org, many)
    assert len(few_goals) == 5 and len(many_goals) == 50
    assert all(len(conditions) == 2 for _, conditions in many_goals)
    assert len(many_elements) == 10  # retired elements are left out
    assert few_queries == many_queries == 4


def test_member_desired_outcomes_orders_goals_and_keeps_to_the_organization(tenant_a, tenant_b):
    org = tenant_a.organization
    outcome = DesiredOutcomeFactory(member__organization=org)
    today = organization_today(org)
    later = GoalFactory(desired_outcome=outcome, due_on=today + dt.timedelta(days=200))
    sooner = GoalFactory(desired_outcome=outcome, due_on=today + dt.timedelta(days=20))
    [result] = member_desired_outcomes(organization=org, member=outcome.member)
    assert list(result.goals.all()) == [sooner, later]
    assert not list(
        member_desired_outcomes(organization=tenant_b.organization, member=outcome.member)
    )


def test_member_experience_lists_active_elements_with_or_without_outcome(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    loose = AppropriateExperienceFactory(member=member)
    tied = AppropriateExperienceFactory(
        member=member, desired_outcome=DesiredOutcomeFactory(member=member), cadence_days=7
    )
    AppropriateExperienceFactory(member=member, is_active=False)
    with CaptureQueriesContext(connection) as queries:
        elements = list(member_experience(organization=tenant_a.organization, member=member))
        titles = [e.desired_outcome and e.desired_outcome.title for e in elements]
    assert elements == [tied, loose]
    assert titles == ["Earn the chartered credential", None]
    assert len(queries) == 1


def _goals_due(org, count, today):
    for number in range(count):
        GoalFactory(
            desired_outcome__member__organization=org,
            due_on=today + dt.timedelta(days=number % 10),
            status=Goal.Status.HOLLOW if number % 2 else Goal.Status.ACTIVE,
            objective_reached_on=today if number % 2 else None,
        )


@pytest.mark.parametrize("count", [5, 50])
def test_goals_due_within_and_hollow_goals_in_one_query(tenant_a, count):
    org = tenant_a.organization
    today = organization_today(org)
    _goals_due(org, count, today)
    with CaptureQueriesContext(connection) as queries:
        due = [
            (g.member.name, g.desired_outcome.title)
            for g in goals_due_within(organization=org, days=30, today=today)
        ]
        hollow = [g.member.name for g in hollow_goals(organization=org)]
    assert len(due) == count
    assert len(hollow) == count // 2
    assert len(queries) == 2


def test_goals_due_within_keeps_to_the_window_and_open_goals(tenant_a, tenant_b):
    org = tenant_a.organization
    today = organization_today(org)
    start = today - dt.timedelta(days=100)

    def goal(due_in, status=Goal.Status.ACTIVE, organization=org):
        return GoalFactory(
            desired_outcome__member__organization=organization,
            starts_on=start,
            due_on=today + dt.timedelta(days=due_in),
            status=status,
        )

    today_goal = goal(0)
    edge = goal(7)
    hollow = goal(3, Goal.Status.HOLLOW)
    goal(8)
    goal(-1)
    goal(2, Goal.Status.ACHIEVED)
    goal(2, Goal.Status.SUPERSEDED)
    goal(2, organization=tenant_b.organization)
    due = list(goals_due_within(organization=org, days=7, today=today))
    assert due == [today_goal, hollow, edge]
    assert list(hollow_goals(organization=org)) == [hollow]


@pytest.mark.parametrize("days", [-1, "7", 1.5, True])
def test_goals_due_within_refuses_a_bad_window(tenant_a, days):
    with pytest.raises(ValidationError) as caught:
        goals_due_within(organization=tenant_a.organization, days=days)
    assert "days" in caught.value.message_dict


def day(number: int) -> dt.date:
    """Day ``number`` of a goal that starts on 1 January 2025 and is due on day 100."""
    return dt.date(2025, 1, 1) + dt.timedelta(days=number)


@pytest.mark.parametrize(
    ("fields", "today", "expected", "actual", "ahead", "pace"),
    [
        # Half the time gone, a quarter of the way: behind, pace 0.5.
        (
            {"baseline": 0, "target": 40, "current_value": 10},
            day(50),
            "0.5",
            "0.25",
            False,
            "0.5",
        ),
        # Half the time gone, 60% of the way: ahead.
        (
            {"baseline": 0, "target": 40, "current_value": 24},
            day(50),
            "0.5",
            "0.6",
            True,
            "1",
        ),
        # Cutting a cost from 100 to 60; at 90 a quarter of the way.
        (
            {"baseline": 100, "target": 60, "current_value": 90},
            day(50),
            "0.5",
            "0.25",
            False,
            "0.5",
        ),
        # Going the wrong way clamps to 0; past the target clamps to 1.
        (
            {"baseline": 100, "target": 60, "current_value": 130},
            day(20),
            "0.2",
            "0",
            False,
            "0",
        ),
        ({"baseline": 0, "target": 40, "current_value": 55}, day(20), "0.2", "1", True, "1"),
        # No reading yet counts as the baseline.
        (
            {"baseline": 5, "target": 10, "current_value": None},
            day(20),
            "0.2",
            "0",
            False,
            "0",
        ),
        # Before the start nothing is expected; after the due date everything is.
        ({"baseline": 0, "target": 40, "current_value": 0}, day(-31), "0", "0", True, "1"),
        (
            {"baseline": 0, "target": 40, "current_value": 30},
            day(150),
            "1",
            "0.75",
            False,
            "0.75",
        ),
        # Objective reached counts in full, even if the value slipped back since.
        (
            {
                "baseline": 0,
                "target": 40,
                "current_value": 35,
                "objective_reached_on": day(31),
            },
            day(59),
            "0.59",
            "1",
            True,
            "1",
        ),
        # Qualitative: 0 until reached.
        (
            {"baseline": None, "target": None, "current_value": None},
            day(50),
            "0.5",
            "0",
            False,
            "0",
        ),
    ],
)
def test_goal_pace(fields, today, expected, actual, ahead, pace):
    goal = Goal(starts_on=day(0), due_on=day(100), **fields)  # 100 days
    result = goal_pace(goal=goal, today=today)
    assert result["expected"] == Decimal(expected)
    assert result["actual"] == Decimal(actual)
    assert result["ahead"] is ahead and result["behind"] is (not ahead)
    assert result["pace"] == Decimal(pace)
    assert result["days_total"] == 100


def test_goal_pace_counts_days(tenant_a):
    goal = Goal(starts_on=day(0), due_on=day(100), baseline=0, target=1)
    result = goal_pace(goal=goal, today=day(30))
    assert (result["days_elapsed"], result["days_left"]) == (30, 70)
    same_day = Goal(starts_on=day(0), due_on=day(0), baseline=0, target=1)
    assert goal_pace(goal=same_day, today=day(0))["expected"] == 1
    assert goal_pace(goal=same_day, today=day(-1))["expected"] == 0


def _chain(org, length):
    outcome = DesiredOutcomeFactory(member__organization=org)
    previous = None
    goals = []
    for _ in range(length):
        previous = GoalFactory(
            desired_outcome=outcome,
            supersedes=previous,
            status=Goal.Status.SUPERSEDED if previous is None else Goal.Status.ACTIVE,
        )
        goals.append(previous)
    # A sibling goal outside the chain, in the same desired outcome.
    GoalFactory(desired_outcome=outcome)
    return goals


@pytest.mark.parametrize("length", [5, 50])
def test_goal_history_walks_back_in_one_query(tenant_a, length):
    org = tenant_a.organization
    goals = _chain(org, length)
    with CaptureQueriesContext(connection) as queries:
        history = goal_history(organization=org, goal=goals[-1])
    assert history == goals
    assert len(queries) == 1
    assert goal_history(organization=org, goal=goals[2]) == goals[:3]
    assert goal_history(organization=org, goal=goals[0]) == goals[:1]


def test_goal_history_keeps_to_the_organization(tenant_a, tenant_b):
    goals = _chain(tenant_b.organization, 3)
    assert goal_history(organization=tenant_a.organization, goal=goals[-1]) == []
