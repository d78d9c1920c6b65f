"""Coverage models: which members a model covers, who owns them, what they are enrolled in.

Criteria are data, never code. A model's ``criteria`` is a list of rules that must all hold
(an empty list matches every member), each ``{"field": F, "op": OP, "value": V}``:

==========================  ===========================================  ======================
field                       what it reads                                operators
==========================  ===========================================  ======================
tier, region                the member's text field (exact, case kept)   eq, ne, in, not_in
status, kind                the member's choice field                    eq, ne, in, not_in
attributes.<key>            one key of the JSON attributes, compared as  eq, ne, in, not_in,
                            JSON (5 is not "5")                          exists (true/false)
band                        the latest success-gap band, "" = not scored eq, ne, in, not_in
days_since_joining          whole days from joined_on to today           lt, lte, gt, gte, eq,
days_to_renewal             whole days from today to renewal_on          between [a, b]
requires_experience         an engagement type the member has an         has, lacks
                            active, required experience element of
==========================  ===========================================  ======================

"ne" and "not_in" on an attribute also match members that do not have the key (their value is
not the one named). "Today" is the organization's own calendar day. Members without the date
never match a day rule. Validation turns every rule into the one shape the translator reads,
with a message naming the rule number and what is wrong, so an admin can fix it.

Applying coverage is set-based: a member's model is a CASE over the active models' criteria in
priority order, evaluated by the database; only rows whose model changes are written; owners are
dealt out in Python over ids fetched once and written as one UPDATE per seat. The number of
statements depends on the number of models and seats, not on the number of members (beyond
batches of ``WRITE_BATCH`` ids, which keep each statement within the databases' parameter
limits).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.db.models.signals import post_init, post_save
from django.utils import timezone

from audit.services import audit_record
from engagement.choices import EngagementType
from members.models import Member, OwnershipChange
from members.services import OWNER_ROLES
from orchestration.models import CoverageModel, CoveragePlaybook, CoveragePoolSeat, Playbook
from outcomes.models import AppropriateExperience, Band
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization
from tenancy.scope import UnscopedQueryError, current_organization_id
from tenancy.selectors import organization_today

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Criteria: the vocabulary

SET_OPS = ("eq", "ne", "in", "not_in")
ATTRIBUTE_OPS = (*SET_OPS, "exists")
DAY_OPS = ("lt", "lte", "gt", "gte", "eq", "between")
EXPERIENCE_OPS = ("has", "lacks")

# Text fields, with the values they may take (None: any text).
TEXT_FIELDS: dict[str, tuple[str, ...] | None] = {
    "tier": None,
    "region": None,
    "status": tuple(Member.Status.values),
    "kind": tuple(Member.Kind.values),
}
BAND_VALUES = (*Band.values, "")
# Day counts and the member date they are measured from.
DAY_FIELDS = {"days_since_joining": "joined_on", "days_to_renewal": "renewal_on"}
ATTRIBUTE_PREFIX = "attributes."
# Letters, digits and single "-" or "_" between them, starting with a letter: such a key cannot
# be read as a JSON array index, nor split into a nested path or a lookup by the ORM's "__".
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)*$")
ATTRIBUTE_KEY_MAX = 64
KNOWN_FIELDS = (
    "tier, region, status, kind, attributes.<key>, band, days_since_joining, days_to_renewal, "
    "requires_experience"
)
RULE_KEYS = frozenset({"field", "op", "value"})
MAX_RULES = 50
MAX_LIST_VALUES = 500

# Updates and inserts by id go in batches this size: SQLite caps a statement's parameters.
WRITE_BATCH = 900

Rule = dict[str, Any]


class _RuleError(Exception):
    """One rule's problem; the validator adds the rule number."""


