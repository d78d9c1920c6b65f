"""Member 360's reads of the member's engagement, context and results, in fewer, precompiled
statements.

The page reads the member's engagements and context events twice: for the relationship and
the experience (totals by engagement type, the kinds of context seen) and for the timeline
(the latest twenty of each); its header reads their membership changes and advocacy.
``engagement.selectors`` and ``members.selectors`` build seven querysets for that, and
building and compiling them cost several times what PostgreSQL spends running them. Here the
same reads are three fixed SQL texts, written once per process (each a ``UNION ALL`` of two
tables' reads, so one round trip each), plus the required experience elements through
``PreparedRead``. The answers are those of ``relationship_and_experience``,
``member_timeline_engagements``, ``member_timeline_context_events``,
``member_headline_results`` and ``gap_explanation_and_trend`` (tests pin it); the boards and
the team are read through ``PreparedRead`` for the same reason.

Every statement is scoped to the organization by a parameter, as ``for_org`` would scope it,
and another organization's member is refused before any is run.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from engagement.models import ContextEvent, Engagement
from engagement.selectors import (
    CONTEXT_KINDS_THAT_MATTER,
    PROACTIVE,
    TIMELINE_ENGAGEMENT_FIELDS,
    ExperienceFulfilmentSummary,
    Relationship,
    _element_fulfilment,
    _relationship_from,
    _summary,
    _window,
)
from members.models import Advocacy, Member, MembershipEvent
from members.selectors import MemberHeadline, _tenure_days
from milestones.models import Commitment
from milestones.selectors import _board
from ops.prepared import PreparedRead
from outcomes.explain import GapExplanation, explanation_and_trend_from
from outcomes.models import AppropriateExperience, Goal, SuccessGapSnapshot
from tenancy.models import Organization, Seat, User
from tenancy.rules import require_same_organization

TIMELINE_LENGTH = 20
_WINDOW_DAYS = 90  # relationship_and_experience's default window


def _moment(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp read by raw SQL as the ORM would give it: aware, in UTC. PostgreSQL gives
    one already; SQLite gives its stored UTC text (an aggregate) or a naive datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def _decimal(value: Decimal | float | int | None) -> Decimal | None:
    """A decimal read by raw SQL as a ``Decimal``: PostgreSQL gives one, SQLite (which
    stores a decimal column as a number) an int or a float, written back as it reads."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _required_elements(*, organization_id: int, member_id: int) -> QuerySet[AppropriateExperience]:
    return AppropriateExperience.objects.for_org(organization_id).filter(
        member_id=member_id, is_active=True, required=True
    )


_REQUIRED_ELEMENTS = PreparedRead(_required_elements, organization_id=int, member_id=int)


@functools.cache
def _relationship_sql() -> str:
    """The member's engagements up to ``until`` by type (last one, how many since ``since``,
    how many of those proactive), then the kinds that matter among their context events in
    ``[since, until)``: the reads of ``relationship_and_experience`` in one statement, told
    apart by the first column. On PostgreSQL both are range scans of the (organization,
    member, occurred_at) indexes."""
    q = connection.ops.quote_name
    kinds = ", ".join(["%s"] * len(CONTEXT_KINDS_THAT_MATTER))
    # Only table names and placeholders go into the text.
    return (
        "SELECT 'engagement', type, MAX(occurred_at),"  # noqa: S608
        " COUNT(*) FILTER (WHERE occurred_at >= %s),"
        " COUNT(*) FILTER (WHERE occurred_at >= %s AND direction = %s)"
        f" FROM {q(Engagement._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s AND occurred_at < %s"
        " GROUP BY type"
        " UNION ALL"
        " SELECT 'context', kind, NULL, NULL, NULL"
        f" FROM {q(ContextEvent._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s"
        f" AND occurred_at >= %s AND occurred_at < %s AND kind IN ({kinds})"
        " GROUP BY kind"
    )


