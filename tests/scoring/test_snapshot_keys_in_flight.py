"""The snapshot keys (``tenancy.statement_keys``) against a delete racing a scoring chunk.

The keys lock no member row: a chunk takes one shared lock per organization, and a member's
delete takes it exclusively before removing the member's snapshots. On PostgreSQL these are
real races between two connections: a delete during a chunk waits for the chunk's commit and
then removes what the chunk wrote; a chunk during a delete waits for the delete's commit and
then finds its member gone. SQLite runs one writer at a time, so there the two happen one
after the other, and the end state is the same."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from members.models import Member
from outcomes.models import SuccessGapSnapshot
from outcomes.scoring import success_gap_run_start, success_gaps_compute, success_gaps_recompute
from tests.factories import MemberFactory
from tests.scoring.lock_waits import wait_until_a_backend_waits_for_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(work) -> tuple[threading.Thread, list]:
    """Run ``work`` on its own connection; the list receives its result or its exception."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def delete_member(member_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM members_member WHERE id = %s", [member_id])
        return cursor.rowcount


def scored_once(organization):
    """Two scored members, so a second run at the same moment moves no gap and writes no
    member row: nothing but the key's own lock stands between it and a delete."""
    members = MemberFactory.create_batch(2, organization=organization)
    first = success_gaps_recompute(organization=organization).run
    again = success_gap_run_start(
        organization=organization, now=first.computed_at + dt.timedelta(seconds=1)
    )
    return members, again


def test_a_member_deleted_while_a_chunk_is_in_flight_takes_the_chunks_snapshot(tenant_a):
    organization = tenant_a.organization
    (gone, kept), run = scored_once(organization)
    if connection.vendor == "postgresql":
        with transaction.atomic():
            assert success_gaps_compute(organization=organization, run=run).members_scored == 2
            deleter, outcome = in_thread(lambda: delete_member(gone.pk))
            wait_until_a_backend_waits_for_a_lock(
                deleter, kind="advisory"
            )  # not on the member's row: no chunk locks it
        deleter.join(timeout=30)
        assert outcome == [1]
    else:
        success_gaps_compute(organization=organization, run=run)
        delete_member(gone.pk)
    snapshots = SuccessGapSnapshot.objects.for_org(organization)
    assert not snapshots.filter(member_id=gone.pk).exists()
    assert snapshots.filter(member_id=kept.pk).count() == 2
    assert not Member.objects.for_org(organization).filter(pk=gone.pk).exists()


def test_a_chunk_scored_while_its_member_is_being_deleted_is_refused(tenant_a):
    organization = tenant_a.organization
    (gone, _), run = scored_once(organization)

    def score():
        return success_gaps_compute(organization=organization, run=run)

    if connection.vendor == "postgresql":
        with transaction.atomic():
            assert delete_member(gone.pk) == 1
            scorer, outcome = in_thread(score)
            wait_until_a_backend_waits_for_a_lock(scorer, kind="advisory")
        scorer.join(timeout=30)
        (error,) = outcome
        assert isinstance(error, IntegrityError), error
        assert "names a members_member row" in str(error)
    else:
        delete_member(gone.pk)
        assert score().members_scored == 1  # the member is gone before the chunk reads it
    snapshots = SuccessGapSnapshot.objects.for_org(organization)
    assert not snapshots.filter(member_id=gone.pk).exists()
    assert (
        not snapshots.filter(run=run)
        .exclude(member__in=Member.objects.for_org(organization))
        .exists()
    )
