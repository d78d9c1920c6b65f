"""Composite foreign keys that carry the organization: every join between two tenant tables
is a join within one organization, and the database says so.

Django gives each foreign key a constraint on its own column (``goal.member_id`` references
``member.id``). That cannot stop a goal of organization A from pointing at a member of
organization B, and on Citus, where tenant tables are distributed by ``organization_id``, a
foreign key between two distributed tables must include that column anyway. So, for every
concrete ForeignKey/OneToOneField from a tenant model to a tenant model, this module plans:

* on the referenced table, a UNIQUE constraint on ``(organization_id, id)`` (a foreign key
  needs a unique key to point at; it is also the future distributed primary key), and
* on the referencing table, ``FOREIGN KEY (organization_id, <column>) REFERENCES
  <target> (organization_id, id)``, NO ACTION and DEFERRABLE INITIALLY DEFERRED like Django's
  own foreign keys: Django emulates ``on_delete`` in Python and writes rows in whatever order
  suits it, so the check belongs at commit. MATCH SIMPLE: a NULL column is not checked.

Once a composite key is in place, Django's single-column twin (``goal.member_id`` references
``member.id``) says nothing more: a row that passes the composite check points at an existing
row of its own organization. It is dropped, so each insert runs one foreign-key check per
tenant column instead of two (planning 100,000 nudges spends a third of its time in those
checks at commit), and because Citus refuses a foreign key between distributed tables that
leaves out the distribution column.

The same reasoning retires a table's own key to ``tenancy_organization`` when one of its
composite keys is on a NOT NULL column: every row then points at a row of its own organization,
whose organization is itself checked, so the organization exists. Chains are followed to a table
that keeps its key (a ring of tables vouching for each other keeps theirs). A membership event
then runs one check at commit instead of two. (The success-gap snapshots, written 50,000 at a
time, go further: their keys are checked once per statement, ``tenancy.statement_keys``.)

``create_join_constraints`` is connected to ``post_migrate`` (tenancy/apps.py): after every
``migrate`` on PostgreSQL, including the test database's creation, it adds whatever is missing,
so a foreign key added later gets its composite twin with no hand-written migration. What
exists is judged by shape (table, columns, target) in ``pg_constraint``, not by name, so a
renamed table does not get a second copy. On existing data the new keys are validated when
added; a cross-organization reference stops ``migrate`` with the query that finds it.

SQLite gets none of this: it cannot ``ALTER TABLE … ADD CONSTRAINT``, and rebuilding every
table for it is not worth it for the development database. The plan is the same on both.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from tenancy.models import Organization, TenantModel

# PostgreSQL cuts identifiers at 63 bytes (NAMEDATALEN - 1).
MAX_NAME_LENGTH = 63


class JoinConstraintError(RuntimeError):
    """Existing rows break a composite foreign key: they join across organizations."""


@dataclass(frozen=True)
class OrganizationKey:
    """UNIQUE (organization_id, id) on a table other tenant tables point at."""

    table: str
    organization_column: str
    column: str
    name: str

    @property
    def columns(self) -> tuple[str, str]:
        return (self.organization_column, self.column)

    def sql(self, connection: BaseDatabaseWrapper) -> str:
        q = connection.ops.quote_name
        return (
            f"ALTER TABLE {q(self.table)} ADD CONSTRAINT {q(self.name)} "
            f"UNIQUE ({q(self.organization_column)}, {q(self.column)})"
        )


@dataclass(frozen=True)
class OrganizationForeignKey:
    """FOREIGN KEY (organization_id, <column>) REFERENCES <target> (organization_id, id)."""

    table: str
    organization_column: str
    column: str
    target_table: str
    target_organization_column: str
    target_column: str
    name: str

    @property
    def columns(self) -> tuple[str, str]:
        return (self.organization_column, self.column)

    @property
    def target_columns(self) -> tuple[str, str]:
        return (self.target_organization_column, self.target_column)

    @property
    def single_column_shape(self) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        """The shape of Django's own constraint on this column, which this one supersedes."""
        return (self.table, (self.column,), self.target_table, (self.target_column,))

    def sql(self, connection: BaseDatabaseWrapper) -> str:
        q = connection.ops.quote_name
        return (
            f"ALTER TABLE {q(self.table)} ADD CONSTRAINT {q(self.name)} "
            f"FOREIGN KEY ({q(self.organization_column)}, {q(self.column)}) "
            f"REFERENCES {q(self.target_table)} "
            f"({q(self.target_organization_column)}, {q(self.target_column)}) "
            "MATCH SIMPLE ON UPDATE NO ACTION ON DELETE NO ACTION "
            "DEFERRABLE INITIALLY DEFERRED"
        )

    def offenders_sql(self, connection: BaseDatabaseWrapper) -> str:
        """A query listing the rows that point into another organization (names are ours,
        quoted; no value from outside goes in)."""
        q = connection.ops.quote_name
        return (
            f"SELECT r.* FROM {q(self.table)} r JOIN {q(self.target_table)} t "  # noqa: S608
            f"ON t.{q(self.target_column)} = r.{q(self.column)} "
            f"WHERE t.{q(self.target_organization_column)} <> r.{q(self.organization_column)}"
        )


