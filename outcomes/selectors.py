"""Reads for desired outcomes: what a member is aiming at, how each goal is pacing, how a goal
evolved, and which goals need attention. Each read costs a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from members.models import Member
from ops.prepared import PreparedRead
from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    SuccessGapSnapshot,
)
from outcomes.services import organization_today
from tenancy.models import Organization

OPEN_STATUSES = (Goal.Status.ACTIVE, Goal.Status.HOLLOW)

_SHARE = Decimal("0.0001")
_ZERO = Decimal(0)
_ONE = Decimal(1)


def member_desired_outcomes(
    *, organization: Organization, member: Member
) -> QuerySet[DesiredOutcome]:
    """A member's desired outcomes (active first), each with its goals — their conditions
    included — and its active experience elements: four queries however many rows."""
    conditions = Condition.objects.for_org(organization).order_by("pk")
    goals = (
        Goal.objects.for_org(organization)
        .order_by("due_on", "pk")
        .prefetch_related(Prefetch("conditions", queryset=conditions))
    )
    experience = AppropriateExperience.objects.for_org(organization).filter(is_active=True)
    return (
        DesiredOutcome.objects.for_org(organization)
        .filter(member_id=member.pk)
        .prefetch_related(
            Prefetch("goals", queryset=goals),
            Prefetch("experience", queryset=experience),
        )
    )


def _member_outcomes(*, organization_id: int, member_id: int) -> QuerySet[DesiredOutcome]:
    return DesiredOutcome.objects.for_org(organization_id).filter(member_id=member_id)


def _member_outcome_goals(*, organization_id: int, member_id: int) -> QuerySet[Goal]:
    return (
        Goal.objects.for_org(organization_id)
        .filter(desired_outcome__member_id=member_id)
        .order_by("due_on", "pk")
    )


def _member_outcome_conditions(*, organization_id: int, member_id: int) -> QuerySet[Condition]:
    return (
        Condition.objects.for_org(organization_id)
        .filter(goal__desired_outcome__member_id=member_id)
        .order_by("pk")
    )


# Compiled once per connection: Member 360 reads them on every visit, and building three
# querysets (with a prefetch's per-row related querysets) cost more CPU than running them.
_OUTCOMES = PreparedRead(_member_outcomes, organization_id=int, member_id=int)
_GOALS = PreparedRead(_member_outcome_goals, organization_id=int, member_id=int)
_CONDITIONS = PreparedRead(_member_outcome_conditions, organization_id=int, member_id=int)


def member_outcome_tree(*, organization: Organization, member: Member) -> list[DesiredOutcome]:
    """A member's desired outcomes (active first), each with ``goal_list`` (soonest due first),
    each goal with ``condition_list``: what ``member_desired_outcomes`` prefetches, less the
    experience, as plain lists. A query per kind of row, none for a kind when there is
    nothing to attach it to."""
    ids = {"organization_id": organization.pk, "member_id": member.pk}
    outcomes = _OUTCOMES.rows(**ids)
    goals = _GOALS.rows(**ids) if outcomes else []
    conditions = _CONDITIONS.rows(**ids) if goals else []
    by_goal: dict[int, list[Condition]] = {goal.pk: [] for goal in goals}
    for condition in conditions:
        by_goal[condition.goal_id].append(condition)
    by_outcome: dict[int, list[Goal]] = {outcome.pk: [] for outcome in outcomes}
    for goal in goals:
        goal.condition_list = by_goal[goal.pk]
        by_outcome[goal.desired_outcome_id].append(goal)
    for outcome in outcomes:
        outcome.goal_list = by_outcome[outcome.pk]
    return outcomes


def member_experience(
    *, organization: Organization, member: Member
) -> QuerySet[AppropriateExperience]:
    """Every active experience element of a member, tied to a desired outcome or not."""
    return (
        AppropriateExperience.objects.for_org(organization)
        .filter(member_id=member.pk, is_active=True)
        .select_related("desired_outcome")
    )


def _share(numerator: Decimal, denominator: Decimal) -> Decimal:
    return min(_ONE, max(_ZERO, numerator / denominator)).quantize(_SHARE)


def goal_pace(*, goal: Goal, today: dt.date | None = None) -> dict[str, Any]:
    """How far along the goal is against how far along its time frame is.

    - ``expected``: the share of the time frame elapsed (1 once started when start = due).
    - ``actual``: 1 once the objective is reached; else, for a measurable goal, the share of
      the way from baseline to target covered by the current value (none yet counts as the
      baseline), so a goal that cuts a cost works like one that grows a number; else 0.
    - ``pace``: 1 when on or ahead of the time frame, else actual / expected.

    Both shares are clamped to 0..1 and computed as the success-gap engine does
    (``outcomes/scoring.py``), so the page and the score agree. Pure: pass the organization's
    today (``outcomes.services.organization_today``) to use its calendar.
    """
    today = today or timezone.localdate()
    days_total = (goal.due_on - goal.starts_on).days
    days_elapsed = (today - goal.starts_on).days
    if days_total > 0:
        expected = _share(Decimal(days_elapsed), Decimal(days_total))
    else:
        expected = _ONE if days_elapsed >= 0 else _ZERO
    if goal.objective_reached_on is not None:
        actual = _ONE
    elif goal.is_measurable and goal.baseline is not None and goal.target != goal.baseline:
        # Decimal(str(...)): unsaved goals (forms, previews) may still hold ints or strings.
        baseline, target = Decimal(str(goal.baseline)), Decimal(str(goal.target))
        current = baseline if goal.current_value is None else Decimal(str(goal.current_value))
        actual = _share(current - baseline, target - baseline)
    else:
        actual = _ZERO
    ahead = expected <= 0 or actual >= expected
    return {
        "expected": expected,
        "actual": actual,
        "pace": _ONE if ahead else (actual / expected).quantize(_SHARE),
        "delta": actual - expected,
        "ahead": ahead,
        "behind": not ahead,
        "days_total": days_total,
        "days_elapsed": min(max(days_elapsed, 0), days_total),
        "days_left": max((goal.due_on - today).days, 0),
    }


def goal_history(*, organization: Organization, goal: Goal) -> list[Goal]:
    """The chain of goals this one grew out of, first goal first, ending with ``goal``.

    One query: the desired outcome's goals are read once and the ``supersedes`` links are
    walked in memory (pivots stay inside one desired outcome).
    """
    goals = {
        item.pk: item
        for item in Goal.objects.for_org(organization).filter(
            desired_outcome_id=goal.desired_outcome_id
        )
    }
    chain: list[Goal] = []
    seen: set[int] = set()
    current = goals.get(goal.pk)
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        chain.append(current)
        current = goals.get(current.supersedes_id) if current.supersedes_id else None
    chain.reverse()
    return chain


def goals_due_within(
    *, organization: Organization, days: int, today: dt.date | None = None
) -> QuerySet[Goal]:
    """Open goals (active or hollow) due between today and ``days`` from now, soonest first:
    the ones an MSM can still help over the line."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValidationError({"days": "Give a whole number of days, zero or more."})
    today = today or organization_today(organization)
    return (
        Goal.objects.for_org(organization)
        .filter(status__in=OPEN_STATUSES, due_on__gte=today)
        .filter(due_on__lte=today + dt.timedelta(days=days))
        .select_related("member", "desired_outcome")
        .order_by("due_on", "pk")
    )


