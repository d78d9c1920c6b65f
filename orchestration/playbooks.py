"""Playbooks: their steps, the sandboxed messages they send, and enrolling members in them.

A playbook is configured by an organization admin (``playbook_create``, ``step_add`` …) and
started for a member by a trigger (``orchestration.triggers``) or by hand (``enrollment_start``).
Starting it materialises every step at once, at its offset from the enrolment: a Task for the
member's owner, a Nudge through ``nudges_plan`` (idempotent by key) or an OrchestratedEvent
through the events service. Steps changed later apply to enrolments started later: what an
enrolment planned is its own record.

Message templates are written by admins and read member data, so they are compiled by a
dedicated template engine with a short list of tags and filters (no ``load``, ``include``,
``debug``, ``autoescape`` or ``safe``), rendered with autoescaping against a context of the
member's own plain values only, and checked when saved: a syntax error or a variable other
than ``member.<field>`` is refused with a field error on ``message_template``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Exists, F, Max, OuterRef, Q, Value, When
from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Variable, VariableNode
from django.utils import timezone

from audit.services import audit_record
from members.models import Member
from orchestration.models import (
    DomainEventCursor,
    Enrollment,
    Nudge,
    OrchestratedEvent,
    Playbook,
    PlaybookStep,
    Task,
)
from orchestration.nudges import NudgeSpec, nudges_cancel, nudges_plan
from tenancy.models import DomainEvent, Organization
from tenancy.rules import require_same_organization

logger = logging.getLogger(__name__)

# Offsets, trigger days and lead days further out than ten years are typos (and overflow dates).
MAX_DAYS: Final = 3650
MAX_LEAD_DAYS_COUNT: Final = 10
BANDS_TO_ENTER: Final = ("watch", "at_risk")

# Triggers that count days, whether N must be given, and the smallest N that makes sense.
# milestone_overdue and ax_overdue count days *beyond* due (0 when not given).
DAY_TRIGGERS: Final[dict[str, tuple[bool, int]]] = {
    Playbook.Trigger.RENEWAL_WITHIN: (True, 0),
    Playbook.Trigger.GOAL_DUE_WITHIN: (True, 0),
    Playbook.Trigger.NO_ENGAGEMENT_FOR: (True, 1),
    Playbook.Trigger.MILESTONE_OVERDUE: (False, 0),
    Playbook.Trigger.AX_OVERDUE: (False, 0),
}

STEP_FIELDS: Final = frozenset(
    {"offset_days", "action", "title", "message_template", "channel", "event_lead_days"}
)

# Pending work of an enrolment: while any is left, it is not complete.
PENDING_NUDGE: Final = (Nudge.Status.SCHEDULED, Nudge.Status.SENDING)
PENDING_EVENT: Final = (OrchestratedEvent.Status.PLANNED, OrchestratedEvent.Status.ANNOUNCED)

# Room made when renumbering steps, so no two rows ever share a position mid-update.
_SHUFFLE: Final = 1_000_000


class _Unset(enum.Enum):
    """Marks an argument the caller left out, so ``None`` can still mean "clear it"."""

    TOKEN = 0


UNSET: Final = _Unset.TOKEN


# --- message templates ---------------------------------------------------------------------

# The member's own plain fields a template may read, as ``member.<name>``.
MEMBER_VARIABLES: Final = (
    "name",
    "email",
    "tier",
    "status",
    "region",
    "joined_on",
    "renewal_on",
    "attributes",
)

_ALLOWED_TAGS: Final = ("comment", "if", "for", "with", "firstof", "now", "spaceless")
_ALLOWED_FILTERS: Final = (
    "add",
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "escape",
    "first",
    "floatformat",
    "force_escape",
    "join",
    "last",
    "length",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "yesno",
)


def _forgiving(filter_func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that renders empty instead of raising on odd data (``truncatewords`` given a
    dict, ``yesno`` given a number): member attributes are free-form, a message is not code."""

    @functools.wraps(filter_func)  # keeps is_safe, needs_autoescape and the signature checked
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return filter_func(*args, **kwargs)
        except Exception:
            return ""

    return wrapper


def _message_library() -> Library:
    """The only tags and filters message templates get: none that loads, includes, prints the
    context (``debug``) or turns escaping off (``autoescape``, ``safe``)."""
    library = Library()
    for name in _ALLOWED_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in _ALLOWED_FILTERS:
        library.filters[name] = _forgiving(defaultfilters.register.filters[name])
    return library


_ENGINE = Engine(
    dirs=[],
    app_dirs=False,
    loaders=[],
    libraries={},
    builtins=[],
    autoescape=True,
    debug=False,
    string_if_invalid="",
)
# Engine() only takes builtins as module paths; ours is built above from Django's own.
_ENGINE.template_builtins = [_message_library()]