@dataclass(frozen=True)
class OrganizationVouch:
    """``table``'s own foreign key to the organization table is redundant: its NOT NULL
    composite key to ``through`` already names an existing row of the same organization."""

    table: str
    organization_column: str
    through: str

    def single_column_shape(self) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        organization = Organization._meta
        return (
            self.table,
            (self.organization_column,),
            organization.db_table,
            (organization.pk.column,),
        )


@dataclass(frozen=True)
class JoinPlan:
    """Unique keys first (the foreign keys need them), then the foreign keys."""

    keys: tuple[OrganizationKey, ...]
    foreign_keys: tuple[OrganizationForeignKey, ...]
    # (table, constraint name) of single-column foreign keys a composite one makes redundant.
    superseded: tuple[tuple[str, str], ...] = ()
    # Tables whose key to the organization table a NOT NULL composite key vouches for.
    vouched: tuple[OrganizationVouch, ...] = ()

    @property
    def names(self) -> list[str]:
        return [key.name for key in self.keys] + [fk.name for fk in self.foreign_keys]


def constraint_name(*parts: str, suffix: str) -> str:
    """``<parts>_<hash>_<suffix>``: readable, deterministic, at most 63 characters.

    The hash is over every part, so two names cut to the same prefix still differ.
    """
    digest = hashlib.sha256("|".join((*parts, suffix)).encode()).hexdigest()[:8]
    tail = f"_{digest}_{suffix}"
    return "_".join(parts)[: MAX_NAME_LENGTH - len(tail)] + tail


def tenant_foreign_keys() -> Iterator[models.ForeignKey]:
    """Every concrete ForeignKey/OneToOneField from a tenant model to a tenant model.

    Skipped: proxy and unmanaged models (no table of their own to alter) and fields declared
    ``db_constraint=False`` (their author chose no database constraint at all).
    """
    for model in apps.get_models():
        if not issubclass(model, TenantModel) or model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.local_concrete_fields:
            if not isinstance(field, models.ForeignKey) or not field.db_constraint:
                continue
            target = field.related_model
            if isinstance(target, type) and issubclass(target, TenantModel):
                yield field


def _organization_column(model: type[models.Model]) -> str:
    return model._meta.get_field("organization").column


def join_plan() -> JoinPlan:
    """What the database should carry, from the models as they are now; deterministic order."""
    keys: dict[tuple[str, str], OrganizationKey] = {}
    foreign_keys: list[OrganizationForeignKey] = []
    # Per table: its organization column, and the tables its NOT NULL composite keys reach.
    organization_columns: dict[str, str] = {}
    required: dict[str, set[str]] = {}
    for field in tenant_foreign_keys():
        source, target = field.model, field.related_model
        target_table, target_column = target._meta.db_table, field.target_field.column
        for model in (source, target):
            organization_columns[model._meta.db_table] = _organization_column(model)
            required.setdefault(model._meta.db_table, set())
        if not field.null:
            required[source._meta.db_table].add(target_table)
        keys.setdefault(
            (target_table, target_column),
            OrganizationKey(
                table=target_table,
                organization_column=_organization_column(target),
                column=target_column,
                name=constraint_name(target_table, "org", target_column, suffix="orgkey"),
            ),
        )
        foreign_keys.append(
            OrganizationForeignKey(
                table=source._meta.db_table,
                organization_column=_organization_column(source),
                column=field.column,
                target_table=target_table,
                target_organization_column=_organization_column(target),
                target_column=target_column,
                name=constraint_name(source._meta.db_table, field.column, suffix="orgfk"),
            )
        )
    return JoinPlan(
        keys=tuple(sorted(keys.values(), key=lambda k: (k.table, k.column))),
        foreign_keys=tuple(sorted(foreign_keys, key=lambda f: (f.table, f.column))),
        vouched=organization_vouches(required, organization_columns),
    )


