"""Writes for engagement and context. Every function is atomic and checks organizations.

Bad input is refused before anything is written, with a ``ValidationError`` keyed by the field
at fault, so the browser and the API can show the error next to the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record
from engagement.choices import ONE_TO_MANY_TYPES, EngagementType
from engagement.models import ContextEvent, Engagement, IngestFollowUp
from members.models import Member
from outcomes.models import Goal
from tenancy.models import Organization, Seat
from tenancy.rules import NUL_REFUSED, contains_nul, require_same_organization
from tenancy.scope import UnscopedQueryError, current_organization_id

logger = logging.getLogger(__name__)

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


@functools.cache
def _choice_values(choices: Any) -> frozenset[str]:
    """The allowed values of a choices class, computed once: a batch checks thousands."""
    return frozenset(choices.values)


def _check_choice(errors: dict[str, str], field: str, value: str, choices: Any) -> None:
    if not isinstance(value, str) or value not in _choice_values(choices):
        allowed = ", ".join(choices.values)
        errors[field] = f"{value!r} is not a known {field}. Use one of: {allowed}."


# Older instants are typing mistakes, and near year 1 they cannot be converted between zones.
EARLIEST_OCCURRED_AT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _check_occurred_at(errors: dict[str, str], occurred_at: Any) -> None:
    """An interaction or a data point is something that happened: not in the future."""
    if not isinstance(occurred_at, dt.datetime):
        errors["occurred_at"] = "Give the date and time it happened."
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = "Give the time with its time zone."
    elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = "This is in the future: record it once it has happened."
    elif occurred_at < EARLIEST_OCCURRED_AT:
        errors["occurred_at"] = "Give a date in 1900 or later."


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
    created = Engagement.objects.for_org(organization).bulk_create(rows)
    audit_record(
        organization=organization,
        action="engagement.record_for_many",
        model=Engagement,
        changes={"stored": len(created), "type": type, "group_key": str(group_key)},
    )
    return created


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
    cleaned = _clean_context_event_fields(
        errors,
        kind=kind,
        name=name,
        occurred_at=occurred_at,
        value=value,
        source=source,
        payload=payload,
        external_id=external_id,
    )
    _raise(errors)
    return cleaned


def _clean_context_event_fields(
    errors: dict[str, str],
    *,
    kind: Any,
    name: Any,
    occurred_at: Any,
    value: Any,
    source: Any,
    payload: Any,
    external_id: Any,
) -> tuple[str, Decimal | None, dict[str, Any], str]:
    """The checks of one event's own fields, collected into ``errors`` rather than raised, so
    the single-event service and the bulk ingest refuse the same input with the same words."""
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
    elif contains_nul(payload):
        errors["payload"] = NUL_REFUSED
    clean_external_id = (external_id or "").strip() if isinstance(external_id, str) else None
    if clean_external_id is None or len(clean_external_id) > 120:
        errors["external_id"] = "Give the external id as text of at most 120 characters."
    elif contains_nul(clean_external_id):
        errors["external_id"] = NUL_REFUSED
    _check_occurred_at(errors, occurred_at)
    clean_payload = dict(payload) if isinstance(payload, dict) else {}
    return clean_name, clean_value, clean_payload, clean_external_id or ""


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
    event, _created = context_event_record_once(
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
    return event


@transaction.atomic
def context_event_record_once(
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
) -> tuple[ContextEvent, bool]:
    """``context_event_record``, also saying whether this call stored the event (True) or
    found it already stored under the same external id (False): the API answers 201 or 200."""
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
            return existing, False
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
        return existing, False
    milestones_achieve_from_context_event(organization=organization, event=event)
    return event, True


# --- bulk ingest ---------------------------------------------------------------------------

# Columns of one ingested row; the statement carries len(INGEST_COLUMNS) parameters per row.
INGEST_COLUMNS = (
    "organization",
    "member",
    "kind",
    "name",
    "value",
    "occurred_at",
    "source",
    "payload",
    "external_id",
    "recorded_at",
)
# Below SQLite's (32,766) and PostgreSQL's (65,535) limits on parameters per statement.
INGEST_MAX_PARAMETERS = 30_000
INGEST_ROWS_PER_STATEMENT = INGEST_MAX_PARAMETERS // len(INGEST_COLUMNS)

VANISHED = (
    "An event with this external id was removed while this one was being stored; send it again."
)

# Member.pk is a BigAutoField: an id outside it names no member (and must not reach the SQL).
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class IngestAccepted:
    """An item stored by this call, or found already stored under its external id."""

    index: int
    id: int
    member_id: int
    external_id: str
    already_stored: bool


@dataclass(frozen=True)
class IngestRefused:
    """An item refused, with the reason for each field at fault; nothing of it was stored."""

    index: int
    errors: dict[str, str]


@dataclass
class IngestResult:
    accepted: list[IngestAccepted] = dataclass_field(default_factory=list)
    refused: list[IngestRefused] = dataclass_field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for item in self.accepted if not item.already_stored)


@dataclass(slots=True)
class _IngestRow:
    """A checked item's values, as they go into the INSERT (no model instance: a batch makes
    thousands, and a model's ``__init__`` costs more than the whole check)."""

    kind: str
    name: str
    value: Decimal | None
    occurred_at: dt.datetime
    source: str
    payload: dict[str, Any]
    external_id: str
    member_id: int | None = None


