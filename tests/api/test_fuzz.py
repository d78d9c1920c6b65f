"""Fuzzing the API from its own OpenAPI schema with schemathesis.

Every operation in /api/schema/ is called in-process (through the WSGI app, on the test
database) with generated inputs, valid and invalid, as organization A's read+write key, over a
few rows of A's and B's data. Each answer must be no 5xx, and must match the schema: a
documented status code, content type, headers and body. ``FUZZ_EXAMPLES`` (environment)
bounds the examples per operation; CI uses the default.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI app directly fires request_started/finished, whose handler closes a
    connection that is inside a transaction (the test's) — harmless for SQLite in memory, fatal
    on PostgreSQL. Django's own test client detaches it the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def key_headers(api, tenant_a, tenant_b) -> dict[str, str]:
    """A's key, with some rows in A and B for generated ids to hit or miss."""
    for tenant in (tenant_a, tenant_b):
        for member in factories.MemberFactory.create_batch(2, organization=tenant.organization):
            factories.GoalFactory(desired_outcome__member=member)
            factories.ProgressMilestoneFactory(member=member)
            factories.TaskFactory(member=member)
    return {"Authorization": f"Bearer {api(tenant_a).secret}"}


def test_the_schema_has_operations():
    assert len(list(schema.get_all_operations())) >= 1


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_5xx_or_breaks_its_schema(case, key_headers):
    case.call_and_validate(headers=key_headers, checks=CHECKS)