def _kind_of(value: Any) -> str:
    """The type of a JSON value in words, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_json_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and value is not None


def _require_op(name: str, op: Any, ops: Sequence[str]) -> str:
    if not isinstance(op, str) or op not in ops:
        shown = f"'{op}'" if isinstance(op, str) else _kind_of(op)
        raise _RuleError(
            f"unknown operator {shown} for field '{name}'. Use one of: {', '.join(ops)}."
        )
    return op


def _require_list(name: str, op: str, value: Any, noun: str) -> list:
    if not isinstance(value, list | tuple) or not value:
        raise _RuleError(f"'{name} {op}' needs a non-empty list of {noun}, got {_kind_of(value)}.")
    if len(value) > MAX_LIST_VALUES:
        raise _RuleError(f"'{name} {op}' takes at most {MAX_LIST_VALUES} values.")
    return list(value)


def _unique(values: list) -> list:
    """Without repeats, in the order given (true and 1 are different JSON values)."""
    seen: set = set()
    unique = []
    for value in values:
        key = (isinstance(value, bool), value)
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


def _check_choice(name: str, value: str, allowed: Sequence[str] | None, noun: str) -> None:
    if allowed is not None and value not in allowed:
        shown = ", ".join(f"'{choice}'" if choice == "" else choice for choice in allowed)
        raise _RuleError(f"'{value}' is not {noun}. Use one of: {shown}.")


def _set_value(name: str, op: str, value: Any, allowed: Sequence[str] | None, noun: str) -> Any:
    """Text values for eq/ne (one) or in/not_in (a list), each checked against ``allowed``."""
    if op in ("eq", "ne"):
        if not isinstance(value, str):
            raise _RuleError(f"'{name} {op}' needs a text value, got {_kind_of(value)}.")
        _check_choice(name, value, allowed, noun)
        return value
    values = _require_list(name, op, value, "text values")
    for item in values:
        if not isinstance(item, str):
            raise _RuleError(f"'{name} {op}' needs text values only, got {_kind_of(item)}.")
        _check_choice(name, item, allowed, noun)
    return _unique(values)


def _attribute_value(name: str, op: str, value: Any, has_value: bool) -> Any:
    if op == "exists":
        if not has_value:
            return True
        if not isinstance(value, bool):
            raise _RuleError(f"'{name} exists' needs true or false, got {_kind_of(value)}.")
        return value
    if op in ("eq", "ne"):
        if not _is_json_scalar(value):
            raise _RuleError(
                f"'{name} {op}' needs text, a number or true/false, got {_kind_of(value)} "
                "(to test for a missing key use 'exists')."
            )
        return value
    values = _require_list(name, op, value, "text, numbers or true/false")
    for item in values:
        if not _is_json_scalar(item):
            raise _RuleError(
                f"'{name} {op}' needs text, numbers or true/false only, got {_kind_of(item)}."
            )
    return _unique(values)


def _day_value(name: str, op: str, value: Any) -> Any:
    if op == "between":
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(_is_int(item) for item in value)
        ):
            count = f" with {len(value)} value(s)" if isinstance(value, list | tuple) else ""
            raise _RuleError(
                f"'{name} between' needs a list of two whole numbers [from, to], got "
                f"{_kind_of(value)}{count}."
            )
        low, high = value
        if low > high:
            raise _RuleError(f"'{name} between' needs from ≤ to, got [{low}, {high}].")
        return [low, high]
    if not _is_int(value):
        raise _RuleError(f"'{name} {op}' needs a whole number of days, got {_kind_of(value)}.")
    return value


def _normalise_rule(rule: Any) -> Rule:
    if not isinstance(rule, dict):
        raise _RuleError(
            f'each rule must be an object with "field", "op" and "value", got {_kind_of(rule)}.'
        )
    extra = sorted(str(key) for key in set(rule) - RULE_KEYS)
    if extra:
        raise _RuleError(
            f"unexpected key(s) {', '.join(repr(key) for key in extra)}; a rule has only "
            "field, op and value."
        )
    name = rule.get("field")
    if not isinstance(name, str) or not name:
        raise _RuleError(f'"field" is missing. Known fields: {KNOWN_FIELDS}.')
    if "op" not in rule:
        raise _RuleError(f"\"op\" is missing for field '{name}'.")
    op, has_value, value = rule["op"], "value" in rule, rule.get("value")
    if not has_value and op != "exists":
        raise _RuleError(f"\"value\" is missing for field '{name}'.")

    if name in TEXT_FIELDS:
        op = _require_op(name, op, SET_OPS)
        value = _set_value(name, op, value, TEXT_FIELDS[name], f"a {name}")
    elif name == "band":
        op = _require_op(name, op, SET_OPS)
        value = _set_value(name, op, value, BAND_VALUES, "a success-gap band")
    elif name in DAY_FIELDS:
        op = _require_op(name, op, DAY_OPS)
        value = _day_value(name, op, value)
    elif name == "requires_experience":
        op = _require_op(name, op, EXPERIENCE_OPS)
        if not isinstance(value, str):
            raise _RuleError(f"'{name} {op}' needs an engagement type, got {_kind_of(value)}.")
        _check_choice(name, value, EngagementType.values, "an engagement type")
    elif name.startswith(ATTRIBUTE_PREFIX):
        key = name.removeprefix(ATTRIBUTE_PREFIX)
        if len(key) > ATTRIBUTE_KEY_MAX or not ATTRIBUTE_KEY.match(key):
            raise _RuleError(
                f"'{name}' needs a key of letters and digits, starting with a letter, with single "
                "'-' or '_' between them (e.g. attributes.chapter)."
            )
        op = _require_op(name, op, ATTRIBUTE_OPS)
        value = _attribute_value(name, op, value, has_value)
    else:
        raise _RuleError(f"unknown field '{name}'. Known fields: {KNOWN_FIELDS}.")
    return {"field": name, "op": op, "value": value}


def coverage_criteria_validate(criteria: Any) -> list[Rule]:
    """Check criteria and return them normalised (tuples made lists, repeats dropped from value
    lists, "exists" given its default true). Raises ``ValidationError({"criteria": ...})`` naming
    the rule number and what is wrong with it."""
    if not isinstance(criteria, list | tuple):
        raise ValidationError(
            {
                "criteria": 'Criteria must be a list of rules, each {"field", "op", "value"}; '
                f"got {_kind_of(criteria)}."
            }
        )
    if len(criteria) > MAX_RULES:
        raise ValidationError({"criteria": f"Criteria take at most {MAX_RULES} rules."})
    normalised = []
    for number, rule in enumerate(criteria, start=1):
        try:
            normalised.append(_normalise_rule(rule))
        except _RuleError as error:
            raise ValidationError({"criteria": f"Rule {number}: {error}"}) from None
    return normalised


# ---------------------------------------------------------------------------------------------
# Criteria: translation to a query


def _set_q(column: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{column: value})
    if op == "ne":
        return ~Q(**{column: value})
    if op == "in":
        return Q(**{f"{column}__in": value})
    return ~Q(**{f"{column}__in": value})


def _attribute_q(key: str, op: str, value: Any) -> Q:
    """The explicit ``__exact``/``__in`` suffix keeps the key a key whatever its name."""
    present = Q(attributes__has_key=key)
    if op == "exists":
        return present if value else ~present
    column = f"attributes__{key}"
    lookup = "exact" if op in ("eq", "ne") else "in"
    matches = present & Q(**{f"{column}__{lookup}": value})
    if op in ("eq", "in"):
        return matches
    # A key holding JSON null compares as SQL NULL, which NOT alone would not match.
    return ~present | Q(**{f"{column}__exact": None}) | ~Q(**{f"{column}__{lookup}": value})


def _day_q(name: str, op: str, value: Any, today: dt.date) -> Q:
    """Day counts become date comparisons on the indexed column: with d = today − joined_on,
    d ≥ n ⇔ joined_on ≤ today − n; with d = renewal_on − today, d ≥ n ⇔ renewal_on ≥ today + n.
    NULL dates fail every comparison, so members without the date never match."""
    column = DAY_FIELDS[name]
    since = name == "days_since_joining"

    def date_for(days: int) -> dt.date:
        return today - dt.timedelta(days=days) if since else today + dt.timedelta(days=days)

    if op == "between":
        low, high = (date_for(value[1]), date_for(value[0])) if since else map(date_for, value)
        return Q(**{f"{column}__gte": low, f"{column}__lte": high})
    flipped = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "eq": "exact"}
    same = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte", "eq": "exact"}
    lookup = flipped[op] if since else same[op]
    return Q(**{f"{column}__{lookup}": date_for(value)})


def _experience_q(organization: Organization, op: str, value: str) -> Q:
    elements = AppropriateExperience.objects.for_org(organization).filter(
        member=OuterRef("pk"), engagement_type=value, required=True, is_active=True
    )
    return Q(Exists(elements)) if op == "has" else ~Q(Exists(elements))


def _rule_q(organization: Organization, rule: Rule, today: dt.date) -> Q:
    name, op, value = rule["field"], rule["op"], rule["value"]
    if name in TEXT_FIELDS:
        return _set_q(name, op, value)
    if name == "band":
        return _set_q("success_band", op, value)
    if name in DAY_FIELDS:
        return _day_q(name, op, value, today)
    if name == "requires_experience":
        return _experience_q(organization, op, value)
    return _attribute_q(name.removeprefix(ATTRIBUTE_PREFIX), op, value)


def coverage_criteria_q(
    *, organization: Organization, criteria: Any, today: dt.date | None = None
) -> Q:
    """A Q over Member that holds when every rule holds (``Q()`` for no rules). The criteria are
    validated first, so stored rules edited elsewhere can never reach the ORM unchecked."""
    today = today or organization_today(organization)
    q = Q()
    for rule in coverage_criteria_validate(criteria):
        q &= _rule_q(organization, rule, today)
    return q


# ---------------------------------------------------------------------------------------------
# Services: creating and changing models

_UNSET: Any = object()
Errors = dict[str, list[str]]


def _add(errors: Errors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _check_name(errors: Errors, organization: Organization, name: Any, exclude_pk=None) -> str:
    if not isinstance(name, str) or not name.strip():
        _add(errors, "name", "Give the coverage model a name.")
        return ""
    name = name.strip()
    max_length = CoverageModel._meta.get_field("name").max_length
    if len(name) > max_length:
        _add(errors, "name", f"Keep the name within {max_length} characters.")
    taken = CoverageModel.objects.for_org(organization).filter(name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        _add(errors, "name", "Another coverage model of this organization has this name.")
    return name


def _check_priority(errors: Errors, priority: Any) -> None:
    if not _is_int(priority) or priority < 0:
        _add(errors, "priority", "Priority must be a whole number, 0 or more.")


def _check_policy(errors: Errors, policy: Any) -> None:
    if policy not in CoverageModel.AssignmentPolicy.values:
        choices = ", ".join(CoverageModel.AssignmentPolicy.values)
        _add(errors, "assignment_policy", f"Choose an assignment policy: {choices}.")


def _check_cadence(errors: Errors, days: Any) -> None:
    if days is not None and (not _is_int(days) or days < 1):
        _add(errors, "engagement_cadence_days", "The cadence is a whole number of days, 1 or more.")


def _check_criteria(errors: Errors, criteria: Any) -> list[Rule]:
    try:
        return coverage_criteria_validate(criteria)
    except ValidationError as error:
        for message in error.message_dict["criteria"]:
            _add(errors, "criteria", message)
        return []


def _check_pool(errors: Errors, organization: Organization, seats: Any) -> list[Seat]:
    """The owner pool: the organization's seats that can own accounts, each once, in order."""
    seats = list(seats)
    for seat in seats:
        if not isinstance(seat, Seat):
            _add(errors, "pool_seats", "The pool takes seats.")
            return []
        if seat.organization_id != organization.pk:
            _add(errors, "pool_seats", f"Seat {seat.pk} does not belong to this organization.")
        elif seat.role not in OWNER_ROLES:
            _add(
                errors,
                "pool_seats",
                f"{seat.user} is a {seat.get_role_display().lower()} and cannot own accounts; "
                "choose Member Success Managers or admins.",
            )
    return list(dict.fromkeys(seats))


