"""The snapshots partitioned by week on PostgreSQL (outcomes/partitions.py): a night lands in
its own week's partition, weeks are made ahead and once, a week with no partition goes to the
default one and is never refused, and the migration's rebuild keeps every row and id both ways.
SQLite keeps one table, and the same calls change nothing there."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from outcomes.models import SuccessGapSnapshot
from outcomes.partitions import (
    DEFAULT_PARTITION,
    SNAPSHOT_TABLE,
    ensure_snapshot_weeks,
    week_partition,
    week_start,
)
from outcomes.scoring import success_gaps_recompute
from tests.factories import MemberFactory

rebuild = importlib.import_module("outcomes.migrations.0009_snapshot_weekly_partitions")
ON_POSTGRESQL = connection.vendor == "postgresql"
# A Wednesday far from today, whose week no migration or night has made.
LATER = dt.datetime(2031, 3, 12, 1, 30, tzinfo=dt.UTC)


def where_rows_are(organization) -> dict[str, int]:
    """Partition (or, on SQLite, table) -> the organization's snapshots in it."""
    table = "tableoid::regclass::text" if ON_POSTGRESQL else f"'{SNAPSHOT_TABLE}'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {table}, COUNT(*) FROM {SNAPSHOT_TABLE}"  # noqa: S608
            " WHERE organization_id = %s GROUP BY 1",
            [organization.pk],
        )
        return dict(cursor.fetchall())


def relkind() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [SNAPSHOT_TABLE])
        return cursor.fetchone()[0]


def test_a_week_starts_on_monday_at_midnight_utc():
    assert week_start(LATER) == dt.datetime(2031, 3, 10, tzinfo=dt.UTC)
    sunday_night_in_new_york = dt.datetime(
        2031, 3, 16, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))
    )
    assert week_start(sunday_night_in_new_york) == dt.datetime(2031, 3, 17, tzinfo=dt.UTC)
    assert week_partition(week_start(LATER)) == f"{SNAPSHOT_TABLE}_w20310310"


def test_weeks_are_made_ahead_once_and_a_night_lands_in_its_own(tenant_a):
    organization = tenant_a.organization
    made = ensure_snapshot_weeks(moment=LATER, weeks_ahead=2)
    assert ensure_snapshot_weeks(moment=LATER, weeks_ahead=2) == []
    MemberFactory.create_batch(3, organization=organization)
    success_gaps_recompute(organization=organization, now=LATER)
    if not ON_POSTGRESQL:
        assert made == []
        assert where_rows_are(organization) == {SNAPSHOT_TABLE: 3}
        return
    assert made == [f"{SNAPSHOT_TABLE}_w{day}" for day in ("20310310", "20310317", "20310324")]
    assert where_rows_are(organization) == {f"{SNAPSHOT_TABLE}_w20310310": 3}


def test_a_week_with_no_partition_goes_to_the_default_one_and_stays(tenant_a, caplog):
    organization = tenant_a.organization
    MemberFactory.create_batch(2, organization=organization)
    success_gaps_recompute(organization=organization, now=LATER)  # nothing made its week
    if not ON_POSTGRESQL:
        assert where_rows_are(organization) == {SNAPSHOT_TABLE: 2}
        return
    assert where_rows_are(organization) == {DEFAULT_PARTITION: 2}
    # The week's partition can no longer be made (its rows are in the default one): logged,
    # and the weeks after it are made all the same.
    with caplog.at_level(logging.WARNING, logger="outcomes.partitions"):
        made = ensure_snapshot_weeks(moment=LATER, weeks_ahead=1)
    assert made == [f"{SNAPSHOT_TABLE}_w20310317"]
    assert "w20310310 not made" in caplog.text
    success_gaps_recompute(organization=organization, now=LATER + dt.timedelta(hours=1))
    assert where_rows_are(organization) == {DEFAULT_PARTITION: 4}


def test_the_one_snapshot_per_member_per_run_key_holds_in_every_partition(tenant_a):
    organization = tenant_a.organization
    MemberFactory.create_batch(1, organization=organization)
    ensure_snapshot_weeks(moment=LATER, weeks_ahead=0)
    run = success_gaps_recompute(organization=organization, now=LATER).run
    snapshot = SuccessGapSnapshot.objects.for_org(organization).get()
    with pytest.raises(IntegrityError), transaction.atomic():
        SuccessGapSnapshot.objects.for_org(organization).create(
            organization=organization,
            run=run,
            member_id=snapshot.member_id,
            computed_at=run.computed_at,
            band="no_outcome",
        )


