"""Drill 2: a worker killed (SIGKILL) in the middle of an organization's recompute.

A real worker process scores an organization of N members (``outcomes.recompute_organization``,
sent as beat's nightly fan-out sends it) on a database of its own — an SQLite file in the SQLite
pass, a throwaway PostgreSQL database in the PostgreSQL pass — over the pass's broker (the file
broker, or Redis). A trigger created by the test on the snapshot table pauses the worker once,
inside the scoring transaction, after part of the run's snapshots are inserted; the test then
kills the worker with SIGKILL and starts a new one.

What must hold:

- the killed attempt wrote nothing: its run has no snapshot and no finish (the scoring is one
  transaction, rolled back when its connection died);
- the recompute completes: on Redis the new worker gets the unacknowledged message again
  (``task_acks_late``) and scores everyone without anything being sent again; the file broker
  removes a message from its folder when a worker takes it, so nothing can be redelivered and the
  recovery path is the nightly sweep (``outcomes.recompute_all_organizations``), sent here;
- every finished run holds each of the N members exactly once (no duplicate, none missing), and
  every member carries a score.

The worker's settings are tests/drills/worker_settings.py (a shorter Redis visibility timeout so
redelivery takes seconds instead of an hour, and the pause function for SQLite's trigger).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from contextlib import ExitStack, closing
from pathlib import Path

import pytest

from tests.orchestration.test_nudge_worker import POSTGRES, manage, postgres_database, wait_for
from tests.worker_processes import broker_client, start_worker, stop_workers

N = 3_000
REDIS_DB = 12  # the drills' own Redis database
VISIBILITY_TIMEOUT = 6
KIND = "redis" if os.environ.get("CELERY_BROKER_URL", "").startswith("redis://") else "filesystem"

SETUP_SCRIPT = """
import datetime as dt
from decimal import Decimal
from members.models import Member
from outcomes.models import DesiredOutcome, Goal
from tenancy.models import Organization
org = Organization.objects.create(name="Drill Recompute Society", slug="drill-recompute")
members = Member.objects.for_org(org).bulk_create(
    [Member(organization=org, name=f"Member {i}", status="active") for i in range(COUNT)]
)
outcomes = DesiredOutcome.objects.for_org(org).bulk_create(
    [DesiredOutcome(organization=org, member=m, title="Grow") for m in members]
)
today = dt.date.today()
Goal.objects.for_org(org).bulk_create([
    Goal(organization=org, desired_outcome=o, member=o.member, objective="Reach 40",
         baseline=Decimal(0), target=Decimal(40), current_value=Decimal(i % 41),
         starts_on=today - dt.timedelta(days=50), due_on=today + dt.timedelta(days=50))
    for i, o in enumerate(outcomes)
])
print(org.pk, members[len(members) // 2].pk)
"""

SQLITE_TRIGGER = """
CREATE TRIGGER drill_pause AFTER INSERT ON outcomes_successgapsnapshot
FOR EACH ROW WHEN NEW.member_id = {member_id}
BEGIN SELECT drill_pause(NEW.member_id); END
"""

# A sequence is not rolled back with the transaction: the pause happens once in the whole drill.
POSTGRES_TRIGGER = """
CREATE SEQUENCE drill_pause_seq;
CREATE FUNCTION drill_pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('drill_pause_seq') = 1 THEN PERFORM pg_sleep({seconds}); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER drill_pause AFTER INSERT ON outcomes_successgapsnapshot
FOR EACH ROW WHEN (NEW.member_id = {member_id}) EXECUTE FUNCTION drill_pause();
"""


def query(database_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Read (or, for the set-up, write) the workers' database directly."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path, timeout=30)) as db:
            if sql.lstrip().upper().startswith("CREATE"):
                db.execute(sql)
                db.commit()
                return []
            return db.execute(sql.replace("%s", "?"), params).fetchall()
    import psycopg2

    with closing(psycopg2.connect(database_url)) as db, db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        db.commit()
        return rows


@pytest.fixture
def database_url(tmp_path):
    with ExitStack() as stack:
        if POSTGRES:
            yield stack.enter_context(postgres_database())
        else:
            yield f"sqlite:///{tmp_path / 'drill.sqlite3'}"


class Workers:
    """The workers' environment, their processes, and a client that sends them tasks."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.queue = f"drill-recompute-{uuid.uuid4().hex[:8]}"
        self.flag = tmp_path / "paused"
        broker = "filesystem://" if KIND == "filesystem" else f"redis://127.0.0.1:6379/{REDIS_DB}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.drills.worker_settings",
            "TANDEM_VAR_DIR": str(tmp_path),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "DRILL_QUEUE": self.queue,
            "DRILL_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "DRILL_PAUSE_FLAG": str(self.flag),
            "DRILL_PAUSE_SECONDS": "60",
        }
        self.env.pop("CELERY_RESULT_BACKEND", None)
        self.client = broker_client("tandem-drill", broker, tmp_path)
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        process = start_worker(self.tmp_path, name, f"{name}-{self.queue}", self.env)
        self.processes[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def wait_ready(self, name: str) -> None:
        log = self.log(name)
        wait_for(lambda: " ready." in log.read_text(), 90, f"{name} never got ready", log)

    def send(self, task: str, **kwargs) -> None:
        self.client.send_task(task, kwargs=kwargs, queue=self.queue)

    def stop(self) -> str:
        return stop_workers(self.tmp_path, self.processes)


@pytest.fixture
def workers(tmp_path, database_url, monkeypatch):
    workers = Workers(tmp_path, database_url)
    # Celery lets CELERY_BROKER_URL in the environment win over the client's configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", workers.env["CELERY_BROKER_URL"])
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    try:
        yield workers
    finally:
        print(workers.stop())  # the workers' logs: pytest shows them when the test fails


def runs(database_url: str, organization_id: int) -> list[tuple[int, bool, int, int, int]]:
    """Per run: id, finished?, members_scored, snapshots, distinct members among them."""
    return query(
        database_url,
        "SELECT r.id, r.finished_at IS NOT NULL, r.members_scored, COUNT(s.id),"
        " COUNT(DISTINCT s.member_id) FROM outcomes_successgaprun r"
        " LEFT JOIN outcomes_successgapsnapshot s ON s.run_id = r.id"
        " WHERE r.organization_id = %s GROUP BY r.id, r.finished_at, r.members_scored"
        " ORDER BY r.id",
        (organization_id,),
    )


def paused(database_url: str, flag: Path) -> bool:
    if database_url.startswith("sqlite"):
        return flag.exists()
    rows = query(
        database_url,
        "SELECT COUNT(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event = 'PgSleep'",
    )
    return rows[0][0] > 0


@pytest.mark.worker
def test_a_worker_killed_mid_recompute_scores_every_member_exactly_once_per_run(
    workers, database_url
):
    env = {**workers.env, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    manage(env, "migrate", "--noinput")
    organization_id, middle = map(
        int, manage(env, "shell", "-c", SETUP_SCRIPT.replace("COUNT", str(N))).split()
    )
    if database_url.startswith("sqlite"):
        query(database_url, SQLITE_TRIGGER.format(member_id=middle))
    else:
        query(database_url, POSTGRES_TRIGGER.format(member_id=middle, seconds=4))
        query(database_url, "ANALYZE")  # as autovacuum would after the bulk load

    workers.start("w1")
    workers.wait_ready("w1")
    workers.send("outcomes.recompute_organization", organization_id=organization_id)
    wait_for(lambda: paused(database_url, workers.flag), 60, "w1 never paused", workers.log("w1"))
    # Part of the run's snapshots are inserted, inside the open transaction: kill it there.
    workers.processes["w1"].send_signal(signal.SIGKILL)
    workers.processes["w1"].wait(timeout=10)
    killed_at = time.monotonic()
    # The dead worker's transaction is rolled back: its run is there, empty and unfinished.
    if not database_url.startswith("sqlite"):
        # PostgreSQL finds the client gone once the trigger's sleep is over, and rolls back.
        wait_for(lambda: not paused(database_url, workers.flag), 30, "w1's backend kept sleeping")
    [(killed_run, finished, scored, snapshots, _)] = runs(database_url, organization_id)
    assert (finished, scored, snapshots) == (False, 0, 0)

    workers.start("w2")
    workers.wait_ready("w2")
    if KIND == "filesystem":
        # The file broker dropped the message when w1 took it: the nightly sweep recovers.
        workers.send("outcomes.recompute_all_organizations")

    def complete() -> bool:
        return any(finished for _, finished, *_ in runs(database_url, organization_id))

    wait_for(complete, 60 + VISIBILITY_TIMEOUT, "the recompute never completed", workers.log("w2"))
    if KIND == "redis":
        # Nothing was sent again: the broker handed the killed worker's message to w2.
        assert time.monotonic() - killed_at < 60 + VISIBILITY_TIMEOUT
        assert "outcomes.recompute_organization" in workers.log("w2").read_text()
    time.sleep(1)  # a duplicate delivery would show up here

    found = runs(database_url, organization_id)
    assert found[0] == (killed_run, False, 0, 0, 0)
    assert len(found) == 2, found
    _, finished, scored, snapshots, distinct = found[1]
    assert (finished, scored, snapshots, distinct) == (True, N, N, N)
    [(unscored,)] = query(
        database_url,
        "SELECT COUNT(*) FROM members_member WHERE organization_id = %s"
        " AND success_computed_at IS NULL",
        (organization_id,),
    )
    assert unscored == 0
