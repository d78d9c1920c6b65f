"""A task round trip through a real Celery worker process: on the embedded file-system broker
always, and on Redis as well when a Redis server answers on 127.0.0.1:6379."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.worker_processes import ROOT, broker_client, start_worker, stop_workers


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def broker_settings(kind: str, tmp_path: Path) -> dict[str, str]:
    if kind == "filesystem":
        return {
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_RESULT_BACKEND": f"file://{tmp_path}/results",
        }
    db = 14
    # This test's own Redis database: start it empty, so a message left by another run is never
    # handed to this worker.
    import redis

    redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}").flushdb()
    return {
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{db}",
        "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:6379/{db}",
    }


def client_for(env: dict[str, str], folder: Path) -> Celery:
    """A client on the worker's broker (its queue folders under ``folder`` for the file
    broker) and result store."""
    client = broker_client("tandem-test", env["CELERY_BROKER_URL"], folder)
    client.conf.result_backend = env["CELERY_RESULT_BACKEND"]
    return client


BROKERS = ["filesystem"] + (["redis"] if redis_is_up() or os.environ.get("CI") else [])


@pytest.mark.worker
@pytest.mark.parametrize("kind", BROKERS)
def test_a_real_worker_consumes_the_broker(kind, tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "TANDEM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        **broker_settings(kind, tmp_path),
    }
    workers = {"worker": start_worker(tmp_path, "worker", "ping", env)}
    # Celery lets CELERY_BROKER_URL in the environment win over configuration, so the client in
    # this process must see the same variables as the worker.
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.setenv(name, env[name])
    try:
        result = client_for(env, tmp_path).send_task("tandem.ping")
        assert result.get(timeout=60) == "pong"
    finally:
        output = stop_workers(tmp_path, workers)
    assert "Traceback" not in output, output


SETUP_SCRIPT = """
import datetime as dt
from decimal import Decimal
from members.models import Member
from outcomes.models import DesiredOutcome, Goal
from tenancy.models import Organization
org = Organization.objects.create(name="Worker Test Society", slug="worker-test")
member = Member.objects.create(organization=org, name="Wren Worker", status="active")
outcome = DesiredOutcome.objects.create(organization=org, member=member, title="Grow")
today = dt.date.today()
Goal.objects.create(organization=org, desired_outcome=outcome, member=member, objective="Reach 40",
    baseline=Decimal(0), target=Decimal(40), current_value=Decimal(4),
    starts_on=today - dt.timedelta(days=50), due_on=today + dt.timedelta(days=50))
print(org.pk, member.pk)
"""

COUNT_SCRIPT = """
from members.models import Member
from outcomes.models import SuccessGapSnapshot
print(SuccessGapSnapshot.objects.unscoped().count(), Member.objects.unscoped().get().success_band)
"""


@pytest.mark.worker
@pytest.mark.parametrize("kind", BROKERS)
def test_a_real_worker_recomputes_a_members_success_gap(kind, tmp_path, monkeypatch):
    """The debounced recompute task, sent as the app sends it, run by a real worker process
    against a real database file; re-delivering it leaves one snapshot per run."""
    (tmp_path / "results").mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "TANDEM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        **broker_settings(kind, tmp_path),
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""

    manage("migrate", "--noinput")
    organization_id, member_id = map(int, manage("shell", "-c", SETUP_SCRIPT).split())
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "TANDEM_VAR_DIR", "DATABASE_URL"):
        monkeypatch.setenv(name, env[name])
    workers = {"worker": start_worker(tmp_path, "worker", "recompute", env)}
    try:
        client = client_for(env, tmp_path)
        kwargs = {"organization_id": organization_id, "member_ids": [member_id]}
        result = client.send_task("outcomes.recompute_members", kwargs=kwargs)
        assert result.get(timeout=60) == 1
        missing = client.send_task("outcomes.recompute_members", kwargs={"member_ids": [member_id]})
        with pytest.raises(Exception, match="organization_id"):
            missing.get(timeout=60)
        # Saving the goal in SETUP_SCRIPT scheduled the debounced recompute too (after commit,
        # with a countdown): the worker runs it as well, so two runs, one snapshot each.
        deadline = time.monotonic() + 60
        while (counted := manage("shell", "-c", COUNT_SCRIPT)) != "2 at_risk":
            assert time.monotonic() < deadline, counted
            time.sleep(1)
    finally:
        stop_workers(tmp_path, workers)
