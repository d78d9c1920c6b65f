"""One milestone: added by hand, achieved once, reopened by hand."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from milestones.models import MilestoneDefinition, ProgressMilestone
from milestones.services import milestone_achieve, milestone_add, milestone_reopen
from tests.factories import (
    GoalFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)


@pytest.fixture
def member(tenant_a):
    return MemberFactory(organization=tenant_a.organization, joined_on=dt.date(2024, 5, 1))


@pytest.fixture
def goal(member):
    return GoalFactory(
        desired_outcome__member=member,
        starts_on=dt.date(2025, 1, 1),
        due_on=dt.date(2025, 12, 31),
    )


def _add_refused(row_counts, field: str, **kwargs) -> None:
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_add(**kwargs)
    assert field in excinfo.value.message_dict
    assert row_counts() == before


# --- add ---------------------------------------------------------------------------------------


def test_add_an_ad_hoc_milestone(tenant_a, member):
    milestone = milestone_add(
        organization=tenant_a.organization,
        member=member,
        name=" Presented at the regional chapter ",
        type="opportune",
        due_on=dt.date(2025, 6, 1),
    )
    stored = ProgressMilestone.objects.for_org(tenant_a.organization).get()
    assert stored == milestone
    assert (stored.name, stored.type, stored.due_on) == (
        "Presented at the regional chapter",
        "opportune",
        dt.date(2025, 6, 1),
    )
    assert stored.definition is None and stored.achieved_at is None


def test_strategic_milestone_without_a_goal_is_refused(tenant_a, member, row_counts):
    _add_refused(
        row_counts,
        "goal",
        organization=tenant_a.organization,
        member=member,
        name="Credential earned",
        type="strategic",
    )


def test_strategic_milestone_with_the_members_goal(tenant_a, member, goal):
    milestone = milestone_add(
        organization=tenant_a.organization,
        member=member,
        name="Credential earned",
        type="strategic",
        goal=goal,
    )
    assert milestone.goal == goal


def test_goal_of_another_member_is_refused(tenant_a, member, row_counts):
    others_goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    _add_refused(
        row_counts,
        "goal",
        organization=tenant_a.organization,
        member=member,
        name="Credential earned",
        type="strategic",
        goal=others_goal,
    )


def test_unknown_type_and_empty_name_are_refused(tenant_a, member, row_counts):
    _add_refused(
        row_counts,
        "type",
        organization=tenant_a.organization,
        member=member,
        name="Something",
        type="tactical",
    )
    _add_refused(
        row_counts,
        "name",
        organization=tenant_a.organization,
        member=member,
        name=" ",
        type="functional",
    )
    _add_refused(
        row_counts,
        "name",
        organization=tenant_a.organization,
        member=member,
        name="x" * 121,
        type="functional",
    )


def test_member_goal_or_definition_of_another_organization_is_refused(
    tenant_a, tenant_b, member, row_counts
):
    their_member = MemberFactory(organization=tenant_b.organization)
    their_goal = GoalFactory(desired_outcome__member=their_member)
    their_definition = MilestoneDefinitionFactory(organization=tenant_b.organization)
    org = tenant_a.organization
    _add_refused(
        row_counts, "member", organization=org, member=their_member, name="X", type="functional"
    )
    _add_refused(
        row_counts,
        "goal",
        organization=org,
        member=member,
        name="X",
        type="strategic",
        goal=their_goal,
    )
    _add_refused(
        row_counts,
        "definition",
        organization=org,
        member=member,
        name="X",
        type="functional",
        definition=their_definition,
    )


def test_from_a_definition_takes_its_name_and_counts_its_due_date(tenant_a, member, goal):
    org = tenant_a.organization
    joined = MilestoneDefinitionFactory(
        organization=org, name="Orientation", expected_after_days=10
    )
    from_goal = MilestoneDefinitionFactory(
        organization=org,
        name="Study plan",
        type=MilestoneDefinition.Type.OPERATIONAL,
        anchor=MilestoneDefinition.Anchor.GOAL_START,
        expected_after_days=20,
    )
    first = milestone_add(
        organization=org, member=member, name="", type="functional", definition=joined
    )
    assert (first.name, first.due_on) == ("Orientation", dt.date(2024, 5, 11))
    second = milestone_add(
        organization=org,
        member=member,
        name="Study plan",
        type="operational",
        goal=goal,
        definition=from_goal,
        due_on=dt.date(2025, 3, 3),
    )
    assert second.due_on == dt.date(2025, 3, 3)


def test_from_a_definition_the_rules_of_the_definition_hold(tenant_a, member, goal, row_counts):
    org = tenant_a.organization
    definition = MilestoneDefinitionFactory(organization=org, name="Orientation")
    retired = MilestoneDefinitionFactory(organization=org, is_active=False)
    from_goal = MilestoneDefinitionFactory(
        organization=org, anchor=MilestoneDefinition.Anchor.GOAL_START
    )
    common = {"organization": org, "member": member, "name": ""}
    _add_refused(row_counts, "type", type="operational", definition=definition, **common)
    _add_refused(row_counts, "definition", type="functional", definition=retired, **common)
    _add_refused(row_counts, "goal", type="functional", definition=from_goal, **common)
    milestone_add(type="functional", definition=definition, **common)
    # The member has it now: adding it again would double it.
    _add_refused(row_counts, "definition", type="functional", definition=definition, **common)


# --- achieve and reopen ------------------------------------------------------------------------


def test_achieve_marks_it_once(tenant_a, member, row_counts):
    org = tenant_a.organization
    milestone = ProgressMilestoneFactory(member=member)
    moment = timezone.now() - dt.timedelta(days=2)
    milestone_achieve(organization=org, milestone=milestone, achieved_at=moment)
    stored = ProgressMilestone.objects.for_org(org).get()
    assert (stored.achieved_at, stored.achieved_via) == (moment, "manual")
    assert milestone.achieved_at == moment

    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_achieve(organization=org, milestone=stored, via="api")
    # The date is the organization's calendar date, as its people read it.
    local_date = moment.astimezone(zoneinfo.ZoneInfo(org.time_zone)).date()
    assert excinfo.value.message_dict["milestone"] == [
        f"This milestone was already achieved on {local_date}."
    ]
    assert row_counts() == before
    stored.refresh_from_db()
    assert (stored.achieved_at, stored.achieved_via) == (moment, "manual")


def test_achieve_is_decided_by_the_database_not_a_stale_copy(tenant_a, member):
    org = tenant_a.organization
    milestone = ProgressMilestoneFactory(member=member)
    stale = ProgressMilestone.objects.for_org(org).get(pk=milestone.pk)
    milestone_achieve(organization=org, milestone=milestone, via="api")
    assert stale.achieved_at is None
    with pytest.raises(ValidationError) as excinfo:
        milestone_achieve(organization=org, milestone=stale)
    assert "milestone" in excinfo.value.message_dict
    assert ProgressMilestone.objects.for_org(org).get().achieved_via == "api"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"via": "telepathy"}, "via"),
        ({"achieved_at": timezone.now() + dt.timedelta(days=1)}, "achieved_at"),
        ({"achieved_at": dt.datetime(2025, 1, 1, 12, 0)}, "achieved_at"),
    ],
)
def test_achieve_refuses_bad_input(tenant_a, member, row_counts, kwargs, field):
    milestone = ProgressMilestoneFactory(member=member)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_achieve(organization=tenant_a.organization, milestone=milestone, **kwargs)
    assert field in excinfo.value.message_dict
    assert row_counts() == before


def test_achieve_refuses_another_organizations_milestone(tenant_a, tenant_b, row_counts):
    milestone = ProgressMilestoneFactory(member__organization=tenant_b.organization)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_achieve(organization=tenant_a.organization, milestone=milestone)
    assert "milestone" in excinfo.value.message_dict
    assert row_counts() == before


def test_reopen_clears_the_achievement(tenant_a, member, row_counts):
    org = tenant_a.organization
    milestone = ProgressMilestoneFactory(member=member)
    milestone_achieve(organization=org, milestone=milestone)
    milestone_reopen(organization=org, milestone=milestone)
    stored = ProgressMilestone.objects.for_org(org).get()
    assert (stored.achieved_at, stored.achieved_via, stored.context_event) == (None, "", None)
    assert milestone.achieved_at is None

    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_reopen(organization=org, milestone=stored)
    assert "milestone" in excinfo.value.message_dict
    assert row_counts() == before
    # Pending again, it can be achieved again.
    milestone_achieve(organization=org, milestone=stored)
    assert ProgressMilestone.objects.for_org(org).get().achieved_at is not None


def test_reopen_refuses_another_organizations_milestone(tenant_a, tenant_b, row_counts):
    milestone = ProgressMilestoneFactory(member__organization=tenant_b.organization)
    milestone_achieve(organization=tenant_b.organization, milestone=milestone)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestone_reopen(organization=tenant_a.organization, milestone=milestone)
    assert "milestone" in excinfo.value.message_dict
    assert row_counts() == before
