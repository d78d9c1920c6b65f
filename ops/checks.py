"""Readiness checks behind ``/readyz``: can this process reach what it needs to serve?

Each check is short and bounded (a trivial query, a broker connection with a small timeout), so
an orchestrator polling every few seconds neither waits long nor adds load. Failures are logged
in full here and reported by name only: ``/readyz`` answers without authentication, so it must
not echo host names or credentials from connection URLs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``error`` names the exception class when it failed."""

    ok: bool
    error: str | None = None

    def as_dict(self) -> dict[str, str]:
        if self.ok:
            return {"status": "ok"}
        return {"status": "fail", "error": self.error or "unknown"}


def _failed(check: str, exc: BaseException) -> CheckResult:
    logger.warning("readiness check %s failed: %r", check, exc)
    return CheckResult(ok=False, error=type(exc).__name__)


def check_database(alias: str = "default") -> CheckResult:
    """Run ``SELECT 1``: proves the server answers and the credentials work."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _failed("database", exc)
    return CheckResult(ok=True)


def check_broker() -> CheckResult:
    """Reach the Celery broker: the queue folders for the file-system transport (they must
    exist and be writable, or nothing can be queued), a real connection for anything else."""
    url: str = settings.CELERY_BROKER_URL
    options: dict = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {})
    try:
        if url.startswith("filesystem://"):
            _check_broker_folders(options)
        else:
            _check_broker_connection(url, options)
    except Exception as exc:
        return _failed("broker", exc)
    return CheckResult(ok=True)


def _check_broker_folders(options: dict) -> None:
    keys = ("data_folder_in", "data_folder_out", "control_folder")
    folders = {options[key] for key in keys if options.get(key)}
    if not folders:
        raise FileNotFoundError("the file-system broker has no folders configured")
    for folder in folders:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"broker folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"broker folder {folder} is not writable")


def _check_broker_connection(url: str, options: dict) -> None:
    from kombu import Connection

    # Redis: the transport pings the server when it opens a channel; both timeouts bound it.
    options.setdefault("socket_timeout", BROKER_TIMEOUT_SECONDS)
    options.setdefault("socket_connect_timeout", BROKER_TIMEOUT_SECONDS)
    with Connection(
        url, connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
        connection.default_channel  # noqa: B018 - opening a channel is the actual round trip


READINESS_CHECKS = {"database": check_database, "broker": check_broker}


def run_readiness_checks() -> dict[str, CheckResult]:
    """Every readiness check, by name, in a stable order."""
    return {name: check() for name, check in READINESS_CHECKS.items()}
