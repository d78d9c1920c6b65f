"""How the databases run the scoring statement: no part of it is read again for every row of
another. Sizes are too small here for timings to say anything (``benchmarks/success_gap.py``
gives those); the plans' shapes are what scaled badly once: SQLite joined each milestone to the
active goals by scanning them all (55 s for 20,000 members), and PostgreSQL read every condition
of the organization for each chunk."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from outcomes.scoring import Dialect, MemberRange, score_params, scores_sql, scoring_configuration
from tests.factories import MemberFactory


def plan(organization, scope: MemberRange) -> list[str]:
    now = timezone.now()
    params = score_params(
        organization=organization,
        today=dt.date.today(),
        now=now,
        configuration=scoring_configuration(organization=organization).as_dict(),
        scope=scope,
    )
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + scores_sql(Dialect(connection.vendor), scope), params)
        rows = cursor.fetchall()
    return [str(row[-1]).strip() for row in rows]


def test_no_left_join_is_a_scan_per_row(tenant_a):
    members = MemberFactory.create_batch(3, organization=tenant_a.organization)
    lines = plan(tenant_a.organization, MemberRange(low=members[0].pk, high=members[-1].pk + 1))
    if connection.vendor == "sqlite":
        # "SCAN x LEFT-JOIN": x read whole for each row on the left.
        assert not [line for line in lines if line.startswith("SCAN") and "LEFT-JOIN" in line]
        # The strategic milestones' goals are a membership test, with its own index.
        assert any(line.startswith("LIST SUBQUERY") for line in lines)
    else:
        # The membership test is a subplan (hashed once it is worth it), not a join.
        assert any("SubPlan" in line for line in lines), lines
        # A chunk's conditions are looked up by goal, never read whole.
        assert not [line for line in lines if "Seq Scan on outcomes_condition" in line]