def _check_playbooks(errors: Errors, organization: Organization, playbooks: Any) -> list[Playbook]:
    playbooks = list(playbooks)
    for playbook in playbooks:
        if not isinstance(playbook, Playbook):
            _add(errors, "playbooks", "Playbooks must be playbooks.")
            return []
        try:
            require_same_organization(organization, playbooks=playbook)
        except ValidationError as error:
            _add(errors, "playbooks", f"{playbook}: {error.message_dict['playbooks'][0]}")
    return list(dict.fromkeys(playbooks))


def _check_description(errors: Errors, description: Any) -> None:
    if not isinstance(description, str):
        _add(errors, "description", "The description is text.")


def _replace_pool(organization: Organization, model: CoverageModel, seats: list[Seat]) -> None:
    """Replace the pool in the order given (pool order is pk order: it breaks load ties and is
    the round-robin order)."""
    rows = CoveragePoolSeat.objects.for_org(organization).filter(coverage_model=model)
    before = list(rows.order_by("pk").values_list("seat_id", flat=True))
    rows.delete()
    CoveragePoolSeat.objects.for_org(organization).bulk_create(
        [CoveragePoolSeat(organization=organization, coverage_model=model, seat=s) for s in seats]
    )
    _audit_list(organization, model, "pool", before, [seat.pk for seat in seats])


