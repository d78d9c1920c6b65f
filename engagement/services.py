"""Writes for engagement and context. Every function is atomic and checks organizations.

Bad input is refused before anything is written, with a ``ValidationError`` keyed by the field
at fault, so the browser and the API can show the error next to the field.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from engagement.choices import ONE_TO_MANY_TYPES, EngagementType
from engagement.models import ContextEvent, Engagement
from members.models import Member
from outcomes.models import Goal
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization
from tenancy.scope import UnscopedQueryError, current_organization_id

# Clocks drift: an engagement logged "now" on a laptop a few seconds ahead is still now.
FUTURE_TOLERANCE = dt.timedelta(minutes=1)

# Context event names are keys that milestone rules match on, so they stay machine-like.
EVENT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")

# ContextEvent.value is DecimalField(max_digits=14, decimal_places=4).
VALUE_PLACES = Decimal("0.0001")
VALUE_LIMIT = Decimal("1e10")


# --- shared checks -------------------------------------------------------------------------


def _merge_organization_errors(
    errors: dict[str, str], organization: Organization, **related: Any
) -> None:
    """Collect ``require_same_organization`` errors with the others, so one answer lists all."""
    try:
        require_same_organization(organization, **related)
    except ValidationError as exc:
        errors.update({field: messages[0] for field, messages in exc.message_dict.items()})


def _check_choice(errors: dict[str, str], field: str, value: str, choices: Any) -> None:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        errors[field] = f"{value!r} is not a known {field}. Use one of: {allowed}."


def _check_occurred_at(errors: dict[str, str], occurred_at: Any) -> None:
    """An interaction or a data point is something that happened: not in the future."""
    if not isinstance(occurred_at, dt.datetime):
        errors["occurred_at"] = "Give the date and time it happened."
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = "Give the time with its time zone."
    elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = "This is in the future: record it once it has happened."


def _check_saved(errors: dict[str, str], **objects: Any) -> None:
    for field, obj in objects.items():
        if obj is not None and obj.pk is None:
            errors[field] = f"This {field} has not been saved yet."


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError(errors)


def _require_scope_matches(organization: Organization) -> None:
    """``bulk_create`` skips ``TenantModel.save``; apply its guard ourselves."""
    scope = current_organization_id()
    if scope is not None and scope != organization.pk:
        raise UnscopedQueryError(
            f"Refusing to write rows of organization {organization.pk} inside the scope of "
            f"organization {scope}."
        )


# --- engagement ----------------------------------------------------------------------------


@transaction.atomic
def engagement_record(
    *,
    organization: Organization,
    member: Member,
    direction: str,
    type: str,  # the model field's name: callers pass type=...
    occurred_at: dt.datetime,
    seat: Seat | None = None,
    summary: str = "",
    goal: Goal | None = None,
    duration_minutes: int | None = None,
) -> Engagement:
    """Record one interaction with a member. ``seat`` None means automated engagement.

    The direction is what lets teams see how much of their time is spent reacting; a goal,
    when given, must be this member's own, so the engagement counts toward the right outcome.
    """
    errors: dict[str, str] = {}
    _merge_organization_errors(errors, organization, member=member, seat=seat, goal=goal)
    _check_saved(errors, member=member, seat=seat, goal=goal)
    _check_choice(errors, "direction", direction, Engagement.Direction)
    _check_choice(errors, "type", type, EngagementType)
    _check_occurred_at(errors, occurred_at)
    if goal is not None and "goal" not in errors and goal.member_id != member.pk:
        errors["goal"] = "This goal belongs to another member."
    if duration_minutes is not None and (
        isinstance(duration_minutes, bool)
        or not isinstance(duration_minutes, int)
        or duration_minutes < 0
    ):
        errors["duration_minutes"] = "Give the duration as a whole number of minutes (0 or more)."
    _raise(errors)
    engagement = Engagement(
        organization=organization,
        member=member,
        seat=seat,
        direction=direction,
        type=type,
        occurred_at=occurred_at,
        summary=(summary or "").strip(),
        goal=goal,
        duration_minutes=duration_minutes,
    )
    # Related rows were checked above; skip the per-field existence queries.
    engagement.full_clean(exclude=["organization", "member", "seat", "goal"])
    engagement.save()
    return engagement


def _distinct_members(members: Iterable[Member]) -> list[Member]:
    """The members in the order given, each once (a list pasted twice is one audience)."""
    seen: set[int | None] = set()
    unique = []
    for member in members:
        key = member.pk if member.pk is not None else id(member)
        if key not in seen:
            seen.add(key)
            unique.append(member)
    return unique


@transaction.atomic
def engagement_record_for_many(
    *,
    organization: Organization,
    members: Iterable[Member],
    direction: str,
    type: str,  # the model field's name
    occurred_at: dt.datetime,
    seat: Seat | None = None,
    summary: str = "",
) -> list[Engagement]:
    """Record one 1:many engagement (a webinar, a broadcast video, an event) for its audience.

    Each member gets their own row, so their history and their experience fulfilment see it;
    the rows share a ``group_key`` so the engagement can be shown and counted once. All rows are
    written in one insert, or none when any member is refused.
    """
    audience = _distinct_members(members)
    errors: dict[str, str] = {}
    _merge_organization_errors(errors, organization, seat=seat)
    _check_saved(errors, seat=seat)
    _check_choice(errors, "direction", direction, Engagement.Direction)
    if not isinstance(type, str) or type not in ONE_TO_MANY_TYPES:
        allowed = ", ".join(sorted(ONE_TO_MANY_TYPES))
        errors["type"] = (
            f"{type!r} is not a 1:many engagement type; record it for each member on its own. "
            f"1:many types: {allowed}."
        )
    _check_occurred_at(errors, occurred_at)
    if not audience:
        errors["members"] = "Choose at least one member."
    else:
        foreign = [m for m in audience if m.organization_id != organization.pk or m.pk is None]
        if foreign:
            errors["members"] = (
                f"{len(foreign)} of these members do not belong to this organization; "
                "nothing was recorded."
            )
    _raise(errors)
    _require_scope_matches(organization)
    group_key = uuid.uuid4()
    rows = [
        Engagement(
            organization=organization,
            member=member,
            seat=seat,
            direction=direction,
            type=type,
            occurred_at=occurred_at,
            summary=(summary or "").strip(),
            group_key=group_key,
        )
        for member in audience
    ]
    rows[0].full_clean(exclude=["organization", "member", "seat", "goal"])
    return Engagement.objects.for_org(organization).bulk_create(rows)


# --- context -------------------------------------------------------------------------------


def _clean_value(errors: dict[str, str], value: Any) -> Decimal | None:
    """A context value is a number (a count, a score, an amount) or nothing.

    Numbers arriving as text (``"12.5"``, common in imports) are accepted; words are not.
    The value is kept to the four decimal places the column stores.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        errors["value"] = "Give a number, or leave the value empty."
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors["value"] = f"{value!r} is not a number."
        return None
    if not number.is_finite():
        errors["value"] = "Give a finite number."
        return None
    if abs(number) >= VALUE_LIMIT:
        errors["value"] = "This number is too large (at most 9,999,999,999.9999)."
        return None
    return number.quantize(VALUE_PLACES)


