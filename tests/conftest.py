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