def _replace_playbooks(
    organization: Organization, model: CoverageModel, playbooks: list[Playbook]
) -> None:
    rows = CoveragePlaybook.objects.for_org(organization).filter(coverage_model=model)
    before = list(rows.order_by("pk").values_list("playbook_id", flat=True))
    rows.delete()
    CoveragePlaybook.objects.for_org(organization).bulk_create(
        [
            CoveragePlaybook(organization=organization, coverage_model=model, playbook=playbook)
            for playbook in playbooks
        ]
    )
    _audit_list(organization, model, "playbooks", before, [playbook.pk for playbook in playbooks])


def _audit_list(
    organization: Organization, model: CoverageModel, name: str, before: list, after: list
) -> None:
    """``bulk_create`` sends no signal: the new list goes into the trail as one entry on the
    model, ``{name: [ids before, ids after]}`` (the rows removed are recorded on delete)."""
    if before != after:
        audit_record(
            organization=organization,
            action=f"coverage_model.set_{name}",
            instance=model,
            changes={name: [before, after]},
        )


def _save_model(model: CoverageModel, **save_kwargs: Any) -> None:
    """Save, turning a lost race on the name into the same field error as the check."""
    try:
        with transaction.atomic():
            model.save(**save_kwargs)
    except IntegrityError:
        raise ValidationError(
            {"name": "Another coverage model of this organization has this name."}
        ) from None


def _require_scope_matches(organization: Organization) -> None:
    """``bulk_create`` and ``update`` skip ``TenantModel.save``; apply its guard ourselves."""
    scope = current_organization_id()
    if scope is not None and scope != organization.pk:
        raise UnscopedQueryError(
            f"Refusing to write rows of organization {organization.pk} inside the scope of "
            f"organization {scope}."
        )


@transaction.atomic
def coverage_model_create(
    *,
    organization: Organization,
    name: str,
    priority: int = 100,
    criteria: Iterable[Rule] = (),
    assignment_policy: str = CoverageModel.AssignmentPolicy.ROUND_ROBIN,
    engagement_cadence_days: int | None = None,
    pool_seats: Iterable[Seat] = (),
    playbooks: Iterable[Playbook] = (),
    description: str = "",
) -> CoverageModel:
    """Create a coverage model with its owner pool and playbooks; members are matched to it the
    next time coverage is applied (scheduled once this commits)."""
    _require_scope_matches(organization)
    errors: Errors = {}
    name = _check_name(errors, organization, name)
    _check_priority(errors, priority)
    rules = _check_criteria(errors, list(criteria) if isinstance(criteria, tuple) else criteria)
    _check_policy(errors, assignment_policy)
    _check_cadence(errors, engagement_cadence_days)
    seats = _check_pool(errors, organization, pool_seats)
    playbook_list = _check_playbooks(errors, organization, playbooks)
    _check_description(errors, description)
    if errors:
        raise ValidationError(errors)
    model = CoverageModel(
        organization=organization,
        name=name,
        priority=priority,
        criteria=rules,
        assignment_policy=assignment_policy,
        engagement_cadence_days=engagement_cadence_days,
        description=description,
    )
    _save_model(model)
    _replace_pool(organization, model, seats)
    _replace_playbooks(organization, model, playbook_list)
    coverage_apply_later(organization_id=organization.pk)
    return model


