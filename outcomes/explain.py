"""Reading success gaps back: "why is this 42?" in words, and how it moved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet, Subquery
from django.utils import timezone

from members.models import Member
from outcomes.models import SuccessGapSnapshot
from tenancy.models import Organization


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
    snapshots: QuerySet, latest_two: list[SuccessGapSnapshot], month_ago_gap: Any
) -> GapExplanation:
    """The explanation from the latest two snapshots and the gap of the one of 30 days ago
    (``_UNREAD`` when it still has to be read from ``snapshots``)."""
    if not latest_two:
        return GapExplanation(None, "Not scored yet: the next recompute will score this member.")
    latest = latest_two[0]
    explanation = GapExplanation(
        snapshot=latest,
        headline=_headline(latest),
        reasons=_reasons(latest, latest.run.configuration),
    )
    if latest.gap is not None:
        previous = latest_two[1] if len(latest_two) > 1 else None
        if previous is not None and previous.gap is not None:
            explanation.change_since_previous = latest.gap - previous.gap
        if month_ago_gap is _UNREAD:
            month_ago_gap = snapshots.values_list("gap", flat=True).first()
        if month_ago_gap is not None:
            explanation.change_since_30_days = latest.gap - month_ago_gap
    return explanation


# The gap of 30 days ago is not known yet (as opposed to None: no snapshot, or no gap).
_UNREAD = object()


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
    return _explain(month_ago, list(snapshots[:2]), _UNREAD)


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


def gap_explanation_and_trend(
    *, organization: Organization, member: Member, days: int = 90, now: dt.datetime | None = None
) -> tuple[GapExplanation, list[tuple[dt.datetime, float | None]]]:
    """``gap_explanation`` and ``member_gap_trend`` together, for a page showing both, in two
    queries whatever the history holds: the gap of 30 days ago comes with the latest two
    snapshots, as a scalar subquery, instead of a query of its own."""
    now = now or timezone.now()
    trend = member_gap_trend(organization=organization, member=member, days=days, now=now)
    snapshots = _newest_first(organization=organization, member=member)
    month_ago = snapshots.filter(computed_at__lte=now - dt.timedelta(days=30)).values("gap")[:1]
    # The gap of 30 days ago rides along with the latest two as a scalar subquery: one query
    # whatever the history holds, instead of a third one when the trend does not reach back.
    latest_two = list(snapshots.annotate(month_ago_gap=Subquery(month_ago))[:2])
    month_ago_gap = latest_two[0].month_ago_gap if latest_two else None
    explanation = _explain(snapshots, latest_two, month_ago_gap)
    return explanation, trend