def _plain(value: Any) -> Any:
    """A JSON value copied (dicts, lists, strings, numbers): nothing a template could call."""
    return json.loads(json.dumps(value, default=str))


def _member_context(member: Member) -> dict[str, Any]:
    return {
        "name": member.name,
        "email": member.email,
        "tier": member.tier,
        "status": member.get_status_display(),
        "region": member.region,
        "joined_on": member.joined_on,
        "renewal_on": member.renewal_on,
        "attributes": _plain(member.attributes or {}),
    }


def render_message(template: str, member: Member) -> str:
    """Render an admin's message for one member, escaped, seeing only the member's own fields.

    The context holds plain values (strings, dates, a copy of ``attributes``), never a model
    instance, so no template can reach a relation, a method or another row. A missing variable,
    or a filter given data it cannot use, renders empty. Raises ``TemplateSyntaxError`` for a
    template that does not compile (steps are checked when saved, so that only happens to rows
    written around the services) and the tag's own error when a loop is given something it
    cannot loop over (``_materialise`` then skips the step for that member, with a note).
    """
    if not template:
        return ""
    compiled = _ENGINE.from_string(template)
    return compiled.render(Context({"member": _member_context(member)}, autoescape=True))


def _expressions(node: Node) -> Iterable[FilterExpression]:
    """The filter expressions a node resolves itself (not those of its child nodelists)."""
    if isinstance(node, VariableNode):
        yield node.filter_expression
    for condition, _ in getattr(node, "conditions_nodelists", ()):
        yield from _condition_expressions(condition)
    sequence = getattr(node, "sequence", None)
    if isinstance(sequence, FilterExpression):
        yield sequence
    yield from getattr(node, "extra_context", {}).values()
    yield from getattr(node, "vars", ())


def _condition_expressions(condition: Any) -> Iterable[FilterExpression]:
    """The leaves of an ``{% if %}`` condition tree (``else`` has none)."""
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for side in ("first", "second"):
        child = getattr(condition, side, None)
        if child is not None:
            yield from _condition_expressions(child)


def _lookups(expression: FilterExpression) -> Iterable[tuple[str, ...]]:
    """Every variable path an expression reads, its filters' arguments included."""
    variables = [expression.var] + [
        arg for _, args in expression.filters for lookup, arg in args if lookup
    ]
    for variable in variables:
        if isinstance(variable, Variable) and variable.lookups is not None:
            yield variable.lookups


def _unknown_variable(lookups: tuple[str, ...], bound: set[str]) -> str | None:
    """The variable, spelled out, when the template may not read it."""
    if lookups[0] in bound:
        return None
    member_field = lookups[0] == "member" and len(lookups) >= 2 and lookups[1] in MEMBER_VARIABLES
    # A member field itself, or any key inside ``attributes`` (plain JSON values).
    if member_field and (len(lookups) == 2 or lookups[1] == "attributes"):
        return None
    return ".".join(lookups)


def _first_unknown(nodelist: NodeList, bound: set[str]) -> str | None:
    """Walk the nodelist in order, with the names loops, ``with`` and ``as`` bind in scope."""
    bound = set(bound)
    for node in nodelist:
        for expression in _expressions(node):
            for lookups in _lookups(expression):
                unknown = _unknown_variable(lookups, bound)
                if unknown:
                    return unknown
        inner = set(bound)
        inner.update(getattr(node, "loopvars", ()))
        if hasattr(node, "loopvars"):
            inner.add("forloop")
        inner.update(getattr(node, "extra_context", {}).keys())
        children = [branch for _, branch in getattr(node, "conditions_nodelists", ())]
        children += [getattr(node, name) for name in node.child_nodelists if hasattr(node, name)]
        for child in children:
            unknown = _first_unknown(child, inner) if child else None
            if unknown:
                return unknown
        if getattr(node, "asvar", None):
            bound.add(node.asvar)
    return None


def message_template_error(template: str) -> str | None:
    """Why a message template cannot be saved, or None when it can.

    A syntax error is reported with its line; a variable other than ``member.<field>`` (and the
    names the template binds itself) is refused before anything is sent, so a typo or an
    attempt at ``member.owner`` or ``settings`` is seen by the admin, not by a member.
    """
    try:
        compiled = _ENGINE.from_string(template)
    except TemplateSyntaxError as exc:
        token = getattr(exc, "token", None)
        line = getattr(token, "lineno", None) or 1
        return f"line {line}: {exc}"
    unknown = _first_unknown(compiled.nodelist, set())
    if unknown:
        allowed = ", ".join(f"member.{name}" for name in MEMBER_VARIABLES)
        return f"Unknown variable '{unknown}': a message may use {allowed}."
    return None


