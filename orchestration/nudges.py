"""Planning nudges: set-based, idempotent by key (sending lives in orchestration/dispatch.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from orchestration.models import Nudge
from tenancy.models import Organization

PLAN_BATCH = 2000
COPY_THRESHOLD = 5000  # rows from which COPY beats query parameters on PostgreSQL
TABLE = Nudge._meta.db_table


@dataclass(frozen=True)
class NudgeSpec:
    """One nudge to plan. ``idempotency_key`` names it: planning the same key twice is a no-op."""

    idempotency_key: str
    subject: str
    body: str
    scheduled_for: dt.datetime
    member_id: int | None = None
    seat_id: int | None = None
    to_email: str = ""
    channel: str = Nudge.Channel.EMAIL
    kind: str = Nudge.Kind.MESSAGE
    event_id: int | None = None
    enrollment_id: int | None = None


@transaction.atomic
def nudges_plan(*, organization: Organization, specs: Iterable[NudgeSpec]) -> int:
    """Insert the nudges whose keys are new; returns how many were new.

    Every row goes through ``INSERT … ON CONFLICT (organization_id, idempotency_key) DO
    NOTHING``, so a re-run, a retry or a race plans nothing twice. It is SQL rather than
    ``bulk_create`` for speed — building and preparing a model instance per row was what bounded
    the planning rate — and because the statement can say how many rows were new (counting the
    organization's nudges before and after would also count other transactions' inserts):

    - PostgreSQL, small plans: multi-row ``VALUES`` batches, ``RETURNING id``.
    - PostgreSQL, large plans: ``COPY`` into a temporary table, then one ``INSERT … SELECT``
      (passing 100,000 rows as query parameters costs more than inserting them).
    - SQLite: ``executemany`` of a one-row insert; its row count adds up the rows inserted.
    """
    rows = _spec_rows(specs)
    if not rows:
        return 0
    shared = _shared_values(organization)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
            planned = _insert_postgres_copy(cursor, rows, shared)
        else:
            columns = [*FROM_SPEC, *shared]
            fixed = tuple(shared.values())
            rows = [row + fixed for row in rows]
            if connection.vendor == "postgresql":
                planned = _insert_postgres_values(cursor, columns, rows)
            else:
                planned = _insert_sqlite(cursor, columns, rows)
    if planned:  # one summary per planning run, not one entry per nudge
        audit_record(
            organization=organization,
            action="nudges.plan",
            model=Nudge,
            changes={"planned": planned},
        )
    return planned


# The statements below name only the model's own table and columns; every value is a parameter
# (or, for COPY, data).
CONFLICT = "ON CONFLICT (organization_id, idempotency_key) DO NOTHING"


def _insert_sqlite(cursor, columns: list[str], rows: list[tuple]) -> int:
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({placeholders}) {CONFLICT}"  # noqa: S608
    cursor.executemany(sql, rows)
    return cursor.rowcount


def _insert_postgres_values(cursor, columns: list[str], rows: list[tuple]) -> int:
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    planned = 0
    for start in range(0, len(rows), PLAN_BATCH):
        batch = rows[start : start + PLAN_BATCH]
        values = ", ".join([row_sql] * len(batch))
        cursor.execute(
            f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES {values} {CONFLICT} RETURNING id",  # noqa: S608
            [value for row in batch for value in row],
        )
        planned += len(cursor.fetchall())
    return planned


def _insert_postgres_copy(cursor, rows: list[tuple], shared: dict) -> int:
    """COPY only what differs from row to row; the columns every row shares (organization,
    timestamps, defaults) are parameters of the ``INSERT … SELECT``. Writing those constants
    into the CSV once per row — two of them datetimes — cost more than the COPY itself."""
    spec = ", ".join(FROM_SPEC)
    # Dropped at the end (and on commit, should the end not be reached): a caller's outer
    # transaction may plan again before it commits.
    create = f"CREATE TEMPORARY TABLE nudge_plan ON COMMIT DROP AS SELECT {spec} FROM {TABLE}"  # noqa: S608
    cursor.execute(f"{create} WITH NO DATA")
    # CSV, written by the csv module in C. An unquoted empty field is NULL in CSV, so the
    # columns that cannot be NULL read it as the empty string instead.
    nullable = {f.column for f in Nudge._meta.concrete_fields if f.null}
    not_null = ", ".join(column for column in FROM_SPEC if column not in nullable)
    copy = f"COPY nudge_plan ({spec}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    cursor.cursor.copy_expert(copy, buffer)
    placeholders = ", ".join(["%s"] * len(shared))
    cursor.execute(
        f"WITH planned AS (INSERT INTO {TABLE} ({spec}, {', '.join(shared)}) "  # noqa: S608
        f"SELECT {spec}, {placeholders} FROM nudge_plan {CONFLICT} RETURNING 1) "
        "SELECT COUNT(*) FROM planned",
        list(shared.values()),
    )
    planned = cursor.fetchone()[0]
    cursor.execute("DROP TABLE nudge_plan")
    return planned


# The columns each spec fills, in the order of the row tuples below.
FROM_SPEC = (
    "member_id",
    "seat_id",
    "to_email",
    "channel",
    "kind",
    "subject",
    "body",
    "event_id",
    "enrollment_id",
    "scheduled_for",
    "idempotency_key",
)


def _spec_rows(specs: Iterable[NudgeSpec]) -> list[tuple]:
    """One tuple of database values per spec, in ``FROM_SPEC`` order (datetimes adapted as the
    backend stores them)."""
    adapt = connection.ops.adapt_datetimefield_value
    return [
        (
            spec.member_id,
            spec.seat_id,
            spec.to_email,
            spec.channel,
            spec.kind,
            spec.subject[:200],
            spec.body,
            spec.event_id,
            spec.enrollment_id,
            adapt(spec.scheduled_for),
            spec.idempotency_key,
        )
        for spec in specs
    ]


def _shared_values(organization: Organization) -> dict:
    """The columns every planned row shares, by name: the organization, the timestamps, and
    the model default of every other column."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    shared = {"organization_id": organization.pk, "created_at": now, "updated_at": now}
    for field in Nudge._meta.concrete_fields:
        if field.column not in (*FROM_SPEC, *shared, "id"):
            shared[field.column] = field.get_db_prep_save(field.get_default(), connection)
    return shared


