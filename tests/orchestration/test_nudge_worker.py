"""Nudges sent exactly once through real Celery worker processes: two workers dispatching the
same queue, and one of them killed with SIGKILL in the middle of a batch.

Like tests/test_worker.py: the workers are subprocesses on a database of their own — an SQLite
file, or a throwaway PostgreSQL database when DATABASE_URL names PostgreSQL — migrated with
``manage.py migrate`` and planned with ``nudges_plan`` once per module, then copied for each
test; over the file-system broker always, and Redis too when one answers on 127.0.0.1:6379.
Each worker consumes a queue of its own, so the test decides which worker gets which dispatch
run. N is 1,000 on both databases (SQLite in WAL mode keeps up with two workers).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import environ
import pytest

from orchestration.email import OutboxEmailBackend, outbox_filename
from tests.test_worker import redis_is_up
from tests.worker_processes import broker_client, start_worker, stop_workers

ROOT = Path(__file__).resolve().parent.parent.parent
N = 1_000
REDIS_DB = 13  # not tests/test_worker.py's 14: the two may run side by side
BROKERS = ["filesystem"] + (["redis"] if redis_is_up() or os.environ.get("CI") else [])
POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


class ProgressOutboxBackend(OutboxEmailBackend):
    """The outbox as these tests run it: it notes which worker process delivered each message
    and then takes NUDGE_TEST_SEND_DELAY seconds, as a mail server's reply would — so a kill
    lands most likely after a handoff and before the nudge is recorded as sent."""

    def send_messages(self, email_messages):
        delivered = super().send_messages(email_messages)
        progress = self.file_path.parent / "progress"
        progress.mkdir(exist_ok=True)
        with open(progress / str(os.getpid()), "a") as log:
            log.write(f"{len(email_messages)}\n")
        time.sleep(float(os.environ.get("NUDGE_TEST_SEND_DELAY", "0")))
        return delivered


PLAN_SCRIPT = """
import datetime as dt
from django.utils import timezone
from members.models import Member
from orchestration.nudges import NudgeSpec, nudges_plan
from tenancy.models import Organization
org = Organization.objects.create(name="Worker Nudge Society", slug="worker-nudges")
members = Member.objects.for_org(org).bulk_create(
    [Member(organization=org, name=f"Member {i}", email=f"m{i}@worker.test") for i in range(20)]
)
now = timezone.now()
specs = [
    NudgeSpec(
        idempotency_key=f"worker:{i}",
        subject=f"Nudge {i}",
        body=f"Hello, this is nudge {i}.",
        scheduled_for=now - dt.timedelta(seconds=i),
        member_id=members[i % 20].pk,
        to_email=members[i % 20].email,
    )
    for i in range(COUNT)
]
print(org.pk, nudges_plan(organization=org, specs=specs))
"""

RELEASE_SCRIPT = """
from orchestration.dispatch import nudges_release_stale
print(nudges_release_stale(lease_seconds=0))
"""


def _server() -> dict:
    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    return {
        "dbname": "postgres",
        "user": config["USER"],
        "password": config["PASSWORD"],
        "host": config["HOST"],
        "port": config["PORT"] or 5432,
    }


@contextmanager
def postgres_database(template: str | None = None):
    """A throwaway PostgreSQL database on DATABASE_URL's server (a copy of ``template`` when
    given), dropped afterwards; yields its URL."""
    import psycopg2

    name = f"nudge_worker_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**_server())
    admin.autocommit = True
    with closing(admin), admin.cursor() as cursor:
        copy = f' TEMPLATE "{template}"' if template else ""
        cursor.execute(f'CREATE DATABASE "{name}"{copy}')
        try:
            yield os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        finally:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One migrated database with the N due nudges planned, copied for each test (migrating
    takes longer than the test itself)."""
    folder = tmp_path_factory.mktemp("nudge-template")
    with ExitStack() as stack:
        if POSTGRES:
            url = stack.enter_context(postgres_database())
        else:
            url = f"sqlite:///{folder / 'template.sqlite3'}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "TANDEM_VAR_DIR": str(folder),
            "DATABASE_URL": url,
        }
        manage(env, "migrate", "--noinput")
        _, planned = manage(env, "shell", "-c", PLAN_SCRIPT.replace("COUNT", str(N))).split()
        assert int(planned) == N
        yield url


