"""The settings area as a whole: admins only (reads included), the nav link, the index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, reverse

from milestones.models import MilestoneDefinition
from orchestration.models import CoverageModel, Playbook, PlaybookStep
from outcomes.models import ScoringConfiguration
from tenancy.models import ApiKey, Seat
from tenancy.services import api_key_create
from tests.factories import (
    CoverageModelFactory,
    MilestoneDefinitionFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Every settings route and the id keywords it takes; READS answer GET.
SETTINGS_ROUTES = {
    "settings": (),
    "settings_coverage": (),
    "settings_coverage_new": (),
    "settings_coverage_preview_new": (),
    "settings_coverage_edit": ("coverage_model_id",),
    "settings_coverage_preview": ("coverage_model_id",),
    "settings_coverage_active": ("coverage_model_id",),
    "settings_playbooks": (),
    "settings_playbook_new": (),
    "settings_playbook": ("playbook_id",),
    "settings_playbook_active": ("playbook_id",),
    "settings_step_new": ("playbook_id",),
    "settings_step": ("step_id",),
    "settings_step_remove": ("step_id",),
    "settings_step_move": ("step_id",),
    "settings_milestones": (),
    "settings_milestone_new": (),
    "settings_milestone": ("definition_id",),
    "settings_milestone_active": ("definition_id",),
    "settings_scoring": (),
    "settings_scoring_preview": (),
    "settings_seats": (),
    "settings_seat_invite": (),
    "settings_seat_link": ("seat_id",),
    "settings_seat_role": ("seat_id",),
    "settings_seat_remove": ("seat_id",),
    "settings_api_keys": (),
    "settings_api_key_new": (),
    "settings_api_key_revoke": ("key_id",),
}
READS = [
    "settings",
    "settings_coverage",
    "settings_coverage_new",
    "settings_coverage_edit",
    "settings_playbooks",
    "settings_playbook_new",
    "settings_playbook",
    "settings_step",
    "settings_milestones",
    "settings_milestone_new",
    "settings_milestone",
    "settings_scoring",
    "settings_seats",
    "settings_api_keys",
]

# What a forged write would try, per route: plausible data, so only the role stops it.
FORGED = {
    "settings_coverage_new": {
        "name": "Forged",
        "priority": "5",
        "assignment_policy": "round_robin",
    },
    "settings_coverage_edit": {
        "name": "Forged",
        "priority": "5",
        "assignment_policy": "round_robin",
    },
    "settings_coverage_active": {"active": "0"},
    "settings_playbook_new": {"name": "Forged", "trigger": "manual"},
    "settings_playbook": {"name": "Forged", "trigger": "manual"},
    "settings_playbook_active": {"active": "0"},
    "settings_step_new": {
        "action": "task",
        "title": "Forged",
        "offset_days": "0",
        "channel": "email",
    },
    "settings_step": {"action": "task", "title": "Forged", "offset_days": "0", "channel": "email"},
    "settings_step_move": {"direction": "down"},
    "settings_milestone_new": {
        "name": "Forged",
        "type": "functional",
        "expected_after_days": "3",
        "anchor": "joined",
    },
    "settings_milestone": {
        "name": "Forged",
        "type": "functional",
        "expected_after_days": "3",
        "anchor": "joined",
    },
    "settings_milestone_active": {"active": "0"},
    "settings_scoring": {"pace_weight": "9"},
    "settings_seat_invite": {"email": "forged@example.test", "role": "admin"},
    "settings_seat_role": {"role": "admin"},
    "settings_api_key_new": {"name": "Forged", "scopes": ["read", "write"]},
}


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def own_rows(tenant) -> dict[str, int]:
    organization = tenant.organization
    playbook = PlaybookFactory(organization=organization, name="Onboarding")
    PlaybookStepFactory(playbook=playbook, title="Welcome call")
    key, _ = api_key_create(
        organization=organization, name="Sync", scopes=["read"], created_by=tenant.admin
    )
    return {
        "coverage_model_id": CoverageModelFactory(organization=organization).pk,
        "playbook_id": playbook.pk,
        "step_id": PlaybookStepFactory(playbook=playbook, title="Check in").pk,
        "definition_id": MilestoneDefinitionFactory(organization=organization).pk,
        "seat_id": tenant.msm.pk,
        "key_id": key.pk,
    }


def route_url(name: str, tenant, ids: dict[str, int]) -> str:
    return url(name, tenant, **{keyword: ids[keyword] for keyword in SETTINGS_ROUTES[name]})


def state(tenant) -> dict:
    """Everything a settings write could change, to prove a refused one changed nothing."""
    organization = tenant.organization
    return {
        "coverage": list(
            CoverageModel.objects.for_org(organization).values_list("name", "priority", "is_active")
        ),
        "playbooks": list(
            Playbook.objects.for_org(organization).values_list("name", "trigger", "is_active")
        ),
        "steps": list(
            PlaybookStep.objects.for_org(organization).values_list("pk", "position", "title")
        ),
        "milestones": list(
            MilestoneDefinition.objects.for_org(organization).values_list("name", "is_active")
        ),
        "scoring": ScoringConfiguration.objects.for_org(organization).count(),
        "seats": list(Seat.objects.for_org(organization).values_list("pk", "role")),
        "keys": list(ApiKey.objects.for_org(organization).values_list("pk", "revoked_at")),
    }


def test_every_settings_route_is_covered_here():
    names = {
        entry.name
        for entry in get_resolver().url_patterns
        if not isinstance(entry, URLPattern)
        for entry in entry.url_patterns
        if isinstance(entry, URLPattern) and (entry.name or "").startswith("settings")
    }
    assert names == set(SETTINGS_ROUTES)
    assert set(READS) <= names and set(FORGED) <= names


@pytest.mark.parametrize("name", READS)
def test_an_admin_reads_every_settings_page(login, tenant_a, name):
    ids = own_rows(tenant_a)
    response = login(tenant_a.admin).get(route_url(name, tenant_a, ids))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1" in body and 'aria-label="Settings sections"' in body


@pytest.mark.parametrize("role", ["msm", "viewer"])
@pytest.mark.parametrize("name", READS)
def test_msms_and_viewers_may_not_even_read_settings(login, tenant_a, role, name):
    ids = own_rows(tenant_a)
    assert login(tenant_a.seat(role)).get(route_url(name, tenant_a, ids)).status_code == 403


@pytest.mark.parametrize("role", ["msm", "viewer"])
@pytest.mark.parametrize("name", sorted(SETTINGS_ROUTES))
def test_a_forged_write_from_an_msm_or_viewer_is_403_and_changes_nothing(
    login, tenant_a, role, name
):
    ids = own_rows(tenant_a)
    before = state(tenant_a)
    response = login(tenant_a.seat(role)).post(route_url(name, tenant_a, ids), FORGED.get(name, {}))
    assert response.status_code == 403
    assert state(tenant_a) == before


def test_the_settings_link_is_in_the_nav_for_admins_only(login, tenant_a):
    link = f'href="{url("settings", tenant_a)}"'
    assert link in login(tenant_a.admin).get(url("dashboard", tenant_a)).content.decode()
    for role in ("msm", "viewer"):
        assert (
            link not in login(tenant_a.seat(role)).get(url("dashboard", tenant_a)).content.decode()
        )


def test_the_index_shows_each_section_with_what_it_holds(login, tenant_a):
    CoverageModelFactory(organization=tenant_a.organization)
    CoverageModelFactory(organization=tenant_a.organization, is_active=False)
    body = login(tenant_a.admin).get(url("settings", tenant_a)).content.decode()
    for text in (
        "Coverage models",
        "1 active of 2",
        "Playbooks",
        "Milestones",
        "Scoring",
        "Tandem's defaults",
        "Seats and roles",
        "3 seats, 1 admin",
        "API keys",
        "0 live keys",
    ):
        assert text in body, text


def test_the_index_takes_the_same_queries_for_5_and_50_rows(login, tenant_a):
    client = login(tenant_a.admin)

    def grow(n: int) -> None:
        for index in range(n):
            organization = tenant_a.organization
            CoverageModelFactory(organization=organization)
            PlaybookStepFactory(playbook=PlaybookFactory(organization=organization))
            MilestoneDefinitionFactory(organization=organization)
            Seat.objects.create(
                organization=organization, user=UserFactory(), role=Seat.Role.VIEWER
            )
            api_key_create(
                organization=tenant_a.organization,
                name=f"More {index}",
                scopes=["read"],
                created_by=tenant_a.admin,
            )

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settings", tenant_a)).status_code == 200
        return len(queries)

    grow(5)
    five = count()
    grow(45)
    assert count() == five
