"""Nudge benchmark: the planning rate, and dispatch through two real worker processes.

(a) Planning: ``nudges_plan`` plans N nudges (default 100,000; ``--nudges`` or BENCH_NUDGES) for
    the members of the demo organization (``seed_demo`` builds it when missing), then plans the
    same specs again — nothing new, the keys are taken. Prints nudges/s for both.
(b) Dispatch: plans 10,000 due nudges (``--dispatch``), starts two Celery worker processes on the
    same database and broker, sends each a dispatch run and measures the seconds until every one
    is sent. Prints seconds, nudges/s, duplicates (outbox files beyond one per nudge) and lost.
(c) The same with one worker killed (SIGKILL) a quarter of the way through: a short lease
    (``NUDGE_LEASE_SECONDS=5`` in the workers) lets the survivor's next run take over the dead
    worker's claims, with the benchmark re-sending a dispatch run every two seconds as beat
    would every minute. ``--no-kill`` skips it.

    python benchmarks/nudges.py [--nudges 100000] [--dispatch 10000] [--no-kill]

Runs on whatever DATABASE_URL names (SQLite by default, PostgreSQL when set) and on
CELERY_BROKER_URL's broker (the file-system broker in a temporary folder by default). The
workers take every due nudge in the database — the dispatcher is the queue of all organizations —
so run it on a throwaway database; it deletes its own nudges when it is done. Emails go to an
outbox in a temporary folder, which is removed afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.support.database import vacuum_analyze  # noqa: E402
from members.models import Member  # noqa: E402
from orchestration.dispatch import nudge_message_id, nudges_due_count  # noqa: E402
from orchestration.email import outbox_filename  # noqa: E402
from orchestration.models import Nudge  # noqa: E402
from orchestration.nudges import NudgeSpec, nudges_plan  # noqa: E402
from tenancy.models import Organization  # noqa: E402

BODY = (
    "Hello {name},\n\nYour mid-year review with your member success manager is coming up in two "
    "weeks. We will look at the goals you set, what moved and what did not, and agree on the next "
    "steps together.\n\nSee you soon."
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nudges", type=int, default=int(os.environ.get("BENCH_NUDGES", 100_000)))
    parser.add_argument("--dispatch", type=int, default=10_000)
    parser.add_argument("--no-kill", action="store_true", help="skip the killed-worker run")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    organization = demo_organization()
    members = list(Member.objects.for_org(organization).values_list("pk", "name", "email"))
    run = uuid.uuid4().hex[:8]
    print(
        f"database: {connection.vendor}; organization {organization.slug} "
        f"with {len(members):,} members; run {run}"
    )
    failures = 0
    try:
        bench_planning(organization, members, run, args.nudges)
        failures += bench_dispatch(organization, members, run, args.dispatch, kill=False)
        if not args.no_kill:
            failures += bench_dispatch(organization, members, run, args.dispatch, kill=True)
    finally:
        deleted, _ = (
            Nudge.objects.for_org(organization)
            .filter(idempotency_key__startswith=f"bench:{run}:")
            .delete()
        )
        print(f"\ncleaned up: {deleted:,} benchmark nudges deleted")
    return 1 if failures else 0


def demo_organization() -> Organization:
    organization = Organization.objects.filter(slug="riverbend").first()
    if organization is None:
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", activity=0, stdout=quiet)
        organization = Organization.objects.get(slug="riverbend")
    # Without statistics the foreign-key checks' generic plan read the members through a wrong
    # index: 16,500 nudges/s instead of 22,000 (before the other changes of that session).
    vacuum_analyze()
    return organization


def specs(members, prefix: str, count: int, start: dt.datetime, step: dt.timedelta):
    return [
        NudgeSpec(
            idempotency_key=f"{prefix}:{i}",
            subject=f"Your review is coming up ({i})",
            body=BODY.format(name=members[i % len(members)][1]),
            scheduled_for=start + step * i,
            member_id=members[i % len(members)][0],
            to_email=members[i % len(members)][2] or f"member{i}@example.test",
        )
        for i in range(count)
    ]


def bench_planning(organization: Organization, members, run: str, count: int) -> None:
    # Due in a month, so no dispatcher touches them while we measure.
    planned_specs = specs(
        members,
        f"bench:{run}:plan",
        count,
        timezone.now() + dt.timedelta(days=30),
        dt.timedelta(seconds=1),
    )
    started = time.perf_counter()
    new = nudges_plan(organization=organization, specs=planned_specs)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = nudges_plan(organization=organization, specs=planned_specs)
    second = time.perf_counter() - started

    print("\n(a) planning through nudges_plan")
    print(f"{'run':<28}{'specs':>10}{'new':>10}{'seconds':>10}{'nudges/s':>12}")
    print(f"{'first plan':<28}{count:>10,}{new:>10,}{first:>10.2f}{count / first:>12,.0f}")
    print(
        f"{'same specs again':<28}{count:>10,}{again:>10,}{second:>10.2f}{count / second:>12,.0f}"
    )
    print("target: >= 20,000 nudges/s on PostgreSQL; the second plan must add 0")
    Nudge.objects.for_org(organization).filter(idempotency_key__startswith=f"bench:{run}:").delete()


def database_url() -> str:
    config = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    return os.environ["DATABASE_URL"]


class Workers:
    """Two Celery worker processes, each on a queue of its own, in a scratch folder."""

    def __init__(self, folder: Path, *, lease_seconds: int) -> None:
        self.folder = folder
        self.outbox = folder / "outbox"
        self.queue_prefix = f"bench-nudges-{uuid.uuid4().hex[:8]}"
        broker = os.environ.get("CELERY_BROKER_URL", "filesystem://")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "TANDEM_VAR_DIR": str(folder),
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "EMAIL_BACKEND": "orchestration.email.OutboxEmailBackend",
            "EMAIL_FILE_PATH": str(self.outbox),
            "NUDGE_DISPATCH_HELPERS": "0",
            "NUDGE_LEASE_SECONDS": str(lease_seconds),
            "LOG_LEVEL": "INFO",
        }
        from celery import Celery

        self.client = Celery("tandem-bench")
        self.client.conf.broker_url = broker
        if broker.startswith("filesystem://"):
            for sub in ("queue", "control"):
                (folder / "broker" / sub).mkdir(parents=True, exist_ok=True)
            self.client.conf.broker_transport_options = {
                "data_folder_in": str(folder / "broker" / "queue"),
                "data_folder_out": str(folder / "broker" / "queue"),
                "control_folder": str(folder / "broker" / "control"),
                "store_processed": False,
            }
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        with open(self.folder / f"{name}.log", "w") as log:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and app
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=solo",
                    f"--queues={self.queue_prefix}-{name}",
                    f"--hostname={name}-{self.queue_prefix}@%h",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        log = self.folder / f"{name}.log"
        while " ready." not in log.read_text():
            if time.monotonic() > deadline or self.processes[name].poll() is not None:
                raise RuntimeError(f"worker {name} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)

    def dispatch(self, name: str) -> None:
        self.client.send_task(
            "orchestration.dispatch_nudges",
            kwargs={"helpers": 0},
            queue=f"{self.queue_prefix}-{name}",
            expires=90,
        )

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=30)

    def caught_duplicates(self) -> int:
        return sum(
            (self.folder / f"{name}.log").read_text().count("was already in the outbox")
            for name in self.processes
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.client.close()


def bench_dispatch(organization: Organization, members, run: str, count: int, *, kill: bool) -> int:
    prefix = f"bench:{run}:{'kill' if kill else 'dispatch'}"
    now = timezone.now()
    nudges_plan(
        organization=organization,
        specs=specs(members, prefix, count, now - dt.timedelta(minutes=5), dt.timedelta(0)),
    )
    ours = Nudge.objects.for_org(organization).filter(idempotency_key__startswith=f"{prefix}:")
    others_due = nudges_due_count(limit=10**9, now=now) - count  # every organization's
    folder = Path(tempfile.mkdtemp(prefix="tandem-nudge-bench-"))
    workers = Workers(folder, lease_seconds=5 if kill else 300)
    try:
        for name in ("w1", "w2"):
            workers.start(name)
        for name in ("w1", "w2"):
            workers.wait_ready(name)
        started = time.perf_counter()
        for name in ("w1", "w2"):
            workers.dispatch(name)
        killed = False
        last_trigger = time.monotonic()
        # Counted through the partial queue indexes, a few times a second: the benchmark's own
        # polling should not compete with the workers for the database.
        unsent = Nudge.objects.for_org(organization).filter(
            status__in=["scheduled", "sending"], scheduled_for__lte=now
        )
        while pending := unsent.count():
            if kill and not killed and pending <= count * 3 // 4:
                workers.kill("w1")
                killed = True
            # Stand-in for beat: another run now and then (a run ends when nothing is due, and
            # after a kill the dead worker's claims come free once their lease is over).
            if time.monotonic() - last_trigger > 2:
                workers.dispatch("w2")
                if not killed:
                    workers.dispatch("w1")
                last_trigger = time.monotonic()
            if time.perf_counter() - started > 600:
                print("gave up after 600 s")
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        return report(workers, ours, count, seconds, kill=kill, others_due=others_due)
    finally:
        workers.stop()
        shutil.rmtree(folder, ignore_errors=True)


def report(workers: Workers, ours, count: int, seconds: float, *, kill: bool, others_due) -> int:
    """Duplicates: outbox files for these nudges beyond one per sent nudge. Lost: not sent."""
    sent = ours.filter(status=Nudge.Status.SENT).count()
    expected = {
        outbox_filename(nudge_message_id(organization_id=org, idempotency_key=key))
        for org, key in ours.values_list("organization_id", "idempotency_key")
    }
    files = {path.name for path in workers.outbox.glob("*.eml")}
    in_outbox = len(files & expected)
    duplicates = max(0, in_outbox - sent)
    lost = count - sent
    title = "(c) dispatch, worker w1 killed at 25%" if kill else "(b) dispatch with two workers"
    print(f"\n{title}")
    print(f"{'nudges':>10}{'seconds':>10}{'nudges/s':>12}{'sent':>10}{'duplicates':>12}{'lost':>8}")
    line = f"{count:>10,}{seconds:>10.2f}{count / seconds:>12,.0f}{sent:>10,}"
    print(f"{line}{duplicates:>12,}{lost:>8,}")
    print(
        f"outbox: {in_outbox:,} emails for {count:,} nudges; second deliveries recognised by "
        f"their Message-ID and not written again: {workers.caught_duplicates():,}"
    )
    if others_due:
        print(f"(the workers also sent {others_due:,} other due nudges found in the database)")
    print("target: <= 60 s for 10,000 with two workers, 0 duplicates, 0 lost")
    return 1 if duplicates or lost or in_outbox != count else 0


if __name__ == "__main__":
    sys.exit(main())
