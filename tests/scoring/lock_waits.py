"""Waiting, in a test, until another connection waits for a lock (PostgreSQL only)."""

from __future__ import annotations

import threading
import time

from django.db import connection


def wait_until_a_backend_waits_for_a_lock(
    other: threading.Thread, *, kind: str | None = None, timeout: float = 10.0
) -> None:
    """Return once another backend of this database waits for a lock; with ``kind``, assert
    that every waiting backend waits for that kind (pg_stat_activity's wait_event: 'advisory',
    'tuple', 'transactionid'). Fails when ``other`` ends or the time runs out first."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and other.is_alive():
            # Inside a transaction the statistics views keep their first reading: drop it.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT wait_event FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            events = {event for (event,) in cursor.fetchall()}
            if events:
                assert kind is None or events == {kind}, events
                return
            time.sleep(0.05)
    raise AssertionError(f"no other connection waited for a lock ({kind or 'any'})")
