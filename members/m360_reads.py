"""Member 360's reads of the member's results, plan and team, in fewer, precompiled
statements (the relationship, experience and timeline are ``engagement.selectors``').

The header reads the member's membership changes and advocacy, and the gap's trend; building
and compiling querysets for them cost several times what PostgreSQL spends running them. Here
they are fixed SQL texts, written once per process. The answers are those of
``member_headline_results`` and ``gap_explanation_and_trend`` (tests pin it); the boards and
the team are read through ``PreparedRead`` for the same reason.

Every statement is scoped to the organization by a parameter, as ``for_org`` would scope it,
and another organization's member is refused before any is run.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from engagement.selectors import datetime_from_sql
from members.models import Advocacy, Member, MembershipEvent
from members.selectors import MemberHeadline, _tenure_days
from milestones.models import Commitment
from milestones.selectors import _board
from ops.prepared import PreparedRead
from outcomes.explain import GapExplanation, explanation_and_trend_from
from outcomes.models import Goal, SuccessGapSnapshot
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization

_HEADLINE_CHANGES = (
    MembershipEvent.Kind.RENEW,
    MembershipEvent.Kind.UPGRADE,
    MembershipEvent.Kind.LAPSE,
    MembershipEvent.Kind.CANCEL,
)
_HEADLINE_ANSWERS = (Advocacy.Kind.REFERRAL, Advocacy.Kind.NPS)


@functools.cache
def _headline_sql() -> str:
    """The member's renewals, upgrades, lapses and cancellations, then their referrals and NPS
    answers (the latest first), up to a day: ``member_headline_results``' two reads in one
    statement, told apart by the first column."""
    q = connection.ops.quote_name
    changes = ", ".join(["%s"] * len(_HEADLINE_CHANGES))
    answers = ", ".join(["%s"] * len(_HEADLINE_ANSWERS))
    # Only table names and placeholders go into the text.
    return (
        "SELECT 'change', kind, occurred_on, NULL, NULL"  # noqa: S608
        f" FROM {q(MembershipEvent._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s AND occurred_on <= %s"
        f" AND kind IN ({changes})"
        " UNION ALL"
        " SELECT 'answer', kind, occurred_on, score, id"
        f" FROM {q(Advocacy._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s AND occurred_on <= %s"
        f" AND kind IN ({answers})"
        " ORDER BY 1, 3 DESC, 5 DESC"
    )


def _day(value: dt.date | str) -> dt.date:
    """A date read by raw SQL: PostgreSQL gives a date, SQLite (in a union) its ISO text."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def member_headline_results(
    *, organization: Organization, member: Member, today: dt.date
) -> MemberHeadline:
    """``members.selectors.member_headline_results`` (tenure, renewals, upgrades, referrals,
    latest NPS) from one statement compiled once instead of two querysets built per page."""
    require_same_organization(organization, member=member)
    day = connection.ops.adapt_datefield_value(today)
    ids = [organization.pk, member.pk, day]
    with connection.cursor() as cursor:
        cursor.execute(_headline_sql(), [*ids, *_HEADLINE_CHANGES, *ids, *_HEADLINE_ANSWERS])
        rows = cursor.fetchall()
    renewals = upgrades = referrals = 0
    ended_on: dt.date | None = None
    nps_latest: int | None = None
    nps_seen = False
    for source, kind, occurred_on, score, _pk in rows:
        if source == "answer":
            if kind == Advocacy.Kind.REFERRAL:
                referrals += 1
            elif not nps_seen:  # the latest answer comes first
                nps_seen, nps_latest = True, score
        elif kind == MembershipEvent.Kind.RENEW:
            renewals += 1
        elif kind == MembershipEvent.Kind.UPGRADE:
            upgrades += 1
        else:  # an ending
            on = _day(occurred_on)
            ended_on = on if ended_on is None else max(ended_on, on)
    return MemberHeadline(
        tenure_days=_tenure_days(member, today, ended_on),
        renewals=renewals,
        upgrades=upgrades,
        referrals=referrals,
        nps_latest=nps_latest,
    )


