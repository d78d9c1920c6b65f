"""Member 360's reads as the ORM writes them: the references the fixed SQL of the pages' reads
is held to (tests/members/test_m360_reads.py). They were the production reads before those
were written as fixed SQL texts; here they only answer what the page's reads must answer."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Q, QuerySet, Subquery
from django.utils import timezone

from engagement.models import ContextEvent, Engagement
from engagement.selectors import (
    TIMELINE_ENGAGEMENT_FIELDS,
    ExperienceFulfilmentSummary,
    Relationship,
    _context_kinds_seen,
    _element_fulfilment,
    _engagement_aggregates,
    _relationship_from,
    _required_elements,
    _summary,
    _window,
)
from members.models import Advocacy, Member, MembershipEvent
from members.selectors import MemberHeadline, _tenure_days
from milestones.models import Commitment
from milestones.selectors import _board, _scoped_commitments
from outcomes.explain import (
    GapExplanation,
    explanation_and_trend_from,
    gap_explanation,
    member_gap_trend,
)
from outcomes.models import Goal, SuccessGapSnapshot
from tenancy.models import Organization
from tenancy.rules import require_same_organization

Kind = MembershipEvent.Kind


def member_timeline_engagements(
    *, organization: Organization, member: Member, limit: int = 20
) -> list[dict[str, Any]]:
    """The member's latest engagements as plain rows for a timeline (when, type, direction,
    summary, and who engaged)."""
    return list(
        Engagement.objects.for_org(organization)
        .filter(member_id=member.pk)
        .order_by("-occurred_at", "-pk")
        .values(*TIMELINE_ENGAGEMENT_FIELDS)[:limit]
    )


def member_timeline_context_events(
    *, organization: Organization, member: Member, limit: int = 20
) -> list[dict[str, Any]]:
    """The member's latest context events as plain rows (when, kind, name, value), newest
    first."""
    return list(
        ContextEvent.objects.for_org(organization)
        .filter(member_id=member.pk)
        .order_by("-occurred_at", "-pk")
        .values("occurred_at", "kind", "name", "value")[:limit]
    )


def relationship_and_experience(
    *,
    organization: Organization,
    member: Member,
    today: dt.date | None = None,
    window_days: int = 90,
) -> tuple[Relationship, ExperienceFulfilmentSummary]:
    """``relationship`` and ``experience_fulfilment_summary`` together, in three queries: one
    read of the member's engagements grouped by type gives the relationship's totals (summed
    over the types) and the last delivery of each type."""
    today, since, until = _window(organization, today, window_days)
    zone = organization.zone
    elements = _required_elements(organization, member)
    by_type = list(
        Engagement.objects.for_org(organization)
        .filter(member_id=member.pk, occurred_at__lt=until)
        .order_by()
        .values("type")
        .annotate(**_engagement_aggregates(since))
    )
    lasts = [row["last"] for row in by_type if row["last"] is not None]
    found = _relationship_from(
        member_id=member.pk,
        today=today,
        window_days=window_days,
        zone=zone,
        last_engaged_at=max(lasts, default=None),
        engagements=sum(row["engagements"] for row in by_type),
        proactive=sum(row["proactive"] for row in by_type),
        kinds=_context_kinds_seen(organization, member, since, until),
    )
    last_by_type = {row["type"]: row["last"] for row in by_type}
    fulfilment = [
        _element_fulfilment(element, last_by_type.get(element.engagement_type), today, zone)
        for element in elements
    ]
    return found, _summary(fulfilment)


def member_headline_results(
    *, organization: Organization, member: Member, today: dt.date
) -> MemberHeadline:
    """The results Member 360's header shows (tenure, renewals, upgrades, referrals, latest
    NPS), counted as ``member_results`` counts them, from two plain reads of the few rows
    they need."""
    require_same_organization(organization, member=member)
    changes = (
        MembershipEvent.objects.for_org(organization)
        .filter(
            member_id=member.pk,
            occurred_on__lte=today,
            kind__in=[Kind.RENEW, Kind.UPGRADE, Kind.LAPSE, Kind.CANCEL],
        )
        .order_by()
        .values_list("kind", "occurred_on")
    )
    kinds = Counter(kind for kind, _ in changes)
    ended_on = max((on for kind, on in changes if kind in (Kind.LAPSE, Kind.CANCEL)), default=None)
    answers = (
        Advocacy.objects.for_org(organization)
        .filter(
            member_id=member.pk,
            occurred_on__lte=today,
            kind__in=[Advocacy.Kind.REFERRAL, Advocacy.Kind.NPS],
        )
        .order_by("-occurred_on", "-pk")
        .values_list("kind", "score")
    )
    referrals = 0
    nps_latest: int | None = None
    nps_seen = False
    for kind, score in answers:
        if kind == Advocacy.Kind.REFERRAL:
            referrals += 1
        elif not nps_seen:
            nps_seen, nps_latest = True, score
    return MemberHeadline(
        tenure_days=_tenure_days(member, today, ended_on),
        renewals=kinds[Kind.RENEW],
        upgrades=kinds[Kind.UPGRADE],
        referrals=referrals,
        nps_latest=nps_latest,
    )


def accountability_boards_for_goals(
    *, organization: Organization, goals: list[Goal]
) -> list[dict[str, Any]]:
    """The board of each of ``goals`` (already read, in the order given): one query for their
    commitments, none when there is no goal."""
    if not goals:
        return []
    by_goal: dict[int, list[Commitment]] = {goal.pk: [] for goal in goals}
    for commitment in _scoped_commitments(organization).filter(goal_id__in=list(by_goal)):
        by_goal[commitment.goal_id].append(commitment)
    return [_board(goal, by_goal[goal.pk]) for goal in goals]


def _trend_with_one_before(*, organization_id: int, member_id: int, since: dt.datetime) -> QuerySet:
    """(id, computed at, gap) of the member's snapshots since ``since``, and of the latest one
    before it, oldest first."""
    snapshots = SuccessGapSnapshot.objects.for_org(organization_id).filter(member_id=member_id)
    before = snapshots.filter(computed_at__lt=since).order_by("-computed_at", "-pk").values("pk")
    return (
        snapshots.filter(Q(computed_at__gte=since) | Q(pk=Subquery(before[:1])))
        .order_by("computed_at", "pk")
        .values_list("pk", "computed_at", "gap")
    )


def gap_explanation_and_trend(
    *, organization: Organization, member: Member, days: int = 90, now: dt.datetime | None = None
) -> tuple[GapExplanation, list[tuple[dt.datetime, float | None]]]:
    """``gap_explanation`` and ``member_gap_trend`` together, for a page showing both.

    One read of the trend's (id, time, gap) that also carries the latest snapshot before the
    trend's window: with it, the rows hold the latest two snapshots and the one of 30 days ago
    (every snapshot since the window opened is there, and the latest one before it stands for
    all older ones). Then the latest snapshot with its run, by id. The trend's window must reach
    back past 30 days."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    month_ago = now - dt.timedelta(days=30)
    if since > month_ago:
        trend = member_gap_trend(organization=organization, member=member, days=days, now=now)
        return gap_explanation(organization=organization, member=member, now=now), trend
    rows = list(
        _trend_with_one_before(organization_id=organization.pk, member_id=member.pk, since=since)
    )
    return explanation_and_trend_from(organization, rows, since=since, month_ago=month_ago)
