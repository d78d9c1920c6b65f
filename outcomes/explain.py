"""Reading success gaps back: "why is this 42?" in words, and how it moved."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from members.models import Member
from ops.prepared import PreparedRead
from ops.sql_values import datetime_from_sql
from outcomes.models import SuccessGapSnapshot
from tenancy.models import Organization
from tenancy.rules import require_same_organization


@dataclass
class GapExplanation:
    snapshot: SuccessGapSnapshot | None
    headline: str
    reasons: list[str] = field(default_factory=list)
    change_since_previous: float | None = None
    change_since_30_days: float | None = None


def _share(done: int, due: int) -> str:
    return f"{done} of {due}"


def _reasons(snapshot: SuccessGapSnapshot, weights: dict[str, float]) -> list[str]:
    s = snapshot
    reasons = []
    if s.milestones_due:
        reasons.append(
            f"{_share(s.milestones_done, s.milestones_due)} functional and operational milestones "
            f"due so far are done (weight {weights.get('milestones_weight', 0):g} in F)."
        )
    if s.commitments_due:
        reasons.append(
            f"{_share(s.commitments_done, s.commitments_due)} of our commitments due so far are "
            f"kept (weight {weights.get('commitments_weight', 0):g} in F)."
        )
    if not (s.milestones_due or s.commitments_due):
        reasons.append("Nothing on our side is due yet, so functional completion counts as 0.")
    if s.goals_active:
        reasons.append(
            f"{s.goals_active} active goal{'s' if s.goals_active > 1 else ''} at "
            f"{round((s.pace or 0) * 100)}% of the pace their time frames call for "
            f"(weight {weights.get('pace_weight', 0):g} in O)."
        )
    if s.conditions_total:
        reasons.append(
            f"{_share(s.conditions_met, s.conditions_total)} conditions are met "
            f"(weight {weights.get('conditions_weight', 0):g} in O)."
        )
    if s.strategic_due:
        reasons.append(
            f"{_share(s.strategic_done, s.strategic_due)} strategic milestones due are reached "
            f"(weight {weights.get('strategic_weight', 0):g} in O)."
        )
    if s.experience_required:
        reasons.append(
            f"{_share(s.experience_fulfilled, s.experience_required)} required experience elements "
            "were delivered within their cadence "
            f"(weight {weights.get('experience_weight', 0):g} in O)."
        )
    return reasons


def _headline(s: SuccessGapSnapshot) -> str:
    if s.band == "no_outcome":
        return "No desired outcome recorded: there is no active goal to measure against."
    functional = f"{round((s.functional or 0) * 100)}%"
    outcome = f"{round((s.outcome or 0) * 100)}%"
    return (
        f"Gap {s.gap:.0f} ({s.get_band_display().lower()}): functional completion {functional}, "
        f"outcome attainment {outcome}."
    )


def member_gap_snapshots(*, organization: Organization, member: Member) -> QuerySet:
    return (
        SuccessGapSnapshot.objects.for_org(organization).filter(member=member).select_related("run")
    )


def _explain(
    latest: SuccessGapSnapshot | None,
    previous_gap: float | None,
    month_ago_gap: Callable[[], float | None],
) -> GapExplanation:
    """The explanation from the latest snapshot, the gap of the one before it and (read only
    when the latest has a gap) the gap of the one of 30 days ago."""
    if latest is None:
        return GapExplanation(None, "Not scored yet: the next recompute will score this member.")
    explanation = GapExplanation(
        snapshot=latest,
        headline=_headline(latest),
        reasons=_reasons(latest, latest.run.configuration),
    )
    if latest.gap is not None:
        if previous_gap is not None:
            explanation.change_since_previous = latest.gap - previous_gap
        month_ago = month_ago_gap()
        if month_ago is not None:
            explanation.change_since_30_days = latest.gap - month_ago
    return explanation


def _newest_first(*, organization: Organization, member: Member) -> QuerySet:
    return member_gap_snapshots(organization=organization, member=member).order_by(
        "-computed_at", "-pk"
    )


def gap_explanation(
    *, organization: Organization, member: Member, now: dt.datetime | None = None
) -> GapExplanation:
    """The latest score in words, with its change since the previous one and since 30 days ago.

    Two or three queries, whatever the length of the history.
    """
    now = now or timezone.now()
    snapshots = _newest_first(organization=organization, member=member)
    month_ago = snapshots.filter(computed_at__lte=now - dt.timedelta(days=30))
    latest_two = list(snapshots[:2])
    return _explain(
        latest_two[0] if latest_two else None,
        latest_two[1].gap if len(latest_two) > 1 else None,
        lambda: month_ago.values_list("gap", flat=True).first(),
    )


def member_gap_trend(
    *, organization: Organization, member: Member, days: int = 90, now: dt.datetime | None = None
) -> list[tuple[dt.datetime, float | None]]:
    """(computed at, gap) points for a sparkline, oldest first."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return list(
        member_gap_snapshots(organization=organization, member=member)
        .filter(computed_at__gte=since)
        .order_by("computed_at", "pk")
        .values_list("computed_at", "gap")
    )


