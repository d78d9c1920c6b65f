"""Sending deliveries: claim due ones in batches, POST each signed, record how it went.

The life of a delivery: ``pending`` (due at ``next_attempt_at``) → ``succeeded`` on a 2xx, or
back to ``pending`` after a backoff (``WEBHOOK_BACKOFF_SECONDS`` doubling per attempt, capped)
on a network error or any other status, or ``failed`` once ``WEBHOOK_MAX_ATTEMPTS`` are used.

- Claiming is one guarded UPDATE of a batch that stamps a claim token, counts the attempt and
  moves ``next_attempt_at`` a lease ahead (``WEBHOOK_LEASE_SECONDS``): a worker that dies
  mid-send leaves its claims to come due again when the lease is over. On PostgreSQL the batch
  is chosen ``FOR UPDATE SKIP LOCKED`` in a materialised CTE, as the nudge dispatcher does, so
  concurrent workers take disjoint batches; SQLite serialises writers and the guard suffices.
- The result is recorded with an UPDATE guarded by the claim token: a claim that lost its lease
  records nothing over the newer one.
- The URL is checked again before each send (its DNS may have changed since registration) and
  the connection goes to the address that was checked (``webhooks/transport.py``).

Like the dispatcher, this module is the queue of every organization: it claims with raw SQL over
the partial index ``webhookdelivery_due_queue``, then reads each delivery through
``for_org(<its organization>)``. No transaction is held across the network call.
"""

from __future__ import annotations

import datetime as dt
import http.client
import logging
import time
import uuid
from dataclasses import dataclass, fields

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from webhooks import transport
from webhooks.models import WebhookDelivery
from webhooks.signing import body_bytes, signed_headers
from webhooks.urlcheck import safe_target

logger = logging.getLogger(__name__)

TABLE = WebhookDelivery._meta.db_table
PENDING = WebhookDelivery.Status.PENDING.value
SUCCEEDED = WebhookDelivery.Status.SUCCEEDED.value
FAILED = WebhookDelivery.Status.FAILED.value
ERROR_LENGTH = 1000
WORKER_STOPPED = "The worker sending it stopped before finishing, on its last attempt."
ENDPOINT_OFF = "The endpoint was switched off before this was delivered."

_CLAIM_POSTGRES_SQL = f"""
    WITH batch AS MATERIALIZED (
        SELECT id FROM {TABLE}
         WHERE status = %(pending)s AND next_attempt_at <= %(now)s AND attempts < %(max)s
         ORDER BY next_attempt_at
         LIMIT %(limit)s
           FOR UPDATE SKIP LOCKED
    )
    UPDATE {TABLE} AS delivery
       SET claim_token = %(token)s, attempts = delivery.attempts + 1,
           last_attempt_at = %(now)s, next_attempt_at = %(lease)s, updated_at = %(now)s
      FROM batch
     WHERE delivery.id = batch.id AND delivery.status = %(pending)s
    RETURNING delivery.id, delivery.organization_id
"""  # noqa: S608
_CLAIM_SQLITE_SQL = f"""
    UPDATE {TABLE}
       SET claim_token = %(token)s, attempts = attempts + 1,
           last_attempt_at = %(now)s, next_attempt_at = %(lease)s, updated_at = %(now)s
     WHERE status = %(pending)s
       AND id IN (
           SELECT id FROM {TABLE}
            WHERE status = %(pending)s AND next_attempt_at <= %(now)s AND attempts < %(max)s
            ORDER BY next_attempt_at
            LIMIT %(limit)s
       )
"""  # noqa: S608
_CLAIMED_SQL = f"""
    SELECT id, organization_id FROM {TABLE}
     WHERE status = %s AND next_attempt_at = %s AND claim_token = %s
"""  # noqa: S608
# Claims that used the last attempt and whose worker never came back.
_EXHAUSTED_SQL = f"""
    UPDATE {TABLE}
       SET status = %s, last_error = %s, claim_token = '', next_attempt_at = NULL,
           updated_at = %s
     WHERE status = %s AND next_attempt_at <= %s AND attempts >= %s
"""  # noqa: S608


