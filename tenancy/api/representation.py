"""Reading rows out faster, with exactly DRF's output.

DRF builds a serializer's fields for every request (a deep copy of the declared fields, and a
model introspection for a ``ModelSerializer``) and then, for every field of every row, walks
``get_attribute``, its ``None`` check and ``to_representation`` through several generic layers.
On a page of 50 rows that is most of an API list's CPU.

``FastRepresentation`` keeps the serializer as declared (so the OpenAPI schema, validation and
writes are untouched) and replaces only ``to_representation``: the fields are bound once per
serializer class into a *plan*, and each field is read and formatted by a small function chosen
for its type. A field type the plan does not know is read and formatted by DRF itself, so an
unusual field costs speed, never correctness. ``tests/api/test_representation.py`` compares the
plan's output with DRF's own, row by row.

Only for serializers whose fields do not depend on the request (no context-dependent fields,
no hyperlinks): the plan is shared by every request of the process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

# A step reads one field of a row and formats it: (row, time zone) -> value for the JSON.
Step = Callable[[Any, Any], Any]

_ISO = drf_fields.ISO_8601


def _same(field: drf_fields.Field, base: type, method: str = "to_representation") -> bool:
    """Whether ``field`` is a ``base`` whose ``method`` is DRF's own (not overridden)."""
    return isinstance(field, base) and getattr(type(field), method) is getattr(base, method)


def _direct_attribute(serializer: serializers.Serializer, field: drf_fields.Field) -> str | None:
    """The attribute to read with a plain ``getattr`` when the field's source is one concrete,
    non-relational column of the serializer's model (by name or by ``*_id`` attname): such a
    read never raises ``ObjectDoesNotExist`` and never yields a callable, so DRF's generic
    ``get_attribute`` would return the same value. None otherwise."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None or len(field.source_attrs) != 1:
        return None
    name = field.source_attrs[0]
    try:
        column = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not column.concrete:
        return None
    if column.is_relation:
        return name if name == column.attname else None
    return name


def _formatter(field: drf_fields.Field) -> Callable[[Any, Any], Any]:
    """(non-None value, time zone) -> what DRF's ``field.to_representation`` gives."""
    if _same(field, drf_fields.IntegerField) or _plain_big_integer(field):
        return lambda value, zone: int(value)
    if _same(field, drf_fields.CharField):
        return lambda value, zone: str(value)
    if _same(field, drf_fields.FloatField):
        return lambda value, zone: float(value)
    if _same(field, drf_fields.ChoiceField):
        lookup = field.choice_strings_to_values
        represent = field.to_representation

        def choice(value: Any, zone: Any) -> Any:
            if type(value) is str:
                return value if value == "" else lookup.get(value, value)
            return represent(value)

        return choice
    if _same(field, drf_fields.BooleanField):
        represent = field.to_representation
        return lambda value, zone: value if value is True or value is False else represent(value)
    if (
        _same(field, drf_fields.DateTimeField)
        and not hasattr(field, "format")
        and not hasattr(field, "timezone")
        and str(api_settings.DATETIME_FORMAT).lower() == _ISO
        and settings.USE_TZ
    ):
        return _datetime_formatter(field)
    if (
        _same(field, drf_fields.DecimalField)
        and not getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and field.decimal_places is not None
        and field.max_digits is not None
    ):
        return _decimal_formatter(field)
    if (
        _same(field, drf_fields.DateField)
        and not hasattr(field, "format")
        and str(api_settings.DATE_FORMAT).lower() == _ISO
    ):
        represent = field.to_representation
        return lambda value, zone: value.isoformat() if type(value) is dt.date else represent(value)
    represent = field.to_representation
    return lambda value, zone: represent(value)


def _decimal_formatter(field: drf_fields.DecimalField) -> Callable[[Any, Any], Any]:
    """DRF's Decimal quantized to the field's places. A value read from a column of that scale
    already has that exponent and fits the field's digits: quantizing it would give it back
    unchanged (no rounding, no overflow), so it is returned as it is; any other value is left
    to DRF."""
    represent = field.to_representation
    exponent, max_digits = -field.decimal_places, field.max_digits

    def number(value: Any, zone: Any) -> Any:
        if type(value) is Decimal:
            _, digits, value_exponent = value.as_tuple()
            if value_exponent == exponent and len(digits) <= max_digits:
                return value
        return represent(value)

    return number


def _plain_big_integer(field: drf_fields.Field) -> bool:
    """A ``BigIntegerField`` (every ``id`` of a model read) that answers numbers, not strings:
    then its ``to_representation`` is ``IntegerField``'s."""
    return _same(field, drf_fields.BigIntegerField) and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    )


