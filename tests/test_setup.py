"""The set-up itself: configuration errors, demo data, and the dev stack behind `make run`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import F

from engagement.models import ContextEvent, Engagement
from members.models import Member, MembershipEvent
from milestones.models import Commitment, ProgressMilestone
from outcomes.models import AppropriateExperience, Condition, Goal
from tenancy.demo import DEMO_PASSWORD, build_demo
from tenancy.models import Organization, Seat, User

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("url", ["nonsense", "mysql://root@localhost/db", "postgres://localhost"])
def test_an_invalid_database_url_fails_at_once_naming_the_variable(url, tmp_path):
    result = run_manage("check", env={"DATABASE_URL": url, "TANDEM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.count(),
        "users": User.objects.count(),
        **{
            model._meta.label: model.objects.unscoped().count()
            for model in (
                Seat,
                Member,
                MembershipEvent,
                Goal,
                Condition,
                ProgressMilestone,
                Commitment,
                Engagement,
                ContextEvent,
                AppropriateExperience,
            )
        },
    }


def test_seed_demo_builds_a_consistent_portfolio_and_is_idempotent(db):
    build_demo(members=12, other_members=5, activity=10)
    first = counts()
    build_demo(members=12, other_members=5, activity=10)
    assert counts() == first
    assert first["organizations"] == 2
    assert first["members.Member"] == 17
    assert first["users"] == 6
    for label in (
        "milestones.ProgressMilestone",
        "outcomes.Goal",
        "outcomes.Condition",
        "engagement.Engagement",
        "engagement.ContextEvent",
        "milestones.Commitment",
    ):
        assert first[label] > 0, label
    # Children always share their member's organization.
    for model in (Goal, Engagement, ContextEvent, ProgressMilestone, Commitment):
        assert (
            not model.objects.unscoped()
            .exclude(organization_id=F("member__organization_id"))
            .exists()
        ), model
    # Every milestone type is represented, and strategic milestones hang off goals.
    assert set(ProgressMilestone.objects.unscoped().values_list("type", flat=True)) >= {
        "functional",
        "operational",
        "strategic",
    }
    assert not ProgressMilestone.objects.unscoped().filter(type="strategic", goal=None).exists()
    # Growing the first organization adds members without touching the rest.
    build_demo(members=15, other_members=5, activity=10)
    assert counts()["members.Member"] == 20

    admin = User.objects.get(email="admin@tandem.demo")
    assert admin.check_password(DEMO_PASSWORD)
    assert set(Seat.objects.for_user(admin).values_list("organization__slug", flat=True)) == {
        "riverbend",
        "northshore",
    }


def test_seed_demo_command_prints_the_logins(db, capsys):
    call_command("seed_demo", "--members", "3", "--activity", "2")
    output = capsys.readouterr().out
    assert "admin@tandem.demo" in output
    assert DEMO_PASSWORD in output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds}s")


@pytest.mark.worker
def test_the_dev_stack_serves_and_stops_together(tmp_path):
    """What `make run` starts: web, worker and beat on the embedded broker; SIGINT stops all."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "TANDEM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'stack.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = (tmp_path / "stack.log").open("w")
    stack = subprocess.Popen(
        [sys.executable, "scripts/devstack.py", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/accounts/login/", 60) == 200
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = (tmp_path / "stack.log").read_text()
            if " ready." in text and "beat: Starting" in text:
                break
            time.sleep(0.5)
        assert " ready." in text, text[-2000:]
        assert "beat: Starting" in text, text[-2000:]
    finally:
        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=45) == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