@transaction.atomic
def nudges_cancel(
    *, organization: Organization, event_id: int | None = None, enrollment_id: int | None = None
) -> int:
    """Cancel the still-scheduled nudges of an event or an enrolment; returns how many.

    One UPDATE, and one summary entry in the trail naming the event or enrolment (the rows are
    many and alike: their ids are in the nudge table, their count is in the entry)."""
    if event_id is None and enrollment_id is None:
        raise ValueError("Say which event or enrolment's nudges to cancel.")
    pending = Nudge.objects.for_org(organization).filter(status=Nudge.Status.SCHEDULED)
    of: dict[str, int] = {}
    if event_id is not None:
        pending = pending.filter(event_id=event_id)
        of["event"] = event_id
    if enrollment_id is not None:
        pending = pending.filter(enrollment_id=enrollment_id)
        of["enrollment"] = enrollment_id
    cancelled = pending.update(status=Nudge.Status.CANCELLED, updated_at=timezone.now())
    if cancelled:
        audit_record(
            organization=organization,
            action="nudges.cancel",
            model=Nudge,
            changes={"cancelled": cancelled, **of},
        )
    return cancelled


@transaction.atomic
def nudges_requeue_failed(
    *, organization: Organization, nudge_ids: Iterable[int], at: dt.datetime | None = None
) -> int:
    """Put failed nudges back in the queue with their attempts reset (once the cause is fixed);
    returns how many. The last error stays visible until a send succeeds. One summary entry
    in the trail for the call."""
    requeued = (
        Nudge.objects.for_org(organization)
        .filter(pk__in=list(nudge_ids), status=Nudge.Status.FAILED)
        .update(
            status=Nudge.Status.SCHEDULED,
            attempts=0,
            scheduled_for=at or timezone.now(),
            claim_token="",
            claimed_at=None,
            updated_at=timezone.now(),
        )
    )
    if requeued:
        audit_record(
            organization=organization,
            action="nudges.requeue",
            model=Nudge,
            changes={"requeued": requeued},
        )
    return requeued


class NudgeNotCancellable(Exception):
    """A nudge that has left the queue (sent, or being sent right now) cannot be called back."""


# Nudges still to send (scheduled), or that gave up (failed, which only an admin's requeue would
# send): cancelling either means nothing goes out.
CANCELLABLE = (Nudge.Status.SCHEDULED, Nudge.Status.FAILED)


@transaction.atomic
def nudge_cancel(*, organization: Organization, nudge: Nudge) -> Nudge:
    """Cancel one nudge so it is never sent; cancelling a cancelled nudge changes nothing.

    One UPDATE guarded on the status, like the dispatcher's claim: if a worker claims the nudge
    first, this updates nothing and refuses with ``NudgeNotCancellable`` (the message may be
    delivered by then), rather than pretending it was stopped.
    """
    queryset = Nudge.objects.for_org(organization).filter(pk=nudge.pk)
    cancelled = queryset.filter(status__in=CANCELLABLE).update(
        status=Nudge.Status.CANCELLED, updated_at=timezone.now()
    )
    row = queryset.values_list("status", "updated_at").first()
    if row is None:
        raise Nudge.DoesNotExist
    current, nudge.updated_at = row
    if cancelled:
        audit_record(
            organization=organization,
            action="nudge.cancel",
            instance=nudge,
            changes={"status": [nudge.status, current]},
        )
    if not cancelled and current != Nudge.Status.CANCELLED:
        words = {Nudge.Status.SENT: "was already sent", Nudge.Status.SENDING: "is being sent"}
        state = words.get(current, "is no longer in the queue")
        raise NudgeNotCancellable(f"This nudge {state}, so it cannot be cancelled.")
    nudge.status = current
    return nudge
