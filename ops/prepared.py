"""Reads every request makes, compiled to SQL once per connection instead of once per request.

Building a queryset and compiling it costs far more CPU than running it: for the read of the
caller's seat with its user and organization (every page) or of an API key with its
organization (every API call), about half a millisecond, against a tenth for the query itself.
``PreparedRead`` lets the ORM build and compile the queryset once per database connection, with
stand-in parameters, and then runs that SQL with each request's parameters, turning rows into
model instances exactly as ``QuerySet`` iteration does (the compiler's converters, ``from_db``,
Django's populators for ``select_related``).

Only for querysets whose SQL does not depend on the parameters' values (plain ``filter(x=v)``
on int, str and aware datetime values; no ``__in`` lists, no ``None``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)

_SENTINEL_INT = itertools.count(-7_340_000_001, -1)
_SENTINEL_MICROSECOND = itertools.count(1)
# The range of the databases' 64-bit integer columns (BigAutoField and its foreign keys).
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


@dataclass
class _Plan:
    connection: Any
    sql: str
    positions: list[str]  # the parameter name at each placeholder
    constants: list[Any]  # the compiled parameters (the stand-ins replaced at each call)
    compiler: Any
    converters: dict
    init_list: list[str]
    start: int
    end: int
    populators: list


class PreparedRead(Generic[M]):
    """``build(**params)`` is a queryset of ``M``; ``rows(**params)`` runs its compiled SQL."""

    def __init__(self, build: Callable[..., QuerySet[M]], **kinds: type) -> None:
        self._build = build
        self._kinds = kinds  # parameter name -> int, str or datetime
        self._plans: dict[str, _Plan] = {}

    def rows(self, using: str = DEFAULT_DB_ALIAS, **params: Any) -> list[M]:
        if params.keys() != self._kinds.keys():
            raise TypeError(f"expected the parameters {sorted(self._kinds)}")
        for name, kind in self._kinds.items():
            if type(params[name]) is not kind:
                raise TypeError(f"{name} must be {kind.__name__}")
        if any(type(v) is int and not MIN_INT <= v <= MAX_INT for v in params.values()):
            # No column holds it, so no row matches: the ORM's exact lookups decide the same
            # without asking (SQLite's driver would raise on it; a URL's id can be that long).
            return []
        plan = self._plan(using)
        values = list(plan.constants)
        for index, name in enumerate(plan.positions):
            if name:
                values[index] = _adapted(plan.connection, params[name])
        with plan.connection.cursor() as cursor:
            cursor.execute(plan.sql, values)
            fetched = cursor.fetchall()
        objects = []
        if plan.converters:
            fetched = plan.compiler.apply_converters(fetched, plan.converters)
        for row in fetched:
            obj = plan.compiler.query.model.from_db(
                using, plan.init_list, row[plan.start : plan.end]
            )
            for populator in plan.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects

    def first(self, using: str = DEFAULT_DB_ALIAS, **params: Any) -> M | None:
        found = self.rows(using, **params)
        return found[0] if found else None

    def _plan(self, using: str) -> _Plan:
        connection = connections[using]
        plan = self._plans.get(using)
        if plan is None or plan.connection is not connection:
            plan = self._plans[using] = self._compile(using, connection)
        return plan

    def _compile(self, using: str, connection: Any) -> _Plan:
        stand_ins = {name: _stand_in(name, kind) for name, kind in self._kinds.items()}
        queryset = self._build(**stand_ins)
        compiler = queryset.query.get_compiler(using=using)
        sql, compiled = compiler.as_sql()
        by_value = {_adapted(connection, value): name for name, value in stand_ins.items()}
        positions = [
            by_value.get(value, "") if type(value) in (int, str, dt.datetime) else ""
            for value in compiled
        ]
        if sorted(name for name in positions if name) != sorted(stand_ins):
            raise ValueError("each parameter must appear exactly once in the compiled SQL")
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("composite primary keys are not supported")
        klass_info = compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        return _Plan(
            connection=connection,
            sql=sql,
            positions=positions,
            constants=list(compiled),
            compiler=compiler,
            converters=compiler.get_converters(columns),  # as results_iter() would, once
            init_list=[column[0].target.attname for column in compiler.select[start:end]],
            start=start,
            end=end,
            populators=get_related_populators(klass_info, compiler.select, using),
        )


def _stand_in(name: str, kind: type) -> Any:
    """A value no request passes, so its place in the compiled parameters can be found."""
    if kind is int:
        return next(_SENTINEL_INT)
    if kind is dt.datetime:
        micro = dt.timedelta(microseconds=next(_SENTINEL_MICROSECOND))
        return dt.datetime(1901, 2, 3, tzinfo=dt.UTC) + micro
    return f"\x1fstand-in:{name}\x1f"


def _adapted(connection: Any, value: Any) -> Any:
    """A parameter as the compiler writes it: a datetime as its column's value on this
    database (SQLite keeps text in UTC), anything else as it is."""
    if type(value) is dt.datetime:
        return connection.ops.adapt_datetimefield_value(value)
    return value
