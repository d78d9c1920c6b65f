"""Fixtures everyone reuses: two organizations, A and B, each with an admin, an MSM and a viewer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from tenancy.models import Organization, Seat
from tests.factories import OrganizationFactory, SeatFactory


@dataclass
class Tenant:
    organization: Organization
    admin: Seat
    msm: Seat
    viewer: Seat

    def seat(self, role: str) -> Seat:
        return getattr(self, role)


def make_tenant(slug: str, name: str) -> Tenant:
    organization = OrganizationFactory(slug=slug, name=name)
    return Tenant(
        organization=organization,
        **{
            role: SeatFactory(organization=organization, role=role)
            for role in ("admin", "msm", "viewer")
        },
    )


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: API rate-limit counters are keyed by key id, and
    SQLite hands the same ids out again after a test's rollback."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("alpha-guild", "Alpha Guild of Engineers")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("beta-society", "Beta Society of Librarians")


@pytest.fixture
def login():
    """Return a client logged in as the given seat's user."""

    def _login(seat: Seat) -> Client:
        client = Client()
        client.force_login(seat.user)
        return client

    return _login


@pytest.fixture
def api():
    """Return a DRF client that sends a fresh API key of the tenant's organization.

    ``api(tenant_a)`` reads and writes; ``api(tenant_a, scopes=["read"])`` is read-only. The
    key's row is on ``client.api_key``.
    """
    from rest_framework.test import APIClient

    from tenancy.services import api_key_create

    def _api(tenant: Tenant, scopes=("read", "write")) -> APIClient:
        key, secret = api_key_create(
            organization=tenant.organization,
            name=f"test key {'+'.join(scopes)}",
            scopes=list(scopes),
            created_by=tenant.admin,
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.api_key = key
        client.secret = secret
        return client

    return _api


@pytest.fixture
def broker_queue():
    """The real broker's default queue, emptied before and after the test; yields a function
    that takes the messages waiting in it (as the kwargs of each task)."""
    from config.celery import app

    def take() -> list[dict]:
        messages = []
        with app.connection_for_read() as conn:
            queue = conn.SimpleQueue("celery", no_ack=True)
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                messages.append({"task": message.headers["task"], **message.decode()[1]})
            queue.close()
        return messages

    take()
    yield take
    take()
