"""Reads for milestones and joint accountability, each in a constant number of queries.

Every read goes through ``for_org`` and prefetches with explicit scoped querysets, because the
related managers (``goal.commitments``) refuse to run outside an organization scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from django.db import models
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from members.models import Member
from milestones.models import Commitment, MilestoneDefinition, MilestoneType, ProgressMilestone
from ops.prepared import PreparedRead
from outcomes.models import Goal
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization
from tenancy.selectors import organization_today

# A pending milestone due within this many days is "due soon": time to act, not yet late.
DUE_SOON_DAYS: Final = 14

# Goals still being worked: a hollow success is reached but not felt, so it stays open.
OPEN_GOAL_STATUSES: Final = (Goal.Status.ACTIVE, Goal.Status.HOLLOW)


class MilestoneStatus(models.TextChoices):
    ACHIEVED = "achieved", "Achieved"
    DUE_SOON = "due_soon", "Due soon"
    OVERDUE = "overdue", "Overdue"
    UPCOMING = "upcoming", "Upcoming"


@dataclass(frozen=True)
class TimelineEntry:
    milestone: ProgressMilestone
    status: MilestoneStatus


# --- milestones ------------------------------------------------------------------------------


def member_milestones(*, organization: Organization, member: Member) -> QuerySet[ProgressMilestone]:
    """The member's milestones with their definition and goal, soonest due first (undated
    last)."""
    return _member_milestones(organization_id=organization.pk, member_id=member.pk)


def _member_milestones(*, organization_id: int, member_id: int) -> QuerySet[ProgressMilestone]:
    return (
        ProgressMilestone.objects.for_org(organization_id)
        .filter(member_id=member_id)
        .select_related("definition", "goal")
        .order_by(F("due_on").asc(nulls_last=True), "pk")
    )


def milestone_status(milestone: ProgressMilestone, *, today: dt.date) -> MilestoneStatus:
    """Where a milestone stands on ``today``: achieved, overdue, due soon, or upcoming (which
    includes a pending milestone with no due date)."""
    if milestone.achieved_at is not None:
        return MilestoneStatus.ACHIEVED
    if milestone.due_on is None:
        return MilestoneStatus.UPCOMING
    if milestone.due_on < today:
        return MilestoneStatus.OVERDUE
    if milestone.due_on <= today + dt.timedelta(days=DUE_SOON_DAYS):
        return MilestoneStatus.DUE_SOON
    return MilestoneStatus.UPCOMING


# Compiled once per connection: Member 360 reads the timeline on every visit, and building
# the queryset (two joins, a NULLS LAST order) cost more CPU than running it.
_MEMBER_MILESTONES = PreparedRead(_member_milestones, organization_id=int, member_id=int)


def milestone_timeline(
    *, organization: Organization, member: Member, today: dt.date | None = None
) -> dict[str, list[TimelineEntry]]:
    """The member's milestones by type (functional, operational, opportune, strategic — every
    type present, even empty), each with its status, in one query."""
    today = today or organization_today(organization)
    timeline: dict[str, list[TimelineEntry]] = {value: [] for value in MilestoneType.values}
    for milestone in _MEMBER_MILESTONES.rows(organization_id=organization.pk, member_id=member.pk):
        timeline[milestone.type].append(
            TimelineEntry(milestone, milestone_status(milestone, today=today))
        )
    return timeline


def overdue_milestones(
    *, organization: Organization, today: dt.date | None = None, owner: Seat | None = None
) -> QuerySet[ProgressMilestone]:
    """Pending milestones past their due date, oldest first, with the member and the member's
    owner — optionally only the book of one owner."""
    today = today or organization_today(organization)
    queryset = (
        ProgressMilestone.objects.for_org(organization)
        .filter(achieved_at__isnull=True, due_on__lt=today)
        .select_related("member", "member__owner", "member__owner__user", "goal")
        .order_by("due_on", "pk")
    )
    if owner is not None:
        queryset = queryset.filter(member__owner_id=owner.pk)
    return queryset


# --- joint accountability ------------------------------------------------------------------------


def _scoped_commitments(organization: Organization) -> QuerySet[Commitment]:
    return (
        Commitment.objects.for_org(organization)
        .select_related("owner_seat", "owner_seat__user")
        .order_by(F("due_on").asc(nulls_last=True), "pk")
    )


def _board(goal: Goal, commitments: list[Commitment]) -> dict[str, Any]:
    """A goal's plan in the four parts, every part present; the blind spot is a plan that says
    nothing of what the member does outside our offerings."""
    columns: dict[str, list[Commitment]] = {party: [] for party in Commitment.Party.values}
    for commitment in commitments:
        columns[commitment.party].append(commitment)
    return {
        "goal": goal,
        "columns": columns,
        "blind_spot": not columns[Commitment.Party.MEMBER_OUTSIDE],
    }


def goal_accountability_board(*, organization: Organization, goal: Goal) -> dict[str, Any]:
    """One goal's joint-accountability plan: ``{"goal", "columns": {party: [commitments]},
    "blind_spot"}``, in one query."""
    commitments = list(_scoped_commitments(organization).filter(goal_id=goal.pk))
    return _board(goal, commitments)


def _goal_commitments(*, organization_id: int, member_id: int) -> QuerySet[Commitment]:
    return (
        Commitment.objects.for_org(organization_id)
        .filter(goal__member_id=member_id)
        .order_by(F("due_on").asc(nulls_last=True), "pk")
    )


# Compiled once per connection: Member 360 reads the plan on every visit.
_GOAL_COMMITMENTS = PreparedRead(_goal_commitments, organization_id=int, member_id=int)


def accountability_boards_for_goals(
    *, organization: Organization, member: Member, goals: list[Goal]
) -> list[dict[str, Any]]:
    """The board of each of ``goals`` (some of ``member``'s goals, already read, in the order
    given): one query for the commitments of the member's goals, compiled once per
    connection instead of a queryset of the goals' ids built per page (the page shows no
    commitment's owner, so no seat is joined); none when there is no goal.
    tests/members/m360_reference.py holds the queryset it stands for."""
    require_same_organization(organization, member=member)
    if not goals:
        return []
    by_goal: dict[int, list[Commitment]] = {goal.pk: [] for goal in goals}
    for commitment in _GOAL_COMMITMENTS.rows(organization_id=organization.pk, member_id=member.pk):
        if commitment.goal_id in by_goal:
            by_goal[commitment.goal_id].append(commitment)
    return [_board(goal, by_goal[goal.pk]) for goal in goals]


def goals_with_blind_spot(
    *, organization: Organization, member: Member | None = None
) -> QuerySet[Goal]:
    """Open goals whose plan has no commitment of the member outside our offerings — the part
    MSMs most often leave out — with their member, soonest due first."""
    outside = Commitment.objects.for_org(organization).filter(
        goal_id=OuterRef("pk"), party=Commitment.Party.MEMBER_OUTSIDE
    )
    queryset = (
        Goal.objects.for_org(organization)
        .filter(status__in=OPEN_GOAL_STATUSES)
        .filter(~Exists(outside))
        .select_related("member")
        .order_by("due_on", "pk")
    )
    if member is not None:
        queryset = queryset.filter(member_id=member.pk)
    return queryset


def commitments_due(
    *,
    organization: Organization,
    today: dt.date | None = None,
    our_side_only: bool = False,
    within_days: int = 0,
) -> QuerySet[Commitment]:
    """Open commitments due by ``today`` (plus ``within_days`` to look ahead), oldest first,
    with goal, member and owner; ``our_side_only`` keeps what we owe (together, behind the
    scenes)."""
    today = today or organization_today(organization)
    queryset = (
        Commitment.objects.for_org(organization)
        .filter(done_at__isnull=True, due_on__lte=today + dt.timedelta(days=within_days))
        .select_related("goal", "member", "owner_seat", "owner_seat__user")
        .order_by("due_on", "pk")
    )
    if our_side_only:
        queryset = queryset.filter(party__in=Commitment.OUR_SIDE)
    return queryset


# --- the API's lists ---------------------------------------------------------------------------


class CommitmentStatus(models.TextChoices):
    DONE = "done", "Done"
    OVERDUE = "overdue", "Overdue"
    OPEN = "open", "Open"


def milestone_definitions(*, organization: Organization) -> QuerySet[MilestoneDefinition]:
    """The organization's milestone definitions, in the order members meet them."""
    return MilestoneDefinition.objects.for_org(organization).order_by(
        "expected_after_days", "name", "pk"
    )


