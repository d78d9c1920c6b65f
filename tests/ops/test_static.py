"""Static files in production: ``collectstatic`` as the Dockerfile runs it, then hashed and
compressed names served by whitenoise."""

from __future__ import annotations

import json
import re

import pytest

from tests.ops.conftest import ROOT, run_python

pytestmark = pytest.mark.filterwarnings("ignore")

SERVE = """
import json
import django
django.setup()
from django.test import Client
client = Client()
page = client.get("/accounts/login/", secure=True, HTTP_HOST="tandem.example.org")
html = page.content.decode()
css = [href for href in __import__("re").findall(r'href="([^"]+\\.css)"', html)]
served = client.get(css[0], secure=True, HTTP_HOST="tandem.example.org")
gzipped = client.get(
    css[0], secure=True, HTTP_HOST="tandem.example.org", HTTP_ACCEPT_ENCODING="gzip"
)
print(json.dumps({
    "page": page.status_code,
    "css": css,
    "served": served.status_code,
    "cache_control": served.headers.get("Cache-Control", ""),
    "gzip": gzipped.headers.get("Content-Encoding", ""),
}))
"""


def test_collectstatic_as_in_the_dockerfile_then_hashed_names_are_served(tmp_path, prod_env):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "manage.py collectstatic --noinput" in dockerfile
    assert "DJANGO_STATIC_ROOT=/app/staticfiles" in dockerfile  # not under the /app/var volume

    static_root = tmp_path / "static"
    # The Dockerfile's build environment: a throwaway key, no database, no broker.
    env = prod_env(
        DJANGO_SECRET_KEY="build-only",
        DJANGO_ALLOWED_HOSTS="localhost",
        DJANGO_STATIC_ROOT=str(static_root),
    )
    collected = run_python(["manage.py", "collectstatic", "--noinput"], env)
    assert collected.returncode == 0, collected.stderr

    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/tandem.css"]
    assert re.fullmatch(r"css/tandem\.[0-9a-f]{12}\.css", hashed)
    assert (static_root / hashed).exists()
    assert (static_root / f"{hashed}.gz").exists()
    assert "django_htmx/htmx-2.min.js" in manifest

    served = run_python(["-c", SERVE], {**prod_env(DJANGO_STATIC_ROOT=str(static_root))})
    assert served.returncode == 0, served.stderr
    facts = json.loads(served.stdout.strip().splitlines()[-1])
    assert facts["page"] == 200
    assert facts["css"] == [f"/static/{hashed}"]
    assert facts["served"] == 200
    assert "immutable" in facts["cache_control"]  # whitenoise: hashed names cache forever
    assert facts["gzip"] == "gzip"


def test_test_settings_need_no_manifest(client, db):
    """Tests render pages without collectstatic: plain storage, no manifest lookup."""
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'href="/static/css/tandem.css"' in response.content.decode()