@dataclass
class _Candidate:
    """A valid item on its way to the database: its position in the request and its row."""

    index: int
    row: _IngestRow
    duplicate_of: _Candidate | None = None
    id: int | None = None
    member_id: int | None = None  # the stored row's: a re-sent id keeps its first member
    already_stored: bool = False


def _parse_occurred_at(value: Any) -> Any:
    """ISO 8601 text becomes a datetime; anything unreadable is left for the shared check."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            return parse_datetime(value.strip()) or value
        except ValueError:  # well-formed but impossible, e.g. the 31st of June
            return value
    return value


def _member_reference(errors: dict[str, str], item: Mapping[str, Any]) -> int | str | None:
    """The member an item names: an id (int) or the organization's own external id (str)."""
    member_id, external_id = item.get("member_id"), item.get("member_external_id")
    if (member_id is None) == (external_id is None):
        errors["member_id"] = "Name the member by member_id or by member_external_id (one)."
        return None
    if member_id is not None:
        if isinstance(member_id, bool) or not isinstance(member_id, int):
            errors["member_id"] = "Give the member's id as a whole number."
            return None
        return member_id
    cleaned = external_id.strip() if isinstance(external_id, str) else ""
    if not cleaned or len(cleaned) > Member._meta.get_field("external_id").max_length:
        errors["member_external_id"] = "Give the member's external id as text of 1-100 characters."
        return None
    if contains_nul(cleaned):
        errors["member_external_id"] = NUL_REFUSED
        return None
    return cleaned


def _clean_ingest_item(
    item: Any, source: str
) -> tuple[dict[str, str], int | str | None, _IngestRow | None]:
    """Check one item the way ``context_event_record`` checks its arguments; the member is
    resolved later, for the whole batch at once."""
    if not isinstance(item, Mapping):
        return {"non_field_errors": "Each event must be an object (key: value pairs)."}, None, None
    errors: dict[str, str] = {}
    reference = _member_reference(errors, item)
    occurred_at = _parse_occurred_at(item.get("occurred_at"))
    name, value, payload, external_id = _clean_context_event_fields(
        errors,
        kind=item.get("kind"),
        name=item.get("name"),
        occurred_at=occurred_at,
        value=item.get("value"),
        source=source,
        payload=item.get("payload"),
        external_id=item.get("external_id", ""),
    )
    if errors:
        return errors, None, None
    row = _IngestRow(item["kind"], name, value, occurred_at, source, payload, external_id)
    return errors, reference, row


def _resolve_members(
    organization: Organization, references: Iterable[int | str]
) -> tuple[set[int], dict[str, int]]:
    """Which of the referenced ids are this organization's members, and the member id of each
    referenced external id: one query for the whole batch."""
    references = list(references)
    ids = {ref for ref in references if isinstance(ref, int) and 0 < ref <= _MAX_ID}
    external_ids = {ref for ref in references if isinstance(ref, str)}
    if not ids and not external_ids:
        return set(), {}
    match = Q(pk__in=ids) if ids else Q()
    if external_ids:
        # "<> ''" repeats the partial unique index's condition, so the index serves the lookup.
        by_external = Q(external_id__in=external_ids) & ~Q(external_id="")
        match = (match | by_external) if ids else by_external
    known_ids: set[int] = set()
    by_external_id: dict[str, int] = {}
    for pk, external_id in (
        Member.objects.for_org(organization)
        .filter(match)
        .order_by()
        .values_list("pk", "external_id")
    ):
        known_ids.add(pk)
        if external_id:
            by_external_id[external_id] = pk
    return known_ids & ids, by_external_id


def _insert_statement(connection: Any, rows: int) -> str:
    meta = ContextEvent._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in INGEST_COLUMNS)
    row = "(" + ", ".join(["%s"] * len(INGEST_COLUMNS)) + ")"
    returning = f"{quote(meta.pk.column)}, {quote(meta.get_field('external_id').column)}"
    # Only quoted names of our own table and columns are formatted in; values are parameters.
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {returning}"
    )


