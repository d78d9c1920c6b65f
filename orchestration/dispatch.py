"""Sending nudges exactly once: claim due nudges in batches, deliver each, record it as sent.

The life of a nudge here: ``scheduled`` → (claimed) ``sending`` → ``sent``; a failed send goes
back to ``scheduled`` with a backoff, or to ``failed`` after ``NUDGE_MAX_ATTEMPTS``.

- Claiming is one guarded UPDATE of a batch (``status='scheduled'`` → ``'sending'``) stamped with
  a fresh claim token. On PostgreSQL the batch is chosen ``FOR UPDATE SKIP LOCKED``, so concurrent
  workers take disjoint batches without waiting on each other; SQLite serialises writers, so the
  guard alone keeps claims disjoint there.
- The claim token is the credential for sending: ``nudge_send`` touches a nudge only while it is
  ``sending`` under that token, and records it as sent with an UPDATE guarded the same way.
- A worker killed mid-send leaves its claims ``sending``; once the lease is over
  ``nudges_release_stale`` hands them back and another worker sends them. That re-send is safe
  because delivery is idempotent by key: every message's Message-ID is derived from the nudge's
  organization and idempotency key (see orchestration/email.py for what that gives with the
  outbox and with SMTP).

This module works across organizations by design — it is the queue of every organization's due
nudges. It therefore reads and writes the queue with raw SQL over the partial indexes
``nudge_due_queue`` and ``nudge_sending_lease`` instead of the fail-closed manager, and once it
knows a nudge's organization it goes back to ``Nudge.objects.for_org(...)`` (or, on the hot
path of recording a send, names ``organization_id`` in the statement itself). The send is not
wrapped in a transaction: a message handed to the mail server cannot be rolled back, and holding
a transaction (on SQLite: the write lock) across a network call would stall the other workers.

The audit trail gets one summary entry per organization per run, never one per nudge
(``audit.services.audit_summaries``: one INSERT for every organization the run touched):

- ``nudges.dispatch`` — ``{"claimed", "sent", "retried", "failed"}``, counted while the run goes
  and written when it ends (also when it ends in an error). Each send is recorded in its own
  statement the moment the server took the message (see orchestration/email.py: that keeps the
  window for a duplicate as small as it can be), so there is no one transaction of the run's
  writes for the entry to join; it gets its own, after them. A worker killed mid-run leaves its
  nudges' rows (status, ``sent_at``, ``last_error``) but no entry for that run; the release of
  its claims is recorded below.
- ``nudges.release`` — ``{"requeued", "failed"}``, written in the release's own transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, fields
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_summaries
from orchestration.models import Nudge
from tenancy.models import DomainEvent

logger = logging.getLogger(__name__)

TABLE = Nudge._meta.db_table
SCHEDULED = Nudge.Status.SCHEDULED.value
SENDING = Nudge.Status.SENDING.value
SENT = Nudge.Status.SENT.value
FAILED = Nudge.Status.FAILED.value
ERROR_LENGTH = 2000

# Only constants go into these statements; every value is a parameter.
# PostgreSQL: lock the batch in a materialised CTE. (With ``id IN (SELECT … LIMIT n FOR UPDATE
# SKIP LOCKED)`` the planner may re-run the sub-select for each row it updates, and every re-run
# skips the rows this statement already changed — claiming more than ``n``.)
_CLAIM_POSTGRES_SQL = f"""
    WITH batch AS MATERIALIZED (
        SELECT id FROM {TABLE}
         WHERE status = %(scheduled)s AND scheduled_for <= %(now)s
         ORDER BY scheduled_for
         LIMIT %(limit)s
           FOR UPDATE SKIP LOCKED
    )
    UPDATE {TABLE} AS nudge
       SET status = %(sending)s, claimed_at = %(now)s, claim_token = %(token)s,
           attempts = nudge.attempts + 1, updated_at = %(updated_at)s
      FROM batch
     WHERE nudge.id = batch.id AND nudge.status = %(scheduled)s
    RETURNING nudge.id, nudge.scheduled_for, nudge.organization_id
"""  # noqa: S608
# SQLite: one writer at a time, so the guarded UPDATE alone keeps claims disjoint.
_CLAIM_SQLITE_SQL = f"""
    UPDATE {TABLE}
       SET status = %(sending)s, claimed_at = %(now)s, claim_token = %(token)s,
           attempts = attempts + 1, updated_at = %(updated_at)s
     WHERE status = %(scheduled)s
       AND id IN (
           SELECT id FROM {TABLE}
            WHERE status = %(scheduled)s AND scheduled_for <= %(now)s
            ORDER BY scheduled_for
            LIMIT %(limit)s
       )
