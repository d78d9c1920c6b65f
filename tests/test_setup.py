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


def test_seed_demo_is_idempotent(db):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    counts = (Organization.objects.count(), User.objects.count(), Seat.objects.unscoped().count())
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert counts == (2, 3, 4)
    assert (
        Organization.objects.count(),
        User.objects.count(),
        Seat.objects.unscoped().count(),
    ) == counts
    admin = User.objects.get(email="admin@tandem.demo")
    assert admin.check_password("tandem-demo")
    assert set(Seat.objects.for_user(admin).values_list("organization__slug", flat=True)) == {
        "riverbend",
        "northshore",
    }


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
