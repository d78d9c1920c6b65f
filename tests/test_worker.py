"""A task round trip through a real Celery worker process: on the embedded file-system broker
always, and on Redis as well when a Redis server answers on 127.0.0.1:6379."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery

ROOT = Path(__file__).resolve().parent.parent


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
    return {
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{db}",
        "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:6379/{db}",
    }


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
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency=1",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
            "--pool=solo",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # Celery lets CELERY_BROKER_URL in the environment win over configuration, so the client in
    # this process must see the same variables as the worker.
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.setenv(name, env[name])
    try:
        # A client pointed at the same broker and result store as the worker.
        client = Celery("tandem-test")
        client.conf.broker_url = env["CELERY_BROKER_URL"]
        client.conf.result_backend = env["CELERY_RESULT_BACKEND"]
        if kind == "filesystem":
            folder = str(tmp_path / "broker" / "queue")
            client.conf.broker_transport_options = {
                "data_folder_in": folder,
                "data_folder_out": folder,
                "store_processed": False,
            }
        result = client.send_task("tandem.ping")
        assert result.get(timeout=60) == "pong"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output
