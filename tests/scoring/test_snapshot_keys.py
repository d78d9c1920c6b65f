"""The snapshot's references to its member and its run, kept by the database's triggers
(``tenancy.statement_keys``, declared in outcomes/snapshot_keys.py) instead of foreign keys: on
both databases a snapshot names a member and a run of its own organization, a deleted member or
run takes its snapshots with it, and a member or run with snapshots keeps its key."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from members.models import Member
from outcomes.models import SuccessGapRun, SuccessGapSnapshot
from outcomes.scoring import success_gaps_recompute
from outcomes.snapshot_keys import SNAPSHOT_KEYS, create_snapshot_keys
from tenancy.statement_keys import StatementKey, ensure_statement_keys
from tests.factories import MemberFactory

# (snapshot column, the model it names)
KEYS = [("member_id", Member), ("run_id", SuccessGapRun)]


def snapshots(organization):
    return SuccessGapSnapshot.objects.for_org(organization)


def write_snapshot(organization, **columns) -> SuccessGapSnapshot:
    return snapshots(organization).create(
        organization=organization, computed_at=timezone.now(), band="no_outcome", **columns
    )


def scored(organization, members: int = 2) -> SuccessGapRun:
    MemberFactory.create_batch(members, organization=organization)
    return success_gaps_recompute(organization=organization).run


def named(snapshot: SuccessGapSnapshot, model) -> int:
    return snapshot.member_id if model is Member else snapshot.run_id


def refused(callable_, *args, **kwargs) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_(*args, **kwargs)


def test_scoring_writes_snapshots_naming_its_own_members_and_run(tenant_a):
    run = scored(tenant_a.organization)
    assert snapshots(tenant_a.organization).filter(run=run).count() == 2


@pytest.mark.parametrize(("column", "model"), KEYS)
def test_a_snapshot_naming_a_row_that_does_not_exist_is_refused(tenant_a, column, model):
    run = scored(tenant_a.organization, members=1)
    ours = snapshots(tenant_a.organization).get(run=run)
    columns = {"member_id": ours.member_id, "run_id": run.pk, column: 2**62}
    refused(write_snapshot, tenant_a.organization, **columns)
    assert snapshots(tenant_a.organization).count() == 1


@pytest.mark.parametrize(("column", "model"), KEYS)
def test_a_snapshot_naming_another_organizations_row_is_refused(tenant_a, tenant_b, column, model):
    ours = snapshots(tenant_a.organization).get(run=scored(tenant_a.organization, members=1))
    theirs = snapshots(tenant_b.organization).get(run=scored(tenant_b.organization, members=1))
    columns = {"member_id": ours.member_id, "run_id": ours.run_id, column: named(theirs, model)}
    refused(write_snapshot, tenant_a.organization, **columns)
    # Moving an existing snapshot there is refused alike.
    refused(snapshots(tenant_a.organization).filter(pk=ours.pk).update, **{column: columns[column]})
    assert snapshots(tenant_a.organization).get().pk == ours.pk


@pytest.mark.parametrize(("column", "model"), KEYS)
def test_a_row_deleted_by_plain_sql_takes_its_snapshots_with_it(tenant_a, tenant_b, column, model):
    run, other = scored(tenant_a.organization), scored(tenant_b.organization)
    gone = named(snapshots(tenant_a.organization).filter(run=run).first(), model)
    # Rows naming the deleted one would stop its deletion: nothing else names a run, and a
    # member's other rows are its goals and the like (none here but the snapshot).
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE id = %s", [gone])  # noqa: S608
    left = snapshots(tenant_a.organization).filter(run=run)
    assert left.count() == (0 if model is SuccessGapRun else 1)
    assert not left.filter(**{column: gone}).exists()
    assert snapshots(tenant_b.organization).filter(run=other).count() == 2


def test_rows_deleted_through_the_orm_take_their_snapshots_with_them(tenant_a):
    run = scored(tenant_a.organization, members=3)
    member = snapshots(tenant_a.organization).first().member
    Member.objects.for_org(tenant_a.organization).filter(pk=member.pk).delete()
    assert snapshots(tenant_a.organization).count() == 2
    SuccessGapRun.objects.for_org(tenant_a.organization).filter(pk=run.pk).delete()
    assert not snapshots(tenant_a.organization).exists()


@pytest.mark.parametrize(("column", "model"), KEYS)
def test_a_row_with_snapshots_keeps_its_key(tenant_a, column, model):
    snapshot = snapshots(tenant_a.organization).get(run=scored(tenant_a.organization, members=1))
    table, pk = model._meta.db_table, named(snapshot, model)

    def rekey() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET id = id + 1000000 WHERE id = %s", [pk])  # noqa: S608

    refused(rekey)
    # Other columns change freely (every chunk of a run adds to its count).
    model.objects.for_org(tenant_a.organization).filter(pk=pk).update(
        **({"repairs": 1} if model is SuccessGapRun else {"name": "Renamed"})
    )


def test_the_triggers_come_back_when_a_migration_loses_them(tenant_a):
    """SQLite drops a table's triggers when a migration rebuilds the table: the post_migrate
    receiver creates whatever is missing, and running it again changes nothing."""
    run = scored(tenant_a.organization, members=1)
    member_id = snapshots(tenant_a.organization).get().member_id
    with connection.cursor() as cursor:
        for key in SNAPSHOT_KEYS:
            for name, table in key.trigger_names().items():
                on = f" ON {table}" if connection.vendor == "postgresql" else ""
                cursor.execute(f"DROP TRIGGER {name}{on}")
    with transaction.atomic():  # unchecked while the triggers are gone
        write_snapshot(tenant_a.organization, member_id=member_id, run_id=2**62).delete()

    create_snapshot_keys(sender=None)
    assert ensure_statement_keys(SNAPSHOT_KEYS) == len(SNAPSHOT_KEYS)
    refused(write_snapshot, tenant_a.organization, member_id=member_id, run_id=2**62)
    refused(write_snapshot, tenant_a.organization, member_id=2**62, run_id=run.pk)


def test_a_key_names_only_plain_identifiers():
    """Its names go into the triggers' SQL as they are."""
    with pytest.raises(ValueError, match="plain identifier"):
        StatementKey(name="k", table="t; DROP TABLE x", column="c", target="r")
