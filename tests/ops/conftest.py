"""Helpers for running Tandem as production runs it: a subprocess with the environment a real
deployment sets, so nothing from the test settings (or the developer's shell) leaks in."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# Variables a developer's shell or CI may set that would change what production settings do.
_SCRUBBED_PREFIXES = ("DJANGO_", "LOG_", "TANDEM_", "DATABASE_", "CELERY_", "CACHE_", "EMAIL_")


def production_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a real deployment: a long random secret key, its host, its origin."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(_SCRUBBED_PREFIXES)
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "tandem.example.org",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://tandem.example.org",
            "TANDEM_VAR_DIR": str(var_dir),
        }
    )
    env.update(overrides)
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def prod_env(tmp_path):
    def _env(**overrides: str) -> dict[str, str]:
        return production_env(tmp_path / "var", **overrides)

    return _env
