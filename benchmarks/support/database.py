"""Database state for the benchmarks: what a live PostgreSQL would have after a bulk load."""

from __future__ import annotations


def vacuum_analyze() -> None:
    """Bring statistics and visibility maps to where autovacuum keeps them on a live database.

    Freshly loaded tables have neither until autovacuum's next pass, and this development
    machine's PostgreSQL runs with autovacuum off. Without statistics the planner takes 10,000
    members for 13 (the member list sorted them in 29 ms instead of reading its index in 3;
    the foreign-key checks of planned nudges read members through a wrong index); without
    visibility maps the index-only scans visit the table. A no-op on SQLite.

    Then a checkpoint, where the role may ask for one: the vacuum dirties every page it sets
    hints on, and without it their write-back to disk would land inside the measurement that
    follows (on this machine's disk, swinging a two-second measurement by a third).
    """
    from django.db import DatabaseError, connection, transaction

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        try:
            with transaction.atomic():
                cursor.execute("CHECKPOINT")
        except DatabaseError:
            pass  # not a superuser (nor pg_checkpoint's member): measured without it
