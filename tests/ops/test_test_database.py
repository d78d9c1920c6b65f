"""The test database lets a page be read while the worker writes, as the served app does.

The browser tests poll a page from the live server's thread while the test's thread runs a
worker task that writes. Django's default SQLite test database (shared-cache memory) locks whole
tables there and fails the write at once with "database table is locked"; a WAL file, like
`make run`'s, and PostgreSQL both let the write through."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_write_goes_through_while_another_thread_is_reading_the_same_table():
    reading = threading.Event()
    written = threading.Event()
    failures: list[BaseException] = []

    def read_slowly() -> None:
        """A page's query part-way through its rows, as the live server holds it."""
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT id FROM django_content_type ORDER BY id")
                assert cursor.fetchone() is not None
                reading.set()
                written.wait(timeout=30)
                cursor.fetchall()
        except BaseException as exc:  # reported to the test's thread
            failures.append(exc)
            reading.set()
        finally:
            connections.close_all()

    reader = threading.Thread(target=read_slowly)
    reader.start()
    assert reading.wait(timeout=30)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE django_content_type SET model = model "
                "WHERE id = (SELECT MIN(id) FROM django_content_type)"
            )
            assert cursor.rowcount == 1
    finally:
        written.set()
        reader.join(timeout=30)
    assert not failures, failures