def _clean_context_event_input(
    *,
    organization: Organization,
    member: Member,
    kind: str,
    name: str,
    occurred_at: dt.datetime,
    value: Any,
    source: str,
    payload: Any,
    external_id: str,
) -> tuple[str, Decimal | None, dict[str, Any], str]:
    """Validate everything first; return the cleaned name, value, payload and external id."""
    errors: dict[str, str] = {}
    _merge_organization_errors(errors, organization, member=member)
    _check_saved(errors, member=member)
    _check_choice(errors, "kind", kind, ContextEvent.Kind)
    _check_choice(errors, "source", source, ContextEvent.Source)
    clean_name = (name or "").strip() if isinstance(name, str) else ""
    if not EVENT_NAME_PATTERN.fullmatch(clean_name):
        errors["name"] = (
            "Give a short name of letters, digits, underscores, dots or dashes "
            "(at most 100 characters), e.g. course_completed."
        )
    clean_value = _clean_value(errors, value)
    if payload is not None and not isinstance(payload, dict):
        errors["payload"] = "The payload must be an object (key: value pairs)."
    clean_external_id = (external_id or "").strip() if isinstance(external_id, str) else None
    if clean_external_id is None or len(clean_external_id) > 120:
        errors["external_id"] = "Give the external id as text of at most 120 characters."
    _check_occurred_at(errors, occurred_at)
    _raise(errors)
    return clean_name, clean_value, dict(payload or {}), clean_external_id or ""


def _event_by_external_id(organization: Organization, external_id: str) -> ContextEvent | None:
    return ContextEvent.objects.for_org(organization).filter(external_id=external_id).first()


@transaction.atomic
def context_event_record(
    *,
    organization: Organization,
    member: Member,
    kind: str,
    name: str,
    occurred_at: dt.datetime,
    value: Decimal | int | float | None = None,
    source: str = ContextEvent.Source.MANUAL,
    payload: dict[str, Any] | None = None,
    external_id: str = "",
) -> ContextEvent:
    """Record one context event, once: a re-sent external id returns the stored event.

    Integrators retry; idempotency by external id (per organization) makes a retry harmless.
    A new event achieves the member's pending milestones whose rule it matches; a re-sent one
    achieves nothing again.
    """
    from milestones.services import milestones_achieve_from_context_event

    name, clean_value, clean_payload, external_id = _clean_context_event_input(
        organization=organization,
        member=member,
        kind=kind,
        name=name,
        occurred_at=occurred_at,
        value=value,
        source=source,
        payload=payload,
        external_id=external_id,
    )
    if external_id:
        existing = _event_by_external_id(organization, external_id)
        if existing is not None:
            return existing
    event = ContextEvent(
        organization=organization,
        member=member,
        kind=kind,
        name=name,
        value=clean_value,
        occurred_at=occurred_at,
        source=source,
        payload=clean_payload,
        external_id=external_id,
    )
    # The unique external id is enforced by the lookup above and the database constraint
    # below; Django's own constraint check would query through the fail-closed manager.
    event.full_clean(exclude=["organization", "member"], validate_constraints=False)
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        # Another request stored the same external id between our check and our insert.
        existing = _event_by_external_id(organization, external_id) if external_id else None
        if existing is None:
            raise
        return existing
    milestones_achieve_from_context_event(organization=organization, event=event)
    return event
