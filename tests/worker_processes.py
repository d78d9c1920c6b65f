"""Real Celery worker processes for the tests that need them (the nudge worker tests, the
recompute drill): a client that sends to the same broker, starting a worker with its log in
the test's folder, and stopping them all."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from celery import Celery

ROOT = Path(__file__).resolve().parent.parent


def broker_client(name: str, broker: str, folder: Path) -> Celery:
    """A Celery client on ``broker``; for the file broker, on queue folders under ``folder``
    (the workers, started with ``TANDEM_VAR_DIR=folder``, read the same ones)."""
    client = Celery(name)
    client.conf.broker_url = broker
    if broker.startswith("filesystem://"):
        for sub in ("queue", "control"):
            (folder / "broker" / sub).mkdir(parents=True, exist_ok=True)
        client.conf.broker_transport_options = {
            "data_folder_in": str(folder / "broker" / "queue"),
            "data_folder_out": str(folder / "broker" / "queue"),
            "control_folder": str(folder / "broker" / "control"),
            "store_processed": False,
        }
    return client


def start_worker(
    folder: Path, name: str, hostname: str, env: Mapping[str, str], *options: str
) -> subprocess.Popen:
    """``celery worker`` (solo pool, no mingle/gossip/heartbeat) logging to ``folder/name.log``."""
    log = open(folder / f"{name}.log", "w")  # noqa: SIM115 - closed once the process has it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            *options,
            f"--hostname={hostname}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process


def stop_workers(folder: Path, processes: Mapping[str, subprocess.Popen]) -> str:
    """Terminate (then kill) every worker; returns the end of each one's log, for failures."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return "\n".join(
        f"--- {name}\n{(folder / f'{name}.log').read_text()[-3000:]}" for name in processes
    )
