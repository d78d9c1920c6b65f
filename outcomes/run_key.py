"""The snapshot's reference to its run, checked once per statement instead of once per row.

Every night each member gets a snapshot, and every snapshot of a chunk names the same run. A
foreign key checks that reference row by row: 50,000 lookups of one run row, each taking its
key-share lock again, about a quarter of a chunk's writes (and the chunks of a run, scored at
once, share that row's lock). So ``SuccessGapSnapshot.run`` carries no foreign key
(``db_constraint=False``) and the database checks the same rule with triggers:

* a snapshot written (inserted, or its run or organization changed) must name a run of its
  own organization. On PostgreSQL a statement-level trigger reads the statement's distinct
  (organization, run) pairs (one, for a night's chunk) and locks each run ``FOR KEY SHARE``, as
  a foreign key's check does, so the run cannot be deleted before the snapshots commit;
* a deleted run takes its snapshots with it (``ON DELETE CASCADE``, as the model says: Django
  deletes them first anyway, so this matters to SQL run outside the ORM, and to a run deleted
  while a chunk is writing into it: the delete waits for the chunk's lock, then removes what it
  wrote); a run with snapshots cannot change its key.

A violation raises ``IntegrityError`` on both databases (SQLite's triggers are row-level: it
has no other kind, and a row's check costs it one index lookup). The triggers are created by
``post_migrate`` (outcomes/apps.py), idempotently: SQLite drops a table's triggers whenever a
migration rebuilds the table, so they are put back after every ``migrate``.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

SNAPSHOTS = "outcomes_successgapsnapshot"
RUNS = "outcomes_successgaprun"

_POSTGRESQL = """
CREATE OR REPLACE FUNCTION outcomes_snapshot_run_exists() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pair record;
BEGIN
    FOR pair IN SELECT DISTINCT organization_id, run_id FROM written LOOP
        PERFORM 1 FROM outcomes_successgaprun r
         WHERE r.organization_id = pair.organization_id AND r.id = pair.run_id
           FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'success-gap snapshots name run %, which organization % does not have',
                pair.run_id, pair.organization_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outcomes_run_snapshots_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM outcomes_successgapsnapshot s USING gone g
     WHERE s.organization_id = g.organization_id AND s.run_id = g.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outcomes_run_key_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    run_id bigint;
BEGIN
    SELECT g.id INTO run_id FROM gone g
     WHERE NOT EXISTS (SELECT 1 FROM kept k
                        WHERE k.organization_id = g.organization_id AND k.id = g.id)
       AND EXISTS (SELECT 1 FROM outcomes_successgapsnapshot s
                    WHERE s.organization_id = g.organization_id AND s.run_id = g.id)
     LIMIT 1;
    IF run_id IS NOT NULL THEN
        RAISE EXCEPTION 'success-gap run % has snapshots: its key cannot change', run_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER outcomes_snapshot_run_inserted
    AFTER INSERT ON outcomes_successgapsnapshot REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION outcomes_snapshot_run_exists();
CREATE OR REPLACE TRIGGER outcomes_snapshot_run_updated
    AFTER UPDATE ON outcomes_successgapsnapshot REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION outcomes_snapshot_run_exists();
CREATE OR REPLACE TRIGGER outcomes_run_deleted
    AFTER DELETE ON outcomes_successgaprun REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION outcomes_run_snapshots_deleted();
CREATE OR REPLACE TRIGGER outcomes_run_updated
    AFTER UPDATE ON outcomes_successgaprun REFERENCING OLD TABLE AS gone NEW TABLE AS kept
    FOR EACH STATEMENT EXECUTE FUNCTION outcomes_run_key_kept();
"""

_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS outcomes_snapshot_run_inserted
    BEFORE INSERT ON outcomes_successgapsnapshot FOR EACH ROW
    WHEN NOT EXISTS (SELECT 1 FROM outcomes_successgaprun r
        WHERE r.id = NEW.run_id AND r.organization_id = NEW.organization_id)
    BEGIN SELECT RAISE(ABORT, 'success-gap snapshot names no run of its organization'); END""",
    """CREATE TRIGGER IF NOT EXISTS outcomes_snapshot_run_updated
    BEFORE UPDATE OF run_id, organization_id ON outcomes_successgapsnapshot FOR EACH ROW
    WHEN NOT EXISTS (SELECT 1 FROM outcomes_successgaprun r
        WHERE r.id = NEW.run_id AND r.organization_id = NEW.organization_id)
    BEGIN SELECT RAISE(ABORT, 'success-gap snapshot names no run of its organization'); END""",
    """CREATE TRIGGER IF NOT EXISTS outcomes_run_deleted
    AFTER DELETE ON outcomes_successgaprun FOR EACH ROW
    BEGIN DELETE FROM outcomes_successgapsnapshot
           WHERE organization_id = OLD.organization_id AND run_id = OLD.id; END""",
    """CREATE TRIGGER IF NOT EXISTS outcomes_run_updated
    BEFORE UPDATE OF id, organization_id ON outcomes_successgaprun FOR EACH ROW
    WHEN (NEW.id <> OLD.id OR NEW.organization_id <> OLD.organization_id)
      AND EXISTS (SELECT 1 FROM outcomes_successgapsnapshot s
        WHERE s.organization_id = OLD.organization_id AND s.run_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'success-gap run has snapshots: its key cannot change'); END""",
]


def ensure_snapshot_run_key(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Create (or bring up to date) the triggers; False when the tables are not there yet (a
    migration run backwards, or to an earlier target)."""
    connection = connections[using]
    if not {SNAPSHOTS, RUNS} <= set(connection.introspection.table_names()):
        return False
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRESQL)
        else:
            for statement in _SQLITE:
                cursor.execute(statement)
    return True


def create_snapshot_run_key(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """``post_migrate`` receiver."""
    ensure_snapshot_run_key(using=using)
