"""Foreign keys checked once per statement, for tables written tens of thousands of rows at a
time.

A foreign key checks each row on its own: one lookup of the referenced row per row written,
taking its key-share lock each time. For the success-gap snapshots (a row per member per
night, 50,000 per statement) those checks cost more than a tenth of the night, and the rows of a
chunk all name the same run, whose row both chunks then lock 50,000 times each. A
``StatementKey`` keeps the same rule with triggers instead:

* the rows a statement writes (inserts, or updates) must each name a row of the target table
  *in their own organization*, like the composite keys of ``tenancy.join_constraints``. On
  PostgreSQL one statement-level trigger reads the statement's distinct (organization, id)
  pairs and looks each up in one query; it raises ``foreign_key_violation`` when one is
  missing;
* deleting target rows deletes the rows that name them (``ON DELETE CASCADE``), within the
  organization, so through an index that begins with it: the field can say ``DO_NOTHING``, and
  the table needs no index on the column alone for Django's cascade;
* a target row named by rows cannot change its key.

A foreign key keeps a writer's target from being deleted before the writer commits by locking
each target row ``FOR KEY SHARE``. Locking a row writes it (its header, a log record, and after
a checkpoint its whole page): for 50,000 snapshots, 50,000 member rows written again, a tenth
of a night. Here the writer takes instead one shared lock per key and organization (a
transaction-level advisory lock) before its look-up, and the delete or re-key of a target takes
the same lock exclusively before it looks for rows naming it. So a target deleted while a writer
of its organization is in flight waits for the writer's commit, then removes what it wrote; a
writer that comes after the delete waits for the delete's commit, then finds its target gone.
The price: a delete waits for every writer of the organization in flight, not only those naming
its row (for the snapshots, at most one scoring chunk's statement).

The field itself is declared ``db_constraint=False`` (``tenancy.join_constraints`` plans
nothing for it) and ``on_delete=DO_NOTHING``. SQLite has only row-level triggers: each row's
check is one index lookup there, which costs it little. A violation is an
``IntegrityError`` on both databases. ``ensure_statement_keys`` creates the triggers
idempotently; the declaring app connects it to ``post_migrate``, because SQLite drops a
table's triggers whenever a migration rebuilds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")


@dataclass(frozen=True)
class StatementKey:
    """``table.column`` (with ``table.organization_id``) names ``target.id`` of the same
    organization. ``name`` prefixes the triggers and functions (short: PostgreSQL keeps 63
    characters of a name)."""

    name: str
    table: str
    column: str
    target: str

    def __post_init__(self) -> None:
        # They are written into SQL as they are: plain lower-case identifiers only.
        for part in (self.name, self.table, self.column, self.target):
            if not IDENTIFIER.fullmatch(part):
                raise ValueError(f"not a plain identifier: {part!r}")

    def postgresql(self) -> str:
        n, t, c, r = self.name, self.table, self.column, self.target
        return f"""
CREATE OR REPLACE FUNCTION {n}_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    held bigint;
BEGIN
    -- Deletes and re-keys of the targets wait for this transaction from here on.
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('{n}:' || o.organization_id, 0))
       FROM (SELECT DISTINCT organization_id FROM written ORDER BY 1) o;
    -- Each named row once, in key order, looked up by its key: the work grows with the
    -- statement's rows, not with the target table.
    SELECT COUNT(*), COUNT(x.id) INTO wanted, held
      FROM (SELECT DISTINCT organization_id, {c} AS target_id FROM written
             WHERE {c} IS NOT NULL ORDER BY 1, 2) w
      LEFT JOIN LATERAL (SELECT t.id FROM {r} t
                          WHERE t.organization_id = w.organization_id
                            AND t.id = w.target_id) x ON TRUE;
    IF held < wanted THEN
        RAISE EXCEPTION '{t}.{c} names a {r} row its organization does not have'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{n}';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION {n}_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- After the writers in flight commit; this statement then sees what they wrote.
    PERFORM pg_advisory_xact_lock(hashtextextended('{n}:' || o.organization_id, 0))
       FROM (SELECT DISTINCT organization_id FROM gone ORDER BY 1) o;
    DELETE FROM {t} d USING gone g
     WHERE d.organization_id = g.organization_id AND d.{c} = g.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION {n}_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('{n}:' || OLD.organization_id, 0));
    IF EXISTS (SELECT 1 FROM {t} d
                WHERE d.organization_id = OLD.organization_id AND d.{c} = OLD.id) THEN
        RAISE EXCEPTION '{r} row % is named by {t} rows: its key cannot change', OLD.id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{n}';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER {n}_inserted AFTER INSERT ON {t}
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION {n}_exists();
CREATE OR REPLACE TRIGGER {n}_updated AFTER UPDATE ON {t}
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION {n}_exists();
CREATE OR REPLACE TRIGGER {n}_deleted AFTER DELETE ON {r}
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION {n}_cascade();
CREATE OR REPLACE TRIGGER {n}_rekeyed AFTER UPDATE OF id, organization_id ON {r}
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION {n}_kept();
"""  # noqa: S608

    def sqlite(self) -> list[str]:
        n, t, c, r = self.name, self.table, self.column, self.target
        missing = f"""NEW.{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {r} x
            WHERE x.id = NEW.{c} AND x.organization_id = NEW.organization_id)"""  # noqa: S608
        refused = f"SELECT RAISE(ABORT, '{t}.{c} names a {r} row its organization does not have')"
        return [
            f"""CREATE TRIGGER IF NOT EXISTS {n}_inserted BEFORE INSERT ON {t}
                FOR EACH ROW WHEN {missing} BEGIN {refused}; END""",
            f"""CREATE TRIGGER IF NOT EXISTS {n}_updated
                BEFORE UPDATE OF {c}, organization_id ON {t}
                FOR EACH ROW WHEN {missing} BEGIN {refused}; END""",
            f"""CREATE TRIGGER IF NOT EXISTS {n}_deleted AFTER DELETE ON {r} FOR EACH ROW
                BEGIN DELETE FROM {t}
                       WHERE organization_id = OLD.organization_id AND {c} = OLD.id; END""",  # noqa: S608
            f"""CREATE TRIGGER IF NOT EXISTS {n}_rekeyed
                BEFORE UPDATE OF id, organization_id ON {r} FOR EACH ROW
                WHEN (NEW.id <> OLD.id OR NEW.organization_id <> OLD.organization_id)
                  AND EXISTS (SELECT 1 FROM {t} d
                               WHERE d.organization_id = OLD.organization_id AND d.{c} = OLD.id)
                BEGIN SELECT RAISE(ABORT, '{r} row is named by {t} rows: its key cannot change');
                END""",  # noqa: S608
        ]

    def trigger_names(self) -> dict[str, str]:
        """Trigger name -> the table it is on."""
        return {
            f"{self.name}_inserted": self.table,
            f"{self.name}_updated": self.table,
            f"{self.name}_deleted": self.target,
            f"{self.name}_rekeyed": self.target,
        }


def ensure_statement_keys(keys: Iterable[StatementKey], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Create (or bring up to date) the keys' triggers; returns how many keys were ensured.
    A key whose tables are not there yet (a migration run backwards, or to an earlier target)
    is left for a later ``migrate``."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    ensured = 0
    with connection.cursor() as cursor:
        for key in keys:
            if not {key.table, key.target} <= tables:
                continue
            if connection.vendor == "postgresql":
                cursor.execute(key.postgresql())
            else:
                for statement in key.sqlite():
                    cursor.execute(statement)
            ensured += 1
    return ensured
