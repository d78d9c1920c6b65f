"""Signing what we send, so a receiver can tell a delivery came from Tandem, unchanged.

``Tandem-Webhook-Signature: v1=<hex>`` where ``<hex>`` is the HMAC-SHA256, keyed with the
endpoint's secret, of ``"<Tandem-Webhook-Timestamp>.<raw body>"``. The timestamp (Unix seconds)
is signed with the body so a captured request cannot be replayed later by someone else: a
receiver refuses timestamps too far from its clock (``verify`` takes that tolerance).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 — a label, not a secret
VERSION = "v1"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{VERSION}={digest.hexdigest()}"


def signed_headers(*, secret: str, delivery_id: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: a fresh timestamp, so every attempt has its own signature."""
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "Tandem-Webhooks/1",
        "Tandem-Webhook-Id": str(delivery_id),
        "Tandem-Webhook-Timestamp": timestamp,
        "Tandem-Webhook-Signature": signature(secret=secret, timestamp=timestamp, body=body),
    }


def verify(*, secret: str, timestamp: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        age = abs(time.time() - int(timestamp))
    except (TypeError, ValueError):
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return age <= tolerance and hmac.compare_digest(expected, header)