def organization_vouches(
    required: dict[str, set[str]], organization_columns: dict[str, str]
) -> tuple[OrganizationVouch, ...]:
    """Which tables can drop their key to the organization table, given each table's NOT NULL
    composite keys (``required``: table -> tables it must point at).

    A table is anchored when its organization is checked: by its own key, or through a NOT NULL
    composite key to an anchored table. Tables with no such key keep their own and anchor the
    rest; the others are anchored one step at a time from them. A ring that never reaches a
    table keeping its key is never anchored, so it keeps its keys.
    """
    anchored = {table for table, targets in required.items() if not targets - {table}}
    vouches: list[OrganizationVouch] = []
    grew = True
    while grew:
        grew = False
        for table in sorted(required):
            through = sorted(required[table] & anchored - {table})
            if table not in anchored and through:
                anchored.add(table)
                vouches.append(OrganizationVouch(table, organization_columns[table], through[0]))
                grew = True
    return tuple(sorted(vouches, key=lambda v: v.table))


# Constraints of the tables in the current schema, with their columns in key order.
_CONSTRAINTS_SQL = """
SELECT rel.relname, con.conname, con.contype,
       ARRAY(SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
             ORDER BY k.n),
       COALESCE(frel.relname, ''),
       ARRAY(SELECT att.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.attnum
             ORDER BY k.n)
FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
LEFT JOIN pg_class frel ON frel.oid = con.confrelid
WHERE rel.relnamespace = to_regnamespace(current_schema())
  AND con.contype IN ('p', 'u', 'f')
  AND rel.relname = ANY(%s)
"""

_COLUMNS_SQL = """
SELECT rel.relname, att.attname
FROM pg_attribute att JOIN pg_class rel ON rel.oid = att.attrelid
WHERE rel.relnamespace = to_regnamespace(current_schema())
  AND rel.relkind IN ('r', 'p') AND att.attnum > 0 AND NOT att.attisdropped
  AND rel.relname = ANY(%s)
"""


@dataclass
class _Catalog:
    """What the database has now: columns per table, unique keys, foreign keys (by shape)."""

    columns: dict[str, set[str]]
    unique_keys: set[tuple[str, frozenset[str]]]
    # Shape (table, columns, target, target columns) -> constraint names.
    foreign_keys: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], list[str]]

    def has_columns(self, table: str, columns: tuple[str, ...]) -> bool:
        return set(columns) <= self.columns.get(table, set())

    def has_key(self, key: OrganizationKey) -> bool:
        return (key.table, frozenset(key.columns)) in self.unique_keys

    def has_foreign_key(self, fk: OrganizationForeignKey) -> bool:
        return (fk.table, fk.columns, fk.target_table, fk.target_columns) in self.foreign_keys


def _read_catalog(connection: BaseDatabaseWrapper, tables: list[str]) -> _Catalog:
    catalog = _Catalog(columns={}, unique_keys=set(), foreign_keys={})
    with connection.cursor() as cursor:
        cursor.execute(_COLUMNS_SQL, [tables])
        for table, column in cursor.fetchall():
            catalog.columns.setdefault(table, set()).add(column)
        cursor.execute(_CONSTRAINTS_SQL, [tables])
        for table, name, kind, columns, target, target_columns in cursor.fetchall():
            if kind == "f":
                shape = (table, tuple(columns), target, tuple(target_columns))
                catalog.foreign_keys.setdefault(shape, []).append(name)
            else:
                catalog.unique_keys.add((table, frozenset(columns)))
    return catalog