def _datetime_formatter(field: drf_fields.DateTimeField) -> Callable[[Any, Any], Any]:
    """DRF's ISO 8601 output in the active time zone, "Z" for UTC; anything unusual (a naive
    value, a string, an overflow) is left to DRF."""
    represent = field.to_representation

    def instant(value: Any, zone: Any) -> Any:
        if type(value) is not dt.datetime or value.tzinfo is None:
            return represent(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return represent(value)
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return instant


def _step(serializer: serializers.Serializer, field: drf_fields.Field) -> Step:
    """The reader of one field: DRF's value (``None`` kept as ``None``), formatted."""
    if isinstance(field, serializers.ListSerializer) and isinstance(
        field.child, serializers.Serializer
    ):
        return _list_step(field)
    if isinstance(field, serializers.Serializer):
        nested = Plan(field)
        return _generic_step(field, lambda value, zone: nested.represent(value, zone))
    if (
        _same(field, relations.PrimaryKeyRelatedField)
        and _same(field, relations.RelatedField, "get_attribute")
        and field.pk_field is None
    ):
        attname = _foreign_key_attname(serializer, field)
        if attname is not None:
            return lambda row, zone: getattr(row, attname)
        return _generic_step(field, lambda value, zone: field.to_representation(value))
    return _generic_step(field, _formatter(field))


# A column read straight off the row: (attribute, formatter or None to keep the value as read,
# the type whose values the formatter would return unchanged, or None).
Column = tuple[str, Callable[[Any, Any], Any] | None, type | None]


def _column(serializer: serializers.Serializer, field: drf_fields.Field) -> Column | None:
    """How to read ``field`` as a plain attribute of the row, when DRF's generic reading would
    give the same value: a primary-key field over a foreign key (its ``*_id``, as DRF's
    primary-key optimization reads it) or a field whose source is one concrete column."""
    if isinstance(field, serializers.BaseSerializer):
        return None
    if (
        _same(field, relations.PrimaryKeyRelatedField)
        and _same(field, relations.RelatedField, "get_attribute")
        and field.pk_field is None
    ):
        attname = _foreign_key_attname(serializer, field)
        return None if attname is None else (attname, None, None)
    if not _same(field, drf_fields.Field, "get_attribute"):
        return None
    attribute = _direct_attribute(serializer, field)
    if attribute is None:
        return None
    return attribute, _formatter(field), _unchanged_type(field)


def _unchanged_type(field: drf_fields.Field) -> type | None:
    """The type of the values that DRF's ``to_representation`` returns as they are (``str(s)``
    is ``s`` for a ``str``, ``int(i)`` is ``i`` for an ``int``…), so formatting them is skipped."""
    if _plain_big_integer(field):
        return int
    for base, kind in (
        (drf_fields.CharField, str),
        (drf_fields.IntegerField, int),
        (drf_fields.FloatField, float),
        (drf_fields.BooleanField, bool),
    ):
        if _same(field, base):
            return kind
    return None


def _columns_reader(attributes: list[str]) -> Callable[[Any], tuple]:
    """One C-level read of all the attributes of a row (``operator.attrgetter``), as a tuple."""
    if not attributes:
        return lambda row: ()
    if len(attributes) == 1:
        read_one = attrgetter(attributes[0])
        return lambda row: (read_one(row),)
    return attrgetter(*attributes)


def _foreign_key_attname(serializer: serializers.Serializer, field: drf_fields.Field) -> str | None:
    """``member_id`` for a primary-key field over the model's ``member`` foreign key: DRF's
    primary-key optimization reads exactly that column."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None or len(field.source_attrs) != 1:
        return None
    try:
        column = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    if isinstance(column, models.ForeignKey) and column.concrete:
        return column.attname
    return None


def _generic_step(field: drf_fields.Field, formatter: Callable[[Any, Any], Any]) -> Step:
    """DRF's own ``get_attribute`` (defaults, ``SkipField``, dotted sources, callables), then
    DRF's ``None`` check, then ``formatter``. ``SkipField`` is passed on to the plan."""

    def generic(row: Any, zone: Any) -> Any:
        value = field.get_attribute(row)
        check = value.pk if isinstance(value, PKOnlyObject) else value
        return None if check is None else formatter(value, zone)

    return generic


def _list_step(field: serializers.ListSerializer) -> Step:
    """A nested ``many=True`` serializer: each related row through the child's plan."""
    child = Plan(field.child)

    def nested_rows(value: Any, zone: Any) -> list[dict[str, Any]]:
        rows: Iterable = value.all() if isinstance(value, models.manager.BaseManager) else value
        return [child.represent(row, zone) for row in rows]

    generic = _generic_step(field, nested_rows)
    if len(field.source_attrs) != 1 or not _same(field, drf_fields.Field, "get_attribute"):
        return generic
    accessor = field.source_attrs[0]

    def prefetched(row: Any, zone: Any) -> Any:
        # Rows prefetched under this accessor are what ``row.<accessor>.all()`` would return;
        # reading them from the cache skips building a related manager and a queryset per row.
        cache = getattr(row, "_prefetched_objects_cache", None)
        if cache is None or accessor not in cache:
            return generic(row, zone)
        return [child.represent(item, zone) for item in cache[accessor]]

    return prefetched


class Plan:
    """A serializer's readable fields, bound once, each with its reader.

    Fields that are plain columns of the row are read together, in one ``attrgetter`` call,
    and formatted only when DRF's formatting would change the value; the others go through
    their step. The output keeps the declared order of the fields."""

    def __init__(self, serializer: serializers.Serializer) -> None:
        attributes: list[str] = []
        # (name, index of the column in the read tuple or -1, step, formatter, unchanged type)
        self.fields: list[tuple[str, int, Step | None, Any, type | None]] = []
        for field in serializer._readable_fields:
            column = _column(serializer, field)
            if column is None:
                self.fields.append((field.field_name, -1, _step(serializer, field), None, None))
                continue
            attribute, formatter, unchanged = column
            self.fields.append((field.field_name, len(attributes), None, formatter, unchanged))
            attributes.append(attribute)
        self.read_columns = _columns_reader(attributes)

    def represent(self, row: Any, zone: Any) -> dict[str, Any]:
        columns = self.read_columns(row)
        result: dict[str, Any] = {}
        for name, index, step, formatter, unchanged in self.fields:
            if step is None:
                value = columns[index]
                if value is not None and formatter is not None and type(value) is not unchanged:
                    value = formatter(value, zone)
                result[name] = value
                continue
            try:
                result[name] = step(row, zone)
            except SkipField:
                continue
        return result


_plans: dict[type, Plan] = {}


def _plan_of(serializer_class: type[serializers.Serializer]) -> Plan:
    """The plan of a serializer class, made on first use and kept for the process."""
    plan = _plans.get(serializer_class)
    if plan is None:
        plan = _plans[serializer_class] = Plan(serializer_class())
    return plan


class FastListSerializer(serializers.ListSerializer):
    """``many=True`` of a ``FastRepresentation`` serializer: every row through the child's plan
    with the active time zone looked up once for the list (an asgiref ``Local`` read, a few µs)
    rather than once per row. A child with a ``to_representation`` of its own gets DRF's path."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        if type(self.child).to_representation is not _planned_representation:
            return super().to_representation(data)
        rows: Iterable = data.all() if isinstance(data, models.manager.BaseManager) else data
        plan = _plan_of(type(self.child))
        zone = timezone.get_current_timezone()
        return [plan.represent(row, zone) for row in rows]


class FastRepresentation:
    # Mix into a read serializer (before ``ModelSerializer``/``Serializer``) whose fields do not
    # depend on the request; its output is DRF's, computed through a plan built once per class.
    # No docstring on purpose: drf-spectacular describes a serializer by the first docstring in
    # its MRO, so one here would become the description of every read schema.

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> serializers.ListSerializer:
        # DRF's ``BaseSerializer.many_init`` (which invites overriding), with FastListSerializer
        # as the default list class; a ``Meta.list_serializer_class`` of the serializer's own
        # still wins.
        meta = getattr(cls, "Meta", None)
        if getattr(meta, "list_serializer_class", None) is not None:
            return super().many_init(*args, **kwargs)
        list_kwargs = {}
        for key in serializers.LIST_SERIALIZER_KWARGS_REMOVE:
            value = kwargs.pop(key, None)
            if value is not None:
                list_kwargs[key] = value
        list_kwargs["child"] = cls(*args, **kwargs)
        list_kwargs.update(
            {
                key: value
                for key, value in kwargs.items()
                if key in serializers.LIST_SERIALIZER_KWARGS
            }
        )
        return FastListSerializer(*args, **list_kwargs)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return _plan_of(type(self)).represent(instance, timezone.get_current_timezone())


# What FastListSerializer checks a child's ``to_representation`` against: the plan's own (a
# subclass overriding it, or a test putting DRF's back, takes DRF's list path).
_planned_representation = FastRepresentation.to_representation
