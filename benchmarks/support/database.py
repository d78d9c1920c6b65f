"""Database state for the benchmarks: what a live PostgreSQL would have after a bulk load."""

from __future__ import annotations


def vacuum_analyze() -> None:
    """Bring statistics and visibility maps to where autovacuum keeps them on a live database.

    Freshly loaded tables have neither until autovacuum's next pass, and this development
    machine's PostgreSQL runs with autovacuum off. Without statistics the planner takes 10,000
    members for 13 (the member list sorted them in 29 ms instead of reading its index in 3;
    the foreign-key checks of planned nudges read members through a wrong index); without
    visibility maps the index-only scans visit the table. A no-op on SQLite.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