def _snapshot_with_run(
    *, organization_id: int, snapshot_id: int, computed_at: dt.datetime
) -> QuerySet:
    """One snapshot with its run, by id and moment: on PostgreSQL the moment names the one
    weekly partition to look in (by id alone, every week's key is planned and probed)."""
    return (
        SuccessGapSnapshot.objects.for_org(organization_id)
        .filter(pk=snapshot_id, computed_at=computed_at)
        .select_related("run")
    )


# Compiled once per connection: Member 360's header reads it on every visit.
_SNAPSHOT_WITH_RUN = PreparedRead(
    _snapshot_with_run, organization_id=int, snapshot_id=int, computed_at=dt.datetime
)


TREND_DAYS = 90  # Member 360's sparkline


@functools.cache
def _trend_sql() -> str:
    """(id, computed at, gap) of the member's snapshots since a time and of the latest one
    before it, oldest first. Parameters: organization, member, since, twice.

    On PostgreSQL, where the snapshots are partitioned by week (outcomes/partitions.py), the two
    parts are read apart, so the first is planned over the weeks since the time only, and the
    latest one before it is found by moment alone (with any tied with it, the tie then broken by
    id): each week's index gives that order as it is, and planning the read costs 2 ms with a
    year of weeks instead of 11. Elsewhere, two range scans of one (organization, member,
    computed_at) index."""
    table = connection.ops.quote_name(SuccessGapSnapshot._meta.db_table)
    # Only the table name and placeholders go into the text.
    member = " WHERE organization_id = %s AND member_id = %s"
    if connection.vendor == "postgresql":
        return (
            f"SELECT id, computed_at, gap FROM {table}{member} AND computed_at >= %s"  # noqa: S608
            " UNION ALL (SELECT id, computed_at, gap FROM ("
            f"SELECT id, computed_at, gap FROM {table}{member} AND computed_at < %s"
            " ORDER BY computed_at DESC FETCH FIRST 1 ROWS WITH TIES) older"
            " ORDER BY computed_at DESC, id DESC LIMIT 1)"
            " ORDER BY computed_at, id"
        )
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
    """``gap_explanation`` and ``member_gap_trend`` (over ``TREND_DAYS``) together, for a page
    showing both.

    One read of the trend's (id, time, gap) that also carries the latest snapshot before the
    trend's window: with it, the rows hold the latest two snapshots and the one of 30 days ago
    (every snapshot since the window opened is there, and the latest one before it stands for
    all older ones). That read is a fixed SQL text, written once per process, instead of a
    queryset with a subquery built and compiled per page (tests/members/m360_reference.py
    holds that queryset, and the tests hold this read to it). Then the latest snapshot with
    its run, by id (``explanation_and_trend_from``)."""
    require_same_organization(organization, member=member)
    now = now or timezone.now()
    since = now - dt.timedelta(days=TREND_DAYS)
    month_ago = now - dt.timedelta(days=30)
    ids = [organization.pk, member.pk, connection.ops.adapt_datetimefield_value(since)]
    with connection.cursor() as cursor:
        cursor.execute(_trend_sql(), ids * 2)
        rows = [(pk, datetime_from_sql(at), gap) for pk, at, gap in cursor.fetchall()]
    return explanation_and_trend_from(organization, rows, since=since, month_ago=month_ago)


def explanation_and_trend_from(
    organization: Organization,
    rows: list[tuple[int, dt.datetime, float | None]],
    *,
    since: dt.datetime,
    month_ago: dt.datetime,
) -> tuple[GapExplanation, list[tuple[dt.datetime, float | None]]]:
    """The explanation and the trend from a member's (id, computed at, gap) rows since
    ``since`` plus the latest one before it, oldest first (``gap_explanation_and_trend``'s
    read, however it was run): the latest snapshot with its run is read by id, the previous
    gap and the one of 30 days ago come from the rows."""
    trend = [(at, gap) for _, at, gap in rows if at >= since]
    latest = (
        _SNAPSHOT_WITH_RUN.first(
            organization_id=organization.pk, snapshot_id=rows[-1][0], computed_at=rows[-1][1]
        )
        if rows
        else None
    )
    previous_gap = rows[-2][2] if len(rows) > 1 else None
    month_ago_gap = next((gap for _, at, gap in reversed(rows) if at <= month_ago), None)
    return _explain(latest, previous_gap, lambda: month_ago_gap), trend
