"""``Idempotency-Key`` on POST: the first request with a key runs; a repeat (same key, same
method, path and body) gets the first answer back and writes nothing again.

The claim is a row inserted before the work, under a unique constraint, so two copies of one
request racing each other cannot both run: the loser answers 409 until the winner is done. A
request that fails with 5xx or 409 releases its claim, so the client may retry it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tenancy.api.auth import ApiPrincipal
from tenancy.api.errors import Conflict
from tenancy.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
KEPT_FOR = dt.timedelta(hours=24)
ABANDONED_AFTER = dt.timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for a different request; use a new key."
    default_code = "idempotency_key_reused"


class Replay(Exception):
    """Raised to answer with the stored first response instead of running the view."""

    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record

    def response(self) -> Response:
        data = json.loads(self.record.response_body) if self.record.response_body else None
        response = Response(data, status=self.record.status_code)
        response[REPLAY_HEADER] = "true"
        return response


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this server accepts; send smaller batches."
    default_code = "too_large"


def _fingerprint(request) -> str:
    try:
        body = request.body
    except RequestDataTooBig:
        raise BodyTooLarge() from None
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), body):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def claim(request) -> IdempotencyRecord | None:
    """Claim the request's key, or raise ``Replay`` / ``Conflict`` / ``KeyReused``. Returns None
    when the request has no key (or is not a POST)."""
    key = request.headers.get(HEADER)
    principal = request.user
    if request.method != "POST" or key is None or not isinstance(principal, ApiPrincipal):
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError(
            {HEADER: [f"Send 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID."]}
        )
    fingerprint = _fingerprint(request)
    records = IdempotencyRecord.objects.for_org(principal.organization)
    now = timezone.now()
    records.filter(principal=principal.identity, key=key, created_at__lt=now - KEPT_FOR).delete()
    try:
        with transaction.atomic():
            return records.create(
                organization=principal.organization,
                principal=principal.identity,
                key=key,
                fingerprint=fingerprint,
                created_at=now,
            )
    except IntegrityError:
        pass
    existing = records.get(principal=principal.identity, key=key)
    if existing.fingerprint != fingerprint:
        raise KeyReused()
    if existing.status_code is not None:
        raise Replay(existing)
    if existing.created_at < now - ABANDONED_AFTER:
        # The first attempt died without an answer; this one takes its place.
        existing.created_at = now
        existing.save(update_fields=["created_at"])
        return existing
    raise Conflict("A request with this Idempotency-Key is still running; retry shortly.")


def settle(record: IdempotencyRecord, response: Response) -> None:
    """Keep the answer to replay later, or release the claim when the request failed on our
    side (5xx) or met a conflict (409: the database refused the write, e.g. a race on a unique
    row, and rolled it back; or the state forbade it), so that a retry runs it again instead of
    replaying a refusal that may no longer hold."""
    if response.status_code >= 500 or response.status_code == status.HTTP_409_CONFLICT:
        IdempotencyRecord.objects.for_org(record.organization_id).filter(pk=record.pk).delete()
        return
    body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
    IdempotencyRecord.objects.for_org(record.organization_id).filter(pk=record.pk).update(
        status_code=response.status_code, response_body=body
    )