def _missing(plan: JoinPlan, catalog: _Catalog) -> JoinPlan:
    """The planned constraints the database lacks, among those whose tables and columns exist
    (a migration run backwards, or to a target, may leave a model's table or column absent)."""
    keys = tuple(
        key
        for key in plan.keys
        if catalog.has_columns(key.table, key.columns) and not catalog.has_key(key)
    )
    foreign_keys = tuple(
        fk
        for fk in plan.foreign_keys
        if catalog.has_columns(fk.table, fk.columns)
        and catalog.has_columns(fk.target_table, fk.target_columns)
        and not catalog.has_foreign_key(fk)
    )
    superseded = tuple(
        (fk.table, name)
        for fk in plan.foreign_keys
        for name in catalog.foreign_keys.get(fk.single_column_shape, [])
    )
    vouched = tuple(
        vouch for vouch in plan.vouched if catalog.foreign_keys.get(vouch.single_column_shape())
    )
    superseded += tuple(
        (vouch.table, name)
        for vouch in vouched
        for name in catalog.foreign_keys[vouch.single_column_shape()]
    )
    return JoinPlan(keys=keys, foreign_keys=foreign_keys, superseded=superseded, vouched=vouched)


def _routed(plan: JoinPlan, using: str) -> JoinPlan:
    """Only the tables whose models the router lets this database migrate."""
    allowed = {
        model._meta.db_table
        for model in apps.get_models()
        if router.allow_migrate_model(using, model)
    }
    return JoinPlan(
        keys=tuple(key for key in plan.keys if key.table in allowed),
        foreign_keys=tuple(
            fk for fk in plan.foreign_keys if {fk.table, fk.target_table} <= allowed
        ),
        vouched=tuple(v for v in plan.vouched if {v.table, v.through} <= allowed),
    )


def _add_foreign_key(connection: BaseDatabaseWrapper, fk: OrganizationForeignKey) -> None:
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(fk.sql(connection))
    except IntegrityError as exc:
        raise JoinConstraintError(
            f"{fk.table}.{fk.column} has rows that point at {fk.target_table} rows of another "
            f"organization, so {fk.name} cannot be added. Find them with: "
            f"{fk.offenders_sql(connection)}"
        ) from exc


def ensure_join_constraints(*, using: str = DEFAULT_DB_ALIAS) -> JoinPlan:
    """Add the planned constraints this PostgreSQL database lacks; return what was added.

    Idempotent: a second run adds nothing. Unique keys go first, in the same transaction as
    the foreign keys that need them and the dropping of the single-column keys they supersede
    (listed in the returned plan's ``superseded``), so a failure leaves nothing half done.
    Adding a unique key builds an index under an exclusive lock on its table: on a large table,
    build it first with
    ``CREATE UNIQUE INDEX CONCURRENTLY`` and ``ADD CONSTRAINT … UNIQUE USING INDEX``.
    On any other database (SQLite) nothing is added and the returned plan is empty.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return JoinPlan(keys=(), foreign_keys=())
    plan = _routed(join_plan(), using)
    tables = sorted({key.table for key in plan.keys} | {fk.table for fk in plan.foreign_keys})
    with transaction.atomic(using=using):
        missing = _missing(plan, _read_catalog(connection, tables))
        with connection.cursor() as cursor:
            for key in missing.keys:
                cursor.execute(key.sql(connection))
        for fk in missing.foreign_keys:
            _add_foreign_key(connection, fk)
        with connection.cursor() as cursor:
            for table, name in missing.superseded:
                q = connection.ops.quote_name
                cursor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
    return missing


def create_join_constraints(
    sender: Any,
    *,
    using: str = DEFAULT_DB_ALIAS,
    verbosity: int = 1,
    stdout: TextIO | None = None,
    **kwargs: Any,
) -> None:
    """``post_migrate`` receiver: bring the migrated database's composite keys up to date."""
    added = ensure_join_constraints(using=using)
    if verbosity >= 1 and (added.names or added.superseded):
        (stdout or sys.stdout).write(
            f"  Added {len(added.keys)} (organization_id, id) unique keys and "
            f"{len(added.foreign_keys)} composite foreign keys, dropped "
            f"{len(added.superseded)} single-column foreign keys they supersede "
            "(tenancy.join_constraints).\n"
        )
