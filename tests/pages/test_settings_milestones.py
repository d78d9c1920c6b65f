"""Settings · milestone definitions: list, create, edit, switch off and on, errors in place."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from milestones.models import MilestoneDefinition
from tests.factories import MilestoneDefinitionFactory, ProgressMilestoneFactory

pytestmark = pytest.mark.django_db


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def data(**fields) -> dict:
    values = {
        "name": "First course completed",
        "type": "functional",
        "expected_after_days": "30",
        "anchor": "joined",
        "description": "",
        "match_event_name": "course_completed",
        "match_min_value": "",
    }
    values.update(fields)
    return values


def names(organization) -> list[str]:
    return list(
        MilestoneDefinition.objects.for_org(organization)
        .order_by("pk")
        .values_list("name", flat=True)
    )


def test_the_list_shows_definitions_in_the_order_members_meet_them(login, tenant_a, tenant_b):
    org = tenant_a.organization
    MilestoneDefinitionFactory(organization=org, name="Late one", expected_after_days=90)
    MilestoneDefinitionFactory(
        organization=org,
        name="Early one",
        expected_after_days=7,
        match_event_name="logged_in",
        match_min_value=Decimal("3"),
    )
    MilestoneDefinitionFactory(organization=org, name="Retired one", is_active=False)
    MilestoneDefinitionFactory(organization=tenant_b.organization, name="Other org milestone")
    body = login(tenant_a.admin).get(url("settings_milestones", tenant_a)).content.decode()
    assert body.index("Early one") < body.index("Late one") < body.index("Retired one")
    assert "logged_in" in body and "≥ 3" in body and "By hand" in body
    assert "Other org milestone" not in body


def test_the_list_takes_the_same_queries_for_5_and_50_definitions(login, tenant_a):
    client = login(tenant_a.admin)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settings_milestones", tenant_a)).status_code == 200
        return len(queries)

    MilestoneDefinitionFactory.create_batch(5, organization=tenant_a.organization)
    five = count()
    MilestoneDefinitionFactory.create_batch(45, organization=tenant_a.organization)
    assert count() == five


def test_creating_a_definition(login, tenant_a):
    response = login(tenant_a.admin).post(
        url("settings_milestone_new", tenant_a), data(match_min_value="2.5")
    )
    assert response.status_code == 302
    definition = MilestoneDefinition.objects.for_org(tenant_a.organization).get()
    assert definition.match_event_name == "course_completed"
    assert definition.match_min_value == Decimal("2.5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"type": "strategic"}, "counted from the goal&#x27;s start"),
        ({"expected_after_days": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"expected_after_days": "99999"}, "Give a whole number of days from 0 to 3650."),
        ({"match_event_name": "", "match_min_value": "3"}, "give the event name too"),
        ({"match_min_value": "lots"}, "Enter a number."),
        ({"name": "Taken"}, "already has a milestone with this name"),
    ],
)
def test_a_bad_definition_is_refused_in_place_and_nothing_written(login, tenant_a, change, message):
    MilestoneDefinitionFactory(organization=tenant_a.organization, name="Taken")
    response = login(tenant_a.admin).post(url("settings_milestone_new", tenant_a), data(**change))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert names(tenant_a.organization) == ["Taken"]


def test_editing_a_definition(login, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Old name")
    client = login(tenant_a.admin)
    target = url("settings_milestone", tenant_a, definition_id=definition.pk)
    assert 'value="Old name"' in client.get(target).content.decode()
    assert client.post(target, data(name="New name", expected_after_days="45")).status_code == 302
    definition.refresh_from_db()
    assert (definition.name, definition.expected_after_days) == ("New name", 45)


def test_the_anchor_stays_once_milestones_were_planned_from_it(login, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Planned")
    ProgressMilestoneFactory(member__organization=tenant_a.organization, definition=definition)
    response = login(tenant_a.admin).post(
        url("settings_milestone", tenant_a, definition_id=definition.pk),
        data(name="Planned", anchor="goal_start"),
    )
    assert response.status_code == 400
    assert "its anchor stays" in response.content.decode()
    definition.refresh_from_db()
    assert definition.anchor == "joined" and definition.match_event_name == ""


def test_switching_a_definition_off_and_on(login, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    client = login(tenant_a.admin)
    target = url("settings_milestone_active", tenant_a, definition_id=definition.pk)
    assert client.post(target, {"active": "0"}).status_code == 302
    definition.refresh_from_db()
    assert not definition.is_active
    client.post(target, {"active": "1"})
    definition.refresh_from_db()
    assert definition.is_active