"""  # noqa: S608
_CLAIMED_SQL = f"""
    SELECT id, scheduled_for, organization_id FROM {TABLE}
     WHERE status = %s AND claimed_at = %s AND claim_token = %s
"""  # noqa: S608
_RELEASE_SQL = f"""
    UPDATE {TABLE}
       SET status = CASE WHEN attempts >= %s THEN %s ELSE %s END,
           last_error = CASE WHEN attempts >= %s THEN %s ELSE last_error END,
           claim_token = '',
           claimed_at = NULL,
           updated_at = %s
     WHERE status = %s AND claimed_at <= %s
 RETURNING organization_id, status
"""  # noqa: S608
_DUE_SQL = f"""
    SELECT COUNT(*) FROM (
        SELECT 1 FROM {TABLE} WHERE status = %s AND scheduled_for <= %s LIMIT %s
    ) AS due
"""  # noqa: S608
_ORGANIZATION_SQL = f"""
    SELECT organization_id FROM {TABLE} WHERE id = %s AND status = %s AND claim_token = %s
"""  # noqa: S608
# The hot path, once per nudge: recording it as sent, guarded by its organization and the claim.
# (Plain SQL: compiling the same ORM update for every nudge cost as much as running it.)
_SENT_SQL = f"""
    UPDATE {TABLE} SET status = %s, sent_at = %s, last_error = '', updated_at = %s
     WHERE id = %s AND organization_id = %s AND status = %s AND claim_token = %s
"""  # noqa: S608

_STALE_FAILING_SQL = f"""
    SELECT id, organization_id, member_id, seat_id, channel, attempts FROM {TABLE}
     WHERE status = %s AND claimed_at <= %s AND attempts >= %s
"""  # noqa: S608

LEASE_EXPIRED = "The worker sending it stopped before finishing (its lease ran out)."

# What a run did per organization ({organization id: Counter of "claimed", "sent", ...}).
Tally = dict[int, Counter]
RUN_COUNTS = ("claimed", "sent", "retried", "failed")


class PermanentSendError(Exception):
    """A send that retrying cannot fix (e.g. no address): the nudge fails at once."""


class Outcome:
    """What ``nudge_send`` did."""

    SENT = "sent"  # delivered (or found delivered) and recorded as sent
    RETRY = "retry"  # the send failed; scheduled again after a backoff
    FAILED = "failed"  # the send failed for good; the error is on the nudge
    SKIPPED = "skipped"  # this claim does not hold the nudge (sent already, released, cancelled)
    SUPERSEDED = "superseded"  # delivered, but the claim was released meanwhile: its new
    # holder records it (delivery is idempotent, so nothing goes out twice)


@dataclass
class DispatchReport:
    """What one dispatcher run did, for the task's result and the logs."""

    released: int = 0
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    superseded: int = 0

    def as_dict(self) -> dict[str, int]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _db_datetime(value: dt.datetime):
    """A datetime as the backend stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def nudges_claim(
    *, batch_size: int, now: dt.datetime | None = None, worker: str = ""
) -> tuple[str, list[int]]:
    """Claim up to ``batch_size`` due nudges of any organization, oldest first.

    Returns the claim token and the claimed ids in the order they were due. Each claimed nudge is
    ``sending`` with ``claimed_at=now``, the token, and one more attempt counted. A claim made
    on its own (not by ``nudges_dispatch``) is recorded in the trail in its transaction.
    """
    with transaction.atomic():
        token, claimed = _claim(batch_size=batch_size, now=now, worker=worker)
        tally: Tally = {}
        for _, organization_id in claimed:
            _count(tally, organization_id, "claimed")
        _audit_run(tally)
    return token, [pk for pk, _ in claimed]


@transaction.atomic
def _claim(
    *, batch_size: int, now: dt.datetime | None, worker: str
) -> tuple[str, list[tuple[int, int]]]:
    """The claim itself; returns the token and (id, organization id) pairs, oldest first."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    now = now or timezone.now()
    token = str(uuid.uuid4())
    at = _db_datetime(now)
    params = {
        "scheduled": SCHEDULED,
        "sending": SENDING,
        "now": at,
        "token": token,
        "limit": batch_size,
        # The claim's ``now`` may be given (tests, a sweep's clock); the row changes now.
        "updated_at": _db_datetime(timezone.now()),
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_CLAIM_POSTGRES_SQL, params)
        else:
            cursor.execute(_CLAIM_SQLITE_SQL, params)
            # Read the batch back by its token (the partial lease index finds it).
            cursor.execute(_CLAIMED_SQL, [SENDING, at, token])
        rows = cursor.fetchall()
    claimed = [(pk, org) for pk, _, org in sorted(rows, key=lambda row: (row[1], row[0]))]
    if claimed:
        logger.info("Worker %s claimed %d nudges (claim %s).", worker or "?", len(claimed), token)
    return token, claimed


