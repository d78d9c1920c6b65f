"""The success-gap snapshots, partitioned by week on PostgreSQL.

Every night writes a snapshot per member, and the per-member index (organization, member,
computed_at) takes one entry per snapshot under every member's key: in one table, a night's
inserts land on every leaf page of an index as long as the whole history, and after each
checkpoint each of those pages is logged whole: with a month stored, 240 – 290 MB of WAL a
night for 100,000 members, growing with every night kept. Partitioned by the week of
``computed_at``, a night writes into the indexes of its own week only, whatever the history; a
member's reads (Member 360's trend, the book's previous gap) look in each week's index in turn,
one probe each, and order by the moment alone so that planning them stays cheap.

The partitions are made ahead of time, by the nightly fan-out (this week and the next
``WEEKS_AHEAD``) and after every migrate; never by a request, since making one locks the whole
table. A row whose week
has no partition lands in the ``_default`` partition, so nothing is ever refused; that week's
partition can then no longer be made, and the week stays in the default one. SQLite keeps one
table: everything here is a no-op there.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

logger = logging.getLogger(__name__)

SNAPSHOT_TABLE = "outcomes_successgapsnapshot"
DEFAULT_PARTITION = f"{SNAPSHOT_TABLE}_default"
WEEKS_AHEAD = 4
# Making a partition locks the whole table for a moment; it waits no longer than this for
# readers and writers to let go, and the rows wait in the default partition meanwhile.
LOCK_TIMEOUT = "3s"


def week_start(moment: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of the week holding ``moment``: a partition's lower bound."""
    utc = moment.astimezone(dt.UTC)
    monday = utc.date() - dt.timedelta(days=utc.weekday())
    return dt.datetime.combine(monday, dt.time(), tzinfo=dt.UTC)


def week_partition(start: dt.datetime) -> str:
    return f"{SNAPSHOT_TABLE}_w{start:%Y%m%d}"


def week_partition_sql(start: dt.datetime, *, parent: str = SNAPSHOT_TABLE) -> str:
    """CREATE the partition of the week beginning ``start`` (a value this module computed,
    written into the text as an ISO timestamp)."""
    end = start + dt.timedelta(days=7)
    return (
        f"CREATE TABLE IF NOT EXISTS {week_partition(start)} PARTITION OF {parent}"
        f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def is_partitioned(cursor: CursorWrapper) -> bool:
    cursor.execute(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [SNAPSHOT_TABLE]
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _missing(cursor: CursorWrapper, starts: list[dt.datetime]) -> list[dt.datetime]:
    names = [week_partition(start) for start in starts]
    cursor.execute(
        "SELECT name FROM unnest(%s::text[]) name WHERE to_regclass(name) IS NULL", [names]
    )
    missing = {name for (name,) in cursor.fetchall()}
    return [start for start in starts if week_partition(start) in missing]


def ensure_snapshot_weeks(
    *, moment: dt.datetime, weeks_ahead: int = WEEKS_AHEAD, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Make the missing partitions of ``moment``'s week and the ``weeks_ahead`` after it;
    returns the names made. One catalog read when none is missing. A week that cannot be made
    (its rows are already in the default partition, or the table stayed busy past
    ``LOCK_TIMEOUT``) is logged and left: its rows stay in, or go to, the default partition."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    first = week_start(moment)
    starts = [first + dt.timedelta(weeks=n) for n in range(weeks_ahead + 1)]
    made = []
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            return []  # before the migration that partitions it
        missing = _missing(cursor, starts)
        if not missing:
            return []
        # Inside a caller's transaction the timeout would outlast the block: put it back.
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        for start in missing:
            try:
                with transaction.atomic(using=using):
                    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
                    cursor.execute(week_partition_sql(start))
            except DatabaseError as exc:
                logger.warning("Snapshot partition %s not made: %s", week_partition(start), exc)
                continue
            finally:
                if connection.in_atomic_block:
                    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
            made.append(week_partition(start))
    return made


def make_snapshot_weeks(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """``post_migrate`` receiver: this week's partition and the next ones, on a new database
    as on one that went without the nightly run for a while."""
    ensure_snapshot_weeks(moment=timezone.now(), using=using)