@transaction.atomic
def coverage_model_update(
    *,
    organization: Organization,
    coverage_model: CoverageModel,
    name: str = _UNSET,
    priority: int = _UNSET,
    criteria: Iterable[Rule] = _UNSET,
    assignment_policy: str = _UNSET,
    engagement_cadence_days: int | None = _UNSET,
    pool_seats: Iterable[Seat] = _UNSET,
    playbooks: Iterable[Playbook] = _UNSET,
    description: str = _UNSET,
    is_active: bool = _UNSET,
) -> CoverageModel:
    """Change the given fields only; a pool or playbook list given replaces the old one. The
    model object is left as it was when the change is refused."""
    _require_scope_matches(organization)
    require_same_organization(organization, coverage_model=coverage_model)
    errors: Errors = {}
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        changes["name"] = _check_name(errors, organization, name, exclude_pk=coverage_model.pk)
    if priority is not _UNSET:
        _check_priority(errors, priority)
        changes["priority"] = priority
    if criteria is not _UNSET:
        given = list(criteria) if isinstance(criteria, tuple) else criteria
        changes["criteria"] = _check_criteria(errors, given)
    if assignment_policy is not _UNSET:
        _check_policy(errors, assignment_policy)
        changes["assignment_policy"] = assignment_policy
    if engagement_cadence_days is not _UNSET:
        _check_cadence(errors, engagement_cadence_days)
        changes["engagement_cadence_days"] = engagement_cadence_days
    if description is not _UNSET:
        _check_description(errors, description)
        changes["description"] = description
    if is_active is not _UNSET:
        if not isinstance(is_active, bool):
            _add(errors, "is_active", "Active is true or false.")
        changes["is_active"] = is_active
    seats = None if pool_seats is _UNSET else _check_pool(errors, organization, pool_seats)
    playbook_list = (
        None if playbooks is _UNSET else _check_playbooks(errors, organization, playbooks)
    )
    if errors:
        raise ValidationError(errors)

    original = {key: getattr(coverage_model, key) for key in changes}
    for key, value in changes.items():
        setattr(coverage_model, key, value)
    try:
        if changes:
            _save_model(coverage_model, update_fields=[*changes, "updated_at"])
    except ValidationError:
        for key, value in original.items():
            setattr(coverage_model, key, value)
        raise
    if seats is not None:
        _replace_pool(organization, coverage_model, seats)
    if playbook_list is not None:
        _replace_playbooks(organization, coverage_model, playbook_list)
    coverage_apply_later(organization_id=organization.pk)
    return coverage_model


# ---------------------------------------------------------------------------------------------
# Matching: which model each member falls under


def _match_all(q: Q) -> Q:
    """``When`` refuses an empty Q; an empty criteria list matches every member."""
    return q if q else Q(pk__isnull=False)


def _target_case(
    organization: Organization, ranked: Sequence[tuple[int, Any]], today: dt.date
) -> Case | Value:
    """The id of the first (highest-ranked) configuration whose criteria hold, else NULL.

    ``ranked`` is (value to yield, criteria), best first: the database evaluates the whole
    priority resolution for every member in one expression."""
    whens = [
        When(
            _match_all(coverage_criteria_q(organization=organization, criteria=crit, today=today)),
            then=Value(value),
        )
        for value, crit in ranked
    ]
    if not whens:
        return Value(None, output_field=IntegerField())
    return Case(*whens, default=Value(None), output_field=IntegerField())


NO_MODEL = 0  # "no model" when comparing model ids (primary keys start at 1)


def _ranked(models: Iterable[CoverageModel]) -> list[CoverageModel]:
    """Highest priority first; on a tie the older model (lower pk) wins."""
    return sorted(models, key=lambda model: (-model.priority, model.pk))


def _members_in_scope(
    organization: Organization, member_ids: Iterable[int] | None
) -> QuerySet[Member]:
    members = Member.objects.for_org(organization)
    if member_ids is not None:
        members = members.filter(pk__in=list(member_ids))
    return members


def _batches(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), WRITE_BATCH):
        yield ids[start : start + WRITE_BATCH]


@dataclass
class CoverageResult:
    """What one application of coverage did."""

    matched: dict[int, int] = field(default_factory=dict)  # model id → members in scope matching
    changed_model: int = 0  # members whose coverage model changed
    owners_assigned: int = 0  # unowned members given an owner from a pool
    enrolled: int = 0  # enrolments started in the new model's playbooks


def _write_models(
    organization: Organization,
    members: QuerySet[Member],
    models: list[CoverageModel],
    today: dt.date,
) -> list[tuple[int, int | None]]:
    """Write each member's winning model where it changed; returns (member id, new model id)."""
    case = _target_case(organization, [(m.pk, m.criteria) for m in _ranked(models)], today)
    # The CASE is evaluated once per member in the WHERE, and again only for the rows that
    # move, so the database does the priority resolution and Python sees only the changes.
    changed = list(
        members.alias(target=case)
        .exclude(
            Exact(
                Coalesce(F("target"), Value(NO_MODEL)),
                Coalesce(F("coverage_model_id"), Value(NO_MODEL)),
            )
        )
        .annotate(new_model=F("target"))
        .order_by("pk")
        .values_list("pk", "new_model")
    )
    by_target: dict[int | None, list[int]] = defaultdict(list)
    for member_id, target in changed:
        by_target[target].append(member_id)
    for target, ids in by_target.items():
        for batch in _batches(ids):
            Member.objects.for_org(organization).filter(pk__in=batch).update(
                coverage_model_id=target
            )
    return changed


