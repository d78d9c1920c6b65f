"""Planning: each member gets the milestones their organization defines, once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from milestones.models import MilestoneDefinition, ProgressMilestone
from milestones.services import milestone_plan_for_goal, milestone_plan_for_member
from outcomes.models import Goal
from tests.factories import (
    GoalFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)

JOINED = MilestoneDefinition.Anchor.JOINED
GOAL_START = MilestoneDefinition.Anchor.GOAL_START


def _milestones(organization):
    return ProgressMilestone.objects.for_org(organization)


@pytest.fixture
def definitions(tenant_a):
    """Two active definitions counted from joining, one retired, two counted from a goal."""
    org = tenant_a.organization
    return {
        "orientation": MilestoneDefinitionFactory(
            organization=org, name="Orientation", expected_after_days=7, anchor=JOINED
        ),
        "first_event": MilestoneDefinitionFactory(
            organization=org,
            name="First event",
            type=MilestoneDefinition.Type.OPPORTUNE,
            expected_after_days=60,
            anchor=JOINED,
        ),
        "retired": MilestoneDefinitionFactory(
            organization=org, name="Retired", anchor=JOINED, is_active=False
        ),
        "study_plan": MilestoneDefinitionFactory(
            organization=org,
            name="Study plan agreed",
            type=MilestoneDefinition.Type.OPERATIONAL,
            expected_after_days=14,
            anchor=GOAL_START,
        ),
        "credential": MilestoneDefinitionFactory(
            organization=org,
            name="Credential earned",
            type=MilestoneDefinition.Type.STRATEGIC,
            expected_after_days=300,
            anchor=GOAL_START,
        ),
    }


def test_member_plan_creates_one_pending_milestone_per_joining_definition(tenant_a, definitions):
    member = MemberFactory(organization=tenant_a.organization, joined_on=dt.date(2024, 1, 10))
    created = milestone_plan_for_member(organization=tenant_a.organization, member=member)
    stored = {m.definition_id: m for m in _milestones(tenant_a.organization)}
    assert {m.pk for m in created} == {m.pk for m in stored.values()}
    assert set(stored) == {definitions["orientation"].pk, definitions["first_event"].pk}
    orientation = stored[definitions["orientation"].pk]
    assert orientation.due_on == dt.date(2024, 1, 17)
    assert (orientation.name, orientation.type) == ("Orientation", "functional")
    assert orientation.goal is None and orientation.achieved_at is None
    assert stored[definitions["first_event"].pk].due_on == dt.date(2024, 3, 10)
    assert stored[definitions["first_event"].pk].type == "opportune"


def test_member_plan_is_idempotent_and_picks_up_new_definitions(tenant_a, definitions):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    milestone_plan_for_member(organization=org, member=member)
    assert milestone_plan_for_member(organization=org, member=member) == []
    assert _milestones(org).count() == 2
    MilestoneDefinitionFactory(organization=org, name="Profile complete", anchor=JOINED)
    added = milestone_plan_for_member(organization=org, member=member)
    assert [m.name for m in added] == ["Profile complete"]
    assert _milestones(org).count() == 3


def test_member_plan_skips_definitions_the_member_already_has_by_hand(tenant_a, definitions):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    ProgressMilestoneFactory(member=member, definition=definitions["orientation"])
    created = milestone_plan_for_member(organization=org, member=member)
    assert [m.definition for m in created] == [definitions["first_event"]]


def test_member_without_a_join_date_gets_no_plan(tenant_a, definitions):
    member = MemberFactory(organization=tenant_a.organization, joined_on=None)
    assert milestone_plan_for_member(organization=tenant_a.organization, member=member) == []
    assert not _milestones(tenant_a.organization).exists()


def test_member_plan_uses_only_the_organizations_definitions(tenant_a, tenant_b, definitions):
    member = MemberFactory(organization=tenant_b.organization)
    MilestoneDefinitionFactory(organization=tenant_b.organization, name="B's own", anchor=JOINED)
    created = milestone_plan_for_member(organization=tenant_b.organization, member=member)
    assert [m.name for m in created] == ["B's own"]
    assert all(m.organization_id == tenant_b.organization.pk for m in created)


def test_member_plan_refuses_a_member_of_another_organization(
    tenant_a, tenant_b, definitions, row_counts
):
    member = MemberFactory(organization=tenant_b.organization)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_plan_for_member(organization=tenant_a.organization, member=member)
    assert "member" in excinfo.value.message_dict
    assert row_counts() == before


@pytest.mark.parametrize("size", [5, 50])
def test_member_plan_runs_in_constant_queries(tenant_a, count_queries, size):
    org = tenant_a.organization
    MilestoneDefinitionFactory.create_batch(size, organization=org, anchor=JOINED)
    member = MemberFactory(organization=org)
    queries = count_queries(lambda: milestone_plan_for_member(organization=org, member=member))
    assert _milestones(org).count() == size
    # savepoint + member lock + missing definitions + one insert + one audit summary + release
    assert queries == 6


# --- goals -------------------------------------------------------------------------------------


def test_goal_plan_creates_the_goal_anchored_milestones(tenant_a, definitions):
    org = tenant_a.organization
    goal = GoalFactory(
        desired_outcome__member__organization=org,
        starts_on=dt.date(2025, 2, 1),
        due_on=dt.date(2026, 2, 1),
    )
    created = milestone_plan_for_goal(organization=org, goal=goal)
    stored = {m.definition_id: m for m in _milestones(org)}
    assert {m.pk for m in created} == {m.pk for m in stored.values()}
    assert set(stored) == {definitions["study_plan"].pk, definitions["credential"].pk}
    credential = stored[definitions["credential"].pk]
    assert credential.type == "strategic"
    assert credential.goal_id == goal.pk and credential.member_id == goal.member_id
    assert credential.due_on == dt.date(2025, 11, 28)
    assert stored[definitions["study_plan"].pk].due_on == dt.date(2025, 2, 15)


def test_goal_plan_is_idempotent_per_goal(tenant_a, definitions):
    org = tenant_a.organization
    goal = GoalFactory(desired_outcome__member__organization=org)
    second_goal = GoalFactory(desired_outcome=goal.desired_outcome)
    milestone_plan_for_goal(organization=org, goal=goal)
    assert milestone_plan_for_goal(organization=org, goal=goal) == []
    # Another goal of the same member has its own path to mark.
    assert len(milestone_plan_for_goal(organization=org, goal=second_goal)) == 2
    assert milestone_plan_for_goal(organization=org, goal=second_goal) == []
    assert _milestones(org).count() == 4
    assert _milestones(org).filter(goal=goal).count() == 2


@pytest.mark.parametrize("status", sorted(Goal.CLOSED))
def test_closed_goals_get_no_new_milestones(tenant_a, definitions, status):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization, status=status)
    assert milestone_plan_for_goal(organization=tenant_a.organization, goal=goal) == []
    assert not _milestones(tenant_a.organization).exists()


def test_hollow_goals_are_still_planned(tenant_a, definitions):
    goal = GoalFactory(
        desired_outcome__member__organization=tenant_a.organization, status=Goal.Status.HOLLOW
    )
    assert len(milestone_plan_for_goal(organization=tenant_a.organization, goal=goal)) == 2


def test_goal_plan_refuses_a_goal_of_another_organization(
    tenant_a, tenant_b, definitions, row_counts
):
    goal = GoalFactory(desired_outcome__member__organization=tenant_b.organization)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_plan_for_goal(organization=tenant_a.organization, goal=goal)
    assert "goal" in excinfo.value.message_dict
    assert row_counts() == before


@pytest.mark.parametrize("size", [5, 50])
def test_goal_plan_runs_in_constant_queries(tenant_a, count_queries, size):
    org = tenant_a.organization
    MilestoneDefinitionFactory.create_batch(size, organization=org, anchor=GOAL_START)
    goal = GoalFactory(desired_outcome__member__organization=org)
    queries = count_queries(lambda: milestone_plan_for_goal(organization=org, goal=goal))
    assert _milestones(org).count() == size
    assert queries == 6  # as above: the audit summary is one INSERT, whatever the size
