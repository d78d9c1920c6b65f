"""Test settings: SQLite by default, PostgreSQL when DATABASE_URL is set."""

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