def _deal_round_robin(model: CoverageModel, pool: list[int], member_ids: list[int]) -> dict:
    """Deal members to the pool in turn, starting where the last run stopped."""
    position = model.round_robin_position % len(pool)
    assignment = {}
    for member_id in member_ids:
        assignment[member_id] = pool[position]
        position = (position + 1) % len(pool)
    model.round_robin_position = position
    return assignment


def _deal_least_loaded(
    pool: list[int], member_ids: list[int], load: defaultdict[int, int]
) -> dict[int, int]:
    """Each member to the seat owning fewest members (earlier in the pool on a tie). ``load`` is
    shared across models, so a seat in two pools is counted once, and grows as we deal."""
    order = {seat_id: index for index, seat_id in enumerate(pool)}
    assignment = {}
    for member_id in member_ids:
        seat_id = min(pool, key=lambda seat: (load[seat], order[seat]))
        assignment[member_id] = seat_id
        load[seat_id] += 1
    return assignment


def _pools(organization: Organization, model_ids: Iterable[int]) -> dict[int, list[int]]:
    """Each model's pool of seats that may own accounts, in pool order (a seat made a viewer
    since it joined the pool is skipped)."""
    pools: dict[int, list[int]] = defaultdict(list)
    for model_id, seat_id in (
        CoveragePoolSeat.objects.for_org(organization)
        .filter(coverage_model_id__in=list(model_ids), seat__role__in=OWNER_ROLES)
        .order_by("pk")
        .values_list("coverage_model_id", "seat_id")
    ):
        pools[model_id].append(seat_id)
    return pools


def _seat_loads(organization: Organization, seat_ids: set[int]) -> defaultdict[int, int]:
    """How many members each seat owns in the whole organization (one grouped count)."""
    load: defaultdict[int, int] = defaultdict(int)
    load.update(
        Member.objects.for_org(organization)
        .filter(owner_id__in=seat_ids)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    return load


def _assign_owners(
    organization: Organization, members: QuerySet[Member], models: list[CoverageModel]
) -> int:
    """Give the unowned members of models with a pool an owner from it.

    Ids are fetched once (rows locked on PostgreSQL, so a concurrent hand-off is not undone),
    dealt in Python, and written as one UPDATE per seat plus one insert of the hand-offs.
    """
    by_id = {model.pk: model for model in models}
    pools = _pools(organization, by_id)
    if not pools:
        return 0
    unowned: dict[int, list[int]] = defaultdict(list)
    for member_id, model_id in (
        members.filter(owner__isnull=True, coverage_model_id__in=list(pools))
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "coverage_model_id")
    ):
        unowned[model_id].append(member_id)
    if not unowned:
        return 0

    least_loaded = CoverageModel.AssignmentPolicy.LEAST_LOADED
    load: defaultdict[int, int] = defaultdict(int)
    if any(by_id[model_id].assignment_policy == least_loaded for model_id in unowned):
        load = _seat_loads(organization, {seat for pool in pools.values() for seat in pool})
    assignment: dict[int, tuple[int, CoverageModel]] = {}
    turned: list[CoverageModel] = []
    for model in _ranked(by_id[model_id] for model_id in unowned):
        if model.assignment_policy == least_loaded:
            dealt = _deal_least_loaded(pools[model.pk], unowned[model.pk], load)
        else:
            dealt = _deal_round_robin(model, pools[model.pk], unowned[model.pk])
            turned.append(model)
        assignment.update((member_id, (seat, model)) for member_id, seat in dealt.items())
    if turned:
        CoverageModel.objects.for_org(organization).bulk_update(turned, ["round_robin_position"])
    _write_owners(organization, assignment)
    return len(assignment)


def _write_owners(
    organization: Organization, assignment: dict[int, tuple[int, CoverageModel]]
) -> None:
    """One UPDATE per seat (in batches of ids) and one insert of the hand-offs, so each
    assignment is kept in the member's ownership history like any other."""
    by_seat: dict[int, list[int]] = defaultdict(list)
    for member_id, (seat_id, _model) in assignment.items():
        by_seat[seat_id].append(member_id)
    now = timezone.now()
    for seat_id, ids in by_seat.items():
        for batch in _batches(ids):
            Member.objects.for_org(organization).filter(pk__in=batch).update(
                owner_id=seat_id, updated_at=now
            )
    OwnershipChange.objects.for_org(organization).bulk_create(
        [
            OwnershipChange(
                organization=organization,
                member_id=member_id,
                from_seat=None,
                to_seat_id=seat_id,
                changed_by=None,
                changed_at=now,
                note=f"Assigned by coverage model {model.name}",
            )
            for member_id, (seat_id, model) in assignment.items()
        ],
        batch_size=WRITE_BATCH,
    )


