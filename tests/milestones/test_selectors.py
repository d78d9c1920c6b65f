"""Reads: a member's milestones and timeline, accountability boards and their blind spot,
what is overdue and due — each in a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from milestones.models import Commitment, MilestoneType
from milestones.selectors import (
    DUE_SOON_DAYS,
    OPEN_GOAL_STATUSES,
    MilestoneStatus,
    accountability_boards_for_goals,
    commitments_due,
    goal_accountability_board,
    goals_with_blind_spot,
    member_milestones,
    milestone_timeline,
    overdue_milestones,
)
from outcomes.models import Goal
from tests.factories import (
    CommitmentFactory,
    GoalFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
    SeatFactory,
)

TODAY = dt.date(2025, 6, 15)
PARTIES = ["member_outside", "member_inside", "together", "us_behind_scenes"]


def _days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


# --- a member's milestones ---------------------------------------------------------------------


def test_member_milestones_are_the_members_own_soonest_first(tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization)
    later = ProgressMilestoneFactory(member=member, due_on=_days(9))
    undated = ProgressMilestoneFactory(member=member, due_on=None)
    sooner = ProgressMilestoneFactory(member=member, due_on=_days(1))
    ProgressMilestoneFactory(member__organization=tenant_a.organization)
    ProgressMilestoneFactory(member__organization=tenant_b.organization)
    rows = list(member_milestones(organization=tenant_a.organization, member=member))
    assert rows == [sooner, later, undated]


def test_member_milestones_of_another_organizations_member_are_empty(tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_b.organization)
    ProgressMilestoneFactory(member=member)
    assert not member_milestones(organization=tenant_a.organization, member=member).exists()


def test_timeline_groups_by_type_with_status(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    goal = GoalFactory(desired_outcome__member=member)
    achieved = ProgressMilestoneFactory(
        member=member, due_on=_days(-30), achieved_at=timezone.now(), achieved_via="manual"
    )
    overdue = ProgressMilestoneFactory(member=member, type="operational", due_on=_days(-1))
    due_today = ProgressMilestoneFactory(member=member, type="operational", due_on=TODAY)
    due_soon = ProgressMilestoneFactory(
        member=member, type="opportune", due_on=_days(DUE_SOON_DAYS)
    )
    upcoming = ProgressMilestoneFactory(
        member=member, type="strategic", goal=goal, due_on=_days(DUE_SOON_DAYS + 1)
    )
    undated = ProgressMilestoneFactory(member=member, due_on=None)

    timeline = milestone_timeline(organization=org, member=member, today=TODAY)
    assert list(timeline) == list(MilestoneType.values)
    flat = {
        entry.milestone.pk: (kind, entry.status)
        for kind, entries in timeline.items()
        for entry in entries
    }
    assert flat == {
        achieved.pk: ("functional", MilestoneStatus.ACHIEVED),
        overdue.pk: ("operational", MilestoneStatus.OVERDUE),
        due_today.pk: ("operational", MilestoneStatus.DUE_SOON),
        due_soon.pk: ("opportune", MilestoneStatus.DUE_SOON),
        upcoming.pk: ("strategic", MilestoneStatus.UPCOMING),
        undated.pk: ("functional", MilestoneStatus.UPCOMING),
    }


def test_timeline_has_every_type_even_when_empty(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    assert milestone_timeline(organization=tenant_a.organization, member=member) == {
        kind: [] for kind in MilestoneType.values
    }


@pytest.mark.parametrize("size", [5, 50])
def test_timeline_runs_in_one_query(tenant_a, count_queries, size):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    goal = GoalFactory(desired_outcome__member=member)
    definition = MilestoneDefinitionFactory(organization=org)
    for index in range(size):
        ProgressMilestoneFactory(
            member=member, definition=definition, goal=goal, due_on=_days(index - size // 2)
        )

    def read():
        timeline = milestone_timeline(organization=org, member=member, today=TODAY)
        entries = [entry for entries in timeline.values() for entry in entries]
        assert len(entries) == size
        for entry in entries:
            _ = (entry.milestone.definition.name, entry.milestone.goal.objective)

    assert count_queries(read) == 1


# --- accountability boards ---------------------------------------------------------------------


def test_board_has_every_column_and_flags_the_blind_spot(tenant_a):
    org = tenant_a.organization
    goal = GoalFactory(desired_outcome__member__organization=org)
    empty = goal_accountability_board(organization=org, goal=goal)
    assert empty["goal"] == goal
    assert list(empty["columns"]) == PARTIES
    assert all(column == [] for column in empty["columns"].values())
    assert empty["blind_spot"] is True

    together = CommitmentFactory(goal=goal, party="together", owner_seat=tenant_a.msm)
    inside = CommitmentFactory(goal=goal, party="member_inside")
    board = goal_accountability_board(organization=org, goal=goal)
    assert board["columns"]["together"] == [together]
    assert board["columns"]["member_inside"] == [inside]
    assert board["blind_spot"] is True

    outside = CommitmentFactory(goal=goal, party="member_outside")
    board = goal_accountability_board(organization=org, goal=goal)
    assert board["columns"]["member_outside"] == [outside]
    assert board["blind_spot"] is False


def test_board_shows_only_that_goals_commitments(tenant_a, tenant_b):
    org = tenant_a.organization
    goal = GoalFactory(desired_outcome__member__organization=org)
    CommitmentFactory(goal__desired_outcome__member__organization=org)
    CommitmentFactory(goal__desired_outcome__member__organization=tenant_b.organization)
    board = goal_accountability_board(organization=org, goal=goal)
    assert all(column == [] for column in board["columns"].values())


def test_a_done_outside_commitment_still_covers_the_blind_spot(tenant_a):
    org = tenant_a.organization
    goal = GoalFactory(desired_outcome__member__organization=org)
    CommitmentFactory(goal=goal, party="member_outside", done_at=timezone.now())
    assert goal_accountability_board(organization=org, goal=goal)["blind_spot"] is False
    assert not goals_with_blind_spot(organization=org).exists()


def test_goals_with_blind_spot(tenant_a, tenant_b):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    blind = GoalFactory(desired_outcome__member=member)
    CommitmentFactory(goal=blind, party="together")
    covered = GoalFactory(desired_outcome__member=member)
    CommitmentFactory(goal=covered, party="member_outside")
    hollow = GoalFactory(desired_outcome__member=member, status=Goal.Status.HOLLOW)
    GoalFactory(desired_outcome__member=member, status=Goal.Status.ACHIEVED)
    GoalFactory(desired_outcome__member=member, status=Goal.Status.SUPERSEDED)
    someone_else = GoalFactory(desired_outcome__member__organization=org)
    GoalFactory(desired_outcome__member__organization=tenant_b.organization)

    assert set(goals_with_blind_spot(organization=org)) == {blind, hollow, someone_else}
    assert set(goals_with_blind_spot(organization=org, member=member)) == {blind, hollow}


@pytest.mark.parametrize("size", [5, 50])
def test_goals_with_blind_spot_runs_in_one_query(tenant_a, count_queries, size):
    org = tenant_a.organization
    for index in range(size):
        goal = GoalFactory(desired_outcome__member__organization=org)
        CommitmentFactory(goal=goal, party="member_outside" if index % 2 else "together")

    def read():
        goals = list(goals_with_blind_spot(organization=org))
        assert len(goals) == (size + 1) // 2
        _ = [goal.member.name for goal in goals]

    assert count_queries(read) == 1


def _open_goals(org, member) -> list[Goal]:
    """The member's open goals, soonest due first, as Member 360 reads them."""
    return list(
        Goal.objects.for_org(org)
        .filter(member_id=member.pk, status__in=OPEN_GOAL_STATUSES)
        .order_by("due_on", "pk")
    )


