"""Writes for milestones and joint accountability. Every function is atomic.

Rules live here so the pages, the API and the worker refuse the same things with the same
field-named errors. Every write validates first and writes after, inside one transaction, so a
refused call leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils import timezone

from audit.services import audit_record, audit_snapshot
from engagement.models import ContextEvent
from members.models import Member
from milestones.models import Commitment, MilestoneDefinition, MilestoneType, ProgressMilestone
from outcomes.models import Goal
from tenancy.models import DomainEvent, Organization, Seat
from tenancy.rules import require_same_organization

# A definition further out than this is almost surely a typo (and would overflow dates).
MAX_EXPECTED_AFTER_DAYS: Final = 3650

# Milestones achieved per UPDATE in the batch matcher: keeps every statement well under the
# bind-parameter limits of SQLite and PostgreSQL; any batch the ingest endpoint accepts fits one.
_ACHIEVE_CHUNK: Final = 5000


class _Unset(enum.Enum):
    """Marks an argument the caller left out, so ``None`` can still mean "clear it"."""

    TOKEN = 0


UNSET: Final = _Unset.TOKEN


# --- shared helpers ------------------------------------------------------------------------


def _org_date(organization: Organization, moment: dt.datetime) -> dt.date:
    """The calendar date of a moment where the organization is, for messages people read."""
    return timezone.localtime(moment, organization.zone).date()


def _moment_or_error(value: dt.datetime | None, field: str) -> dt.datetime:
    """Now, or the moment given when it is an aware time not in the future."""
    now = timezone.now()
    if value is None:
        return now
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ValidationError({field: "Give a date and time with its time zone."})
    if value > now:
        raise ValidationError({field: "This cannot be in the future."})
    return value


def _lock_row(model: type[models.Model], organization: Organization, pk: int) -> None:
    """Hold the row's lock until commit, so two planners for the same member or goal run one
    after the other and the second sees what the first created (nothing is planned twice)."""
    list(
        model.objects.for_org(organization)
        .select_for_update()
        .filter(pk=pk)
        .values_list("pk", flat=True)
    )


def _clean(instance: models.Model, *, exclude: Iterable[str]) -> None:
    """Field validation (lengths, choices) without the checks that need a scope or a query:
    related objects were already checked by the service, uniqueness by its own query."""
    instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


# --- milestone definitions -----------------------------------------------------------------


def _decimal_or_error(value: Any) -> tuple[Decimal | None, str | None]:
    """A minimum value as a Decimal (it compares with DecimalFields), or the reason it is not."""
    if value is None or value == "":
        return None, None
    if isinstance(value, bool):
        return None, "Give a number."
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None, "Give a number, such as 3 or 2.5."
    if not number.is_finite():
        return None, "Give a number, such as 3 or 2.5."
    return number, None


def _definition_errors(
    *,
    organization: Organization,
    definition_pk: int | None,
    name: str,
    type: str,
    anchor: str,
    expected_after_days: Any,
    match_event_name: str,
    match_min_value: Any,
) -> dict[str, str]:
    """Every rule of a definition, checked together so a form shows all its errors at once."""
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the milestone a name."
    elif (
        MilestoneDefinition.objects.for_org(organization)
        .filter(name__iexact=name)
        .exclude(pk=definition_pk)
        .exists()
    ):
        errors["name"] = "This organization already has a milestone with this name."
    if type not in MilestoneType.values:
        errors["type"] = f"Choose one of: {', '.join(MilestoneType.values)}."
    if anchor not in MilestoneDefinition.Anchor.values:
        errors["anchor"] = f"Choose one of: {', '.join(MilestoneDefinition.Anchor.values)}."
    elif type == MilestoneType.STRATEGIC and anchor != MilestoneDefinition.Anchor.GOAL_START:
        errors["anchor"] = (
            "A strategic milestone is the goal itself, so it is counted from the goal's start."
        )
    if (
        not isinstance(expected_after_days, int)
        or isinstance(expected_after_days, bool)
        or not 0 <= expected_after_days <= MAX_EXPECTED_AFTER_DAYS
    ):
        errors["expected_after_days"] = (
            f"Give a whole number of days from 0 to {MAX_EXPECTED_AFTER_DAYS}."
        )
    _, min_value_error = _decimal_or_error(match_min_value)
    if min_value_error:
        errors["match_min_value"] = min_value_error
    elif match_min_value not in (None, "") and not match_event_name:
        errors["match_min_value"] = (
            "A minimum value only applies to a matching event: give the event name too."
        )
    return errors


@transaction.atomic
def milestone_definition_create(
    *,
    organization: Organization,
    name: str,
    type: str,
    expected_after_days: int = 30,
    anchor: str = MilestoneDefinition.Anchor.JOINED,
    description: str = "",
    match_event_name: str = "",
    match_min_value: Decimal | int | str | None = None,
) -> MilestoneDefinition:
    """Define a milestone the organization expects its members to reach, and when.

    Strategic milestones are the goal itself, so they are counted from a goal's start; the
    others may be counted from joining. A matching rule (event name, optional minimum value)
    lets context events achieve the milestone without anyone marking it.
    """
    name, match_event_name = name.strip(), match_event_name.strip()
    errors = _definition_errors(
        organization=organization,
        definition_pk=None,
        name=name,
        type=type,
        anchor=anchor,
        expected_after_days=expected_after_days,
        match_event_name=match_event_name,
        match_min_value=match_min_value,
    )
    if errors:
        raise ValidationError(errors)
    definition = MilestoneDefinition(
        organization=organization,
        name=name,
        type=type,
        expected_after_days=expected_after_days,
        anchor=anchor,
        description=description.strip(),
        match_event_name=match_event_name,
        match_min_value=_decimal_or_error(match_min_value)[0],
    )
    _clean(definition, exclude=["organization"])
    _save_definition(definition)
    return definition


def _save_definition(definition: MilestoneDefinition, **kwargs: Any) -> None:
    """Save, turning a name taken by a concurrent writer into the same field error."""
    try:
        with transaction.atomic():
            definition.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationError(
            {"name": "This organization already has a milestone with this name."}
        ) from exc


@transaction.atomic
def milestone_definition_update(
    *,
    organization: Organization,
    definition: MilestoneDefinition,
    name: str | _Unset = UNSET,
    type: str | _Unset = UNSET,
    expected_after_days: int | _Unset = UNSET,
    anchor: str | _Unset = UNSET,
    description: str | _Unset = UNSET,
    match_event_name: str | _Unset = UNSET,
    match_min_value: Decimal | int | str | _Unset | None = UNSET,
    is_active: bool | _Unset = UNSET,
) -> MilestoneDefinition:
    """Change the arguments given and keep the rest, under the same rules as creating.

    A change applies to planning from now on: milestones already planned are the members' own
    record and keep their name, type and due date. The anchor cannot change once milestones
    were planned from the definition, since their due dates and goals came from it.
    """
    require_same_organization(organization, definition=definition)
    given = {
        field: value
        for field, value in {
            "name": name.strip() if isinstance(name, str) else name,
            "type": type,
            "expected_after_days": expected_after_days,
            "anchor": anchor,
            "description": description.strip() if isinstance(description, str) else description,
            "match_event_name": (
                match_event_name.strip() if isinstance(match_event_name, str) else match_event_name
            ),
            "match_min_value": match_min_value,
            "is_active": is_active,
        }.items()
        if value is not UNSET
    }
    current = {
        field: given.get(field, getattr(definition, field))
        for field in (
            "name",
            "type",
            "anchor",
            "expected_after_days",
            "match_event_name",
            "match_min_value",
        )
    }
    errors = _definition_errors(organization=organization, definition_pk=definition.pk, **current)
    if (
        "anchor" not in errors
        and current["anchor"] != definition.anchor
        and ProgressMilestone.objects.for_org(organization).filter(definition=definition).exists()
    ):
        errors["anchor"] = (
            "Milestones were already planned from this definition, so its anchor stays; "
            "create a new definition instead."
        )
    if "is_active" in given and not isinstance(given["is_active"], bool):
        errors["is_active"] = "Give true or false."
    if errors:
        raise ValidationError(errors)
    if "match_min_value" in given:
        given["match_min_value"] = _decimal_or_error(given["match_min_value"])[0]
    previous = {field: getattr(definition, field) for field in given}
    for field, value in given.items():
        setattr(definition, field, value)
    try:
        _clean(definition, exclude=["organization"])
    except ValidationError:
        # Leave the caller's instance as it was stored: a refused change changes nothing.
        for field, value in previous.items():
            setattr(definition, field, value)
        raise
    if given:
        _save_definition(definition, update_fields=[*given, "updated_at"])
    return definition


@transaction.atomic
def milestone_definition_delete(
    *, organization: Organization, definition: MilestoneDefinition
) -> None:
    """Remove a definition made by mistake, as long as nothing was planned from it.

    Milestones planned from a definition are the members' record and point at it, so a used
    definition stays; switching it off (``is_active``) stops planning it for anyone new.
    """
    require_same_organization(organization, definition=definition)
    _lock_row(MilestoneDefinition, organization, definition.pk)
    if ProgressMilestone.objects.for_org(organization).filter(definition=definition).exists():
        raise ValidationError(
            {
                "definition": "Milestones were already planned from this definition, so it "
                "stays; switch it off instead (is_active: false)."
            }
        )
    definition.delete()


# --- planning --------------------------------------------------------------------------------


@transaction.atomic
def milestone_plan_for_member(
    *, organization: Organization, member: Member
) -> list[ProgressMilestone]:
    """Give the member a pending milestone for each active definition counted from joining
    that they do not have yet, due ``expected_after_days`` after they joined.

    Set-based and idempotent: one query finds the missing definitions, one insert creates
    them; running it again creates nothing. A member with no join date gets none (there is
    nothing to count from).
    """
    require_same_organization(organization, member=member)
    if member.joined_on is None:
        return []
    _lock_row(Member, organization, member.pk)
    already = ProgressMilestone.objects.for_org(organization).filter(
        member_id=member.pk, definition_id=OuterRef("pk")
    )
    missing = (
        MilestoneDefinition.objects.for_org(organization)
        .filter(is_active=True, anchor=MilestoneDefinition.Anchor.JOINED)
        .exclude(type=MilestoneType.STRATEGIC)
        .filter(~Exists(already))
    )
    milestones = [
        ProgressMilestone(
            organization=organization,
            member=member,
            definition=definition,
            name=definition.name,
            type=definition.type,
            due_on=member.joined_on + dt.timedelta(days=definition.expected_after_days),
        )
        for definition in missing
    ]
    created = ProgressMilestone.objects.for_org(organization).bulk_create(milestones)
    _audit_plan(organization, created, member=member.pk)
    return created


def _audit_plan(organization: Organization, created: list[ProgressMilestone], **of: int) -> None:
    """``bulk_create`` sends no signal: one summary entry per planning call (how many, for
    whom, from which definitions), none when it planned nothing."""
    if created:
        audit_record(
            organization=organization,
            action="milestones.plan",
            model=ProgressMilestone,
            changes={
                "planned": len(created),
                **of,
                "definitions": sorted(milestone.definition_id for milestone in created),
            },
        )


@transaction.atomic
def milestone_plan_for_goal(*, organization: Organization, goal: Goal) -> list[ProgressMilestone]:
    """Give the goal's member a pending milestone, tied to the goal, for each active
    definition counted from a goal's start that this goal does not have yet.

    Idempotent per (member, definition, goal). A closed goal (achieved, missed, abandoned,
    superseded) gets nothing new: there is no path left to mark.
    """
    require_same_organization(organization, goal=goal)
    if goal.status in Goal.CLOSED:
        return []
    _lock_row(Goal, organization, goal.pk)
    already = ProgressMilestone.objects.for_org(organization).filter(
        member_id=goal.member_id, goal_id=goal.pk, definition_id=OuterRef("pk")
    )
    missing = (
        MilestoneDefinition.objects.for_org(organization)
        .filter(is_active=True, anchor=MilestoneDefinition.Anchor.GOAL_START)
        .filter(~Exists(already))
    )
    milestones = [
        ProgressMilestone(
            organization=organization,
            member_id=goal.member_id,
            goal=goal,
            definition=definition,
            name=definition.name,
            type=definition.type,
            due_on=goal.starts_on + dt.timedelta(days=definition.expected_after_days),
        )
        for definition in missing
    ]
    created = ProgressMilestone.objects.for_org(organization).bulk_create(milestones)
    _audit_plan(organization, created, member=goal.member_id, goal=goal.pk)
    return created


# --- one milestone ---------------------------------------------------------------------------


def _milestone_add_errors(
    *,
    organization: Organization,
    member: Member,
    name: str,
    type: str,
    goal: Goal | None,
    definition: MilestoneDefinition | None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the milestone a name."
    if type not in MilestoneType.values:
        errors["type"] = f"Choose one of: {', '.join(MilestoneType.values)}."
    elif definition is not None and type != definition.type:
        errors["type"] = f"The definition {definition.name!r} is {definition.type}."
    if goal is not None and goal.member_id != member.pk:
        errors["goal"] = "This goal belongs to another member."
    elif goal is None and type == MilestoneType.STRATEGIC:
        errors["goal"] = "A strategic milestone is a goal: choose the member's goal."
    elif goal is None and definition and definition.anchor == MilestoneDefinition.Anchor.GOAL_START:
        errors["goal"] = "This definition is counted from a goal's start: choose the goal."
    if definition is not None:
        if not definition.is_active:
            errors["definition"] = "This milestone definition is no longer in use."
        elif (
            ProgressMilestone.objects.for_org(organization)
            .filter(member_id=member.pk, definition=definition, goal=goal)
            .exists()
        ):
            errors["definition"] = "The member already has this milestone."
    return errors


def _default_due_on(
    member: Member, goal: Goal | None, definition: MilestoneDefinition | None
) -> dt.date | None:
    """The due date a definition gives, counted from what it is anchored on."""
    if definition is None:
        return None
    if definition.anchor == MilestoneDefinition.Anchor.GOAL_START:
        start = goal.starts_on if goal is not None else None
    else:
        start = member.joined_on
    if start is None:
        return None
    try:
        return start + dt.timedelta(days=definition.expected_after_days)
    except OverflowError:
        # A start near the calendar's end (a typo, usually): say so rather than fail.
        raise ValidationError(
            {"due_on": "Counted from its start, this would fall past the year 9999: give it."}
        ) from None


@transaction.atomic
def milestone_add(
    *,
    organization: Organization,
    member: Member,
    name: str,
    type: str,
    due_on: dt.date | None = None,
    goal: Goal | None = None,
    definition: MilestoneDefinition | None = None,
) -> ProgressMilestone:
    """Add one milestone to a member, ad hoc or from a definition.

    A strategic milestone is the goal itself, so it needs one of the member's goals. From a
    definition, the type must be the definition's, an empty name takes the definition's, and
    an empty due date is counted from what the definition is anchored on.
    """
    require_same_organization(organization, member=member, goal=goal, definition=definition)
    name = name.strip() or (definition.name if definition is not None else "")
    errors = _milestone_add_errors(
        organization=organization,
        member=member,
        name=name,
        type=type,
        goal=goal,
        definition=definition,
    )
    if errors:
        raise ValidationError(errors)
    milestone = ProgressMilestone(
        organization=organization,
        member=member,
        goal=goal,
        definition=definition,
        name=name,
        type=type,
        due_on=due_on if due_on is not None else _default_due_on(member, goal, definition),
    )
    _clean(milestone, exclude=["organization", "member", "goal", "definition", "context_event"])
    milestone.save()
    return milestone


@transaction.atomic
def milestone_record(
    *,
    organization: Organization,
    member: Member,
    name: str,
    type: str,
    due_on: dt.date | None = None,
    goal: Goal | None = None,
    definition: MilestoneDefinition | None = None,
    achieved_at: dt.datetime | None = None,
    via: str = ProgressMilestone.Via.API,
) -> ProgressMilestone:
    """Add a milestone, already achieved when ``achieved_at`` is given: integrators often
    report a milestone after it happened, and it must not be seen pending in between.

    The rules are ``milestone_add``'s and ``milestone_achieve``'s, reported together; a
    refusal of either writes nothing.
    """
    errors: dict[str, list[str]] = {}
    if achieved_at is not None:
        try:
            _moment_or_error(achieved_at, "achieved_at")
        except ValidationError as error:
            errors.update(error.message_dict)
    try:
        milestone = milestone_add(
            organization=organization,
            member=member,
            name=name,
            type=type,
            due_on=due_on,
            goal=goal,
            definition=definition,
        )
    except ValidationError as error:
        raise ValidationError({**error.message_dict, **errors}) from error
    if errors:
        raise ValidationError(errors)  # the atomic block drops the milestone just added
    if achieved_at is not None:
        milestone_achieve(
            organization=organization, milestone=milestone, via=via, achieved_at=achieved_at
        )
    return milestone


@transaction.atomic
def milestone_achieve(
    *,
    organization: Organization,
    milestone: ProgressMilestone,
    via: str = ProgressMilestone.Via.MANUAL,
    achieved_at: dt.datetime | None = None,
) -> ProgressMilestone:
    """Mark a milestone achieved, once.

    A conditional UPDATE (``achieved_at IS NULL``) decides, so a second click, an API retry or
    a matching event arriving at the same moment cannot achieve it twice or move its date.
    """
    require_same_organization(organization, milestone=milestone)
    if via not in ProgressMilestone.Via.values:
        raise ValidationError({"via": f"Choose one of: {', '.join(ProgressMilestone.Via.values)}."})
    achieved_at = _moment_or_error(achieved_at, "achieved_at")
    stamp = timezone.now()
    updated = (
        ProgressMilestone.objects.for_org(organization)
        .filter(pk=milestone.pk, achieved_at__isnull=True)
        .update(achieved_at=achieved_at, achieved_via=via, context_event=None, updated_at=stamp)
    )
    if not updated:
        stored = (
            ProgressMilestone.objects.for_org(organization)
            .filter(pk=milestone.pk)
            .values_list("achieved_at", flat=True)
            .first()
        )
        if stored is None:
            raise ValidationError({"milestone": "This milestone no longer exists."})
        on = _org_date(organization, stored)
        raise ValidationError({"milestone": f"This milestone was already achieved on {on}."})
    _announce_achievements(organization, [milestone.pk], stamp)
    before = audit_snapshot(milestone, "achieved_at", "achieved_via")
    milestone.achieved_at, milestone.achieved_via, milestone.context_event = achieved_at, via, None
    audit_record(
        organization=organization, action="milestone.achieve", instance=milestone, before=before
    )
    return milestone


@transaction.atomic
def milestone_reopen(
    *, organization: Organization, milestone: ProgressMilestone
) -> ProgressMilestone:
    """Take back an achievement marked by mistake (a person decides; rules never reopen).

    The milestone is pending again; an event that already matched it does not re-achieve it,
    only a new one will.
    """
    require_same_organization(organization, milestone=milestone)
    updated = (
        ProgressMilestone.objects.for_org(organization)
        .filter(pk=milestone.pk, achieved_at__isnull=False)
        .update(achieved_at=None, achieved_via="", context_event=None, updated_at=timezone.now())
    )
    if not updated:
        raise ValidationError({"milestone": "This milestone is not achieved, so it stays open."})
    before = audit_snapshot(milestone, "achieved_at", "achieved_via")
    milestone.achieved_at, milestone.achieved_via, milestone.context_event = None, "", None
    audit_record(
        organization=organization, action="milestone.reopen", instance=milestone, before=before
    )
    return milestone


def _announce_achievements(organization: Organization, pks: Iterable[int], stamp) -> int:
    """Write a ``milestone.achieved`` domain event (for webhooks and triggers) for each of
    ``pks`` that this call achieved — recognised by the ``updated_at`` it stamped, so a row a
    concurrent writer achieved first is not announced twice. One read, one insert."""
    rows = (
        ProgressMilestone.objects.for_org(organization)
        .filter(pk__in=list(pks), updated_at=stamp, achieved_at__isnull=False)
        .values_list(
            "pk",
            "member_id",
            "definition_id",
            "type",
            "achieved_at",
            "achieved_via",
            "context_event_id",
        )
    )
    events = [
        DomainEvent(
            organization=organization,
            kind=DomainEvent.Kind.MILESTONE_ACHIEVED,
            subject_id=pk,
            occurred_at=achieved_at,
            payload={
                "milestone_id": pk,
                "member_id": member_id,
                "definition_id": definition_id,
                "type": milestone_type,
                "achieved_at": achieved_at.isoformat(),
                "via": via,
                "context_event_id": context_event_id,
            },
        )
        for pk, member_id, definition_id, milestone_type, achieved_at, via, context_event_id in rows
    ]
    DomainEvent.objects.for_org(organization).bulk_create(events)
    return len(events)


# --- matching context events -------------------------------------------------------------------


@transaction.atomic
def milestones_achieve_from_context_event(
    *, organization: Organization, event: ContextEvent
) -> list[ProgressMilestone]:
    """Achieve the member's pending milestones whose definition's rule this event matches.

    One conditional UPDATE (``achieved_at IS NULL``) so a milestone is achieved once, even when
    the same kind of event arrives twice or two workers race.
    """
    rule = Q(definition__match_event_name=event.name)
    if event.value is None:
        rule &= Q(definition__match_min_value__isnull=True)
    else:
        rule &= Q(definition__match_min_value__isnull=True) | Q(
            definition__match_min_value__lte=event.value
        )
    pending = ProgressMilestone.objects.for_org(organization).filter(
        rule, member_id=event.member_id, achieved_at__isnull=True
    )
    ids = list(pending.values_list("pk", flat=True))
    if not ids:
        return []
    stamp = timezone.now()
    achieved = (
        ProgressMilestone.objects.for_org(organization)
        .filter(pk__in=ids, achieved_at__isnull=True)
        .update(
            achieved_at=event.occurred_at,
            achieved_via=ProgressMilestone.Via.RULE,
            context_event=event,
            updated_at=stamp,
        )
    )
    _announce_achievements(organization, ids, stamp)
    if achieved:
        audit_record(
            organization=organization,
            action="milestones.achieve_by_rule",
            model=ProgressMilestone,
            changes={"achieved": achieved, "context_event": event.pk},
        )
    return list(ProgressMilestone.objects.for_org(organization).filter(pk__in=ids))


def _event_matches(event: ContextEvent, min_value: Decimal | None) -> bool:
    """The same value rule as the single-event matcher, in Python."""
    if min_value is None:
        return True
    if event.value is None:
        return False
    value = event.value if isinstance(event.value, Decimal) else Decimal(str(event.value))
    return value >= min_value


def _winning_events(
    organization: Organization, events: list[ContextEvent]
) -> dict[ContextEvent, list[int]]:
    """For each pending milestone some event of the batch matches, the earliest such event
    (by time, then id): one query for every candidate milestone of the batch."""
    by_member_name: dict[tuple[int, str], list[ContextEvent]] = {}
    for event in sorted(events, key=lambda e: (e.occurred_at, e.pk)):
        by_member_name.setdefault((event.member_id, event.name), []).append(event)
    candidates = (
        ProgressMilestone.objects.for_org(organization)
        .filter(
            achieved_at__isnull=True,
            member_id__in={member_id for member_id, _ in by_member_name},
            definition__match_event_name__in={name for _, name in by_member_name},
        )
        .values_list(
            "pk", "member_id", "definition__match_event_name", "definition__match_min_value"
        )
    )
    winners: dict[ContextEvent, list[int]] = {}
    for pk, member_id, event_name, min_value in candidates:
        for event in by_member_name.get((member_id, event_name), ()):
            if _event_matches(event, min_value):
                winners.setdefault(event, []).append(pk)
                break
    return winners


@transaction.atomic
def milestones_achieve_from_context_events(
    *, organization: Organization, events: Iterable[ContextEvent]
) -> int:
    """The batch form of ``milestones_achieve_from_context_event``, for bulk ingest.

    One read finds every pending milestone the batch can achieve; each is achieved by the
    earliest event that matches it (the same result as handing the events one by one, in time
    order, to the single-event matcher); one conditional UPDATE (``achieved_at IS NULL``)
    writes them all, so a repeated event or a concurrent worker achieves nothing twice.
    Returns how many milestones this call achieved.
    """
    events = list(events)
    for event in events:
        require_same_organization(organization, events=event)
        if event.pk is None:
            raise ValidationError({"events": "Store the context events before matching them."})
    # The same event twice in a batch counts once; an event with no name matches no rule.
    batch = {event.pk: event for event in events if event.name}
    if not batch:
        return 0
    assignments = [
        (event, pk)
        for event, pks in _winning_events(organization, list(batch.values())).items()
        for pk in pks
    ]
    achieved = 0
    for start in range(0, len(assignments), _ACHIEVE_CHUNK):
        achieved += _achieve_chunk(organization, assignments[start : start + _ACHIEVE_CHUNK])
    if achieved:  # one summary per batch, not one entry per milestone
        audit_record(
            organization=organization,
            action="milestones.achieve_by_rule",
            model=ProgressMilestone,
            changes={"achieved": achieved, "context_events": len(batch)},
        )
    return achieved


def _achieve_chunk(organization: Organization, assignments: list[tuple[ContextEvent, int]]) -> int:
    """One UPDATE giving each milestone its event's id and time, grouped by event so the
    statement grows with the milestones, not with milestones times fields."""
    by_event: dict[ContextEvent, list[int]] = {}
    for event, pk in assignments:
        by_event.setdefault(event, []).append(pk)
    stamp = timezone.now()
    achieved = (
        ProgressMilestone.objects.for_org(organization)
        .filter(pk__in=[pk for _, pk in assignments], achieved_at__isnull=True)
        .update(
            achieved_at=Case(
                *(
                    When(pk__in=pks, then=Value(event.occurred_at))
                    for event, pks in by_event.items()
                ),
                output_field=models.DateTimeField(),
            ),
            context_event=Case(
                *(When(pk__in=pks, then=Value(event.pk)) for event, pks in by_event.items()),
                output_field=models.BigIntegerField(),
            ),
            achieved_via=ProgressMilestone.Via.RULE,
            updated_at=stamp,
        )
    )
    _announce_achievements(organization, [pk for _, pk in assignments], stamp)
    return achieved


# --- joint accountability ----------------------------------------------------------------------


@transaction.atomic
def commitment_add(
    *,
    organization: Organization,
    goal: Goal,
    party: str,
    description: str,
    owner_seat: Seat | None = None,
    owner_name: str = "",
    due_on: dt.date | None = None,
) -> Commitment:
    """Add a commitment to a goal's joint-accountability plan, for the goal's member.

    A seat (someone of ours) owns only what is ours to do — together, or behind the scenes;
    what the member does, inside or outside our offerings, is theirs, named by ``owner_name``.
    """
    require_same_organization(organization, goal=goal, owner_seat=owner_seat)
    description, owner_name = description.strip(), owner_name.strip()
    errors: dict[str, str] = {}
    if party not in Commitment.Party.values:
        errors["party"] = f"Choose one of: {', '.join(Commitment.Party.values)}."
    elif owner_seat is not None and party not in Commitment.OUR_SIDE:
        errors["owner_seat"] = (
            "This commitment is the member's to keep; name who on their side owns it instead."
        )
    if not description:
        errors["description"] = "Say what is committed."
    if errors:
        raise ValidationError(errors)
    commitment = Commitment(
        organization=organization,
        goal=goal,
        member_id=goal.member_id,
        party=party,
        description=description,
        owner_seat=owner_seat,
        owner_name=owner_name,
        due_on=due_on,
    )
    _clean(commitment, exclude=["organization", "goal", "member", "owner_seat"])
    commitment.save()
    return commitment


@transaction.atomic
def commitment_complete(
    *,
    organization: Organization,
    commitment: Commitment,
    done_at: dt.datetime | None = None,
) -> Commitment:
    """Mark a commitment kept, once (a conditional UPDATE, like achieving a milestone)."""
    require_same_organization(organization, commitment=commitment)
    done_at = _moment_or_error(done_at, "done_at")
    updated = (
        Commitment.objects.for_org(organization)
        .filter(pk=commitment.pk, done_at__isnull=True)
        .update(done_at=done_at, updated_at=timezone.now())
    )
    if not updated:
        stored = (
            Commitment.objects.for_org(organization)
            .filter(pk=commitment.pk)
            .values_list("done_at", flat=True)
            .first()
        )
        if stored is None:
            raise ValidationError({"commitment": "This commitment no longer exists."})
        on = _org_date(organization, stored)
        raise ValidationError({"commitment": f"This commitment was already done on {on}."})
    audit_record(
        organization=organization,
        action="commitment.complete",
        instance=commitment,
        changes={"done_at": [commitment.done_at, done_at]},
    )
    commitment.done_at = done_at
    return commitment


@transaction.atomic
def commitment_reopen(*, organization: Organization, commitment: Commitment) -> Commitment:
    """Put a commitment marked done by mistake back in the plan."""
    require_same_organization(organization, commitment=commitment)
    updated = (
        Commitment.objects.for_org(organization)
        .filter(pk=commitment.pk, done_at__isnull=False)
        .update(done_at=None, updated_at=timezone.now())
    )
    if not updated:
        raise ValidationError({"commitment": "This commitment is not done, so it stays open."})
    audit_record(
        organization=organization,
        action="commitment.reopen",
        instance=commitment,
        changes={"done_at": [commitment.done_at, None]},
    )
    commitment.done_at = None
    return commitment
