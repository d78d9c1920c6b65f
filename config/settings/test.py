"""Test settings: SQLite by default, PostgreSQL when DATABASE_URL is set."""

import os
from pathlib import Path

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests that check what reaches the broker use a queue folder of their own.
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    _queue = str(VAR_DIR / "test-broker")  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue,
        "data_folder_out": _queue,
        "store_processed": False,
    }
    (VAR_DIR / "test-broker").mkdir(parents=True, exist_ok=True)  # noqa: F405

# On SQLite the test database is a file, not Django's default shared in-memory database. In
# shared-cache memory the live server's reads and the test's writes lock whole tables and fail at
# once ("database table is locked") instead of waiting; a file in WAL mode, as `make run` uses,
# lets the browser tests' pages poll while the worker's task writes. One file per test process,
# so two runs in one checkout keep apart; what a killed run left under this process id is
# removed first, so a stale WAL can never be replayed into a new test database.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    _test_db = VAR_DIR / "test-databases" / f"{os.getpid()}.sqlite3"  # noqa: F405
    _test_db.parent.mkdir(exist_ok=True)
    for _leftover in (_test_db, Path(f"{_test_db}-wal"), Path(f"{_test_db}-shm")):
        _leftover.unlink(missing_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db)}  # noqa: F405