def hollow_goals(*, organization: Organization) -> QuerySet[Goal]:
    """Goals whose objective was reached while a condition is not met: reported apart, because
    the member does not feel this success yet."""
    return (
        Goal.objects.for_org(organization)
        .filter(status=Goal.Status.HOLLOW)
        .select_related("member", "desired_outcome")
        .order_by("due_on", "pk")
    )


# --- the organization's rows, for the API's lists and lookups ------------------------------


def desired_outcomes(*, organization: Organization) -> QuerySet[DesiredOutcome]:
    """Every desired outcome of the organization: one query a page (only ids are joined)."""
    return DesiredOutcome.objects.for_org(organization)


def goals_with_conditions(*, organization: Organization) -> QuerySet[Goal]:
    """Every goal with its conditions: two queries a page, whatever the number of goals."""
    conditions = Condition.objects.for_org(organization).order_by("pk")
    return Goal.objects.for_org(organization).prefetch_related(
        Prefetch("conditions", queryset=conditions)
    )


def conditions(*, organization: Organization) -> QuerySet[Condition]:
    """Every condition of every goal of the organization."""
    return Condition.objects.for_org(organization)


def experience_elements(*, organization: Organization) -> QuerySet[AppropriateExperience]:
    """Every experience element, retired ones included (they stay on record)."""
    return AppropriateExperience.objects.for_org(organization)


def gap_snapshots(*, organization: Organization) -> QuerySet[SuccessGapSnapshot]:
    """Every member's success-gap history, each with its run (whose weights explain it)."""
    return SuccessGapSnapshot.objects.for_org(organization).select_related("run")