@dataclass
class SendReport:
    """What one sender run did, for the task's result and the logs."""

    exhausted: int = 0
    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _db_datetime(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: base × 2^(attempts−1), capped."""
    seconds = settings.WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.WEBHOOK_BACKOFF_MAX_SECONDS))


@transaction.atomic
def deliveries_claim(*, batch_size: int, now: dt.datetime) -> tuple[str, list[tuple[int, int]]]:
    """Claim up to ``batch_size`` due deliveries of any organization, oldest due first;
    returns the claim token and (id, organization id) pairs."""
    token = str(uuid.uuid4())
    lease = _db_datetime(now + dt.timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS))
    params = {
        "pending": PENDING,
        "now": _db_datetime(now),
        "max": settings.WEBHOOK_MAX_ATTEMPTS,
        "limit": batch_size,
        "token": token,
        "lease": lease,
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_CLAIM_POSTGRES_SQL, params)
        else:
            cursor.execute(_CLAIM_SQLITE_SQL, params)
            cursor.execute(_CLAIMED_SQL, [PENDING, lease, token])
        return token, sorted(cursor.fetchall())


def deliveries_fail_exhausted(*, now: dt.datetime) -> int:
    """Fail the claims whose last attempt's worker died (their lease ran out)."""
    at = _db_datetime(now)
    with connection.cursor() as cursor:
        cursor.execute(
            _EXHAUSTED_SQL,
            [FAILED, WORKER_STOPPED, at, PENDING, at, settings.WEBHOOK_MAX_ATTEMPTS],
        )
        return cursor.rowcount


def _claimed(organization_id: int, token: str):
    return WebhookDelivery.objects.for_org(organization_id).filter(
        status=WebhookDelivery.Status.PENDING, claim_token=token
    )


def _attempt(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery once; the status code (None without an answer) and an error ('' on
    success)."""
    try:
        target = safe_target(delivery.endpoint.url)
    except ValidationError as error:
        return None, f"Refused URL: {' '.join(error.messages)}"
    body = body_bytes(delivery.payload)
    headers = signed_headers(secret=delivery.endpoint.secret, delivery_id=delivery.pk, body=body)
    try:
        response = transport.post(
            target, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
    except (OSError, http.client.HTTPException) as error:
        return None, f"{type(error).__name__}: {error}"
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status}: {response.body}".strip()


def delivery_send(*, delivery: WebhookDelivery, token: str) -> str:
    """Send one claimed delivery and record the result; returns "succeeded", "retried",
    "failed" or "skipped" (the claim no longer holds it)."""
    claimed = _claimed(delivery.organization_id, token).filter(pk=delivery.pk)
    now = timezone.now()
    if not delivery.endpoint.is_active:
        done = claimed.update(
            status=FAILED, last_error=ENDPOINT_OFF, claim_token="", next_attempt_at=None
        )
        return "failed" if done else "skipped"
    code, error = _attempt(delivery)
    if not error:
        done = claimed.update(
            status=SUCCEEDED,
            last_status_code=code,
            last_error="",
            delivered_at=now,
            next_attempt_at=None,
            claim_token="",
            updated_at=now,
        )
        return "succeeded" if done else "skipped"
    final = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    done = claimed.update(
        status=FAILED if final else PENDING,
        last_status_code=code,
        last_error=error[:ERROR_LENGTH],
        next_attempt_at=None if final else now + backoff(delivery.attempts),
        claim_token="",
        updated_at=now,
    )
    if not done:
        return "skipped"
    log = logger.error if final else logger.warning
    log("Webhook delivery %s attempt %d failed: %s", delivery.pk, delivery.attempts, error)
    return "failed" if final else "retried"


def _load(token: str, claimed: list[tuple[int, int]]) -> list[WebhookDelivery]:
    """The claimed batch, one query per organization in it, with its endpoints."""
    by_organization: dict[int, list[int]] = {}
    for pk, organization_id in claimed:
        by_organization.setdefault(organization_id, []).append(pk)
    loaded: dict[int, WebhookDelivery] = {}
    for organization_id, ids in by_organization.items():
        rows = _claimed(organization_id, token).select_related("endpoint").filter(pk__in=ids)
        loaded.update({row.pk: row for row in rows})
    return [loaded[pk] for pk, _ in claimed if pk in loaded]


def webhook_deliveries_send(
    *,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    now: dt.datetime | None = None,
) -> SendReport:
    """One sender run: fail exhausted stale claims, then claim and send batches until nothing
    is due or the time budget is spent. ``now`` (tests) stands for the clock when claiming."""
    batch_size = batch_size or settings.WEBHOOK_SEND_BATCH
    budget = settings.WEBHOOK_SEND_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    report = SendReport(exhausted=deliveries_fail_exhausted(now=now or timezone.now()))
    while time.monotonic() < deadline:
        token, claimed = deliveries_claim(batch_size=batch_size, now=now or timezone.now())
        if not claimed:
            break
        report.claimed += len(claimed)
        deliveries = _load(token, claimed)
        report.skipped += len(claimed) - len(deliveries)
        for delivery in deliveries:
            outcome = delivery_send(delivery=delivery, token=token)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report