@contextmanager
def database_copy(template_url: str, tmp_path: Path):
    if template_url.startswith("sqlite"):
        source = template_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(source)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(source, tmp_path / "nudges.sqlite3")
        yield f"sqlite:///{tmp_path / 'nudges.sqlite3'}"
        return
    with postgres_database(template=template_url.rsplit("/", 1)[1]) as url:
        yield url


def status_counts(database_url: str) -> dict[str, int]:
    """Nudges per status, read straight from the workers' database."""
    sql = "SELECT status, COUNT(*) FROM orchestration_nudge GROUP BY status"
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=20)) as db:
            return dict(db.execute(sql).fetchall())
    import psycopg2

    with closing(psycopg2.connect(database_url)) as db, db.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def nudge_rows(database_url: str) -> list[tuple[int, str, str, int]]:
    sql = "SELECT organization_id, idempotency_key, status, attempts FROM orchestration_nudge"
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            return db.execute(sql).fetchall()
    import psycopg2

    with closing(psycopg2.connect(database_url)) as db, db.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


class Stack:
    """The workers' environment, their processes, and a client that sends them tasks."""

    def __init__(self, kind: str, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.outbox = tmp_path / "outbox"
        self.progress = tmp_path / "progress"
        broker = "filesystem://" if kind == "filesystem" else f"redis://127.0.0.1:6379/{REDIS_DB}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "TANDEM_VAR_DIR": str(tmp_path),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "EMAIL_BACKEND": f"{__name__}.ProgressOutboxBackend",
            "EMAIL_FILE_PATH": str(self.outbox),
            "NUDGE_DISPATCH_HELPERS": "0",
            "NUDGE_DISPATCH_BATCH": "50",
            "LOG_LEVEL": "INFO",
        }
        self.env.pop("CELERY_RESULT_BACKEND", None)
        self.client = broker_client("tandem-nudge-test", broker, tmp_path)
        self.run_id = uuid.uuid4().hex[:8]
        self.workers: dict[str, subprocess.Popen] = {}

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def queue(self, name: str) -> str:
        return f"nudges-{self.run_id}-{name}"

    def start(self, name: str, *, delay: float) -> subprocess.Popen:
        process = start_worker(
            self.tmp_path,
            name,
            f"{name}-{self.run_id}",
            {**self.env, "NUDGE_TEST_SEND_DELAY": str(delay)},
            f"--queues={self.queue(name)}",
        )
        self.workers[name] = process
        return process

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        log = self.tmp_path / f"{name}.log"
        wait_for(lambda: " ready." in log.read_text(), timeout, f"{name} never got ready", log)

    def dispatch(self, name: str, times: int = 1) -> None:
        for _ in range(times):
            self.client.send_task(
                "orchestration.dispatch_nudges", kwargs={"helpers": 0}, queue=self.queue(name)
            )

    def deliveries(self, name: str) -> int:
        path = self.progress / str(self.workers[name].pid)
        return len(path.read_text().splitlines()) if path.exists() else 0

    def stop(self) -> str:
        return stop_workers(self.tmp_path, self.workers)


