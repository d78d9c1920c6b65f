"""Two chunks of one run finishing at the same moment, as two workers of the nightly fan-out
do: the run counts every member both scored, and is finished by whichever ends last.

On PostgreSQL this is a real race: the second chunk's count waits for the first chunk's lock on
the run row, and a count taken by re-reading the snapshots used the statement's own snapshot,
which could not see the first chunk's rows (the benchmark's runs came out 75,000 of 100,000).
SQLite runs one writer at a time, so there the chunks are scored one after the other."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from outcomes.models import SuccessGapSnapshot
from outcomes.scoring import (
    RunResult,
    member_id_chunks,
    success_gap_run_start,
    success_gaps_compute,
)
from tenancy.models import DomainEvent
from tests.factories import MemberFactory
from tests.scoring.lock_waits import wait_until_a_backend_waits_for_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def score_side_by_side(organization, run, first, second) -> list[RunResult]:
    """Score chunk ``first`` of ``run``, then ``second``; on PostgreSQL the second in another
    thread (its own connection) while the first's transaction is still open, until the second
    waits for one of the first's locks. SQLite runs one writer at a time: one after the other.
    Returns both results, the first's first."""
    if connection.vendor != "postgresql":
        return [
            success_gaps_compute(organization=organization, run=run, scope=chunk)
            for chunk in (first, second)
        ]
    results: list[RunResult] = []
    errors: list[BaseException] = []

    def score_second() -> None:
        try:
            results.append(success_gaps_compute(organization=organization, run=run, scope=second))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    try:
        with transaction.atomic():  # the first chunk holds its transaction open...
            results.append(success_gaps_compute(organization=organization, run=run, scope=first))
            other = threading.Thread(target=score_second)
            other.start()
            wait_until_a_backend_waits_for_a_lock(other)  # ...until the second waits
    finally:
        other.join(timeout=30)
    assert not other.is_alive() and not errors, errors
    return results


def test_two_chunks_finishing_together_count_every_member(tenant_a):
    organization = tenant_a.organization
    MemberFactory.create_batch(4, organization=organization)
    run = success_gap_run_start(organization=organization, chunked=True)
    first, second = member_id_chunks(organization=organization, size=2)
    assert run.members_expected == 4

    score_side_by_side(organization, run, first, second)

    run.refresh_from_db()
    assert run.members_scored == 4
    assert run.finished_at is not None


def test_the_same_chunk_scored_twice_at_once_is_written_once(tenant_a, caplog):
    """A chunk delivered again while the first delivery still runs: the second insert waits for
    the first to commit, meets the one-per-member-per-run key, and is run again, finding the
    chunk done. Every member once, counted once, no band change twice."""
    organization = tenant_a.organization
    MemberFactory.create_batch(3, organization=organization)
    run = success_gap_run_start(organization=organization, chunked=True)
    (chunk,) = member_id_chunks(organization=organization, size=3)

    first, again = score_side_by_side(organization, run, chunk, chunk)

    if connection.vendor == "postgresql":
        assert "already holds members" in caplog.text  # the second insert met the first's rows
    assert (first.members_scored, again.members_scored) == (3, 0)
    assert again.band_changes == 0
    run.refresh_from_db()
    assert run.members_scored == 3 and run.finished_at is not None
    snapshots = SuccessGapSnapshot.objects.for_org(organization).filter(run=run)
    assert snapshots.count() == 3
    events = DomainEvent.objects.for_org(organization).filter(kind="member.band_changed")
    assert events.count() == first.band_changes
