"""Success-gap benchmark: the set-based engine against the per-member reference loop.

Builds (or reuses) the demo portfolio with ``seed_demo --members N``, scores every member of the
benchmark organization with the engine, scores members with the straightforward loop from the
tests, checks that both agree, and prints members, seconds, members/s and the ratio.

    python benchmarks/success_gap.py [--members 100000] [--reference-sample 2000]
        [--chunk-size 50000] [--processes 2]

The engine scores the members in chunks of ``--chunk-size`` (default: the nightly fan-out's
SUCCESS_GAP_CHUNK_SIZE) spread over ``--processes`` processes (default: one per CPU, Celery's
default concurrency), as the worker scores a large organization every night.

The reference loop issues several queries per member; on a large portfolio it runs on a random
sample of members (``--reference-sample``; 0 = all) and its rate is measured on that sample.
Runs on whatever DATABASE_URL names (SQLite by default, PostgreSQL when set).

Each run scores the night after the latest run stored, as the nightly schedule does: the goals'
pace has moved a day, so some members' gaps move with it and their latest gap is written to
their row (the output says how many). ``--again`` scores the latest run's moment once more
instead, a re-run in which almost nothing changes and almost no member is written.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing
import multiprocessing.pool
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.support.database import vacuum_analyze  # noqa: E402
from members.models import Member  # noqa: E402
from outcomes.models import SuccessGapRun, SuccessGapSnapshot  # noqa: E402
from outcomes.partitions import ensure_snapshot_weeks  # noqa: E402
from outcomes.scoring import (  # noqa: E402
    member_id_chunks,
    success_gap_run_start,
    success_gaps_compute,
)
from tenancy.models import Organization  # noqa: E402
from tests.scoring_reference import reference_score  # noqa: E402

TOLERANCE = 1e-9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=int(os.environ.get("BENCH_MEMBERS", 20_000)))
    parser.add_argument(
        "--activity",
        type=int,
        default=10,
        help="engagement + context rows per member when building the data",
    )
    parser.add_argument("--reference-sample", type=int, default=2_000)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=settings.SUCCESS_GAP_CHUNK_SIZE,
        help="members per chunk; the nightly fan-out's size by default",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=(os.cpu_count() or 1) if connection.vendor == "postgresql" else 1,
        help="score the chunks in this many processes at once, as a worker of that concurrency"
        " (Celery's default: one per CPU) takes the nightly fan-out's chunks; SQLite, which"
        " writes one transaction at a time, defaults to one",
    )
    parser.add_argument(
        "--clear-history",
        action="store_true",
        help="delete the benchmark organization's earlier runs and snapshots first (each run of"
        " the benchmark stores one more snapshot per member, and a longer history makes each"
        " insert dearer: this measures from the same state every time)",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="score a second after the latest run, on its day (a re-run: few gaps move, few"
        " members are written), instead of the night after it",
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", members=args.members, activity=args.activity, stdout=quiet)
    organization = Organization.objects.get(slug="riverbend")
    if args.clear_history:
        clear_history(organization)
    vacuum_analyze()
    build = time.perf_counter() - started
    total = Member.objects.for_org(organization).count()
    history = SuccessGapSnapshot.objects.unscoped().count()
    print(
        f"database: {connection.vendor}; members in the organization: {total:,} "
        f"(data ready in {build:.1f}s); snapshots already stored: {history:,}"
    )

    chunks = member_id_chunks(organization=organization, size=args.chunk_size)
    # As the nightly fan-out opens it: the week's snapshot partition made first, and a run of
    # several chunks knows how many members it holds.
    moment = scoring_moment(organization, again=args.again)
    ensure_snapshot_weeks(moment=moment)
    run = success_gap_run_start(organization=organization, now=moment, chunked=len(chunks) > 1)
    with worker_pool(args.processes) as pool:
        wal_before = wal_position()
        started = time.perf_counter()
        scored = score_chunks(pool, organization, run, chunks)
        engine_seconds = time.perf_counter() - started
        wal = wal_written_since(wal_before)
    print(f"{len(chunks)} chunks of up to {args.chunk_size:,} in {args.processes} processes")
    if wal is not None:
        print(f"write-ahead log written while scoring: {wal / 1e6:,.0f} MB")
    written = Member.objects.for_org(organization).filter(success_computed_at=run.computed_at)
    moved = written.count()
    print(
        f"scored as of {run.as_of}; members whose latest gap or band moved and was written to"
        f" their row: {moved:,} ({moved / max(scored, 1):.1%})"
    )

    ids = list(Member.objects.for_org(organization).values_list("pk", flat=True))
    sample = (
        ids
        if not args.reference_sample or args.reference_sample >= len(ids)
        else sorted(random.Random(1).sample(ids, args.reference_sample))
    )
    members = Member.objects.for_org(organization).select_related("organization").in_bulk(sample)
    started = time.perf_counter()
    expected = [reference_score(members[pk], run) for pk in sample]
    reference_seconds = time.perf_counter() - started

    snapshots = {
        s.member_id: s
        for s in SuccessGapSnapshot.objects.for_org(organization)
        .filter(run=run)
        .iterator(chunk_size=10_000)
    }
    mismatches = [
        ref.member_id for ref in expected if not agrees(snapshots.get(ref.member_id), ref)
    ]

    engine_rate = scored / engine_seconds
    reference_rate = len(sample) / reference_seconds
    print()
    print(f"{'computation':<24}{'members':>12}{'seconds':>12}{'members/s':>14}")
    print(f"{'set-based engine':<24}{scored:>12,}{engine_seconds:>12.2f}{engine_rate:>14,.0f}")
    row = "{:<24}{:>12,}{:>12.2f}{:>14,.0f}"
    print(row.format("reference loop", len(sample), reference_seconds, reference_rate))
    print(f"ratio (engine / reference, members/s): {engine_rate / reference_rate:,.1f}x")
    print(
        f"agreement: {len(sample) - len(mismatches):,} of {len(sample):,} sampled members identical"
    )
    if mismatches:
        print(f"MISMATCH for members {mismatches[:10]}")
        return 1
    return 0


def scoring_moment(organization: Organization, *, again: bool) -> dt.datetime:
    """The night after the latest run stored (now, when that is later or there is none), or with
    ``again`` a second after that run (the same day, so the same pace; a moment of its own, so
    the members it writes can be told from the earlier run's)."""
    now = timezone.now()
    latest = (
        SuccessGapRun.objects.for_org(organization)
        .order_by("-computed_at")
        .values_list("computed_at", flat=True)
        .first()
    )
    if latest is None:
        return now
    if again:
        return latest + dt.timedelta(seconds=1)
    return max(now, latest + dt.timedelta(days=1))


def wal_position() -> str | None:
    """PostgreSQL's current write-ahead log position (None on SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def wal_written_since(position: str | None) -> int | None:
    """Bytes of write-ahead log written since ``position``: the night's writes, page images
    included, whichever process wrote them."""
    if position is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [position])
        return int(cursor.fetchone()[0])


def clear_history(organization: Organization) -> None:
    """Delete the organization's runs and their snapshots (set-based: the benchmark's own)."""
    with connection.cursor() as cursor:
        for table in ("outcomes_successgapsnapshot", "outcomes_successgaprun"):
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])  # noqa: S608


@contextlib.contextmanager
def worker_pool(processes: int) -> Iterator[multiprocessing.pool.Pool | None]:
    """``processes`` forked processes, each already connected to the database, as a running
    worker's pool is when the nightly chunks arrive (None: score here, in one process)."""
    if processes <= 1:
        yield None
        return
    connections.close_all()  # each child opens its own
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        # One connection task per process: each holds its process long enough for the others
        # to take theirs.
        pool.map(_connect, range(processes), chunksize=1)
        yield pool


def _connect(_: int) -> None:
    connection.ensure_connection()
    time.sleep(0.3)


def score_chunks(pool, organization, run, chunks) -> int:
    """Score ``chunks`` into ``run``: one after another here, or spread over the pool's
    processes, each with its own database connection, as Celery workers take the chunks of
    the nightly fan-out. Returns how many members were scored."""
    if pool is None:
        return sum(_score(organization, run, chunk) for chunk in chunks)
    return sum(pool.starmap(_score, [(organization, run, chunk) for chunk in chunks], chunksize=1))


def _score(organization, run, chunk) -> int:
    return success_gaps_compute(organization=organization, run=run, scope=chunk).members_scored


def agrees(snapshot, ref) -> bool:
    if snapshot is None or snapshot.band != ref.band:
        return False
    if any(snapshot.parts[key] != value for key, value in ref.counts.items()):
        return False
    for name in ("functional", "outcome", "gap", "pace"):
        got, want = getattr(snapshot, name), getattr(ref, name)
        if (got is None) != (want is None) or (want is not None and abs(got - want) > TOLERANCE):
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