def _enrol(
    organization: Organization,
    changed: list[tuple[int, int | None]],
    models: list[CoverageModel],
) -> int:
    """Enrol members that moved into a model in each of its active playbooks.

    Enrolment is per member by nature (it materialises each member's steps), so this calls the
    playbooks service once per member and playbook. A member whose enrolment is refused is
    logged and skipped, so one bad row does not hold back a whole organization's coverage.
    """
    arrived = {member_id: target for member_id, target in changed if target is not None}
    if not arrived:
        return 0
    playbooks: dict[int, list[Playbook]] = defaultdict(list)
    for link in (
        CoveragePlaybook.objects.for_org(organization)
        .filter(coverage_model_id__in=set(arrived.values()), playbook__is_active=True)
        .select_related("playbook")
        .order_by("pk")
    ):
        playbooks[link.coverage_model_id].append(link.playbook)
    ids = [member_id for member_id, target in arrived.items() if target in playbooks]
    if not ids:
        return 0
    from orchestration.playbooks import enrollment_start

    names = {model.pk: model.name for model in models}
    members = Member.objects.for_org(organization).in_bulk(ids)
    enrolled = 0
    for member_id in ids:
        target = arrived[member_id]
        for playbook in playbooks[target]:
            try:
                with transaction.atomic():
                    enrollment = enrollment_start(
                        organization=organization,
                        playbook=playbook,
                        member=members[member_id],
                        reason=f"coverage:{names[target]}",
                    )
            except ValidationError as error:
                logger.warning(
                    "Coverage could not enrol member %s in playbook %s: %s",
                    member_id,
                    playbook.pk,
                    error.messages,
                )
                continue
            enrolled += enrollment is not None
    return enrolled


def _matched(members: QuerySet[Member], models: list[CoverageModel]) -> dict[int, int]:
    matched = dict.fromkeys((model.pk for model in models), 0)
    matched.update(
        members.filter(coverage_model_id__in=list(matched))
        .order_by()
        .values("coverage_model_id")
        .annotate(n=Count("pk"))
        .values_list("coverage_model_id", "n")
    )
    return matched


@transaction.atomic
def coverage_apply(
    *,
    organization: Organization,
    member_ids: Iterable[int] | None = None,
    today: dt.date | None = None,
) -> CoverageResult:
    """Match every member (or the ones given) to the highest-priority active model whose
    criteria hold (a tie goes to the older model), or to none; give unowned members of a model
    with a pool an owner from it; enrol members that moved into a model in its playbooks.

    The active models are locked for the run, so two runs for one organization (the nightly one
    and a member's change) take turns and the round-robin position is never dealt twice.
    """
    _require_scope_matches(organization)
    today = today or organization_today(organization)
    models = list(
        CoverageModel.objects.for_org(organization)
        .filter(is_active=True)
        .select_for_update()
        .order_by("pk")
    )
    members = _members_in_scope(organization, member_ids)
    changed = _write_models(organization, members, models, today)
    result = CoverageResult(
        matched=_matched(members, models),
        changed_model=len(changed),
        owners_assigned=_assign_owners(organization, members, models),
        enrolled=_enrol(organization, changed, models),
    )
    if result.changed_model or result.owners_assigned or result.enrolled:  # one summary per run
        audit_record(
            organization=organization,
            action="coverage.apply",
            model=Member,
            changes={
                "changed_model": result.changed_model,
                "owners_assigned": result.owners_assigned,
                "enrolled": result.enrolled,
            },
        )
    return result


# ---------------------------------------------------------------------------------------------
# Preview

PREVIEW_FIELDS = frozenset(
    {
        "name",
        "priority",
        "criteria",
        "assignment_policy",
        "engagement_cadence_days",
        "pool_seats",
        "playbooks",
        "description",
    }
)
NEW_MODEL = -1  # stands for a model not saved yet in the priority CASE


@dataclass(frozen=True)
class CoveragePreview:
    """What applying coverage with one model's configuration would do."""

    matched: int  # members that would fall under this model after priority resolution
    changed_model: int  # members whose coverage model would change (to or from any model)
    changed_owner: int  # unowned members of this model that its pool would give an owner

    @property
    def summary(self) -> str:
        noun = "member" if self.matched == 1 else "members"
        return (
            f"{self.matched} {noun} would match, {self.changed_owner} would change owner, "
            f"{self.changed_model} would change coverage model."
        )

    def __str__(self) -> str:
        return self.summary


@dataclass
class _Candidate:
    pk: int | None
    priority: Any
    criteria: Any
    has_pool: bool


def _candidate_from_model(organization: Organization, model: CoverageModel) -> _Candidate:
    require_same_organization(organization, coverage_model=model)
    has_pool = (
        model.pk is not None
        and CoveragePoolSeat.objects.for_org(organization)
        .filter(coverage_model=model, seat__role__in=OWNER_ROLES)
        .exists()
    )
    return _Candidate(model.pk, model.priority, model.criteria, has_pool)


def _candidate_from_fields(organization: Organization, fields: dict[str, Any]) -> _Candidate:
    unknown = sorted(set(fields) - PREVIEW_FIELDS)
    if unknown:
        raise TypeError(f"coverage_preview() does not take {', '.join(unknown)}.")
    errors: Errors = {}
    seats = _check_pool(errors, organization, fields.get("pool_seats", ()))
    if errors:
        raise ValidationError(errors)
    return _Candidate(None, fields.get("priority", 100), fields.get("criteria", []), bool(seats))


