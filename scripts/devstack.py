"""Serve Tandem with a real Celery worker and beat, and stop all three together.

``make run`` calls this after installing, migrating and loading the demo data. Ctrl-C (or any
one process exiting) stops the others, so nothing is left running in the background.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def commands(host: str, port: int, var_dir: Path) -> dict[str, list[str]]:
    celery = [str(BIN / "celery"), "-A", "config"]
    return {
        "web": [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        "worker": [
            *celery,
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            "tandem@%h",
        ],
        "beat": [
            *celery,
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(var_dir / "celerybeat-schedule"),
        ],
    }


def stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    var_dir = Path(os.environ.get("TANDEM_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)

    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for name, command in commands(args.host, args.port, var_dir).items():
        # Each child gets its own process group, so the terminal's Ctrl-C reaches us only and
        # we stop them in order.
        processes[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
    print(
        f"\nTandem is running at http://{args.host}:{args.port}/ "
        "(Ctrl-C stops web, worker and beat)\n",
        flush=True,
    )
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the rest.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
                break
        time.sleep(0.3)
    stop(processes)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