def _insert_parameters(
    connection: Any, organization: Organization, rows: list[_IngestRow]
) -> list[Any]:
    """The values of ``rows`` in INGEST_COLUMNS order, adapted for the database as the model's
    fields would adapt them (times, decimals and JSON differ between SQLite and PostgreSQL)."""
    ops = connection.ops
    encoder = ContextEvent._meta.get_field("payload").encoder
    recorded_at = ops.adapt_datetimefield_value(timezone.now())
    parameters: list[Any] = []
    for row in rows:
        value = None if row.value is None else ops.adapt_decimalfield_value(row.value, 14, 4)
        parameters += (
            organization.pk,
            row.member_id,
            row.kind,
            row.name,
            value,
            ops.adapt_datetimefield_value(row.occurred_at),
            row.source,
            # JSON text: both databases convert it to the column's type (jsonb on PostgreSQL),
            # and the driver quotes plain text faster than its JSON adapter.
            json.dumps(row.payload, cls=encoder),
            row.external_id,
            recorded_at,
        )
    return parameters


def _insert_new(organization: Organization, rows: list[_IngestRow]) -> list[tuple[int, str]]:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id, external_id`` for the batch.

    Rows whose external id is already taken in the organization are skipped by the database,
    so a re-send (or a concurrent copy of the same batch) stores nothing twice; the rows
    returned are exactly those this statement stored, in the order given (the order Django's
    own ``bulk_create`` relies on). ``bulk_create(ignore_conflicts=True)`` cannot say which
    rows it stored, and building a model instance per row costs more than the insert itself,
    hence one statement written here (the same SQL on SQLite and PostgreSQL).
    """
    connection = connections[router.db_for_write(ContextEvent)]
    stored: list[tuple[int, str]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INGEST_ROWS_PER_STATEMENT):
            chunk = rows[start : start + INGEST_ROWS_PER_STATEMENT]
            cursor.execute(
                _insert_statement(connection, len(chunk)),
                _insert_parameters(connection, organization, chunk),
            )
            stored.extend((pk, external_id) for pk, external_id in cursor.fetchall())
    return stored


def _assign_ids(organization: Organization, candidates: list[_Candidate]) -> list[_Candidate]:
    """Insert the first copy of each external id; give every candidate its stored row's id and
    member (None when that row vanished meanwhile). Returns the candidates this call stored."""
    first = [c for c in candidates if c.duplicate_of is None]
    stored = _insert_new(organization, [c.row for c in first])
    by_external_id = {external_id: pk for pk, external_id in stored if external_id}
    anonymous = iter(pk for pk, external_id in stored if not external_id)
    new, taken = [], []
    for candidate in first:
        external_id = candidate.row.external_id
        pk = by_external_id.get(external_id) if external_id else next(anonymous)
        if pk is None:
            taken.append(candidate)
        else:
            candidate.id = pk
            candidate.member_id = candidate.row.member_id
            new.append(candidate)
    if taken:
        existing = {
            external_id: (pk, member_id)
            for external_id, pk, member_id in ContextEvent.objects.for_org(organization)
            .filter(external_id__in={c.row.external_id for c in taken})
            .exclude(external_id="")  # the partial unique index's condition: it serves the read
            .values_list("external_id", "pk", "member_id")
        }
        for candidate in taken:
            candidate.id, candidate.member_id = existing.get(
                candidate.row.external_id, (None, None)
            )
            candidate.already_stored = True
    for candidate in candidates:
        if candidate.duplicate_of is not None:
            candidate.id, candidate.member_id = (
                candidate.duplicate_of.id,
                candidate.duplicate_of.member_id,
            )
            candidate.already_stored = True
    return new


def _send_follow_up(organization_id: int, event_ids: list[int], follow_up_id: int) -> None:
    from engagement.tasks import context_events_ingested

    context_events_ingested.apply_async(
        kwargs={
            "organization_id": organization_id,
            "event_ids": event_ids,
            "follow_up_id": follow_up_id,
        },
        expires=24 * 3600,
    )


@transaction.atomic
def context_events_follow_up(
    *, organization: Organization, event_ids: Iterable[int], follow_up_id: int | None = None
) -> int:
    """What a stored batch sets off, run by the worker once the batch has committed: achieve
    the pending milestones its events match (set-based, earliest event first, as
    ``milestones_achieve_from_context_events`` does), then mark the members' success gaps stale
    so one debounced recompute scores them with those milestones. Returns the milestones
    achieved. Events no longer stored are skipped; running it twice achieves nothing twice.
    ``follow_up_id`` names the batch's ``IngestFollowUp``, marked done in the same transaction.
    """
    from milestones.services import milestones_achieve_from_context_events
    from outcomes.recompute import member_score_changed, recompute_batch

    if follow_up_id is not None:
        IngestFollowUp.objects.for_org(organization).filter(
            pk=follow_up_id, done_at__isnull=True
        ).update(done_at=timezone.now())
    events = list(
        ContextEvent.objects.for_org(organization)
        .filter(pk__in=list(event_ids))
        .only("pk", "organization_id", "member_id", "name", "value", "occurred_at")
    )
    if not events:
        return 0
    achieved = milestones_achieve_from_context_events(organization=organization, events=events)
    with recompute_batch():
        for member_id in {event.member_id for event in events}:
            member_score_changed(organization_id=organization.pk, member_id=member_id)
    return achieved


@transaction.atomic
def context_events_ingest(
    *,
    organization: Organization,
    items: Sequence[Any],
    source: str = ContextEvent.Source.API,
) -> IngestResult:
    """Record a batch of context events, each once, in one set-based write.

    Each item is checked as ``context_event_record`` checks its arguments (``occurred_at`` may
    also be ISO 8601 text) and names its member by ``member_id`` or ``member_external_id``; a
    bad item is refused with its reasons, the others are stored. Idempotent by external id: an
    id already stored (or repeated in the batch) stores nothing and answers with the stored
    row. Members are resolved in one query and the rows written in one
    ``INSERT … ON CONFLICT DO NOTHING``, so the cost grows with the data, not with round trips.
    Once the batch commits, one task (``context_events_follow_up``) achieves the milestones the
    new events match, as a single event does, and then has their members' success gaps
    recomputed by the debounced task; the request does not wait for either.
    """
    _require_scope_matches(organization)
    result = IngestResult()
    parsed = []
    for index, item in enumerate(items):
        errors, reference, row = _clean_ingest_item(item, source)
        if errors:
            result.refused.append(IngestRefused(index, errors))
        else:
            parsed.append((index, reference, row))
    known_ids, by_external_id = _resolve_members(organization, (ref for _, ref, _ in parsed))
    candidates: list[_Candidate] = []
    firsts: dict[str, _Candidate] = {}
    for index, reference, row in parsed:
        member_id = by_external_id.get(reference) if isinstance(reference, str) else reference
        if member_id is None or (isinstance(reference, int) and member_id not in known_ids):
            field_name = "member_external_id" if isinstance(reference, str) else "member_id"
            result.refused.append(
                IngestRefused(index, {field_name: "No member with this id in your organization."})
            )
            continue
        row.member_id = member_id
        candidate = _Candidate(index, row)
        if row.external_id:
            candidate.duplicate_of = firsts.setdefault(row.external_id, candidate)
            if candidate.duplicate_of is candidate:
                candidate.duplicate_of = None
        candidates.append(candidate)
    new = _assign_ids(organization, candidates) if candidates else []
    for c in candidates:
        if c.id is None:  # its twin was deleted between our insert and our read: rare
            result.refused.append(IngestRefused(c.index, {"external_id": VANISHED}))
        else:
            accepted = IngestAccepted(
                c.index, c.id, c.member_id, c.row.external_id, c.already_stored
            )
            result.accepted.append(accepted)
    result.refused.sort(key=lambda refused: refused.index)
    if new:  # one summary per batch, not one entry per event
        audit_record(
            organization=organization,
            action="context_events.bulk_ingest",
            model=ContextEvent,
            changes={"stored": len(new), "refused": len(result.refused)},
        )
        event_ids = [c.id for c in new]
        follow_up = IngestFollowUp.objects.for_org(organization).create(
            organization=organization, event_ids=event_ids
        )
        transaction.on_commit(
            partial(_send_follow_up, organization.pk, event_ids, follow_up.pk), robust=True
        )
    return result


def ingest_follow_ups_resend(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Send again the follow-ups still pending ``INGEST_FOLLOW_UP_RESEND_MINUTES`` after their
    batch was stored (their task never reached the broker, or was lost with a worker), oldest
    first, in every organization; returns how many were sent. Done rows older than a day are
    removed. A sweep run by beat: it stops at the first send that fails (the broker is down:
    the next run tries again)."""
    now = now or timezone.now()
    waited = dt.timedelta(minutes=settings.INGEST_FOLLOW_UP_RESEND_MINUTES)
    IngestFollowUp.objects.unscoped().filter(done_at__lt=now - dt.timedelta(days=1)).delete()
    pending = (
        IngestFollowUp.objects.unscoped()
        .filter(done_at__isnull=True, created_at__lt=now - waited)
        .order_by("created_at")
        .values_list("pk", "organization_id", "event_ids")[:limit]
    )
    sent = 0
    for follow_up_id, organization_id, event_ids in pending:
        try:
            _send_follow_up(organization_id, event_ids, follow_up_id)
        except Exception:
            logger.exception("could not send again the follow-up %s", follow_up_id)
            break
        sent += 1
    if sent:
        logger.warning("Sent again %d ingest follow-ups left pending.", sent)
    return sent