# --- validation ----------------------------------------------------------------------------


def _is_days(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_DAYS


def playbook_errors(
    *,
    organization: Organization,
    playbook_pk: int | None,
    name: str,
    trigger: str,
    trigger_band: str,
    trigger_days: Any,
) -> dict[str, str]:
    """Every rule of a playbook, checked together so a form shows all its errors at once."""
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the playbook a name."
    elif len(name) > 120:
        errors["name"] = "Keep the name to 120 characters."
    elif (
        Playbook.objects.for_org(organization)
        .filter(name__iexact=name)
        .exclude(pk=playbook_pk)
        .exists()
    ):
        errors["name"] = "This organization already has a playbook with this name."
    if trigger not in Playbook.Trigger.values:
        errors["trigger"] = f"Choose one of: {', '.join(Playbook.Trigger.values)}."
        return errors
    if trigger == Playbook.Trigger.BAND_ENTERED:
        if trigger_band not in BANDS_TO_ENTER:
            errors["trigger_band"] = "Choose the band to react to: watch or at_risk."
    elif trigger_band:
        errors["trigger_band"] = "Only the 'band entered' trigger takes a band."
    if trigger in DAY_TRIGGERS:
        required, minimum = DAY_TRIGGERS[trigger]
        if trigger_days is None:
            if required:
                errors["trigger_days"] = "Give the number of days for this trigger."
        elif not _is_days(trigger_days, minimum):
            errors["trigger_days"] = f"Give a whole number of days from {minimum} to {MAX_DAYS}."
    elif trigger_days is not None:
        errors["trigger_days"] = "This trigger does not take a number of days."
    return errors


def _lead_days_or_error(value: Any) -> tuple[list[int], str | None]:
    """Lead days as a list of distinct positive whole days, largest first (the announcement),
    within the events service's own limit (so an enrolment never has its event refused)."""
    from orchestration.events import MAX_LEAD_DAYS

    if not isinstance(value, list | tuple) or not value:
        return [], "Give the days before the event to announce it and remind, e.g. [14, 2]."
    if len(value) > MAX_LEAD_DAYS_COUNT:
        return [], f"Give at most {MAX_LEAD_DAYS_COUNT} lead times."
    if not all(_is_days(day, 1) and day <= MAX_LEAD_DAYS for day in value):
        return [], f"Each lead time is a whole number of days from 1 to {MAX_LEAD_DAYS}."
    return sorted(set(value), reverse=True), None


def step_values_clean(
    *,
    offset_days: Any,
    action: Any,
    title: Any,
    message_template: Any,
    channel: Any,
    event_lead_days: Any,
) -> dict[str, Any]:
    """A step's values normalised, or a ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    title = title.strip() if isinstance(title, str) else ""
    template = message_template if isinstance(message_template, str) else None
    if action not in PlaybookStep.Action.values:
        errors["action"] = f"Choose one of: {', '.join(PlaybookStep.Action.values)}."
    if channel not in Nudge.Channel.values:
        errors["channel"] = f"Choose one of: {', '.join(Nudge.Channel.values)}."
    if not _is_days(offset_days):
        errors["offset_days"] = f"Give a whole number of days from 0 to {MAX_DAYS}."
    if not title:
        errors["title"] = "Give the step a title (the task, the message's subject, the event)."
    elif len(title) > 200:
        errors["title"] = "Keep the title to 200 characters."
    if template is None:
        errors["message_template"] = "Give the message as text."
    elif action == PlaybookStep.Action.NUDGE and not template.strip():
        errors["message_template"] = "A nudge needs a message."
    elif template.strip():
        problem = message_template_error(template)
        if problem:
            errors["message_template"] = problem
    lead_days: list[int] = []
    if action == PlaybookStep.Action.EVENT:
        lead_days, problem = _lead_days_or_error(event_lead_days)
        if problem:
            errors["event_lead_days"] = problem
        elif "offset_days" not in errors and lead_days[0] > offset_days:
            errors["event_lead_days"] = (
                f"The announcement {lead_days[0]} days before would come before the enrolment: "
                f"keep lead times at most the step's offset ({offset_days} days)."
            )
    elif event_lead_days:
        errors["event_lead_days"] = "Only event steps take lead times."
    if errors:
        raise ValidationError(errors)
    return {
        "offset_days": offset_days,
        "action": action,
        "title": title,
        "message_template": template,
        "channel": channel,
        "event_lead_days": lead_days,
    }


# --- playbooks -----------------------------------------------------------------------------


def band_cursor_consumer(playbook: Playbook) -> str:
    """The name under which a band-entered playbook keeps its place in the domain events."""
    return f"playbook:{playbook.pk}"


def band_cursor_start(*, organization: Organization, playbook: Playbook) -> DomainEventCursor:
    """Point a band-entered playbook's cursor at the latest band change: it reacts to changes
    from now on, not to the history before it was configured or switched on."""
    latest = (
        DomainEvent.objects.for_org(organization)
        .filter(kind=DomainEvent.Kind.BAND_CHANGED)
        .aggregate(latest=Max("pk"))["latest"]
    )
    cursor, _ = DomainEventCursor.objects.for_org(organization).update_or_create(
        organization=organization,
        consumer=band_cursor_consumer(playbook),
        defaults={"last_event_id": latest or 0},
    )
    return cursor


def _save_playbook(playbook: Playbook, **kwargs: Any) -> None:
    """Save, turning a name taken by a concurrent writer into the same field error."""
    try:
        with transaction.atomic():
            playbook.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationError(
            {"name": "This organization already has a playbook with this name."}
        ) from exc


def _steps_from_specs(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate every step spec before anything is written; errors name the step and field."""
    cleaned, messages = [], []
    for number, spec in enumerate(steps, start=1):
        if not isinstance(spec, Mapping):
            messages.append(f"Step {number}: give the step as a mapping of its fields.")
            continue
        unknown = sorted(set(spec) - STEP_FIELDS)
        if unknown:
            messages.append(f"Step {number}: unknown field {', '.join(unknown)}.")
            continue
        values = {"message_template": "", "channel": "email", "event_lead_days": ()} | dict(spec)
        values.setdefault("offset_days", None)
        values.setdefault("action", None)
        values.setdefault("title", "")
        try:
            cleaned.append(step_values_clean(**values))
        except ValidationError as exc:
            messages += [
                f"Step {number}, {field}: {message}"
                for field, field_messages in exc.message_dict.items()
                for message in field_messages
            ]
    if messages:
        raise ValidationError({"steps": messages})
    return cleaned


@transaction.atomic
def playbook_create(
    *,
    organization: Organization,
    name: str,
    trigger: str = Playbook.Trigger.MANUAL,
    trigger_band: str = "",
    trigger_days: int | None = None,
    description: str = "",
    steps: Iterable[Mapping[str, Any]] = (),
) -> Playbook:
    """Create a playbook with its steps (in the order given) in one transaction.

    Every step is checked before anything is written, so one bad step leaves nothing behind.
    A band-entered playbook reacts to band changes from its creation on.
    """
    name = name.strip() if isinstance(name, str) else ""
    trigger_band = trigger_band or ""
    errors = playbook_errors(
        organization=organization,
        playbook_pk=None,
        name=name,
        trigger=trigger,
        trigger_band=trigger_band,
        trigger_days=trigger_days,
    )
    try:
        cleaned_steps = _steps_from_specs(steps)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    playbook = Playbook(
        organization=organization,
        name=name,
        description=(description or "").strip(),
        trigger=trigger,
        trigger_band=trigger_band,
        trigger_days=trigger_days,
    )
    _save_playbook(playbook)
    created = PlaybookStep.objects.for_org(organization).bulk_create(
        PlaybookStep(organization=organization, playbook=playbook, position=position, **values)
        for position, values in enumerate(cleaned_steps, start=1)
    )
    if created:  # the playbook's own create is captured; its steps come in one INSERT
        audit_record(
            organization=organization,
            action="playbook.add_steps",
            instance=playbook,
            changes={"steps": [step.title for step in created]},
        )
    if trigger == Playbook.Trigger.BAND_ENTERED:
        band_cursor_start(organization=organization, playbook=playbook)
    return playbook


@transaction.atomic
def playbook_update(
    *,
    organization: Organization,
    playbook: Playbook,
    name: str | _Unset = UNSET,
    description: str | _Unset = UNSET,
    trigger: str | _Unset = UNSET,
    trigger_band: str | _Unset = UNSET,
    trigger_days: int | _Unset | None = UNSET,
) -> Playbook:
    """Change what is given and keep the rest, under the same rules as creating.

    Changing the trigger clears the band and the days unless they are given again (they meant
    something for the old trigger only). Enrolments already started keep going.
    """
    require_same_organization(organization, playbook=playbook)
    new_trigger = playbook.trigger if trigger is UNSET else trigger
    trigger_changed = new_trigger != playbook.trigger
    values = {
        "name": playbook.name if name is UNSET else (name.strip() if isinstance(name, str) else ""),
        "trigger": new_trigger,
        "trigger_band": (
            ("" if trigger_changed else playbook.trigger_band)
            if trigger_band is UNSET
            else (trigger_band or "")
        ),
        "trigger_days": (
            (None if trigger_changed else playbook.trigger_days)
            if trigger_days is UNSET
            else trigger_days
        ),
    }
    errors = playbook_errors(organization=organization, playbook_pk=playbook.pk, **values)
    if errors:
        raise ValidationError(errors)
    if description is not UNSET:
        values["description"] = (description or "").strip()
    starts_reacting = values["trigger"] == Playbook.Trigger.BAND_ENTERED and (
        trigger_changed or values["trigger_band"] != playbook.trigger_band
    )
    for field, value in values.items():
        setattr(playbook, field, value)
    _save_playbook(playbook, update_fields=list(values))
    if starts_reacting and playbook.is_active:
        band_cursor_start(organization=organization, playbook=playbook)
    return playbook


@transaction.atomic
def playbook_deactivate(*, organization: Organization, playbook: Playbook) -> Playbook:
    """Switch a playbook off: no trigger enrols in it, and its active enrolments are cancelled
    (their pending nudges and events with them). Idempotent."""
    require_same_organization(organization, playbook=playbook)
    _switch(organization, playbook, is_active=False)
    active = Enrollment.objects.for_org(organization).filter(
        playbook_id=playbook.pk, status=Enrollment.Status.ACTIVE
    )
    for enrollment in active:
        enrollment_cancel(organization=organization, enrollment=enrollment)
    return playbook


@transaction.atomic
def playbook_activate(*, organization: Organization, playbook: Playbook) -> Playbook:
    """Switch a playbook back on. A band-entered one reacts to band changes from now on, not
    to those that happened while it was off."""
    require_same_organization(organization, playbook=playbook)
    if playbook.is_active:
        return playbook
    _switch(organization, playbook, is_active=True)
    if playbook.trigger == Playbook.Trigger.BAND_ENTERED:
        band_cursor_start(organization=organization, playbook=playbook)
    return playbook


def _switch(organization: Organization, playbook: Playbook, *, is_active: bool) -> None:
    """One UPDATE guarded on the current value, recorded in the trail when it changed."""
    switched = (
        Playbook.objects.for_org(organization)
        .filter(pk=playbook.pk, is_active=not is_active)
        .update(is_active=is_active)
    )
    playbook.is_active = is_active
    if switched:
        audit_record(
            organization=organization,
            action="playbook.activate" if is_active else "playbook.deactivate",
            instance=playbook,
            changes={"is_active": [not is_active, is_active]},
        )


# --- steps ---------------------------------------------------------------------------------


def _lock_playbook(organization: Organization, playbook: Playbook) -> None:
    """Hold the playbook's row until commit, so two editors renumber its steps one at a time."""
    list(
        Playbook.objects.for_org(organization)
        .select_for_update()
        .filter(pk=playbook.pk)
        .values_list("pk", flat=True)
    )


def _ordered_step_ids(organization: Organization, playbook_id: int) -> list[int]:
    return list(
        PlaybookStep.objects.for_org(organization)
        .filter(playbook_id=playbook_id)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )


def _set_positions(organization: Organization, playbook_id: int, positions: dict[int, int]) -> None:
    """Give steps new positions in two statements, never two rows on one position at a time:
    first everything moves out of the way, then each step takes its place."""
    if not positions:
        return
    steps = PlaybookStep.objects.for_org(organization).filter(playbook_id=playbook_id)
    before = dict(steps.filter(pk__in=list(positions)).values_list("pk", "position"))
    moved = {pk: [before[pk], at] for pk, at in positions.items() if before.get(pk) != at}
    if not moved:
        return
    steps.update(position=F("position") + _SHUFFLE)
    steps.filter(pk__in=list(positions)).update(
        position=Case(
            *[When(pk=pk, then=Value(position)) for pk, position in positions.items()],
            output_field=models.PositiveIntegerField(),
        )
    )
    audit_record(  # one entry for the renumbering: {step id: [position before, after]}
        organization=organization,
        action="playbook.renumber_steps",
        model=Playbook,
        object_id=playbook_id,
        changes={str(pk): change for pk, change in sorted(moved.items())},
    )


@transaction.atomic
def step_add(
    *,
    organization: Organization,
    playbook: Playbook,
    position: int | None = None,
    offset_days: int,
    action: str,
    title: str,
    message_template: str = "",
    channel: str = Nudge.Channel.EMAIL,
    event_lead_days: Sequence[int] = (),
) -> PlaybookStep:
    """Add a step at ``position`` (1 = first; the steps after it move down) or at the end.

    Enrolments already started keep the steps they had: only later enrolments get this one.
    """
    require_same_organization(organization, playbook=playbook)
    _lock_playbook(organization, playbook)
    ordered = _ordered_step_ids(organization, playbook.pk)
    errors: dict[str, str] = {}
    if position is not None and not (isinstance(position, int) and not isinstance(position, bool)):
        errors["position"] = "Give the position as a whole number."
    elif position is not None and not 1 <= position <= len(ordered) + 1:
        errors["position"] = f"Give a position from 1 to {len(ordered) + 1}."
    try:
        values = step_values_clean(
            offset_days=offset_days,
            action=action,
            title=title,
            message_template=message_template,
            channel=channel,
            event_lead_days=event_lead_days,
        )
    except ValidationError as exc:
        errors.update({field: messages[0] for field, messages in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    at = len(ordered) + 1 if position is None else position
    _set_positions(
        organization,
        playbook.pk,
        {pk: index if index < at else index + 1 for index, pk in enumerate(ordered, start=1)},
    )
    return PlaybookStep.objects.create(
        organization=organization, playbook=playbook, position=at, **values
    )


@transaction.atomic
def step_update(
    *,
    organization: Organization,
    step: PlaybookStep,
    offset_days: int | _Unset = UNSET,
    action: str | _Unset = UNSET,
    title: str | _Unset = UNSET,
    message_template: str | _Unset = UNSET,
    channel: str | _Unset = UNSET,
    event_lead_days: Sequence[int] | _Unset = UNSET,
) -> PlaybookStep:
    """Change what is given and keep the rest, under the same rules as adding (the position
    changes with ``steps_reorder``). Applies to enrolments started from now on."""
    require_same_organization(organization, step=step)
    given = {
        "offset_days": offset_days,
        "action": action,
        "title": title,
        "message_template": message_template,
        "channel": channel,
        "event_lead_days": event_lead_days,
    }
    current = {
        field: getattr(step, field) if value is UNSET else value for field, value in given.items()
    }
    if current["action"] != PlaybookStep.Action.EVENT and event_lead_days is UNSET:
        current["event_lead_days"] = []  # they belonged to the event the step no longer is
    values = step_values_clean(**current)
    for field, value in values.items():
        setattr(step, field, value)
    step.save(update_fields=list(values))
    return step


@transaction.atomic
def step_remove(*, organization: Organization, step: PlaybookStep) -> None:
    """Remove a step and close the gap. What it already planned for enrolled members stays."""
    require_same_organization(organization, step=step)
    playbook_id = step.playbook_id
    list(
        Playbook.objects.for_org(organization)
        .select_for_update()
        .filter(pk=playbook_id)
        .values_list("pk", flat=True)
    )
    PlaybookStep.objects.for_org(organization).filter(pk=step.pk).delete()
    ordered = _ordered_step_ids(organization, playbook_id)
    _set_positions(
        organization, playbook_id, {pk: index for index, pk in enumerate(ordered, start=1)}
    )


@transaction.atomic
def steps_reorder(
    *, organization: Organization, playbook: Playbook, step_ids: Sequence[int]
) -> list[PlaybookStep]:
    """Put the playbook's steps in the order of ``step_ids`` (each of its steps exactly once)."""
    require_same_organization(organization, playbook=playbook)
    _lock_playbook(organization, playbook)
    ordered = _ordered_step_ids(organization, playbook.pk)
    wanted = list(step_ids)
    if len(wanted) != len(ordered) or set(wanted) != set(ordered):
        raise ValidationError({"step_ids": "Give every step of this playbook exactly once."})
    _set_positions(
        organization, playbook.pk, {pk: index for index, pk in enumerate(wanted, start=1)}
    )
    return list(
        PlaybookStep.objects.for_org(organization)
        .filter(playbook_id=playbook.pk)
        .order_by("position")
    )


# --- enrolment -----------------------------------------------------------------------------


def _nudge_spec(
    *, enrollment: Enrollment, step: PlaybookStep, member: Member, when: dt.datetime, body: str
) -> tuple[NudgeSpec | None, str | None]:
    """The nudge a step sends, or why it cannot: email goes to the member, in-app and task
    nudges go to the member's owner."""
    if step.channel == Nudge.Channel.EMAIL and not member.email:
        return None, "the member has no email address"
    if step.channel != Nudge.Channel.EMAIL and member.owner_id is None:
        return None, "the member has no owner to notify"
    spec = NudgeSpec(
        idempotency_key=f"enrollment:{enrollment.pk}:step:{step.pk}",
        subject=step.title,
        body=body,
        scheduled_for=when,
        member_id=member.pk,
        seat_id=None if step.channel == Nudge.Channel.EMAIL else member.owner_id,
        to_email=member.email if step.channel == Nudge.Channel.EMAIL else "",
        channel=step.channel,
        kind=Nudge.Kind.MESSAGE,
        enrollment_id=enrollment.pk,
    )
    return spec, None


def _event_create(
    *,
    organization: Organization,
    enrollment: Enrollment,
    step: PlaybookStep,
    member: Member,
    when: dt.datetime,
    description: str,
) -> str | None:
    """Plan and announce the step's event; a refusal (e.g. nothing to announce to) is noted."""
    from orchestration.events import orchestrated_event_create

    try:
        with transaction.atomic():
            orchestrated_event_create(
                organization=organization,
                member=member,
                title=step.title,
                scheduled_for=when,
                lead_days=list(step.event_lead_days),
                description=description,
                enrollment=enrollment,
                step=step,
                announce=True,
            )
    except ValidationError as exc:
        return "; ".join(exc.messages)
    return None


def _rendered(step: PlaybookStep, member: Member) -> str | None:
    """The step's message for this member, or None when this member's data breaks it (e.g. a
    loop over an attribute that is a number): the step is then skipped for them alone."""
    try:
        return render_message(step.message_template, member)
    except Exception:
        logger.warning(
            "Step %s's message could not be rendered for member %s.",
            step.pk,
            member.pk,
            exc_info=True,
        )
        return None


def _materialise(
    *,
    organization: Organization,
    enrollment: Enrollment,
    member: Member,
    steps: Sequence[PlaybookStep],
) -> list[str]:
    """Plan every step at enrolment + offset; returns a note for each step that was skipped."""
    tasks, specs, notes = [], [], []
    for step in steps:
        when = enrollment.enrolled_at + dt.timedelta(days=step.offset_days)
        text = _rendered(step, member)
        if text is None:
            problem = "its message could not be rendered for this member"
        elif step.action == PlaybookStep.Action.TASK:
            problem = None
            tasks.append(
                Task(
                    organization=organization,
                    owner_id=member.owner_id,
                    member=member,
                    title=step.title,
                    notes=text,
                    due_on=timezone.localtime(when, organization.zone).date(),
                    enrollment=enrollment,
                    step=step,
                )
            )
        elif step.action == PlaybookStep.Action.NUDGE:
            spec, problem = _nudge_spec(
                enrollment=enrollment, step=step, member=member, when=when, body=text
            )
            if spec is not None:
                specs.append(spec)
        else:
            problem = _event_create(
                organization=organization,
                enrollment=enrollment,
                step=step,
                member=member,
                when=when,
                description=text,
            )
        if problem:
            notes.append(f"step {step.position} skipped: {problem}")
    if Task.objects.for_org(organization).bulk_create(tasks):  # nudges_plan records its own
        audit_record(
            organization=organization,
            action="tasks.plan",
            model=Task,
            changes={"planned": len(tasks), "enrollment": enrollment.pk},
        )
    nudges_plan(organization=organization, specs=specs)
    return notes


def _with_notes(reason: str, notes: Sequence[str]) -> str:
    text = "; ".join([reason, *notes] if reason else notes)
    return text if len(text) <= 200 else text[:199] + "…"


def _enroll(
    *,
    organization: Organization,
    playbook: Playbook,
    member: Member,
    reason: str,
    at: dt.datetime,
    steps: Sequence[PlaybookStep],
) -> Enrollment | None:
    """Enrol once (the partial unique constraint settles a race) and plan the steps."""
    active = Enrollment.objects.for_org(organization).filter(
        playbook_id=playbook.pk, member_id=member.pk, status=Enrollment.Status.ACTIVE
    )
    if active.exists():
        return None
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                organization=organization,
                playbook=playbook,
                member=member,
                reason=reason,
                enrolled_at=at,
            )
    except IntegrityError:
        return None
    notes = _materialise(
        organization=organization, enrollment=enrollment, member=member, steps=steps
    )
    if notes:
        logger.info("Enrolment %s: %s", enrollment.pk, "; ".join(notes))
        enrollment.reason = _with_notes(reason, notes)
        enrollment.save(update_fields=["reason"])
    return enrollment


def playbook_steps(*, organization: Organization, playbook: Playbook) -> list[PlaybookStep]:
    """The playbook's steps in order (what an enrolment materialises)."""
    return list(
        PlaybookStep.objects.for_org(organization)
        .filter(playbook_id=playbook.pk)
        .order_by("position", "pk")
    )


def _enrollment_errors(*, playbook: Playbook, reason: Any, at: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not playbook.is_active:
        errors["playbook"] = "This playbook is switched off; switch it on to enrol members."
    if not isinstance(reason, str) or len(reason.strip()) > 200:
        errors["reason"] = "Give the reason as text of at most 200 characters."
    if at is not None and (not isinstance(at, dt.datetime) or timezone.is_naive(at)):
        errors["at"] = "Give a date and time with its time zone."
    return errors


@transaction.atomic
def enrollment_start(
    *,
    organization: Organization,
    playbook: Playbook,
    member: Member,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Enrollment | None:
    """Enrol a member in a playbook and plan every step at ``at`` (default now) + its offset.

    At most one active enrolment per member and playbook: None when there already is one (also
    when a concurrent call won the race), so calling twice plans nothing twice. A completed or
    cancelled enrolment does not stand in the way of a new one. A step that cannot reach anyone
    (an email nudge to a member without email, an in-app nudge without owner) is skipped and
    noted in the enrolment's reason.
    """
    require_same_organization(organization, playbook=playbook, member=member)
    errors = _enrollment_errors(playbook=playbook, reason=reason, at=at)
    if errors:
        raise ValidationError(errors)
    return _enroll(
        organization=organization,
        playbook=playbook,
        member=member,
        reason=reason.strip(),
        at=at or timezone.now(),
        steps=playbook_steps(organization=organization, playbook=playbook),
    )


def _locked_enrollment(organization: Organization, enrollment: Enrollment) -> Enrollment:
    return Enrollment.objects.for_org(organization).select_for_update().get(pk=enrollment.pk)


@transaction.atomic
def enrollment_cancel(*, organization: Organization, enrollment: Enrollment) -> Enrollment:
    """Stop an enrolment: its pending nudges and its planned or announced events are cancelled
    and the open tasks it created are removed (done ones stay, as history). Cancelling an
    enrolment that is no longer active changes nothing."""
    require_same_organization(organization, enrollment=enrollment)
    locked = _locked_enrollment(organization, enrollment)
    if locked.status != Enrollment.Status.ACTIVE:
        enrollment.status, enrollment.ended_at = locked.status, locked.ended_at
        return enrollment
    locked.status, locked.ended_at = Enrollment.Status.CANCELLED, timezone.now()
    locked.save(update_fields=["status", "ended_at"])
    nudges_cancel(organization=organization, enrollment_id=locked.pk)
    events = list(
        OrchestratedEvent.objects.for_org(organization).filter(
            enrollment_id=locked.pk, status__in=PENDING_EVENT
        )
    )
    if events:
        from orchestration.events import orchestrated_event_cancel

        for event in events:
            orchestrated_event_cancel(
                organization=organization, event=event, reason="The playbook was cancelled."
            )
    Task.objects.for_org(organization).filter(
        enrollment_id=locked.pk, done_at__isnull=True
    ).delete()
    enrollment.status, enrollment.ended_at = locked.status, locked.ended_at
    return enrollment


def _pending_work(organization: Organization) -> Q:
    """Q over enrolments: something it planned is still to do (an open task, a nudge not yet
    sent, an event not yet happened)."""
    enrollment = OuterRef("pk")
    tasks = Task.objects.for_org(organization)
    nudges = Nudge.objects.for_org(organization)
    events = OrchestratedEvent.objects.for_org(organization)
    return Q(
        Exists(tasks.filter(enrollment_id=enrollment, done_at__isnull=True))
        | Exists(nudges.filter(enrollment_id=enrollment, status__in=PENDING_NUDGE))
        | Exists(events.filter(enrollment_id=enrollment, status__in=PENDING_EVENT))
    )


@transaction.atomic
def enrollment_complete(*, organization: Organization, enrollment: Enrollment) -> Enrollment:
    """Mark an enrolment completed once every step is done: its tasks done, its nudges sent
    (or failed or cancelled), its events past announcing. Completing a completed enrolment
    changes nothing; a cancelled one, or one with work left, is refused."""
    require_same_organization(organization, enrollment=enrollment)
    locked = _locked_enrollment(organization, enrollment)
    if locked.status == Enrollment.Status.CANCELLED:
        raise ValidationError({"enrollment": "This enrolment was cancelled."})
    if locked.status == Enrollment.Status.ACTIVE:
        pending = (
            Enrollment.objects.for_org(organization)
            .filter(pk=locked.pk)
            .filter(_pending_work(organization))
        )
        if pending.exists():
            raise ValidationError(
                {"enrollment": "Some of its steps are still to do: finish or cancel them first."}
            )
        locked.status, locked.ended_at = Enrollment.Status.COMPLETED, timezone.now()
        locked.save(update_fields=["status", "ended_at"])
    enrollment.status, enrollment.ended_at = locked.status, locked.ended_at
    return enrollment


@transaction.atomic
def enrollments_complete_finished(
    *, organization: Organization, now: dt.datetime | None = None
) -> int:
    """Complete, in one statement, every active enrolment with nothing left to do; returns how
    many. Runs with the hourly trigger evaluation; one summary entry per run."""
    completed = (
        Enrollment.objects.for_org(organization)
        .filter(status=Enrollment.Status.ACTIVE)
        .exclude(_pending_work(organization))
        .update(status=Enrollment.Status.COMPLETED, ended_at=now or timezone.now())
    )
    if completed:
        audit_record(
            organization=organization,
            action="enrollments.complete_finished",
            model=Enrollment,
            changes={"completed": completed},
        )
    return completed