def nudges_due_count(*, limit: int, now: dt.datetime | None = None) -> int:
    """How many nudges are due, counting no further than ``limit`` (enough to decide whether
    to ask other workers to help)."""
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, [SCHEDULED, _db_datetime(now or timezone.now()), limit])
        return cursor.fetchone()[0]


def nudges_release_stale(*, lease_seconds: int = 300, now: dt.datetime | None = None) -> int:
    """Hand back nudges whose claim is older than the lease (their worker died); returns how many.

    They go back to ``scheduled`` for another worker — or to ``failed`` when they have used up
    their attempts, so a nudge that kills every worker that tries it stops being retried.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=lease_seconds)
    changed = _db_datetime(timezone.now())
    limit = settings.NUDGE_MAX_ATTEMPTS
    with transaction.atomic(), connection.cursor() as cursor:
        _stale_failures_announce(cursor, cutoff=cutoff, limit=limit)
        cursor.execute(
            _RELEASE_SQL,
            [
                limit,
                FAILED,
                SCHEDULED,
                limit,
                LEASE_EXPIRED,
                changed,
                SENDING,
                _db_datetime(cutoff),
            ],
        )
        rows = cursor.fetchall()
        _audit_release(rows)
    released = len(rows)
    if released:
        logger.warning("Released %d nudges whose worker stopped mid-send.", released)
    return released


def _audit_release(rows: list[tuple[int, str]]) -> None:
    """One ``nudges.release`` summary per organization whose claims the sweep handed back."""
    by_organization: dict[int, dict[str, int]] = {}
    for organization_id, status in rows:
        counts = by_organization.setdefault(organization_id, {"requeued": 0, "failed": 0})
        counts["failed" if status == FAILED else "requeued"] += 1
    audit_summaries(action="nudges.release", model=Nudge, changes_by_organization=by_organization)


def _count(tally: Tally, organization_id: int, name: str) -> None:
    tally.setdefault(organization_id, Counter())[name] += 1


def _audit_run(tally: Tally) -> None:
    """The run's ``nudges.dispatch`` summaries: one per organization it claimed from, one INSERT
    (nothing at all when it claimed nothing)."""
    if not tally:
        return
    audit_summaries(
        action="nudges.dispatch",
        model=Nudge,
        changes_by_organization={
            organization_id: {name: counts[name] for name in RUN_COUNTS}
            for organization_id, counts in tally.items()
        },
    )


def _stale_failures_announce(cursor, *, cutoff: dt.datetime, limit: int) -> None:
    """A ``nudge.failed`` domain event for each stale claim the release is about to fail, in
    its transaction (the rows are locked on PostgreSQL, so two sweepers announce each once)."""
    sql = _STALE_FAILING_SQL + (" FOR UPDATE" if connection.vendor == "postgresql" else "")
    cursor.execute(sql, [SENDING, _db_datetime(cutoff), limit])
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    _failed_domain_events([{**row, "error": LEASE_EXPIRED} for row in rows])


def _failed_row(nudge: Nudge, error: str) -> dict:
    return {
        "id": nudge.pk,
        "organization_id": nudge.organization_id,
        "member_id": nudge.member_id,
        "seat_id": nudge.seat_id,
        "channel": nudge.channel,
        "attempts": nudge.attempts,
        "error": error,
    }


def _failed_domain_events(rows: list[dict]) -> None:
    """Record that these nudges failed for good (webhooks announce it to integrators)."""
    if not rows:
        return
    at = timezone.now()
    DomainEvent.objects.unscoped().bulk_create(
        [
            DomainEvent(
                organization_id=row["organization_id"],
                kind=DomainEvent.Kind.NUDGE_FAILED,
                subject_id=row["id"],
                occurred_at=at,
                payload={
                    "nudge_id": row["id"],
                    "member_id": row["member_id"],
                    "seat_id": row["seat_id"],
                    "channel": row["channel"],
                    "attempts": row["attempts"],
                    "error": row["error"],
                },
            )
            for row in rows
        ]
    )


def nudge_message_id(*, organization_id: int, idempotency_key: str) -> str:
    """The Message-ID of a nudge's email: the same for every delivery of the same nudge."""
    digest = hashlib.sha256(f"{organization_id}:{idempotency_key}".encode()).hexdigest()[:40]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "tandem.localhost"
    return f"<nudge.{digest}@{domain}>"


