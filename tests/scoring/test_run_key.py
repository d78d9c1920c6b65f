"""The snapshot's reference to its run, kept by the database's triggers (outcomes/run_key.py)
instead of a foreign key: on both databases a snapshot names a run of its own organization, a
deleted run takes its snapshots with it, and a run with snapshots keeps its key."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from outcomes.models import SuccessGapRun, SuccessGapSnapshot
from outcomes.run_key import ensure_snapshot_run_key
from outcomes.scoring import success_gaps_recompute
from tests.factories import MemberFactory


def snapshot(organization, member, run_id) -> SuccessGapSnapshot:
    return SuccessGapSnapshot.objects.for_org(organization).create(
        organization=organization,
        member=member,
        run_id=run_id,
        computed_at=timezone.now(),
        band="no_outcome",
    )


def scored(organization, members: int = 2) -> SuccessGapRun:
    MemberFactory.create_batch(members, organization=organization)
    return success_gaps_recompute(organization=organization).run


def test_a_snapshot_of_a_run_of_its_own_organization_is_written(tenant_a):
    run = scored(tenant_a.organization)
    assert SuccessGapSnapshot.objects.for_org(tenant_a.organization).filter(run=run).count() == 2


def test_a_snapshot_naming_no_run_is_refused(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    latest = SuccessGapRun.objects.unscoped().order_by("-pk").values_list("pk", flat=True)
    missing = (latest.first() or 0) + 1000
    with pytest.raises(IntegrityError), transaction.atomic():
        snapshot(tenant_a.organization, member, missing)
    assert not SuccessGapSnapshot.objects.for_org(tenant_a.organization).exists()


def test_a_snapshot_naming_another_organizations_run_is_refused(tenant_a, tenant_b):
    their_run = scored(tenant_b.organization)
    member = MemberFactory(organization=tenant_a.organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        snapshot(tenant_a.organization, member, their_run.pk)
    assert not SuccessGapSnapshot.objects.for_org(tenant_a.organization).exists()


def test_moving_a_snapshot_to_another_organizations_run_is_refused(tenant_a, tenant_b):
    ours, theirs = scored(tenant_a.organization), scored(tenant_b.organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        SuccessGapSnapshot.objects.for_org(tenant_a.organization).filter(run=ours).update(
            run_id=theirs.pk
        )
    assert SuccessGapSnapshot.objects.for_org(tenant_a.organization).filter(run=ours).count() == 2


def test_a_run_deleted_by_plain_sql_takes_its_snapshots_with_it(tenant_a, tenant_b):
    run, other = scored(tenant_a.organization), scored(tenant_b.organization)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM outcomes_successgaprun WHERE id = %s", [run.pk])
    assert not SuccessGapSnapshot.objects.for_org(tenant_a.organization).exists()
    assert SuccessGapSnapshot.objects.for_org(tenant_b.organization).filter(run=other).count() == 2


def test_a_run_deleted_through_the_orm_takes_its_snapshots_with_it(tenant_a):
    run = scored(tenant_a.organization)
    SuccessGapRun.objects.for_org(tenant_a.organization).filter(pk=run.pk).delete()
    assert not SuccessGapSnapshot.objects.for_org(tenant_a.organization).exists()


def test_a_run_with_snapshots_keeps_its_key(tenant_a):
    run = scored(tenant_a.organization)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE outcomes_successgaprun SET id = id + 100000 WHERE id = %s", [run.pk])
    # Other columns change freely: every chunk of a run adds to its count.
    SuccessGapRun.objects.for_org(tenant_a.organization).filter(pk=run.pk).update(repairs=1)


def test_the_triggers_come_back_when_a_migration_loses_them(tenant_a):
    """SQLite drops a table's triggers when a migration rebuilds the table: the post_migrate
    receiver creates whatever is missing, and re-running it changes nothing."""
    triggers = {
        "outcomes_snapshot_run_inserted": "outcomes_successgapsnapshot",
        "outcomes_snapshot_run_updated": "outcomes_successgapsnapshot",
        "outcomes_run_deleted": "outcomes_successgaprun",
        "outcomes_run_updated": "outcomes_successgaprun",
    }
    with connection.cursor() as cursor:
        for name, table in triggers.items():
            on = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER {name}{on}")
    member = MemberFactory(organization=tenant_a.organization)
    with transaction.atomic():
        snapshot(tenant_a.organization, member, 10**9).delete()  # unchecked: no trigger

    assert ensure_snapshot_run_key() is True
    assert ensure_snapshot_run_key() is True
    with pytest.raises(IntegrityError), transaction.atomic():
        snapshot(tenant_a.organization, member, 10**9)