def coverage_preview(
    *,
    organization: Organization,
    model_or_fields: CoverageModel | dict[str, Any],
    today: dt.date | None = None,
) -> CoveragePreview:
    """Count what a configuration would do before it is saved, writing nothing.

    ``model_or_fields`` is the keyword arguments of ``coverage_model_create`` (a new model,
    which would lose a priority tie to every existing one), or a model, saved or not, whose
    fields may have been changed in memory (its saved pool counts). The configuration is
    weighed as active against the organization's other active models, with the same CASE
    ``coverage_apply`` uses, and counted in one aggregate query.
    """
    today = today or organization_today(organization)
    if isinstance(model_or_fields, CoverageModel):
        candidate = _candidate_from_model(organization, model_or_fields)
    else:
        candidate = _candidate_from_fields(organization, dict(model_or_fields))
    errors: Errors = {}
    _check_priority(errors, candidate.priority)
    _check_criteria(errors, candidate.criteria)
    if errors:
        raise ValidationError(errors)

    others = CoverageModel.objects.for_org(organization).filter(is_active=True)
    if candidate.pk is not None:
        others = others.exclude(pk=candidate.pk)
    value = candidate.pk if candidate.pk is not None else NEW_MODEL
    tie = candidate.pk if candidate.pk is not None else float("inf")
    ranked = sorted(
        [
            *((-model.priority, model.pk, model.pk, model.criteria) for model in others),
            (-candidate.priority, tie, value, candidate.criteria),
        ],
        key=lambda row: (row[0], row[1]),
    )
    case = _target_case(organization, [(row[2], row[3]) for row in ranked], today)
    # One grouped query: the CASE is evaluated once per member, and the handful of groups
    # (target model × current model × owned or not) are summed here.
    groups = (
        Member.objects.for_org(organization)
        .alias(target=case)
        .annotate(
            new_model=Coalesce(F("target"), Value(NO_MODEL)),
            old_model=Coalesce(F("coverage_model_id"), Value(NO_MODEL)),
            unowned=ExpressionWrapper(Q(owner__isnull=True), output_field=BooleanField()),
        )
        .order_by()
        .values("new_model", "old_model", "unowned")
        .annotate(n=Count("pk"))
    )
    matched = changed = unowned = 0
    for group in groups:
        ours = group["new_model"] == value
        matched += group["n"] if ours else 0
        changed += group["n"] if group["new_model"] != group["old_model"] else 0
        unowned += group["n"] if ours and group["unowned"] else 0
    return CoveragePreview(
        matched=matched, changed_model=changed, changed_owner=unowned if candidate.has_pool else 0
    )


# ---------------------------------------------------------------------------------------------
# Re-applying when a member changes

# The member fields criteria read. A change to one of them re-applies that member's coverage.
WATCHED_FIELDS = (
    "tier",
    "region",
    "status",
    "kind",
    "attributes",
    "joined_on",
    "renewal_on",
    "success_band",
)
_SNAPSHOT = "_coverage_snapshot"
APPLY_EXPIRES = 3600


def coverage_apply_later(*, organization_id: int, member_ids: Iterable[int] | None = None) -> None:
    """Apply coverage in the worker once the current transaction commits (at once outside one),
    so the task never reads data that was rolled back or not yet visible."""
    kwargs: dict[str, Any] = {"organization_id": organization_id}
    if member_ids is not None:
        kwargs["member_ids"] = sorted(set(member_ids))

    def send() -> None:
        from orchestration.tasks import apply_coverage

        try:
            apply_coverage.apply_async(kwargs=kwargs, expires=APPLY_EXPIRES)
        except Exception:
            # The write has committed: an unreachable broker must not fail its request. The
            # nightly orchestration.apply_coverage_all applies coverage to every member.
            logger.exception(
                "could not queue the coverage of organization %s; the nightly run will apply it",
                organization_id,
            )

    transaction.on_commit(send)


def _snapshot(instance: Member) -> dict[str, Any]:
    """The watched values as loaded, read from ``__dict__`` so a deferred field is never fetched
    (a field not loaded is simply not watched). The attributes dict is copied one level deep:
    a top-level key changed in place is seen; a change nested deeper than that is not (replace
    the dict, as the services do)."""
    loaded = instance.__dict__
    return {
        name: dict(loaded[name]) if isinstance(loaded[name], dict) else loaded[name]
        for name in WATCHED_FIELDS
        if name in loaded
    }


def _member_loaded(sender, instance: Member, **kwargs: Any) -> None:
    instance.__dict__[_SNAPSHOT] = _snapshot(instance)


def _member_saved(
    sender, instance: Member, created: bool, raw: bool = False, update_fields=None, **kwargs: Any
) -> None:
    """Schedule a re-application for a new member, or one whose watched fields changed.

    Old values are the copy ``post_init`` kept (no query): saving a member's name, notes or
    owner schedules nothing. The success-gap engine writes bands with one UPDATE per run, which
    sends no signal; those changes are recorded as ``member.band_changed`` domain events and the
    nightly ``orchestration.apply_coverage_all`` (after the nightly scoring) picks them up.
    """
    if raw:
        return
    before = instance.__dict__.get(_SNAPSHOT, {})
    after = _snapshot(instance)
    instance.__dict__[_SNAPSHOT] = after
    names = WATCHED_FIELDS if update_fields is None else set(update_fields) & set(WATCHED_FIELDS)
    if created or any(
        name in after and (name not in before or before[name] != after[name]) for name in names
    ):
        coverage_apply_later(organization_id=instance.organization_id, member_ids=[instance.pk])


def connect_signals() -> None:
    """Called from the app's ``ready()``."""
    post_init.connect(_member_loaded, sender=Member, dispatch_uid="coverage-member-init")
    post_save.connect(_member_saved, sender=Member, dispatch_uid="coverage-member-save")
