"""Writes for desired outcomes: goals with their conditions and time frame, progress, the
achieved / hollow / missed rule, pivots, and the member's Appropriate Experience.

Every function is keyword-only, atomic and takes the organization explicitly. Inputs are checked
before anything is written and refused with a field-keyed ``ValidationError``; a goal's past is
never rewritten: readings are appended, a pivot supersedes the old goal instead of editing it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from audit.services import audit_record
from engagement.choices import Channel, EngagementType
from members.models import Member
from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
    ScoringConfiguration,
)
from outcomes.recompute import member_score_changed
from tenancy.models import DomainEvent, Organization
from tenancy.rules import require_same_organization
from tenancy.selectors import organization_today

# "Not given" for updates, where None is a meaningful value (e.g. detach a desired outcome).
UNSET: Final[Any] = object()

CONDITION_FIELDS: Final = frozenset(
    {"description", "kind", "metric_name", "comparison", "threshold"}
)

# Clocks of API clients drift; a reading a few minutes "ahead" of ours is not from the future.
_CLOCK_TOLERANCE: Final = dt.timedelta(minutes=1)


# --- small helpers ---------------------------------------------------------------------------


def _number(value: Any, *, field: str, label: str, errors: dict[str, str]) -> Decimal | None:
    """A Decimal from user input, or None when absent; a wrong value is noted under ``field``.

    Going through ``str`` keeps floats from smuggling binary noise into a DecimalField.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        errors[field] = f"{label} must be a number, not {value!r}."
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = f"{label} must be a number, not {value!r}."
        return None
    if not number.is_finite():
        errors[field] = f"{label} must be a finite number."
        return None
    return number


