"""Request ids and structured logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from ops.logging import JsonFormatter, RequestContextFilter
from tests.ops.conftest import run_python


@pytest.fixture
def json_log():
    """Records of ``tests.ops`` as JSON lines, through our filter and formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.ops")
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


@pytest.mark.urls("tests.ops.urls_logging")
def test_a_log_record_made_during_a_request_carries_its_id_and_organization(
    login, tenant_a, json_log
):
    client = login(tenant_a.msm)
    response = client.get(
        f"/o/{tenant_a.organization.slug}/log-something/", HTTP_X_REQUEST_ID="edge-42.a_b"
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "edge-42.a_b"
    [entry] = json_log()
    assert entry["message"] == f"served {tenant_a.organization.slug}"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.ops.view"
    assert entry["request_id"] == "edge-42.a_b"
    assert entry["organization"] == tenant_a.organization.slug
    assert entry["member_count"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])


def test_records_outside_a_request_have_no_request_id(json_log):
    logging.getLogger("tests.ops.elsewhere").warning("no request here")
    [entry] = json_log()
    assert entry["request_id"] is None and entry["organization"] is None


@pytest.mark.parametrize(
    "sent",
    ["", "x" * 201, "has space", "line\nbreak", 'quote"', "ü-nicode"],
)
def test_an_insane_request_id_is_replaced(client, sent):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    generated = response["X-Request-ID"]
    assert generated != sent
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_every_response_has_a_fresh_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first != second


def test_the_longest_sane_request_id_is_kept(client):
    sent = "A1._-" * 40
    assert client.get("/healthz", HTTP_X_REQUEST_ID=sent)["X-Request-ID"] == sent


PRODUCTION_REQUEST = """
import django
django.setup()
from django.test import Client
Client().get("/healthz", HTTP_X_REQUEST_ID="probe-7")
"""


def test_production_logs_are_json_lines_with_the_request(prod_env):
    result = run_python(["-c", PRODUCTION_REQUEST], prod_env())
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [request_line] = [line for line in lines if line["logger"] == "tandem.request"]
    assert request_line["message"] == "GET /healthz 200"
    assert request_line["request_id"] == "probe-7"
    assert request_line["status"] == 200 and request_line["path"] == "/healthz"
    assert isinstance(request_line["duration_ms"], float)


def test_development_logs_stay_readable_text(prod_env):
    result = run_python(["-c", PRODUCTION_REQUEST], prod_env(LOG_FORMAT="text"))
    assert result.returncode == 0, result.stderr
    assert "INFO tandem.request [probe-7 None] GET /healthz 200" in result.stderr