def _claimed_organization_id(*, nudge_id: int, claim_token: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_ORGANIZATION_SQL, [nudge_id, SENDING, claim_token])
        row = cursor.fetchone()
    return row[0] if row else None


def _deliver(nudge: Nudge, mail: BaseEmailBackend | None) -> None:
    """Hand the nudge over. In-app and task nudges are delivered by being marked sent: the MSM
    sees them in the app."""
    if nudge.channel != Nudge.Channel.EMAIL:
        return
    if not nudge.to_email:
        raise PermanentSendError("This nudge has no email address to send to.")
    message_id = nudge_message_id(
        organization_id=nudge.organization_id, idempotency_key=nudge.idempotency_key
    )
    EmailMessage(
        subject=nudge.subject,
        body=nudge.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[nudge.to_email],
        headers={"Message-ID": message_id},
        connection=mail,
    ).send()


def nudge_send(*, nudge_id: int, claim_token: str, mail: BaseEmailBackend | None = None) -> str:
    """Deliver one claimed nudge and record the result; returns an ``Outcome`` value.

    ``mail`` is an email backend to reuse across a batch (one SMTP session); by default each send
    opens its own. Every state change is guarded by ``status='sending'`` and the claim token, so
    a stale or repeated call changes nothing and sends nothing.
    """
    organization_id = _claimed_organization_id(nudge_id=nudge_id, claim_token=claim_token)
    if organization_id is None:
        return Outcome.SKIPPED
    nudge = _claimed(organization_id, claim_token).filter(pk=nudge_id).first()
    if nudge is None:  # released or deleted since the look-up
        return Outcome.SKIPPED
    outcome = _send_claimed(nudge=nudge, claim_token=claim_token, mail=mail)
    if _TALLY[outcome] in RUN_COUNTS:
        tally: Tally = {}
        _count(tally, organization_id, _TALLY[outcome])
        _audit_run(tally)
    return outcome


def _claimed(organization_id: int, claim_token: str):
    """The organization's nudges this claim holds: the guard of every state change."""
    return Nudge.objects.for_org(organization_id).filter(
        status=Nudge.Status.SENDING, claim_token=claim_token
    )


def _claimed_nudges(claim_token: str, claimed: list[tuple[int, int]]) -> list[Nudge]:
    """Load a claimed batch in one query per organization in it, in claim order."""
    by_organization: dict[int, list[int]] = {}
    for pk, organization_id in claimed:
        by_organization.setdefault(organization_id, []).append(pk)
    loaded: dict[int, Nudge] = {}
    for organization_id, ids in by_organization.items():
        loaded.update(_claimed(organization_id, claim_token).in_bulk(ids))
    return [loaded[pk] for pk, _ in claimed if pk in loaded]


def _send_claimed(*, nudge: Nudge, claim_token: str, mail: BaseEmailBackend | None) -> str:
    try:
        _deliver(nudge, mail)
    except Exception as exc:
        claimed = _claimed(nudge.organization_id, claim_token).filter(pk=nudge.pk)
        return _record_failure(nudge=nudge, claimed=claimed, error=exc)
    at = _db_datetime(timezone.now())
    sent = [SENT, at, at, nudge.pk, nudge.organization_id, SENDING]
    with connection.cursor() as cursor:
        cursor.execute(_SENT_SQL, [*sent, claim_token])
        done = cursor.rowcount
    return Outcome.SENT if done else Outcome.SUPERSEDED