def _date(value: Any, *, field: str, missing: str, errors: dict[str, str]) -> dt.date | None:
    """A calendar date from a date or an ISO string; ``missing`` explains why it is required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        errors[field] = missing
        return None
    if isinstance(value, dt.datetime):
        errors[field] = "Give a calendar date, not a date and time."
        return None
    if isinstance(value, dt.date):
        return value
    try:
        parsed = parse_date(value.strip()) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, e.g. 2025-02-30
        parsed = None
    if parsed is None:
        errors[field] = f"{value!r} is not a date (use YYYY-MM-DD)."
    return parsed


def _raise_if(errors: Mapping[str, str]) -> None:
    if errors:
        raise ValidationError(dict(errors))


def _full_clean(instance: Any, *, exclude: Iterable[str] = ()) -> None:
    """Model validation (digits, lengths, choices, check constraints) before the row is saved."""
    instance.full_clean(exclude=list(exclude), validate_unique=False)


def _payload_value(value: Any) -> Any:
    """Context event payloads are JSON: dates and decimals travel as strings."""
    if isinstance(value, dt.date | Decimal):
        return str(value)
    return value


def _goal_event(
    *,
    organization: Organization,
    goal: Goal,
    name: str,
    occurred_at: dt.datetime | None = None,
    value: Decimal | None = UNSET,
    **payload: Any,
) -> None:
    """Every goal change is context: the relationship view reads it as a goal-change event."""
    from engagement.models import ContextEvent
    from engagement.services import context_event_record

    context_event_record(
        organization=organization,
        member=goal.member,
        kind=ContextEvent.Kind.GOAL_CHANGE,
        name=name,
        occurred_at=occurred_at or timezone.now(),
        value=goal.current_value if value is UNSET else value,
        source=ContextEvent.Source.SYSTEM,
        payload={
            "goal_id": goal.pk,
            **{key: _payload_value(item) for key, item in payload.items()},
        },
    )


def _goal_locked(*, organization: Organization, goal: Goal) -> Goal:
    """The goal as stored now, locked for this transaction, so two writers cannot both decide
    from stale values (e.g. both set the date the objective was first reached)."""
    require_same_organization(organization, goal=goal)
    return _goal_locked_by_id(organization=organization, goal_id=goal.pk)


def _goal_locked_by_id(*, organization: Organization, goal_id: int) -> Goal:
    return (
        Goal.objects.for_org(organization)
        .select_related("member")
        .select_for_update(of=("self",))
        .get(pk=goal_id)
    )


def _require_open(goal: Goal, *, field: str = "goal") -> None:
    if goal.status in Goal.CLOSED:
        raise ValidationError(
            {field: f"This goal is {goal.get_status_display().lower()}; it can no longer change."}
        )


# --- desired outcomes ------------------------------------------------------------------------


@transaction.atomic
def desired_outcome_create(
    *, organization: Organization, member: Member, title: str, description: str = ""
) -> DesiredOutcome:
    """Open a desired outcome for a member; goals and experience elements hang from it."""
    require_same_organization(organization, member=member)
    if not (title or "").strip():
        raise ValidationError({"title": "Say what the member wants to reach."})
    outcome = DesiredOutcome(
        organization=organization,
        member=member,
        title=title.strip(),
        description=(description or "").strip(),
    )
    _full_clean(outcome)
    outcome.save()
    return outcome


@transaction.atomic
def desired_outcome_update(
    *,
    organization: Organization,
    outcome: DesiredOutcome,
    title: str = UNSET,
    description: str = UNSET,
    is_active: bool = UNSET,
) -> DesiredOutcome:
    """Reword a desired outcome, or set it aside (inactive) when the member stops pursuing it.

    Only the fields given change. Its goals keep their own statuses and history: setting an
    outcome aside closes nothing, so a member can take it up again."""
    require_same_organization(organization, outcome=outcome)
    outcome = DesiredOutcome.objects.for_org(organization).select_for_update().get(pk=outcome.pk)
    if title is not UNSET:
        if not (title or "").strip():
            raise ValidationError({"title": "Say what the member wants to reach."})
        outcome.title = title.strip()
    if description is not UNSET:
        outcome.description = (description or "").strip()
    if is_active is not UNSET:
        outcome.is_active = bool(is_active)
    _full_clean(outcome)
    outcome.save()
    return outcome


@transaction.atomic
def desired_outcome_delete(*, organization: Organization, outcome: DesiredOutcome) -> None:
    """Remove a desired outcome recorded by mistake.

    Once a goal or an experience element hangs from it, deleting would erase that history
    (goals would go with it): set it inactive instead."""
    require_same_organization(organization, outcome=outcome)
    outcome = DesiredOutcome.objects.for_org(organization).select_for_update().get(pk=outcome.pk)
    if Goal.objects.for_org(organization).filter(desired_outcome_id=outcome.pk).exists():
        raise ValidationError(
            {"outcome": "This desired outcome has goals, whose history is kept: set it inactive."}
        )
    elements = AppropriateExperience.objects.for_org(organization)
    if elements.filter(desired_outcome_id=outcome.pk).exists():
        raise ValidationError(
            {
                "outcome": "Experience elements are tied to this desired outcome: detach or "
                "retire them first, or set it inactive."
            }
        )
    outcome.delete()


# --- goals -----------------------------------------------------------------------------------


def _condition_build(
    *,
    organization: Organization,
    description: str,
    kind: str = Condition.Kind.CONFIRMED,
    metric_name: str = "",
    comparison: str = "",
    threshold: Any = None,
) -> Condition:
    """A validated, unsaved condition (its goal is attached by the caller).

    A measurable condition is judged against a threshold; a confirmed one is judged by the
    member, so a threshold on it would be a number nobody reads.
    """
    errors: dict[str, str] = {}
    if not (description or "").strip():
        errors["description"] = "Describe what the member needs for the goal to feel successful."
    if kind not in Condition.Kind.values:
        errors["kind"] = f"{kind!r} is not a kind of condition (measurable or confirmed)."
    number = _number(threshold, field="threshold", label="The threshold", errors=errors)
    comparison = comparison or ""
    if kind == Condition.Kind.MEASURABLE:
        if comparison not in Condition.Comparison.values:
            errors["comparison"] = (
                f"{comparison!r} is not a comparison; use one of "
                f"{', '.join(Condition.Comparison.values)}."
            )
        if number is None and "threshold" not in errors:
            errors["threshold"] = "A measurable condition needs a threshold."
    elif kind == Condition.Kind.CONFIRMED:
        if comparison:
            errors["comparison"] = "A condition the member confirms has no comparison."
        if number is not None:
            errors["threshold"] = "A condition the member confirms has no threshold."
    _raise_if(errors)
    condition = Condition(
        organization=organization,
        description=description.strip(),
        kind=kind,
        metric_name=(metric_name or "").strip(),
        comparison=comparison,
        threshold=number,
    )
    _full_clean(condition, exclude=["goal"])
    return condition


def _conditions_build(
    *, organization: Organization, conditions: Iterable[Mapping[str, Any]]
) -> list[Condition]:
    """Validate every condition of a new goal before anything is written; report them all,
    numbered, under ``conditions`` so the form can point at the one that is wrong."""
    built: list[Condition] = []
    messages: list[str] = []
    for number, data in enumerate(conditions, start=1):
        if not isinstance(data, Mapping):
            messages.append(f"Condition {number}: expected the fields of a condition.")
            continue
        unknown = sorted(set(data) - CONDITION_FIELDS)
        if unknown:
            messages.append(f"Condition {number}: unknown field(s) {', '.join(unknown)}.")
            continue
        try:
            built.append(_condition_build(organization=organization, **data))
        except ValidationError as exc:
            messages += [
                f"Condition {number}, {field}: {message}"
                for field, field_messages in exc.message_dict.items()
                for message in field_messages
            ]
    if messages:
        raise ValidationError({"conditions": messages})
    return built


def _target_reached(goal: Goal, value: Decimal) -> bool:
    """Direction aware: a target above the baseline is reached from below, one below it (cut
    costs, shorten a wait) from above."""
    if goal.target is None or goal.baseline is None:
        return False
    if goal.target > goal.baseline:
        return value >= goal.target
    return value <= goal.target


def _goal_build(
    *,
    organization: Organization,
    desired_outcome: DesiredOutcome,
    objective: str,
    starts_on: Any,
    due_on: Any,
    metric_name: str = "",
    metric_unit: str = "",
    baseline: Any = None,
    target: Any = None,
    current_value: Any = None,
    supersedes: Goal | None = None,
) -> Goal:
    """A validated, unsaved goal. No time frame, no goal: a wish without a date is refused."""
    errors: dict[str, str] = {}
    if not (objective or "").strip():
        errors["objective"] = "Say what the member wants to reach."
    start = _date(
        starts_on,
        field="starts_on",
        missing="A goal needs a time frame: give the date it starts.",
        errors=errors,
    )
    due = _date(
        due_on,
        field="due_on",
        missing="A goal needs a time frame: give the date it is due.",
        errors=errors,
    )
    if start and due and due < start:
        errors["due_on"] = "The due date cannot be before the start date."
    base = _number(baseline, field="baseline", label="The baseline", errors=errors)
    goal_target = _number(target, field="target", label="The target", errors=errors)
    current = _number(current_value, field="current_value", label="The value", errors=errors)
    measurable = any(
        item is not None and not (isinstance(item, str) and not item.strip())
        for item in (baseline, target)
    )
    if measurable and "target" not in errors and "baseline" not in errors:
        if goal_target is None:
            errors["target"] = "A measurable objective needs a target."
        elif base is None:
            errors["baseline"] = "A measurable objective needs a baseline to measure from."
        elif goal_target == base:
            errors["target"] = "The target must differ from the baseline."
    if current is not None and not measurable and "current_value" not in errors:
        errors["current_value"] = "Only a measurable objective (with a target) has a value."
    _raise_if(errors)
    goal = Goal(
        organization=organization,
        desired_outcome=desired_outcome,
        member_id=desired_outcome.member_id,
        objective=objective.strip(),
        metric_name=(metric_name or "").strip(),
        metric_unit=(metric_unit or "").strip(),
        baseline=base,
        target=goal_target,
        current_value=current,
        starts_on=start,
        due_on=due,
        supersedes=supersedes,
    )
    _full_clean(goal)
    return goal


def _goal_with_conditions_build(
    *,
    organization: Organization,
    conditions: Iterable[Mapping[str, Any]],
    **goal_fields: Any,
) -> tuple[Goal, list[Condition]]:
    """Validate the goal and all its conditions first, reporting every problem at once."""
    errors: dict[str, list[str]] = {}
    goal: Goal | None = None
    built: list[Condition] = []
    try:
        goal = _goal_build(organization=organization, **goal_fields)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        built = _conditions_build(organization=organization, conditions=conditions)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return goal, built


def _goal_save_new(
    *, organization: Organization, goal: Goal, conditions: list[Condition], now: dt.datetime
) -> Goal:
    """Write a validated goal, its conditions and its first reading."""
    if goal.current_value is not None and _target_reached(goal, goal.current_value):
        goal.objective_reached_on = organization_today(organization)
    goal.save()
    for condition in conditions:
        condition.goal = goal
        condition.save()
    if goal.current_value is not None:
        GoalMetricReading.objects.for_org(organization).create(
            organization=organization,
            goal=goal,
            value=goal.current_value,
            recorded_at=now,
            source="initial",
        )
    return goal


@transaction.atomic
def goal_create(
    *,
    organization: Organization,
    desired_outcome: DesiredOutcome,
    objective: str,
    starts_on: dt.date | None,
    due_on: dt.date | None,
    metric_name: str = "",
    metric_unit: str = "",
    baseline: Decimal | int | str | None = None,
    target: Decimal | int | str | None = None,
    current_value: Decimal | int | str | None = None,
    conditions: Iterable[Mapping[str, Any]] = (),
) -> Goal:
    """Set a goal for the member of ``desired_outcome``, with its conditions, all or nothing."""
    require_same_organization(organization, desired_outcome=desired_outcome)
    goal, built = _goal_with_conditions_build(
        organization=organization,
        desired_outcome=desired_outcome,
        conditions=conditions,
        objective=objective,
        starts_on=starts_on,
        due_on=due_on,
        metric_name=metric_name,
        metric_unit=metric_unit,
        baseline=baseline,
        target=target,
        current_value=current_value,
    )
    now = timezone.now()
    _goal_save_new(organization=organization, goal=goal, conditions=built, now=now)
    goal = _goal_locked(organization=organization, goal=goal)
    _goal_event(
        organization=organization,
        goal=goal,
        name="goal_created",
        occurred_at=now,
        desired_outcome_id=goal.desired_outcome_id,
        objective=goal.objective,
        starts_on=goal.starts_on,
        due_on=goal.due_on,
        conditions=len(built),
    )
    return _goal_evaluate_locked(organization=organization, goal=goal, now=now)


# --- conditions ------------------------------------------------------------------------------


@transaction.atomic
def condition_add(
    *,
    organization: Organization,
    goal: Goal,
    description: str,
    kind: str = Condition.Kind.CONFIRMED,
    metric_name: str = "",
    comparison: str = "",
    threshold: Decimal | int | str | None = None,
) -> Condition:
    """Add a condition to an open goal (a closed goal's verdict is not reopened)."""
    goal = _goal_locked(organization=organization, goal=goal)
    _require_open(goal)
    condition = _condition_build(
        organization=organization,
        description=description,
        kind=kind,
        metric_name=metric_name,
        comparison=comparison,
        threshold=threshold,
    )
    condition.goal = goal
    condition.save()
    _goal_evaluate_locked(organization=organization, goal=goal, now=timezone.now())
    return condition


def _compare(observed: Decimal, comparison: str, threshold: Decimal) -> bool:
    return {
        Condition.Comparison.GTE: observed >= threshold,
        Condition.Comparison.GT: observed > threshold,
        Condition.Comparison.LTE: observed <= threshold,
        Condition.Comparison.LT: observed < threshold,
        Condition.Comparison.EQ: observed == threshold,
    }[Condition.Comparison(comparison)]


@transaction.atomic
def condition_assess(
    *,
    organization: Organization,
    condition: Condition,
    state: str | None = None,
    observed_value: Decimal | int | str | None = None,
    evidence: str = "",
    assessed_on: dt.date | None = None,
) -> Condition:
    """Record whether a condition holds, then re-judge its goal.

    A measurable condition is decided by the observed value against its threshold, never by
    hand; a confirmed one by what the member says (met, not met, unknown).
    """
    require_same_organization(organization, condition=condition)
    condition = Condition.objects.for_org(organization).select_for_update().get(pk=condition.pk)
    goal = _goal_locked_by_id(organization=organization, goal_id=condition.goal_id)
    _require_open(goal, field="condition")
    errors: dict[str, str] = {}
    observed = _number(
        observed_value, field="observed_value", label="The observed value", errors=errors
    )
    if assessed_on is None:
        day = organization_today(organization)
    else:
        day = _date(assessed_on, field="assessed_on", missing="", errors=errors)
    if condition.kind == Condition.Kind.MEASURABLE:
        if state is not None:
            errors["state"] = "A measurable condition is met or not by its observed value."
        if observed is None and "observed_value" not in errors:
            errors["observed_value"] = "Give the value observed for this measurable condition."
    else:
        if state not in Condition.State.values:
            errors["state"] = f"Say whether it is {', '.join(Condition.State.values)}."
        if observed is not None:
            errors["observed_value"] = "A condition the member confirms has no observed value."
    _raise_if(errors)
    if condition.kind == Condition.Kind.MEASURABLE:
        met = _compare(observed, condition.comparison, condition.threshold)
        state = Condition.State.MET if met else Condition.State.NOT_MET
    condition.state = state
    condition.observed_value = observed
    condition.evidence = (evidence or "").strip()
    condition.assessed_on = day
    _full_clean(condition)
    condition.save(
        update_fields=["state", "observed_value", "evidence", "assessed_on", "updated_at"]
    )
    _goal_evaluate_locked(organization=organization, goal=goal, now=timezone.now())
    return condition


# How a condition is judged: changing any of these makes an earlier verdict meaningless.
_CONDITION_JUDGEMENT: Final = ("kind", "comparison", "threshold")


def _condition_locked_with_open_goal(
    *, organization: Organization, condition: Condition
) -> tuple[Condition, Goal]:
    require_same_organization(organization, condition=condition)
    condition = Condition.objects.for_org(organization).select_for_update().get(pk=condition.pk)
    goal = _goal_locked_by_id(organization=organization, goal_id=condition.goal_id)
    _require_open(goal, field="condition")
    return condition, goal


@transaction.atomic
def condition_update(
    *,
    organization: Organization,
    condition: Condition,
    description: str = UNSET,
    kind: str = UNSET,
    metric_name: str = UNSET,
    comparison: str = UNSET,
    threshold: Decimal | int | str | None = UNSET,
) -> Condition:
    """Change what a condition of an open goal asks for; only the fields given change.

    The result is checked as a whole, as a new condition is. A change to how it is judged
    (kind, comparison, threshold) clears its assessment — the old verdict answered another
    question — and the goal is re-judged on what is stored then."""
    condition, goal = _condition_locked_with_open_goal(
        organization=organization, condition=condition
    )
    given = {
        "description": description,
        "kind": kind,
        "metric_name": metric_name,
        "comparison": comparison,
        "threshold": threshold,
    }
    merged = {
        name: getattr(condition, name) if value is UNSET else value for name, value in given.items()
    }
    built = _condition_build(organization=organization, **merged)
    rejudged = any(
        getattr(built, name) != getattr(condition, name) for name in _CONDITION_JUDGEMENT
    )
    for name in CONDITION_FIELDS:
        setattr(condition, name, getattr(built, name))
    if rejudged:
        condition.state = Condition.State.UNKNOWN
        condition.observed_value = None
        condition.evidence = ""
        condition.assessed_on = None
    _full_clean(condition)
    condition.save()
    _goal_evaluate_locked(organization=organization, goal=goal, now=timezone.now())
    return condition


@transaction.atomic
def condition_remove(*, organization: Organization, condition: Condition) -> None:
    """Drop a condition the member no longer holds from an open goal, then re-judge the goal
    on the others (a hollow success may so become achieved). A closed goal's verdict stays."""
    condition, goal = _condition_locked_with_open_goal(
        organization=organization, condition=condition
    )
    condition.delete()
    _goal_evaluate_locked(organization=organization, goal=goal, now=timezone.now())


# --- progress and the rule -------------------------------------------------------------------


def _aware(value: dt.datetime, organization: Organization) -> dt.datetime:
    if timezone.is_aware(value):
        return value
    return timezone.make_aware(value, organization.zone)


@transaction.atomic
def goal_record_progress(
    *,
    organization: Organization,
    goal: Goal,
    value: Decimal | int | str,
    recorded_at: dt.datetime | None = None,
) -> Goal:
    """Append a reading of the goal's metric; the first reading at the target marks the day
    the objective was reached. Readings are never edited, so the trend stays honest."""
    goal = _goal_locked(organization=organization, goal=goal)
    _require_open(goal)
    if not goal.is_measurable:
        raise ValidationError(
            {"goal": "This objective has no target to measure; mark it reached instead."}
        )
    errors: dict[str, str] = {}
    number = _number(value, field="value", label="The value", errors=errors)
    if number is None and "value" not in errors:
        errors["value"] = "Give the value reached."
    now = timezone.now()
    when = now
    if recorded_at is not None and not isinstance(recorded_at, dt.datetime):
        errors["recorded_at"] = "Give the date and time the value was measured."
    elif recorded_at is not None:
        when = _aware(recorded_at, organization)
    if when > now + _CLOCK_TOLERANCE:
        errors["recorded_at"] = "A reading cannot come from the future."
    _raise_if(errors)
    reading = GoalMetricReading(
        organization=organization, goal=goal, value=number, recorded_at=when
    )
    _full_clean(reading)
    # A back-dated reading joins the history without replacing a newer current value.
    newer = GoalMetricReading.objects.for_org(organization).filter(
        goal_id=goal.pk, recorded_at__gt=when
    )
    is_latest = not newer.exists()
    reading.save()
    if is_latest:
        goal.current_value = number
    reached_now = goal.objective_reached_on is None and _target_reached(goal, number)
    if reached_now:
        goal.objective_reached_on = timezone.localdate(when, timezone=organization.zone)
    goal.save(update_fields=["current_value", "objective_reached_on", "updated_at"])
    _goal_event(
        organization=organization,
        goal=goal,
        name="goal_progress",
        occurred_at=when,
        value=number,
        reading_id=reading.pk,
        target=goal.target,
        objective_reached_on=goal.objective_reached_on,
    )
    return _goal_evaluate_locked(organization=organization, goal=goal, now=now)


@transaction.atomic
def goal_mark_objective_reached(
    *, organization: Organization, goal: Goal, reached_on: dt.date | None = None
) -> Goal:
    """Mark a qualitative objective reached (a measurable one is reached by its readings).
    Marking it again keeps the first date."""
    goal = _goal_locked(organization=organization, goal=goal)
    _require_open(goal)
    if goal.is_measurable:
        raise ValidationError(
            {"goal": "This objective is measured; record progress and the target decides."}
        )
    today = organization_today(organization)
    errors: dict[str, str] = {}
    day = (
        today
        if reached_on is None
        else _date(reached_on, field="reached_on", missing="", errors=errors)
    )
    if day is not None and day > today:
        errors["reached_on"] = "An objective cannot be reached in the future."
    elif day is not None and day < goal.starts_on:
        errors["reached_on"] = "The objective cannot be reached before the goal starts."
    _raise_if(errors)
    now = timezone.now()
    if goal.objective_reached_on is None:
        goal.objective_reached_on = day
        goal.save(update_fields=["objective_reached_on", "updated_at"])
        _goal_event(
            organization=organization,
            goal=goal,
            name="goal_objective_reached",
            occurred_at=now,
            objective_reached_on=day,
        )
    return _goal_evaluate_locked(organization=organization, goal=goal, now=now)


def _condition_met_in_time(condition: Condition, due_on: dt.date) -> bool:
    """A condition counts only when met within the goal's time frame."""
    return (
        condition.state == Condition.State.MET
        and condition.assessed_on is not None
        and condition.assessed_on <= due_on
    )


def goal_status_for(goal: Goal, conditions: Iterable[Condition], today: dt.date) -> Goal.Status:
    """The rule, as a pure decision over a goal, its conditions and a date.

    - A closed goal (achieved, missed, abandoned, superseded) keeps its status.
    - Objective reached by the due date and every condition met by the due date: achieved.
    - Objective reached by the due date with any condition not met or unknown: a hollow
      success — reported as such, and still able to become achieved while the time frame runs.
    - Past the due date without the objective reached in time: missed.
    - Otherwise: active.
    """
    status = Goal.Status(goal.status)
    if status in Goal.CLOSED:
        return status
    reached = goal.objective_reached_on
    if reached is not None and reached <= goal.due_on:
        if all(_condition_met_in_time(condition, goal.due_on) for condition in conditions):
            return Goal.Status.ACHIEVED
        return Goal.Status.HOLLOW
    if today > goal.due_on:
        return Goal.Status.MISSED
    return Goal.Status.ACTIVE


def _goal_transition(
    *,
    organization: Organization,
    goal: Goal,
    status: str,
    now: dt.datetime,
    **payload: Any,
) -> Goal:
    """Move a goal to ``status`` only if it is still where we read it (a guarded UPDATE), and
    record the change as context. Only the status columns change: the row keeps its story."""
    previous = goal.status
    updated = (
        Goal.objects.for_org(organization)
        .filter(pk=goal.pk, status=previous)
        .update(status=status, status_changed_at=now)
    )
    if not updated:
        goal.refresh_from_db(fields=["status", "status_changed_at"])
        return goal
    goal.status = status
    goal.status_changed_at = now
    audit_record(
        organization=organization,
        action=f"goal.{status}",
        instance=goal,
        changes={"status": [previous, status], **{k: v for k, v in payload.items() if v}},
    )
    DomainEvent.objects.for_org(organization).create(
        organization=organization,
        kind=DomainEvent.Kind.GOAL_STATUS_CHANGED,
        subject_id=goal.pk,
        occurred_at=now,
        payload=_goal_status_payload(goal.pk, goal.member_id, previous, status),
    )
    _goal_event(
        organization=organization,
        goal=goal,
        name=f"goal_status_{status}",
        occurred_at=now,
        previous_status=previous,
        status=status,
        **payload,
    )
    return goal


def _goal_status_payload(goal_id: int, member_id: int, previous: str, status: str) -> dict:
    """What a ``goal.status_changed`` domain event (and so its webhook) says."""
    return {
        "goal_id": goal_id,
        "member_id": member_id,
        "previous_status": previous,
        "status": status,
    }


def _goal_evaluate_locked(
    *,
    organization: Organization,
    goal: Goal,
    now: dt.datetime,
    today: dt.date | None = None,
) -> Goal:
    if goal.status in Goal.CLOSED:
        return goal
    conditions = list(Condition.objects.for_org(organization).filter(goal_id=goal.pk))
    status = goal_status_for(goal, conditions, today or organization_today(organization))
    if status == goal.status:
        return goal
    return _goal_transition(organization=organization, goal=goal, status=status, now=now)


@transaction.atomic
def goal_evaluate(*, organization: Organization, goal: Goal, today: dt.date | None = None) -> Goal:
    """Re-judge a goal from what is stored now and save its status when the rule moves it."""
    goal = _goal_locked(organization=organization, goal=goal)
    return _goal_evaluate_locked(
        organization=organization, goal=goal, now=timezone.now(), today=today
    )


@transaction.atomic
def goals_evaluate_due(*, organization: Organization, today: dt.date | None = None) -> int:
    """Mark every active goal past its due date, objective not reached in time, as missed.

    One UPDATE whatever the number of goals (the nightly sweep), then one insert of their
    goal-change context events. The events are stored directly rather than one by one through
    ``context_event_record``: a sweep must stay set-based, and no milestone rule is about a
    goal being missed. Returns how many goals were marked.
    """
    from engagement.models import ContextEvent

    today = today or organization_today(organization)
    now = timezone.now()
    goals = Goal.objects.for_org(organization)
    count = (
        goals.filter(status=Goal.Status.ACTIVE, due_on__lt=today)
        .filter(Q(objective_reached_on__isnull=True) | Q(objective_reached_on__gt=F("due_on")))
        .update(status=Goal.Status.MISSED, status_changed_at=now)
    )
    if not count:
        return 0
    # status_changed_at = this sweep's own instant identifies the rows it just moved.
    missed = list(
        goals.filter(status=Goal.Status.MISSED, status_changed_at=now).values_list(
            "pk", "member_id", "current_value", "due_on"
        )
    )
    ContextEvent.objects.for_org(organization).bulk_create(
        ContextEvent(
            organization=organization,
            member_id=member_id,
            kind=ContextEvent.Kind.GOAL_CHANGE,
            name=f"goal_status_{Goal.Status.MISSED}",
            value=current_value,
            occurred_at=now,
            source=ContextEvent.Source.SYSTEM,
            payload={
                "goal_id": pk,
                "previous_status": Goal.Status.ACTIVE,
                "status": Goal.Status.MISSED,
                "due_on": str(due_on),
            },
        )
        for pk, member_id, current_value, due_on in missed
    )
    DomainEvent.objects.for_org(organization).bulk_create(
        DomainEvent(
            organization=organization,
            kind=DomainEvent.Kind.GOAL_STATUS_CHANGED,
            subject_id=pk,
            occurred_at=now,
            payload=_goal_status_payload(pk, member_id, Goal.Status.ACTIVE, Goal.Status.MISSED),
        )
        for pk, member_id, _, _ in missed
    )
    audit_record(  # one summary per sweep, with the context events written beside it
        organization=organization,
        action="goals.evaluate_due",
        model=Goal,
        changes={"missed": count, "context_events": len(missed)},
    )
    return count


# --- pivots and abandonment ------------------------------------------------------------------


@transaction.atomic
def goal_pivot(
    *,
    organization: Organization,
    goal: Goal,
    objective: str,
    starts_on: dt.date | None,
    due_on: dt.date | None,
    reason: str = "",
    metric_name: str = "",
    metric_unit: str = "",
    baseline: Decimal | int | str | None = None,
    target: Decimal | int | str | None = None,
    current_value: Decimal | int | str | None = None,
    conditions: Iterable[Mapping[str, Any]] = (),
) -> Goal:
    """Replace an open goal with a new one in the same desired outcome.

    The old goal is kept as it was, only marked superseded, and the new one points back to it,
    so the story of how the member's goal evolved can be read later.
    """
    old = _goal_locked(organization=organization, goal=goal)
    _require_open(old)
    new, built = _goal_with_conditions_build(
        organization=organization,
        desired_outcome=old.desired_outcome,
        conditions=conditions,
        objective=objective,
        starts_on=starts_on,
        due_on=due_on,
        metric_name=metric_name,
        metric_unit=metric_unit,
        baseline=baseline,
        target=target,
        current_value=current_value,
        supersedes=old,
    )
    now = timezone.now()
    _goal_save_new(organization=organization, goal=new, conditions=built, now=now)
    _goal_transition(
        organization=organization,
        goal=old,
        status=Goal.Status.SUPERSEDED,
        now=now,
        superseded_by_id=new.pk,
        reason=reason,
    )
    new = _goal_locked(organization=organization, goal=new)
    _goal_event(
        organization=organization,
        goal=new,
        name="goal_pivoted",
        occurred_at=now,
        supersedes_id=old.pk,
        reason=reason,
        objective=new.objective,
        starts_on=new.starts_on,
        due_on=new.due_on,
        conditions=len(built),
    )
    return _goal_evaluate_locked(organization=organization, goal=new, now=now)


@transaction.atomic
def goal_abandon(*, organization: Organization, goal: Goal, reason: str = "") -> Goal:
    """Close a goal the member no longer pursues; it stays on record, with the reason."""
    goal = _goal_locked(organization=organization, goal=goal)
    _require_open(goal)
    return _goal_transition(
        organization=organization,
        goal=goal,
        status=Goal.Status.ABANDONED,
        now=timezone.now(),
        reason=reason,
    )


def _renamed(exc: ValidationError, names: Mapping[str, str]) -> ValidationError:
    """The same errors under the caller's field names (a service's ``value`` is the body's
    ``current_value``)."""
    return ValidationError(
        {names.get(field, field): messages for field, messages in exc.message_dict.items()}
    )


@transaction.atomic
def goal_update(
    *,
    organization: Organization,
    goal: Goal,
    current_value: Decimal | int | str = UNSET,
    recorded_at: dt.datetime | None = None,
    objective_reached_on: dt.date = UNSET,
    status: str = UNSET,
    reason: str = "",
) -> Goal:
    """The changes a goal takes once set, each through its own rule, all or nothing.

    - ``current_value``: a reading of its metric (``goal_record_progress``), at ``recorded_at``;
    - ``objective_reached_on``: a qualitative objective reached (``goal_mark_objective_reached``);
    - ``status``: only ``abandoned`` is set by hand (``goal_abandon``, with ``reason``): the
      rule decides active, achieved, hollow and missed, and a pivot supersedes.

    Its objective, measure and time frame are not edited — a pivot replaces the goal so its
    history is kept — so this takes none of them. Errors come under these argument names.
    """
    require_same_organization(organization, goal=goal)
    errors: dict[str, str] = {}
    if status is not UNSET and status != goal.status:
        if status == Goal.Status.SUPERSEDED:
            errors["status"] = "A goal is superseded by pivoting it into a new one."
        elif status != Goal.Status.ABANDONED:
            errors["status"] = (
                "This status follows the rule: record progress, mark the objective reached or "
                "assess the conditions. Only 'abandoned' is set by hand."
            )
    if recorded_at is not None and current_value is UNSET:
        errors["recorded_at"] = "Give the value measured at that time (current_value)."
    _raise_if(errors)
    if current_value is not UNSET:
        try:
            goal = goal_record_progress(
                organization=organization, goal=goal, value=current_value, recorded_at=recorded_at
            )
        except ValidationError as exc:
            raise _renamed(exc, {"value": "current_value", "goal": "current_value"}) from exc
    if objective_reached_on is not UNSET:
        try:
            goal = goal_mark_objective_reached(
                organization=organization, goal=goal, reached_on=objective_reached_on
            )
        except ValidationError as exc:
            names = {"reached_on": "objective_reached_on", "goal": "objective_reached_on"}
            raise _renamed(exc, names) from exc
    if status == Goal.Status.ABANDONED and goal.status != Goal.Status.ABANDONED:
        try:
            goal = goal_abandon(organization=organization, goal=goal, reason=reason)
        except ValidationError as exc:
            raise _renamed(exc, {"goal": "status"}) from exc
    return goal


# --- Appropriate Experience ------------------------------------------------------------------


def _cadence(value: Any, errors: dict[str, str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors["cadence_days"] = "The cadence is a whole number of days."
        return None
    try:
        days = int(value)
    except ValueError:
        errors["cadence_days"] = "The cadence is a whole number of days."
        return None
    if days < 1:
        errors["cadence_days"] = "The cadence is at least one day."
        return None
    return days


def _experience_check(
    *,
    member_id: int,
    errors: dict[str, str],
    description: Any = UNSET,
    engagement_type: Any = UNSET,
    cadence_days: Any = UNSET,
    channel: Any = UNSET,
    desired_outcome: Any = UNSET,
) -> dict[str, Any]:
    """The cleaned values of the fields given; problems go to ``errors`` by field."""
    cleaned: dict[str, Any] = {}
    if description is not UNSET:
        if not (description or "").strip():
            errors["description"] = "Describe the experience element the member needs."
        else:
            cleaned["description"] = description.strip()
    if engagement_type is not UNSET:
        if engagement_type not in EngagementType.values:
            errors["engagement_type"] = f"{engagement_type!r} is not an engagement type."
        else:
            cleaned["engagement_type"] = engagement_type
    if cadence_days is not UNSET:
        days = _cadence(cadence_days, errors)
        if days is not None:
            cleaned["cadence_days"] = days
    if channel is not UNSET:
        if channel not in Channel.values:
            errors["channel"] = f"{channel!r} is not a channel."
        else:
            cleaned["channel"] = channel
    if desired_outcome is not UNSET:
        if desired_outcome is not None and desired_outcome.member_id != member_id:
            errors["desired_outcome"] = "This desired outcome belongs to another member."
        else:
            cleaned["desired_outcome"] = desired_outcome
    return cleaned


@transaction.atomic
def experience_element_add(
    *,
    organization: Organization,
    member: Member,
    description: str,
    engagement_type: str,
    cadence_days: int,
    channel: str,
    required: bool = True,
    desired_outcome: DesiredOutcome | None = None,
) -> AppropriateExperience:
    """Add one element of the experience this member needs (what, how, how often)."""
    require_same_organization(organization, member=member, desired_outcome=desired_outcome)
    errors: dict[str, str] = {}
    cleaned = _experience_check(
        member_id=member.pk,
        errors=errors,
        description=description,
        engagement_type=engagement_type,
        cadence_days=cadence_days,
        channel=channel,
        desired_outcome=desired_outcome,
    )
    _raise_if(errors)
    element = AppropriateExperience(
        organization=organization, member=member, required=bool(required), **cleaned
    )
    _full_clean(element)
    element.save()
    return element


@transaction.atomic
def experience_element_update(
    *,
    organization: Organization,
    element: AppropriateExperience,
    description: str = UNSET,
    engagement_type: str = UNSET,
    cadence_days: int = UNSET,
    channel: str = UNSET,
    required: bool = UNSET,
    desired_outcome: DesiredOutcome | None = UNSET,
) -> AppropriateExperience:
    """Change the fields given of an active element; ``desired_outcome=None`` detaches it."""
    require_same_organization(
        organization,
        element=element,
        desired_outcome=None if desired_outcome is UNSET else desired_outcome,
    )
    element = (
        AppropriateExperience.objects.for_org(organization).select_for_update().get(pk=element.pk)
    )
    if not element.is_active:
        raise ValidationError({"element": "This element is retired; add a new one instead."})
    errors: dict[str, str] = {}
    cleaned = _experience_check(
        member_id=element.member_id,
        errors=errors,
        description=description,
        engagement_type=engagement_type,
        cadence_days=cadence_days,
        channel=channel,
        desired_outcome=desired_outcome,
    )
    if required is not UNSET:
        cleaned["required"] = bool(required)
    _raise_if(errors)
    for field, value in cleaned.items():
        setattr(element, field, value)
    _full_clean(element)
    element.save()
    return element


@transaction.atomic
def experience_element_retire(
    *, organization: Organization, element: AppropriateExperience
) -> AppropriateExperience:
    """Stop expecting an element; it stays on record for what was delivered under it.

    A queryset update sends no signal, so the member's score is marked stale here (the
    element no longer counts in experience fulfilment)."""
    require_same_organization(organization, element=element)
    now = timezone.now()
    AppropriateExperience.objects.for_org(organization).filter(pk=element.pk).update(
        is_active=False, updated_at=now
    )
    audit_record(
        organization=organization,
        action="experience.retire",
        instance=element,
        changes={"is_active": [element.is_active, False]},
    )
    element.is_active = False
    element.updated_at = now
    member_score_changed(organization_id=organization.pk, member_id=element.member_id)
    return element


# --- scoring configuration -------------------------------------------------------------------

SCORING_FIELDS: Final = frozenset(
    field.name
    for field in ScoringConfiguration._meta.fields
    if field.get_internal_type() == "FloatField"
)


@transaction.atomic
def scoring_configuration_save(
    *, organization: Organization, **fields: Any
) -> ScoringConfiguration:
    """Set the organization's weights and thresholds (its row is created on the first save),
    checked together by the model's rules, and rescore every member once this commits so the
    bands follow the new configuration (``outcomes.scoring.band_changes_preview`` tells what
    will move before saving)."""
    unknown = sorted(set(fields) - SCORING_FIELDS)
    if unknown:
        raise TypeError(f"scoring_configuration_save() does not take {', '.join(unknown)}.")
    configuration = ScoringConfiguration.objects.for_org(
        organization
    ).select_for_update().first() or ScoringConfiguration(organization=organization)
    errors = {
        name: "Give a number."
        for name, value in fields.items()
        if isinstance(value, bool)
        or not isinstance(value, int | float | Decimal)
        or not math.isfinite(value)
    }
    _raise_if(errors)
    for name, value in fields.items():
        setattr(configuration, name, float(value))
    configuration.full_clean()
    configuration.save()

    def rescore() -> None:
        from outcomes.tasks import recompute_organization

        recompute_organization.apply_async(
            kwargs={"organization_id": organization.pk}, expires=3600
        )

    # robust: a broker that is down must not fail the saved settings; the nightly recompute
    # scores everyone with them.
    transaction.on_commit(rescore, robust=True)
    return configuration