def _team(*, organization_id: int) -> QuerySet[Seat]:
    return (
        Seat.objects.for_org(organization_id).select_related("user").order_by("role", "user__email")
    )


_TEAM = PreparedRead(_team, organization_id=int)


def organization_team(*, organization: Organization) -> list[Seat]:
    """``tenancy.selectors.organization_team`` (the seats with their users, admins first),
    compiled once per connection: the ownership section offers every seat on every page."""
    return _TEAM.rows(organization_id=organization.pk)


def _goal_commitments(*, organization_id: int, member_id: int) -> QuerySet[Commitment]:
    return (
        Commitment.objects.for_org(organization_id)
        .filter(goal__member_id=member_id)
        .order_by(F("due_on").asc(nulls_last=True), "pk")
    )


_GOAL_COMMITMENTS = PreparedRead(_goal_commitments, organization_id=int, member_id=int)


def accountability_boards(
    *, organization: Organization, member: Member, goals: list[Goal]
) -> list[dict[str, Any]]:
    """``milestones.selectors.accountability_boards_for_goals`` for some of ``member``'s
    goals: the commitments of the member's goals, compiled once per connection, instead of a
    queryset of the goals' ids built per page (the page shows no commitment's owner, so no
    seat is joined)."""
    require_same_organization(organization, member=member)
    if not goals:
        return []
    by_goal: dict[int, list[Commitment]] = {goal.pk: [] for goal in goals}
    for commitment in _GOAL_COMMITMENTS.rows(organization_id=organization.pk, member_id=member.pk):
        if commitment.goal_id in by_goal:
            by_goal[commitment.goal_id].append(commitment)
    return [_board(goal, by_goal[goal.pk]) for goal in goals]


_TREND_DAYS = 90  # the header's sparkline: gap_explanation_and_trend's default window


@functools.cache
def _trend_sql() -> str:
    """(id, computed at, gap) of the member's snapshots since a time and of the latest one
    before it, oldest first: the read of ``outcomes.explain._trend_with_one_before``, on
    PostgreSQL two range scans of the (organization, member, computed_at) index."""
    table = connection.ops.quote_name(SuccessGapSnapshot._meta.db_table)
    # Only the table name and placeholders go into the text.
    return (
        f"SELECT id, computed_at, gap FROM {table}"  # noqa: S608
        " WHERE organization_id = %s AND member_id = %s AND (computed_at >= %s OR id = ("
        f" SELECT id FROM {table}"
        " WHERE organization_id = %s AND member_id = %s AND computed_at < %s"
        " ORDER BY computed_at DESC, id DESC LIMIT 1))"
        " ORDER BY computed_at, id"
    )


def gap_explanation_and_trend(
    *, organization: Organization, member: Member, now: dt.datetime | None = None
) -> tuple[GapExplanation, list[tuple[dt.datetime, float | None]]]:
    """``outcomes.explain.gap_explanation_and_trend`` over its default 90 days, its trend read
    a fixed SQL text instead of a queryset (with a subquery) built and compiled per page; the
    latest snapshot with its run and the explanation come from ``outcomes.explain`` itself."""
    require_same_organization(organization, member=member)
    now = now or timezone.now()
    since = now - dt.timedelta(days=_TREND_DAYS)
    month_ago = now - dt.timedelta(days=30)
    ids = [organization.pk, member.pk, connection.ops.adapt_datetimefield_value(since)]
    with connection.cursor() as cursor:
        cursor.execute(_trend_sql(), ids * 2)
        rows = [(pk, datetime_from_sql(at), gap) for pk, at, gap in cursor.fetchall()]
    return explanation_and_trend_from(organization, rows, since=since, month_ago=month_ago)
