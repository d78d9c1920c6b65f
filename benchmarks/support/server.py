"""A real server for the benchmarks: the PostgreSQL database they name, and gunicorn from the
virtualenv on a free local port, configured as in production (DEBUG off, persistent
connections)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def ensure_postgres_database() -> None:
    """Create the database DATABASE_URL names when it is PostgreSQL and missing."""
    import environ

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(url)
    server = {k: v for k, v in (("host", config["HOST"]), ("port", config["PORT"])) if v}
    credentials = {"user": config["USER"], "password": config["PASSWORD"] or None}
    connection = psycopg2.connect(dbname="postgres", **server, **credentials)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}")
    connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int, var_dir: str, *extra: str) -> subprocess.Popen:
    """gunicorn serving config.wsgi on 127.0.0.1:``port``, once it accepts connections."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_CONN_MAX_AGE": "60",
        "TANDEM_VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn),
        "config.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--log-level=warning",
        "--timeout=120",
        *extra,
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own gunicorn
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 30 s")