def _record_failure(*, nudge: Nudge, claimed, error: Exception) -> str:
    """Keep the error; schedule a retry after 2**attempts minutes, or fail after the limit."""
    message = f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
    final = isinstance(error, PermanentSendError) or nudge.attempts >= settings.NUDGE_MAX_ATTEMPTS
    if final:
        with transaction.atomic():
            failed = claimed.update(
                status=Nudge.Status.FAILED, last_error=message, updated_at=timezone.now()
            )
            if not failed:
                return Outcome.SUPERSEDED
            _failed_domain_events([_failed_row(nudge, message)])
        logger.error("Nudge %s failed for good: %s", nudge.pk, message)
        return Outcome.FAILED
    retry_at = timezone.now() + dt.timedelta(minutes=2**nudge.attempts)
    retried = claimed.update(
        status=Nudge.Status.SCHEDULED,
        scheduled_for=retry_at,
        last_error=message,
        claim_token="",
        claimed_at=None,
        updated_at=timezone.now(),
    )
    if not retried:
        return Outcome.SUPERSEDED
    logger.warning("Nudge %s failed (attempt %d), retrying: %s", nudge.pk, nudge.attempts, message)
    return Outcome.RETRY


def nudges_dispatch(
    *,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    lease_seconds: int | None = None,
    worker: str = "",
) -> DispatchReport:
    """One dispatcher run: release stale claims, then claim and send batches until nothing is
    due or the time budget is used (a claimed batch is always finished)."""
    batch_size = batch_size or settings.NUDGE_DISPATCH_BATCH
    budget = settings.NUDGE_DISPATCH_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    lease = settings.NUDGE_LEASE_SECONDS if lease_seconds is None else lease_seconds
    report = DispatchReport(released=nudges_release_stale(lease_seconds=lease))
    deadline = time.monotonic() + budget
    mail = get_connection()
    tally: Tally = {}
    try:
        while time.monotonic() < deadline:
            token, claimed = _claim(batch_size=batch_size, now=None, worker=worker)
            if not claimed:
                break
            report.batches += 1
            report.claimed += len(claimed)
            for _, organization_id in claimed:
                _count(tally, organization_id, "claimed")
            nudges = _claimed_nudges(token, claimed)
            report.skipped += len(claimed) - len(nudges)
            if not _send_batch(report, tally, nudges=nudges, claim_token=token, mail=mail):
                break  # the mail server cannot be reached: the rest waits for the next run
    finally:
        _close(mail)
        with transaction.atomic():
            _audit_run(tally)
    return report


def _send_batch(
    report: DispatchReport,
    tally: Tally,
    *,
    nudges: list[Nudge],
    claim_token: str,
    mail: BaseEmailBackend,
) -> bool:
    """Send a claimed batch over one mail session, opened when the first email needs it.

    After a failed email the session is closed (it may be what broke) and the next email opens
    a fresh one. When no session can be opened the batch's remaining emails are scheduled again
    with that error, without waiting on the server once per nudge; returns False then.
    """
    session = False
    unreachable: Exception | None = None
    for nudge in nudges:
        email = nudge.channel == Nudge.Channel.EMAIL
        if email and unreachable is None and not session:
            unreachable = _open(mail)
            session = unreachable is None
        if email and unreachable is not None:
            claimed = _claimed(nudge.organization_id, claim_token).filter(pk=nudge.pk)
            outcome = _record_failure(nudge=nudge, claimed=claimed, error=unreachable)
            _tally(report, tally, nudge, outcome)
            continue
        outcome = _send_claimed(nudge=nudge, claim_token=claim_token, mail=mail)
        _tally(report, tally, nudge, outcome)
        if email and outcome in (Outcome.RETRY, Outcome.FAILED):
            _close(mail)
            session = False
    return unreachable is None


def _open(mail: BaseEmailBackend) -> Exception | None:
    """Open the mail session; the error when the server cannot be reached."""
    try:
        mail.open()
    except Exception as exc:
        logger.warning("Could not reach the mail server: %s", exc)
        return exc
    return None


def _close(mail: BaseEmailBackend) -> None:
    try:
        mail.close()
    except Exception as exc:  # a session that broke may not close cleanly; it is gone either way
        logger.info("Closing the mail session failed: %s", exc)


_TALLY = {
    Outcome.SENT: "sent",
    Outcome.RETRY: "retried",
    Outcome.FAILED: "failed",
    Outcome.SKIPPED: "skipped",
    Outcome.SUPERSEDED: "superseded",
}


def _tally(report: DispatchReport, tally: Tally, nudge: Nudge, outcome: str) -> None:
    name = _TALLY[outcome]
    setattr(report, name, getattr(report, name) + 1)
    if name in RUN_COUNTS:
        _count(tally, nudge.organization_id, name)