def test_member_boards_cover_the_members_open_goals(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    today = timezone.localdate()
    first = GoalFactory(desired_outcome__member=member, due_on=today + dt.timedelta(days=400))
    second = GoalFactory(desired_outcome__member=member, due_on=today + dt.timedelta(days=200))
    GoalFactory(desired_outcome__member=member, status=Goal.Status.ABANDONED)
    CommitmentFactory(goal__desired_outcome__member__organization=org, party="member_outside")
    outside = CommitmentFactory(goal=first, party="member_outside")
    behind = CommitmentFactory(goal=second, party="us_behind_scenes", owner_seat=tenant_a.admin)

    goals = _open_goals(org, member)
    boards = accountability_boards_for_goals(organization=org, member=member, goals=goals)
    assert [board["goal"] for board in boards] == [second, first]
    assert boards[0]["columns"]["us_behind_scenes"] == [behind]
    assert boards[0]["blind_spot"] is True
    assert boards[1]["columns"]["member_outside"] == [outside]
    assert boards[1]["blind_spot"] is False
    assert all(list(board["columns"]) == PARTIES for board in boards)


@pytest.mark.parametrize("size", [5, 50])
def test_member_boards_run_in_constant_queries(tenant_a, count_queries, size):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    for index in range(size):
        goal = GoalFactory(desired_outcome__member=member)
        CommitmentFactory(goal=goal, party="together", owner_seat=tenant_a.msm)
        if index % 3:
            CommitmentFactory(goal=goal, party="member_outside")
    goals = _open_goals(org, member)

    def read():
        boards = accountability_boards_for_goals(organization=org, member=member, goals=goals)
        assert len(boards) == size
        assert sum(len(board["columns"]["together"]) for board in boards) == size

    assert count_queries(read) == 1


# --- overdue and due ---------------------------------------------------------------------------


def test_overdue_milestones(tenant_a, tenant_b):
    org = tenant_a.organization
    mine = MemberFactory(organization=org, owner=tenant_a.msm)
    theirs = MemberFactory(organization=org, owner=tenant_a.admin)
    late = ProgressMilestoneFactory(member=mine, due_on=_days(-3))
    later = ProgressMilestoneFactory(member=theirs, due_on=_days(-1))
    ProgressMilestoneFactory(member=mine, due_on=TODAY)
    ProgressMilestoneFactory(member=mine, due_on=None)
    ProgressMilestoneFactory(
        member=mine, due_on=_days(-5), achieved_at=timezone.now(), achieved_via="api"
    )
    ProgressMilestoneFactory(member__organization=tenant_b.organization, due_on=_days(-9))

    assert list(overdue_milestones(organization=org, today=TODAY)) == [late, later]
    assert list(overdue_milestones(organization=org, today=TODAY, owner=tenant_a.msm)) == [late]


@pytest.mark.parametrize("size", [5, 50])
def test_overdue_milestones_run_in_one_query(tenant_a, count_queries, size):
    org = tenant_a.organization
    for index in range(size):
        owner = SeatFactory(organization=org)
        ProgressMilestoneFactory(
            member=MemberFactory(organization=org, owner=owner), due_on=_days(-1 - index)
        )

    def read():
        rows = list(overdue_milestones(organization=org, today=TODAY))
        assert len(rows) == size
        _ = [(m.member.name, m.member.owner.user.email) for m in rows]

    assert count_queries(read) == 1


def test_commitments_due(tenant_a, tenant_b):
    org = tenant_a.organization
    goal = GoalFactory(desired_outcome__member__organization=org)
    theirs_due = CommitmentFactory(goal=goal, party="member_outside", due_on=_days(-2))
    ours_due = CommitmentFactory(goal=goal, party="together", due_on=TODAY, owner_seat=tenant_a.msm)
    ours_soon = CommitmentFactory(goal=goal, party="us_behind_scenes", due_on=_days(5))
    CommitmentFactory(goal=goal, party="together", due_on=_days(-1), done_at=timezone.now())
    CommitmentFactory(goal=goal, party="together", due_on=None)
    CommitmentFactory(
        goal__desired_outcome__member__organization=tenant_b.organization, due_on=_days(-3)
    )

    assert list(commitments_due(organization=org, today=TODAY)) == [theirs_due, ours_due]
    assert list(commitments_due(organization=org, today=TODAY, our_side_only=True)) == [ours_due]
    assert list(
        commitments_due(organization=org, today=TODAY, our_side_only=True, within_days=7)
    ) == [ours_due, ours_soon]


@pytest.mark.parametrize("size", [5, 50])
def test_commitments_due_run_in_one_query(tenant_a, count_queries, size):
    org = tenant_a.organization
    for index in range(size):
        CommitmentFactory(
            goal__desired_outcome__member__organization=org,
            party=Commitment.Party.TOGETHER,
            owner_seat=SeatFactory(organization=org),
            due_on=_days(-index),
        )

    def read():
        rows = list(commitments_due(organization=org, today=TODAY))
        assert len(rows) == size
        _ = [(c.goal.objective, c.member.name, c.owner_seat.user.email) for c in rows]

    assert count_queries(read) == 1