def relationship_and_experience(
    *, organization: Organization, member: Member, today: dt.date | None = None
) -> tuple[Relationship, ExperienceFulfilmentSummary]:
    """``engagement.selectors.relationship_and_experience`` (its 90-day window) in two
    statements compiled once instead of three querysets built on every page; the same maths
    (``engagement.selectors``' own helpers) turns the rows into the same answers."""
    require_same_organization(organization, member=member)
    today, since, until = _window(organization, today, _WINDOW_DAYS)
    zone = organization.zone
    elements = _REQUIRED_ELEMENTS.rows(organization_id=organization.pk, member_id=member.pk)
    adapt = connection.ops.adapt_datetimefield_value
    start, end = adapt(since), adapt(until)
    params = [start, start, PROACTIVE, organization.pk, member.pk, end]
    params += [organization.pk, member.pk, start, end, *CONTEXT_KINDS_THAT_MATTER]
    with connection.cursor() as cursor:
        cursor.execute(_relationship_sql(), params)
        rows = cursor.fetchall()
    last_by_type: dict[str, dt.datetime | None] = {}
    engagements = proactive = 0
    kinds = []
    for source, kind, last, in_window, proactive_in_window in rows:
        if source == "context":
            kinds.append(kind)
            continue
        last_by_type[kind] = _moment(last)
        engagements += in_window
        proactive += proactive_in_window
    found = _relationship_from(
        member_id=member.pk,
        today=today,
        window_days=_WINDOW_DAYS,
        zone=zone,
        last_engaged_at=max(filter(None, last_by_type.values()), default=None),
        engagements=engagements,
        proactive=proactive,
        kinds=kinds,
    )
    fulfilment = [
        _element_fulfilment(element, last_by_type.get(element.engagement_type), today, zone)
        for element in elements
    ]
    return found, _summary(fulfilment)


@functools.cache
def _timeline_sql() -> str:
    """The member's latest engagements (with who engaged) and latest context events, newest
    first, in one statement told apart by the first column; each side a top-N read of its
    (organization, member, occurred_at) index on PostgreSQL. The seat and its user are joined
    by the engagement's own seat id, as the ORM's ``values("seat__user__…")`` joins them."""
    q = connection.ops.quote_name
    engagement, context = q(Engagement._meta.db_table), q(ContextEvent._meta.db_table)
    seat, user = q(Seat._meta.db_table), q(User._meta.db_table)
    # Only table names and placeholders go into the text.
    return (
        "SELECT * FROM ("  # noqa: S608
        " SELECT 'engagement' AS source, e.occurred_at, e.id, e.type, e.direction, e.summary,"
        " e.seat_id, u.full_name, u.email, CAST(NULL AS numeric) AS value"
        f" FROM {engagement} e LEFT JOIN {seat} s ON s.id = e.seat_id"
        f" LEFT JOIN {user} u ON u.id = s.user_id"
        " WHERE e.organization_id = %s AND e.member_id = %s"
        " ORDER BY e.occurred_at DESC, e.id DESC LIMIT %s) AS engagements"
        " UNION ALL"
        " SELECT * FROM ("
        " SELECT 'context' AS source, occurred_at, id, kind, name, CAST(NULL AS text),"
        " CAST(NULL AS bigint), CAST(NULL AS text), CAST(NULL AS text), value"
        f" FROM {context}"
        " WHERE organization_id = %s AND member_id = %s"
        " ORDER BY occurred_at DESC, id DESC LIMIT %s) AS events"
        " ORDER BY 1, 2 DESC, 3 DESC"
    )


def member_timeline(
    *, organization: Organization, member: Member, limit: int = TIMELINE_LENGTH
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of ``member_timeline_engagements`` and ``member_timeline_context_events``,
    newest first, in one statement compiled once."""
    if limit < 1:
        raise ValueError("limit must be at least 1.")
    require_same_organization(organization, member=member)
    ids = [organization.pk, member.pk, limit]
    with connection.cursor() as cursor:
        cursor.execute(_timeline_sql(), ids * 2)
        rows = cursor.fetchall()
    engagements, events = [], []
    for source, at, _pk, kind, name, summary, seat_id, full_name, email, value in rows:
        if source == "engagement":
            values = (_moment(at), kind, name, summary, seat_id, full_name, email)
            engagements.append(dict(zip(TIMELINE_ENGAGEMENT_FIELDS, values, strict=True)))
        else:
            events.append(
                {"occurred_at": _moment(at), "kind": kind, "name": name, "value": _decimal(value)}
            )
    return engagements, events


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
        rows = [(pk, _moment(at), gap) for pk, at, gap in cursor.fetchall()]
    return explanation_and_trend_from(organization, rows, since=since, month_ago=month_ago)
