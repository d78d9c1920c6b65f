"""The straightforward success-gap computation: one member at a time, plain ORM and Python.

It exists to check the set-based engine (outcomes/scoring.py) — tests and the benchmark run both
on the same data and require the same results. It follows the formula in that module's
docstring line by line, and is deliberately slow: several queries per member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engagement.models import Engagement
from members.models import Member
from milestones.models import Commitment, ProgressMilestone
from outcomes.models import AppropriateExperience, Condition, Goal, SuccessGapRun

ACTIVE = ("active", "hollow")


@dataclass
class ReferenceScore:
    member_id: int
    functional: float | None
    outcome: float | None
    gap: float | None
    pace: float | None
    band: str
    counts: dict[str, int]


def clamp01(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def due_or_done(due_on: dt.date | None, done: bool, today: dt.date) -> bool:
    return done or (due_on is not None and due_on <= today)


def goal_pace(goal: Goal, today: dt.date) -> float:
    if goal.objective_reached_on is not None:
        progress = 1.0
    elif goal.target is not None and goal.baseline is not None and goal.target != goal.baseline:
        current = goal.current_value if goal.current_value is not None else goal.baseline
        progress = clamp01(
            (float(current) - float(goal.baseline)) / (float(goal.target) - float(goal.baseline))
        )
    else:
        progress = 0.0
    span = (goal.due_on - goal.starts_on).days
    elapsed = (today - goal.starts_on).days
    expected = (1.0 if elapsed >= 0 else 0.0) if span <= 0 else clamp01(elapsed * 1.0 / span)
    if expected <= 0 or progress >= expected:
        return 1.0
    return progress / expected


def weighted(parts: list[tuple[float, float, bool]]) -> float | None:
    numerator = sum(weight * value if present else 0.0 for weight, value, present in parts)
    denominator = sum(weight if present else 0.0 for weight, _, present in parts)
    return numerator / denominator if denominator > 0 else None


def reference_score(member: Member, run: SuccessGapRun) -> ReferenceScore:
    organization = member.organization
    today, now, config = run.as_of, run.computed_at, run.configuration
    milestones = [
        m
        for m in ProgressMilestone.objects.for_org(organization).filter(
            member=member, type__in=["functional", "operational"]
        )
        if due_or_done(m.due_on, m.achieved_at is not None, today)
    ]
    commitments = [
        c
        for c in Commitment.objects.for_org(organization).filter(
            member=member, party__in=["together", "us_behind_scenes"]
        )
        if due_or_done(c.due_on, c.done_at is not None, today)
    ]
    goals = list(Goal.objects.for_org(organization).filter(member=member, status__in=ACTIVE))
    conditions = list(Condition.objects.for_org(organization).filter(goal__in=goals))
    strategic = [
        m
        for m in ProgressMilestone.objects.for_org(organization).filter(
            member=member, type="strategic", goal__in=goals
        )
        if due_or_done(m.due_on, m.achieved_at is not None, today)
    ]
    elements = list(
        AppropriateExperience.objects.for_org(organization).filter(
            member=member, required=True, is_active=True
        )
    )
    fulfilled = 0
    for element in elements:
        last = (
            Engagement.objects.for_org(organization)
            .filter(member=member, type=element.engagement_type)
            .order_by("-occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        if last is not None and last >= now - dt.timedelta(days=element.cadence_days):
            fulfilled += 1
    counts = {
        "milestones_due": len(milestones),
        "milestones_done": sum(1 for m in milestones if m.achieved_at is not None),
        "commitments_due": len(commitments),
        "commitments_done": sum(1 for c in commitments if c.done_at is not None),
        "goals_active": len(goals),
        "conditions_total": len(conditions),
        "conditions_met": sum(1 for c in conditions if c.state == "met"),
        "strategic_due": len(strategic),
        "strategic_done": sum(1 for m in strategic if m.achieved_at is not None),
        "experience_required": len(elements),
        "experience_fulfilled": fulfilled,
    }
    pace = sum(goal_pace(g, today) for g in goals) / len(goals) if goals else None

    def ratio(done: str, due: str) -> float:
        return counts[done] / counts[due] if counts[due] else 0.0

    functional = weighted(
        [
            (
                config["milestones_weight"],
                ratio("milestones_done", "milestones_due"),
                counts["milestones_due"] > 0,
            ),
            (
                config["commitments_weight"],
                ratio("commitments_done", "commitments_due"),
                counts["commitments_due"] > 0,
            ),
        ]
    )
    outcome = None
    if goals:
        outcome = weighted(
            [
                (config["pace_weight"], pace, True),
                (
                    config["conditions_weight"],
                    ratio("conditions_met", "conditions_total"),
                    counts["conditions_total"] > 0,
                ),
                (
                    config["strategic_weight"],
                    ratio("strategic_done", "strategic_due"),
                    counts["strategic_due"] > 0,
                ),
                (
                    config["experience_weight"],
                    ratio("experience_fulfilled", "experience_required"),
                    counts["experience_required"] > 0,
                ),
            ]
        )
    gap = None if outcome is None else max(0.0, ((functional or 0.0) - outcome) * 100.0)
    if outcome is None:
        band = "no_outcome"
    elif gap >= config["at_risk_gap"] or pace < config["at_risk_pace"]:
        band = "at_risk"
    elif gap >= config["watch_gap"] or pace < config["watch_pace"]:
        band = "watch"
    else:
        band = "on_track"
    return ReferenceScore(member.pk, functional, outcome, gap, pace, band, counts)


def reference_scores(organization, run: SuccessGapRun) -> dict[int, ReferenceScore]:
    """Score every member of the organization, one by one."""
    return {
        member.pk: reference_score(member, run)
        for member in Member.objects.for_org(organization).select_related("organization")
    }
