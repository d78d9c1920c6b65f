"""How the databases run the scoring statement: no part of it is read again for every row of
another. Sizes are too small here for timings to say anything (``benchmarks/success_gap.py``
gives those); the plans' shapes are what scaled badly once: SQLite joined each milestone to the
active goals by scanning them all (55 s for 20,000 members), and PostgreSQL read every condition
of the organization for each chunk."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from outcomes.scoring import (
    MEMBER_LATEST_SQL,
    Dialect,
    MemberRange,
    score_and_record_sql,
    score_params,
    scores_sql,
    scoring_configuration,
)
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


def scans_of(lines: list[str], table: str) -> list[list[str]]:
    """PostgreSQL's scans of ``table`` in a plan: each scan's line and its detail lines."""
    nodes: list[list[str]] = []
    for line in lines:
        if line.startswith("->") or not nodes:
            nodes.append([line])
        else:
            nodes[-1].append(line)
    return [node for node in nodes if "Scan" in node[0] and f" on {table} " in node[0] + " "]


def test_a_chunk_reads_and_writes_only_its_own_members(tenant_a):
    """Every read of the member table by a chunk's statement is bounded by the chunk's id
    range: the update of the moved members once scanned the whole organization per chunk."""
    members = MemberFactory.create_batch(4, organization=tenant_a.organization)
    scope = MemberRange(low=members[1].pk, high=members[-1].pk)
    organization = tenant_a.organization
    params = {
        **score_params(
            organization=organization,
            today=dt.date.today(),
            now=timezone.now(),
            configuration=scoring_configuration(organization=organization).as_dict(),
            scope=scope,
        ),
        "run": 1,
        "computed_at": timezone.now(),
    }
    d = Dialect(connection.vendor)
    if connection.vendor == "sqlite":
        # SQLite updates the members from the run's snapshots, each found by its key.
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + MEMBER_LATEST_SQL, params)
            lines = [str(row[-1]) for row in cursor.fetchall()]
        assert not [line for line in lines if line.startswith("SCAN members_member")], lines
        return
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + score_and_record_sql(d, scope), params)
        lines = [str(row[0]).strip() for row in cursor.fetchall()]
    member_reads = scans_of(lines, "members_member")
    assert len(member_reads) >= 3, lines  # the counts, the moved members, the update
    for node in member_reads:
        assert any("id >= " in detail for detail in node), node
