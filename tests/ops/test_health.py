"""``/healthz`` and ``/readyz``: no login, no organization, honest about what failed."""

from __future__ import annotations

import time
from pathlib import Path
from unittest import mock

import pytest
import yaml
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse

from tests.ops.conftest import ROOT


def test_healthz_answers_without_the_database(client):
    # No db fixture: any query would raise "Database access not allowed".
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert reverse("ops:healthz") == "/healthz"


@pytest.mark.django_db
def test_readyz_is_ok_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "broker": {"status": "ok"}},
        "failed": [],
    }


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_fails(client):
    with mock.patch.object(
        type(connections["default"]), "cursor", side_effect=OperationalError("could not connect")
    ):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"status": "fail", "error": "OperationalError"}
    assert body["checks"]["broker"] == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_an_unreachable_redis_broker_quickly(client, settings):
    # Port 9 (discard) is closed on the test machine: the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["status"] == "fail"
    assert "127.0.0.1" not in response.content.decode()  # no connection details for strangers


@pytest.mark.django_db
def test_readyz_names_a_missing_broker_folder(client, settings, tmp_path: Path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "gone"),
        "data_folder_out": str(tmp_path / "gone"),
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "status": "fail",
        "error": "FileNotFoundError",
    }


@pytest.mark.django_db
def test_probes_skip_the_host_check_and_the_https_redirect(settings):
    """Orchestrators probe by the container's address over plain HTTP."""
    settings.ALLOWED_HOSTS = ["tandem.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    for path in ("/healthz", "/readyz", "/healthz/"):
        response = client.get(path, HTTP_HOST="10.0.3.7:8000")
        assert response.status_code == 200, path
    # Everything else still gets both protections.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    redirect = client.get("/accounts/login/", HTTP_HOST="tandem.example.org")
    assert redirect.status_code == 301
    assert redirect["Location"].startswith("https://")


def test_probes_need_no_login_and_no_organization(client, db, tenant_a):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert "organization" not in response.content.decode()


def test_compose_web_healthcheck_uses_both_probes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in test
    assert "http://127.0.0.1:8000/readyz" in test
    assert "--access-logfile" not in compose["services"]["web"]["command"]