def wait_for(condition, timeout: float, message: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = log.read_text()[-3000:] if log and log.exists() else ""
            raise AssertionError(f"{message} within {timeout:.0f}s\n{detail}")
        time.sleep(0.1)


@pytest.fixture
def stack(request, tmp_path, template, monkeypatch):
    with database_copy(template, tmp_path) as database_url:
        stack = Stack(request.param, tmp_path, database_url)
        # Celery lets CELERY_BROKER_URL in the environment win over the client's configuration
        # (CI sets it to Redis): the client must see the workers' broker.
        monkeypatch.setenv("CELERY_BROKER_URL", stack.env["CELERY_BROKER_URL"])
        monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
        try:
            yield stack
        finally:
            print(stack.stop())  # the workers' logs: pytest shows them when the test fails


def assert_each_nudge_sent_exactly_once(stack: Stack) -> list[tuple]:
    """Every nudge sent, and one outbox file per nudge — named after its own Message-ID."""
    from orchestration.dispatch import nudge_message_id

    rows = nudge_rows(stack.database_url)
    assert len(rows) == N
    assert {status for _, _, status, _ in rows} == {"sent"}
    expected = {
        outbox_filename(nudge_message_id(organization_id=org, idempotency_key=key))
        for org, key, _, _ in rows
    }
    files = {path.name for path in stack.outbox.glob("*.eml")}
    assert len(files) == N
    assert files == expected
    return rows


def settled(stack: Stack) -> bool:
    counts = status_counts(stack.database_url)
    return counts.get("scheduled", 0) == 0 and counts.get("sending", 0) == 0


@pytest.mark.worker
@pytest.mark.parametrize("stack", BROKERS, indirect=True)
def test_two_workers_send_every_nudge_exactly_once(stack):
    for name in ("w1", "w2"):
        stack.start(name, delay=0.005)
    for name in ("w1", "w2"):
        stack.wait_ready(name)

    for name in ("w1", "w2"):
        stack.dispatch(name, times=2)
    wait_for(lambda: settled(stack), 120, "the nudges were not all sent")

    rows = assert_each_nudge_sent_exactly_once(stack)
    # Claims never overlapped: each nudge was claimed once and handed over once, and both
    # workers took part.
    assert {attempts for *_, attempts in rows} == {1}
    assert stack.deliveries("w1") + stack.deliveries("w2") == N
    assert stack.deliveries("w1") > 0 and stack.deliveries("w2") > 0


@pytest.mark.worker
@pytest.mark.parametrize("stack", BROKERS, indirect=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(stack):
    # w1 is slow (a sluggish mail server), so it is surely inside a claimed batch when killed.
    stack.start("w1", delay=0.05)
    stack.start("w2", delay=0.002)
    for name in ("w1", "w2"):
        stack.wait_ready(name)
    stack.dispatch("w1")
    wait_for(lambda: stack.deliveries("w1") >= 2, 60, "w1 never started sending")
    stack.dispatch("w2")
    wait_for(lambda: stack.deliveries("w2") >= 1, 60, "w2 never started sending")

    stack.workers["w1"].send_signal(signal.SIGKILL)
    stack.workers["w1"].wait(timeout=10)
    stack.dispatch("w2")
    wait_for(lambda: status_counts(stack.database_url).get("scheduled", 0) == 0, 120, "w2 stalled")
    # w2 finishes its runs; what is left 'sending' is the batch w1 had claimed when it died.
    wait_for(lambda: stable_sending(stack), 60, "the queue never settled")
    stuck = status_counts(stack.database_url).get("sending", 0)
    assert stuck > 0, "w1 died holding no claim"

    # The sweep that starts every dispatch run would hand them back once the lease is over;
    # with a lease of 0 that is now.
    assert int(stack.manage("shell", "-c", RELEASE_SCRIPT)) == stuck
    stack.dispatch("w2")
    wait_for(lambda: settled(stack), 120, "the released nudges were not sent")

    rows = assert_each_nudge_sent_exactly_once(stack)
    assert sorted(attempts for *_, attempts in rows).count(2) == stuck
    # Whatever w1 handed over before dying was handed over again after the release — and the
    # outbox recognised it by its Message-ID instead of writing it twice.
    assert stack.deliveries("w1") + stack.deliveries("w2") >= N


def stable_sending(stack: Stack) -> bool:
    """True when the number of nudges being sent stayed the same for a second."""
    before = status_counts(stack.database_url).get("sending", 0)
    time.sleep(1)
    return status_counts(stack.database_url).get("sending", 0) == before
