"""The staff admin lists every organization's orchestrated events, opens one, and leaves the
lifecycle to the services: the status and its timestamps cannot be edited there."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from orchestration.models import OrchestratedEvent
from tenancy.admin import TenantAdmin
from tenancy.models import User
from tests.factories import OrchestratedEventFactory

LIFECYCLE = {"status", "announced_at", "happened_at", "confirmed_at", "closed_at"}


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(email="ops@tandem.test", password="x-pass-1"))
    return client


@pytest.fixture
def events(tenant_a, tenant_b) -> dict[str, OrchestratedEvent]:
    return {
        tenant.organization.slug: OrchestratedEventFactory(
            member__organization=tenant.organization, title=f"Review for {tenant.organization.slug}"
        )
        for tenant in (tenant_a, tenant_b)
    }


def _url(view: str, *args) -> str:
    return reverse(f"admin:orchestration_orchestratedevent_{view}", args=args)


def test_the_list_shows_every_organizations_events(staff_client, events):
    response = staff_client.get(_url("changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    for event in events.values():
        assert event.title in body


def test_an_event_opens_with_its_lifecycle_read_only(staff_client, events):
    event = next(iter(events.values()))
    response = staff_client.get(_url("change", event.pk))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert LIFECYCLE.isdisjoint(form.fields), "status changes go through orchestration/events.py"


def test_the_admin_is_a_tenant_admin_that_picks_big_tables_by_id(staff_client):
    model_admin = admin.site._registry[OrchestratedEvent]
    assert isinstance(model_admin, TenantAdmin)
    assert {"member", "enrollment", "step"} <= set(model_admin.raw_id_fields)
    assert set(model_admin.readonly_fields) >= LIFECYCLE
    assert staff_client.get(_url("add")).status_code == 403