def test_the_rebuild_keeps_every_row_and_id_both_ways(tenant_a):
    """The migration's own functions, run backwards and forwards on the test database: rows and
    ids are kept, new ids follow on from the old ones, and scoring works on either table."""
    organization = tenant_a.organization
    MemberFactory.create_batch(3, organization=organization)
    success_gaps_recompute(organization=organization, now=timezone.now() - dt.timedelta(days=9))
    success_gaps_recompute(organization=organization)
    snapshots = SuccessGapSnapshot.objects.for_org(organization)
    before = sorted(snapshots.values_list("pk", "member_id", "computed_at", "gap"))
    editor = SimpleNamespace(connection=connection)

    rebuild.unpartition(None, editor)
    if ON_POSTGRESQL:
        assert relkind() == "r"
    assert sorted(snapshots.values_list("pk", "member_id", "computed_at", "gap")) == before
    success_gaps_recompute(organization=organization)
    assert snapshots.count() == 9
    assert min(snapshots.order_by("-pk")[:3].values_list("pk", flat=True)) > before[-1][0]

    rebuild.partition(None, editor)
    if ON_POSTGRESQL:
        assert relkind() == "p"
        assert DEFAULT_PARTITION not in where_rows_are(organization)  # each in its week
    success_gaps_recompute(organization=organization)
    assert snapshots.count() == 12
    kept = sorted(snapshots.values_list("pk", "member_id", "computed_at", "gap"))
    assert kept[:6] == before
    assert len({pk for pk, *_ in kept}) == 12


def test_the_nightly_fan_out_makes_the_coming_weeks_first(tenant_a, broker_queue):
    """Every migrate made this week's partition and the next four; a database that went without
    one since has lost the furthest of them here, and the nightly fan-out makes it again
    before it sends the organizations' tasks."""
    from outcomes.tasks import recompute_all_organizations

    furthest = week_partition(week_start(timezone.now()) + dt.timedelta(weeks=4))
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {furthest}")
    assert recompute_all_organizations.run() >= 1
    assert any(m["task"] == "outcomes.recompute_organization" for m in broker_queue())
    with connection.cursor() as cursor:
        if ON_POSTGRESQL:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [furthest])
            assert cursor.fetchone()[0]
        else:
            assert furthest not in connection.introspection.table_names(cursor)


def test_member_360s_latest_snapshot_is_read_from_its_own_week(tenant_a):
    """By id and moment, so PostgreSQL plans and probes one week's partition, not every week."""
    from django.test.utils import CaptureQueriesContext

    from outcomes.explain import gap_explanation_and_trend

    organization = tenant_a.organization
    (member,) = MemberFactory.create_batch(1, organization=organization)
    ensure_snapshot_weeks(moment=LATER, weeks_ahead=0)
    for days in (14, 7, 0):  # three weeks, three partitions
        moment = LATER - dt.timedelta(days=days)
        ensure_snapshot_weeks(moment=moment, weeks_ahead=0)
        success_gaps_recompute(organization=organization, now=moment)
    with CaptureQueriesContext(connection) as captured:
        explanation, _ = gap_explanation_and_trend(
            organization=organization, member=member, now=LATER
        )
    latest = SuccessGapSnapshot.objects.for_org(organization).order_by("-computed_at").first()
    assert explanation.snapshot.pk == latest.pk and explanation.snapshot.run_id == latest.run_id
    by_id = [q["sql"] for q in captured.captured_queries if "outcomes_successgaprun" in q["sql"]]
    assert len(by_id) == 1
    if not ON_POSTGRESQL:
        return
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + by_id[0])
        plan = " ".join(str(row[0]) for row in cursor.fetchall())
    partitions = re.compile(rf"{SNAPSHOT_TABLE}_(w\d{{8}}|default)")
    weeks = {name for name in plan.split() if partitions.fullmatch(name)}
    assert weeks == {f"{SNAPSHOT_TABLE}_w20310310"}, plan