def progress_milestones(*, organization: Organization) -> QuerySet[ProgressMilestone]:
    """Every member's milestones, soonest due first; rows carry only ids of what they point
    at, so a page of them is one query."""
    return ProgressMilestone.objects.for_org(organization).order_by(
        F("due_on").asc(nulls_last=True), "pk"
    )


def milestones_with_status(
    queryset: QuerySet[ProgressMilestone], *, status: str, today: dt.date
) -> QuerySet[ProgressMilestone]:
    """Narrow ``queryset`` to one ``MilestoneStatus`` on ``today``: the same cut-offs as
    ``milestone_status``, as a filter, so a list and its rows never disagree."""
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    pending = queryset.filter(achieved_at__isnull=True)
    if status == MilestoneStatus.ACHIEVED:
        return queryset.filter(achieved_at__isnull=False)
    if status == MilestoneStatus.OVERDUE:
        return pending.filter(due_on__lt=today)
    if status == MilestoneStatus.DUE_SOON:
        return pending.filter(due_on__gte=today, due_on__lte=soon)
    if status == MilestoneStatus.UPCOMING:
        return pending.filter(Q(due_on__isnull=True) | Q(due_on__gt=soon))
    return queryset.none()


def commitments(*, organization: Organization) -> QuerySet[Commitment]:
    """Every goal's commitments, soonest due first (undated last), ids only."""
    return Commitment.objects.for_org(organization).order_by(F("due_on").asc(nulls_last=True), "pk")


def commitment_status(commitment: Commitment, *, today: dt.date) -> CommitmentStatus:
    """Done, overdue (open past its due date), or open."""
    if commitment.done_at is not None:
        return CommitmentStatus.DONE
    if commitment.due_on is not None and commitment.due_on < today:
        return CommitmentStatus.OVERDUE
    return CommitmentStatus.OPEN


def commitments_with_status(
    queryset: QuerySet[Commitment], *, status: str, today: dt.date
) -> QuerySet[Commitment]:
    """Narrow ``queryset`` to one ``CommitmentStatus`` on ``today``, as ``commitment_status``
    would classify each row."""
    if status == CommitmentStatus.DONE:
        return queryset.filter(done_at__isnull=False)
    pending = queryset.filter(done_at__isnull=True)
    if status == CommitmentStatus.OVERDUE:
        return pending.filter(due_on__lt=today)
    if status == CommitmentStatus.OPEN:
        return pending.filter(Q(due_on__isnull=True) | Q(due_on__gte=today))
    return queryset.none()
