"""The milestones API: milestone definitions, progress milestones and commitments.

Every write goes through milestones.services, so the rules of the settings page and Member 360
answer here as 400s, field by field; another organization's ids answer 400 in bodies (and 404
in URLs, in the API leak matrix).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone
from tests.factories import (
    CommitmentFactory,
    GoalFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db

DEFINITIONS = reverse("api:milestone-definitions-list")
MILESTONES = reverse("api:progress-milestones-list")
COMMITMENTS = reverse("api:commitments-list")


def definition_url(pk: int) -> str:
    return reverse("api:milestone-definitions-detail", kwargs={"definition_id": pk})


def milestone_url(pk: int) -> str:
    return reverse("api:progress-milestones-detail", kwargs={"milestone_id": pk})


def commitment_url(pk: int) -> str:
    return reverse("api:commitments-detail", kwargs={"commitment_id": pk})


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> list[int]:
    return [row["id"] for row in rows(response)]


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return body["errors"]


def list_queries(client: APIClient, url: str) -> int:
    client.get(url)  # warm up: the key's last-used time is written at most once a minute
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def a_while_ago(hours: int = 2) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


def backdate(model, pk: int, hours: int = 2) -> None:
    model.objects.unscoped().filter(pk=pk).update(updated_at=a_while_ago(hours))


# --- milestone definitions -------------------------------------------------------------------

DEFINITION = {
    "name": "Completed the orientation course",
    "type": "functional",
    "expected_after_days": 21,
    "match_event_name": "course.completed",
    "match_min_value": "1.5",
}


def test_definitions_list_only_the_organizations_own(api, tenant_a, tenant_b):
    mine = MilestoneDefinitionFactory(organization=tenant_a.organization, expected_after_days=5)
    MilestoneDefinitionFactory(organization=tenant_b.organization)
    response = api(tenant_a, scopes=["read"]).get(DEFINITIONS)
    (row,) = rows(response)
    assert row["id"] == mine.pk
    assert row["name"] == mine.name
    assert row["type"] == "functional"
    assert row["anchor"] == "joined"
    assert row["expected_after_days"] == 5
    assert row["is_active"] is True


def test_a_definition_is_retrieved(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Joined")
    response = api(tenant_a, scopes=["read"]).get(definition_url(definition.pk))
    assert response.status_code == 200
    assert response.json()["name"] == "Joined"


def test_a_definition_is_created_through_the_service(api, tenant_a):
    response = api(tenant_a).post(DEFINITIONS, DEFINITION, format="json")
    assert response.status_code == 201, response.content
    stored = MilestoneDefinition.objects.for_org(tenant_a.organization).get()
    assert response.json()["id"] == stored.pk
    assert (stored.name, stored.type, stored.expected_after_days) == (
        "Completed the orientation course",
        "functional",
        21,
    )
    assert stored.match_event_name == "course.completed"
    assert str(stored.match_min_value) == "1.5000"
    assert stored.is_active is True


def test_a_definition_may_be_created_switched_off(api, tenant_a):
    response = api(tenant_a).post(DEFINITIONS, {**DEFINITION, "is_active": False}, format="json")
    assert response.status_code == 201
    assert MilestoneDefinition.objects.for_org(tenant_a.organization).get().is_active is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "strategic", "anchor": "joined"}, "anchor"),
        ({"match_event_name": "", "match_min_value": "3"}, "match_min_value"),
        ({"expected_after_days": 3651}, "expected_after_days"),
        ({"expected_after_days": -1}, "expected_after_days"),
        ({"type": "heroic"}, "type"),
        ({"anchor": "birthday"}, "anchor"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"match_min_value": "NaN"}, "match_min_value"),
        ({"match_min_value": "12345678901234567"}, "match_min_value"),
    ],
)
def test_a_definition_breaking_a_rule_answers_400_by_field(api, tenant_a, body, field):
    response = api(tenant_a).post(DEFINITIONS, {**DEFINITION, **body}, format="json")
    assert field in errors(response)
    assert not MilestoneDefinition.objects.for_org(tenant_a.organization).exists()


def test_a_definition_name_is_unique_in_the_organization_whatever_its_case(api, tenant_a, tenant_b):
    MilestoneDefinitionFactory(organization=tenant_b.organization, name="Orientation")
    client = api(tenant_a)
    assert client.post(DEFINITIONS, {**DEFINITION, "name": "Orientation"}).status_code == 201
    response = client.post(DEFINITIONS, {**DEFINITION, "name": "ORIENTATION"}, format="json")
    assert "already has" in errors(response)["name"][0]
    assert MilestoneDefinition.objects.for_org(tenant_a.organization).count() == 1


def test_a_definition_is_changed_field_by_field(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Old")
    backdate(MilestoneDefinition, definition.pk)
    response = api(tenant_a).patch(
        definition_url(definition.pk), {"name": "New", "expected_after_days": 60}, format="json"
    )
    assert response.status_code == 200, response.content
    definition.refresh_from_db()
    assert (definition.name, definition.expected_after_days, definition.type) == (
        "New",
        60,
        "functional",
    )
    assert definition.updated_at > a_while_ago(1)
    assert response.json()["name"] == "New"


def test_a_definition_is_replaced_with_put(api, tenant_a):
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization, description="Old words", expected_after_days=9
    )
    response = api(tenant_a).put(
        definition_url(definition.pk), {"name": "Replaced", "type": "operational"}, format="json"
    )
    assert response.status_code == 200, response.content
    definition.refresh_from_db()
    assert (definition.name, definition.type, definition.description) == (
        "Replaced",
        "operational",
        "",
    )
    assert definition.expected_after_days == 30


def test_the_anchor_of_a_used_definition_stays(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    ProgressMilestoneFactory(member__organization=tenant_a.organization, definition=definition)
    response = api(tenant_a).patch(
        definition_url(definition.pk), {"anchor": "goal_start"}, format="json"
    )
    assert "already planned" in errors(response)["anchor"][0]
    definition.refresh_from_db()
    assert definition.anchor == "joined"


def test_a_definition_is_switched_off(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    response = api(tenant_a).patch(definition_url(definition.pk), {"is_active": False})
    assert response.status_code == 200
    definition.refresh_from_db()
    assert definition.is_active is False


def test_an_unused_definition_is_deleted(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    assert api(tenant_a).delete(definition_url(definition.pk)).status_code == 204
    assert not MilestoneDefinition.objects.for_org(tenant_a.organization).exists()


def test_a_used_definition_is_not_deleted(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)
    ProgressMilestoneFactory(member__organization=tenant_a.organization, definition=definition)
    response = api(tenant_a).delete(definition_url(definition.pk))
    assert "switch it off" in errors(response)["definition"][0]
    assert (
        MilestoneDefinition.objects.for_org(tenant_a.organization).filter(pk=definition.pk).exists()
    )


def test_a_read_only_key_cannot_change_definitions(api, tenant_a):
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization, name="Kept")
    client = api(tenant_a, scopes=["read"])
    url = definition_url(definition.pk)
    assert client.post(DEFINITIONS, DEFINITION, format="json").status_code == 403
    assert client.patch(url, {"name": "Changed"}, format="json").status_code == 403
    assert client.put(url, {"name": "Changed", "type": "functional"}).status_code == 403
    assert client.delete(url).status_code == 403
    assert list(
        MilestoneDefinition.objects.for_org(tenant_a.organization).values_list("name", flat=True)
    ) == ["Kept"]


def test_only_an_admins_session_changes_definitions_as_on_the_settings_page(tenant_a):
    msm = APIClient()
    msm.force_login(tenant_a.msm.user)
    assert msm.get(DEFINITIONS).status_code == 200
    assert msm.post(DEFINITIONS, DEFINITION, format="json").status_code == 403
    assert not MilestoneDefinition.objects.for_org(tenant_a.organization).exists()
    admin = APIClient()
    admin.force_login(tenant_a.admin.user)
    assert admin.post(DEFINITIONS, DEFINITION, format="json").status_code == 201


def test_definitions_filter_and_order(api, tenant_a):
    organization = tenant_a.organization
    first = MilestoneDefinitionFactory(organization=organization, name="B", expected_after_days=1)
    second = MilestoneDefinitionFactory(
        organization=organization, name="A", type="operational", expected_after_days=2
    )
    off = MilestoneDefinitionFactory(organization=organization, name="C", is_active=False)
    backdate(MilestoneDefinition, first.pk, hours=5)
    client = api(tenant_a, scopes=["read"])
    assert ids(client.get(DEFINITIONS, {"type": "operational"})) == [second.pk]
    assert ids(client.get(DEFINITIONS, {"is_active": "false"})) == [off.pk]
    assert ids(client.get(DEFINITIONS, {"ordering": "name"})) == [second.pk, first.pk, off.pk]
    assert ids(client.get(DEFINITIONS, {"ordering": "-name"})) == [off.pk, first.pk, second.pk]
    since = a_while_ago(1).isoformat()
    assert set(ids(client.get(DEFINITIONS, {"updated_since": since}))) == {second.pk, off.pk}
    assert "type" in errors(client.get(DEFINITIONS, {"type": "heroic"}))


def test_the_definitions_list_takes_the_same_queries_for_3_and_30_rows(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    MilestoneDefinitionFactory.create_batch(3, organization=tenant_a.organization)
    few = list_queries(client, DEFINITIONS)
    MilestoneDefinitionFactory.create_batch(27, organization=tenant_a.organization)
    assert list_queries(client, DEFINITIONS) == few


# --- progress milestones ---------------------------------------------------------------------


def test_milestones_list_with_their_status_today(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization)
    today = timezone.localdate()
    overdue = ProgressMilestoneFactory(member=member, due_on=today - dt.timedelta(days=1))
    achieved = ProgressMilestoneFactory(
        member=member, achieved_at=timezone.now(), achieved_via="manual"
    )
    ProgressMilestoneFactory(member__organization=tenant_b.organization)
    body = {row["id"]: row for row in rows(api(tenant_a, scopes=["read"]).get(MILESTONES))}
    assert set(body) == {overdue.pk, achieved.pk}
    assert body[overdue.pk]["status"] == "overdue"
    assert body[overdue.pk]["achieved"] is False
    assert body[overdue.pk]["member"] == member.pk
    assert body[achieved.pk]["status"] == "achieved"
    assert body[achieved.pk]["achieved_via"] == "manual"


def test_a_milestone_is_retrieved(api, tenant_a):
    milestone = ProgressMilestoneFactory(member__organization=tenant_a.organization, name="Read")
    response = api(tenant_a, scopes=["read"]).get(milestone_url(milestone.pk))
    assert response.status_code == 200
    assert response.json()["name"] == "Read"
    assert response.json()["status"] == "due_soon"


def test_an_ad_hoc_milestone_is_recorded(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(
        MILESTONES,
        {"member": member.pk, "name": "Spoke at the chapter", "type": "opportune"},
        format="json",
    )
    assert response.status_code == 201, response.content
    stored = ProgressMilestone.objects.for_org(tenant_a.organization).get()
    assert (stored.member_id, stored.name, stored.type, stored.due_on) == (
        member.pk,
        "Spoke at the chapter",
        "opportune",
        None,
    )
    assert stored.achieved_at is None
    assert response.json()["status"] == "upcoming"


def test_a_milestone_from_a_definition_takes_its_name_type_and_due_date(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization, name="Orientation", type="operational"
    )
    response = api(tenant_a).post(
        MILESTONES, {"member": member.pk, "definition": definition.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    stored = ProgressMilestone.objects.for_org(tenant_a.organization).get()
    assert (stored.name, stored.type, stored.definition_id) == (
        "Orientation",
        "operational",
        definition.pk,
    )
    assert stored.due_on == member.joined_on + dt.timedelta(days=30)


def test_a_due_date_past_the_calendars_end_is_refused_by_field(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, joined_on=dt.date(9999, 12, 1))
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization, expected_after_days=60
    )
    body = {"member": member.pk, "definition": definition.pk}
    assert "9999" in errors(api(tenant_a).post(MILESTONES, body, format="json"))["due_on"][0]
    assert not ProgressMilestone.objects.for_org(tenant_a.organization).exists()


def test_a_milestone_reported_after_the_fact_is_recorded_achieved_by_api(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    when = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)
    response = api(tenant_a).post(
        MILESTONES,
        {
            "member": member.pk,
            "name": "Passed the exam",
            "type": "functional",
            "achieved_at": when.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    stored = ProgressMilestone.objects.for_org(tenant_a.organization).get()
    assert (stored.achieved_at, stored.achieved_via) == (when, "api")
    assert response.json()["status"] == "achieved"


def test_a_milestone_breaking_several_rules_answers_each_and_stores_nothing(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = api(tenant_a).post(
        MILESTONES,
        {"member": member.pk, "name": "Goal", "type": "strategic", "achieved_at": future},
        format="json",
    )
    found = errors(response)
    assert "choose the member's goal" in found["goal"][0]
    assert "future" in found["achieved_at"][0]
    assert not ProgressMilestone.objects.for_org(tenant_a.organization).exists()


def test_a_future_achievement_alone_stores_nothing(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = api(tenant_a).post(
        MILESTONES,
        {"member": member.pk, "name": "Soon", "type": "functional", "achieved_at": future},
        format="json",
    )
    assert list(errors(response)) == ["achieved_at"]
    assert not ProgressMilestone.objects.for_org(tenant_a.organization).exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"type": None}, "type"),
        ({"type": "heroic"}, "type"),
        ({"name": "x" * 121}, "name"),
        ({"due_on": "2026-02-30"}, "due_on"),
        ({"achieved_at": "yesterday"}, "achieved_at"),
    ],
)
def test_a_milestone_with_a_bad_field_answers_400(api, tenant_a, extra, field):
    member = MemberFactory(organization=tenant_a.organization)
    body = {"member": member.pk, "name": "Ad hoc", "type": "functional", **extra}
    assert field in errors(api(tenant_a).post(MILESTONES, body, format="json"))
    assert not ProgressMilestone.objects.for_org(tenant_a.organization).exists()


def test_an_omitted_type_without_a_definition_is_named(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(MILESTONES, {"member": member.pk, "name": "Ad hoc"})
    assert "Choose one of" in errors(response)["type"][0]


def test_a_milestone_goal_must_be_the_members(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    body = {"member": member.pk, "goal": goal.pk, "name": "Goal", "type": "strategic"}
    assert "another member" in errors(api(tenant_a).post(MILESTONES, body))["goal"][0]


def test_a_member_has_each_definition_once(api, tenant_a):
    milestone = ProgressMilestoneFactory(
        member__organization=tenant_a.organization,
        definition=MilestoneDefinitionFactory(organization=tenant_a.organization),
    )
    body = {"member": milestone.member_id, "definition": milestone.definition_id}
    assert "already has" in errors(api(tenant_a).post(MILESTONES, body))["definition"][0]
    assert ProgressMilestone.objects.for_org(tenant_a.organization).count() == 1


@pytest.mark.parametrize("field", ["member", "definition", "goal"])
def test_a_milestone_naming_another_organizations_rows_answers_400(api, tenant_a, tenant_b, field):
    mine = {
        "member": MemberFactory(organization=tenant_a.organization),
        "definition": MilestoneDefinitionFactory(organization=tenant_a.organization),
    }
    theirs = {
        "member": MemberFactory(organization=tenant_b.organization),
        "definition": MilestoneDefinitionFactory(organization=tenant_b.organization),
        "goal": GoalFactory(desired_outcome__member__organization=tenant_b.organization),
    }
    body = {"member": mine["member"].pk, "definition": mine["definition"].pk, field: None}
    body[field] = theirs[field].pk
    response = api(tenant_a).post(MILESTONES, body, format="json")
    assert "does not exist" in errors(response)[field][0]
    assert tenant_b.organization.name not in response.content.decode()
    assert not ProgressMilestone.objects.for_org(tenant_a.organization).exists()
    assert not ProgressMilestone.objects.for_org(tenant_b.organization).exists()


def test_a_milestone_is_achieved_by_api_once(api, tenant_a):
    milestone = ProgressMilestoneFactory(member__organization=tenant_a.organization)
    backdate(ProgressMilestone, milestone.pk)
    client = api(tenant_a)
    when = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    response = client.patch(
        milestone_url(milestone.pk), {"achieved": True, "achieved_at": when.isoformat()}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "achieved"
    milestone.refresh_from_db()
    assert (milestone.achieved_at, milestone.achieved_via) == (when, "api")
    assert milestone.updated_at > a_while_ago(1)

    again = client.patch(milestone_url(milestone.pk), {"achieved": True}, format="json")
    assert "already achieved" in errors(again)["achieved"][0]
    milestone.refresh_from_db()
    assert milestone.achieved_at == when


def test_an_achievement_marked_by_mistake_is_reopened(api, tenant_a):
    milestone = ProgressMilestoneFactory(
        member__organization=tenant_a.organization,
        achieved_at=timezone.now(),
        achieved_via="manual",
    )
    client = api(tenant_a)
    response = client.patch(milestone_url(milestone.pk), {"achieved": False}, format="json")
    assert response.status_code == 200
    milestone.refresh_from_db()
    assert (milestone.achieved_at, milestone.achieved_via) == (None, "")
    again = client.patch(milestone_url(milestone.pk), {"achieved": False}, format="json")
    assert "not achieved" in errors(again)["achieved"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"achieved_at": "2026-01-01T00:00:00Z"}, "achieved_at"),
        ({"achieved": False, "achieved_at": "2026-01-01T00:00:00Z"}, "achieved_at"),
        ({"achieved": True, "achieved_at": "2999-01-01T00:00:00Z"}, "achieved_at"),
        ({"achieved": "perhaps"}, "achieved"),
    ],
)
def test_a_bad_achievement_answers_400_and_changes_nothing(api, tenant_a, body, field):
    milestone = ProgressMilestoneFactory(member__organization=tenant_a.organization)
    response = api(tenant_a).patch(milestone_url(milestone.pk), body, format="json")
    assert field in errors(response)
    milestone.refresh_from_db()
    assert milestone.achieved_at is None


def test_milestones_are_not_replaced_or_deleted(api, tenant_a):
    milestone = ProgressMilestoneFactory(member__organization=tenant_a.organization)
    client = api(tenant_a)
    assert client.put(milestone_url(milestone.pk), {}, format="json").status_code == 405
    assert client.delete(milestone_url(milestone.pk)).status_code == 405
    assert ProgressMilestone.objects.for_org(tenant_a.organization).count() == 1


def test_a_read_only_key_cannot_record_or_achieve_milestones(api, tenant_a):
    milestone = ProgressMilestoneFactory(member__organization=tenant_a.organization)
    client = api(tenant_a, scopes=["read"])
    body = {"member": milestone.member_id, "name": "New", "type": "functional"}
    assert client.post(MILESTONES, body, format="json").status_code == 403
    patch = client.patch(milestone_url(milestone.pk), {"achieved": True}, format="json")
    assert patch.status_code == 403
    assert ProgressMilestone.objects.for_org(tenant_a.organization).count() == 1
    milestone.refresh_from_db()
    assert milestone.achieved_at is None


def test_milestones_filter_and_order(api, tenant_a):
    organization = tenant_a.organization
    today = timezone.localdate()
    member, other = MemberFactory.create_batch(2, organization=organization)
    definition = MilestoneDefinitionFactory(organization=organization)
    overdue = ProgressMilestoneFactory(
        member=member, definition=definition, due_on=today - dt.timedelta(days=3)
    )
    soon = ProgressMilestoneFactory(member=member, due_on=today + dt.timedelta(days=3))
    later = ProgressMilestoneFactory(
        member=other, due_on=today + dt.timedelta(days=60), type="operational"
    )
    done = ProgressMilestoneFactory(
        member=other, achieved_at=timezone.now(), achieved_via="rule", due_on=today
    )
    undated = ProgressMilestoneFactory(member=other, due_on=None)
    for row in (overdue, soon, later, done):
        backdate(ProgressMilestone, row.pk, hours=5)
    client = api(tenant_a, scopes=["read"])

    assert ids(client.get(MILESTONES, {"member": member.pk})) == [overdue.pk, soon.pk]
    assert ids(client.get(MILESTONES, {"definition": definition.pk})) == [overdue.pk]
    assert ids(client.get(MILESTONES, {"type": "operational"})) == [later.pk]
    assert ids(client.get(MILESTONES, {"achieved": "true"})) == [done.pk]
    assert len(ids(client.get(MILESTONES, {"achieved": "false"}))) == 4
    assert ids(client.get(MILESTONES, {"status": "overdue"})) == [overdue.pk]
    assert ids(client.get(MILESTONES, {"status": "due_soon"})) == [soon.pk]
    assert set(ids(client.get(MILESTONES, {"status": "upcoming"}))) == {later.pk, undated.pk}
    assert ids(client.get(MILESTONES, {"status": "achieved"})) == [done.pk]
    since = a_while_ago(1).isoformat()
    assert ids(client.get(MILESTONES, {"updated_since": since})) == [undated.pk]
    dated = [overdue.pk, done.pk, soon.pk, later.pk]
    assert ids(client.get(MILESTONES, {"ordering": "-due_on"}))[:4] == dated[::-1]
    assert "status" in errors(client.get(MILESTONES, {"status": "late"}))
    assert "member" in errors(client.get(MILESTONES, {"member": 10**30}))


def test_an_achievement_shows_in_incremental_sync(api, tenant_a):
    milestone = ProgressMilestoneFactory(member__organization=tenant_a.organization)
    backdate(ProgressMilestone, milestone.pk, hours=5)
    client = api(tenant_a)
    since = {"updated_since": a_while_ago(1).isoformat()}
    assert ids(client.get(MILESTONES, since)) == []
    client.patch(milestone_url(milestone.pk), {"achieved": True}, format="json")
    assert ids(client.get(MILESTONES, since)) == [milestone.pk]


def test_the_milestones_list_takes_the_same_queries_for_3_and_30_rows(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    definition = MilestoneDefinitionFactory(organization=tenant_a.organization)

    def add(count: int) -> None:
        ProgressMilestoneFactory.create_batch(
            count, member=goal.member, goal=goal, definition=definition
        )

    add(3)
    few = list_queries(client, MILESTONES)
    add(27)
    assert list_queries(client, MILESTONES) == few


# --- commitments -----------------------------------------------------------------------------


def test_a_commitment_is_added_for_the_goals_member(api, tenant_a):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    response = api(tenant_a).post(
        COMMITMENTS,
        {
            "goal": goal.pk,
            "party": "together",
            "description": "Review the study plan each month",
            "owner_seat": tenant_a.msm.pk,
            "due_on": "2030-05-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    stored = Commitment.objects.for_org(tenant_a.organization).get()
    assert (stored.goal_id, stored.member_id, stored.party, stored.owner_seat_id) == (
        goal.pk,
        goal.member_id,
        "together",
        tenant_a.msm.pk,
    )
    assert stored.due_on == dt.date(2030, 5, 1)
    assert response.json()["status"] == "open"
    assert response.json()["member"] == goal.member_id


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"party": "member_outside", "owner_seat": "SEAT"}, "owner_seat"),
        ({"party": "everyone"}, "party"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 301}, "description"),
        ({"owner_name": "x" * 121}, "owner_name"),
        ({"due_on": "soon"}, "due_on"),
    ],
)
def test_a_commitment_breaking_a_rule_answers_400(api, tenant_a, extra, field):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    body = {"goal": goal.pk, "party": "together", "description": "Meet monthly", **extra}
    if body.get("owner_seat") == "SEAT":
        body["owner_seat"] = tenant_a.msm.pk
    assert field in errors(api(tenant_a).post(COMMITMENTS, body, format="json"))
    assert not Commitment.objects.for_org(tenant_a.organization).exists()


@pytest.mark.parametrize("field", ["goal", "owner_seat"])
def test_a_commitment_naming_another_organizations_rows_answers_400(api, tenant_a, tenant_b, field):
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    theirs = {
        "goal": GoalFactory(desired_outcome__member__organization=tenant_b.organization).pk,
        "owner_seat": tenant_b.msm.pk,
    }
    body = {"goal": goal.pk, "party": "together", "description": "Meet monthly"}
    body[field] = theirs[field]
    response = api(tenant_a).post(COMMITMENTS, body, format="json")
    assert "does not exist" in errors(response)[field][0]
    assert tenant_b.msm.user.email not in response.content.decode()
    assert not Commitment.objects.unscoped().exists()


def test_a_commitment_is_kept_once_and_reopened(api, tenant_a):
    commitment = CommitmentFactory(
        goal__desired_outcome__member__organization=tenant_a.organization
    )
    backdate(Commitment, commitment.pk)
    client = api(tenant_a)
    response = client.patch(commitment_url(commitment.pk), {"done": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["done"] is True
    assert response.json()["status"] == "done"
    commitment.refresh_from_db()
    assert commitment.done_at is not None
    assert commitment.updated_at > a_while_ago(1)
    kept_at = commitment.done_at

    again = client.patch(commitment_url(commitment.pk), {"done": True}, format="json")
    assert "already done" in errors(again)["done"][0]
    commitment.refresh_from_db()
    assert commitment.done_at == kept_at

    assert client.patch(commitment_url(commitment.pk), {"done": False}).status_code == 200
    commitment.refresh_from_db()
    assert commitment.done_at is None
    again = client.patch(commitment_url(commitment.pk), {"done": False}, format="json")
    assert "not done" in errors(again)["done"][0]


def test_a_commitment_kept_at_a_given_time(api, tenant_a):
    commitment = CommitmentFactory(
        goal__desired_outcome__member__organization=tenant_a.organization
    )
    when = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    response = api(tenant_a).patch(
        commitment_url(commitment.pk), {"done": True, "done_at": when.isoformat()}, format="json"
    )
    assert response.status_code == 200
    commitment.refresh_from_db()
    assert commitment.done_at == when


@pytest.mark.parametrize(
    "body",
    [{"done_at": "2026-01-01T00:00:00Z"}, {"done": True, "done_at": "2999-01-01T00:00:00Z"}],
)
def test_a_bad_keep_answers_400_and_changes_nothing(api, tenant_a, body):
    commitment = CommitmentFactory(
        goal__desired_outcome__member__organization=tenant_a.organization
    )
    assert "done_at" in errors(api(tenant_a).patch(commitment_url(commitment.pk), body))
    commitment.refresh_from_db()
    assert commitment.done_at is None


def test_a_read_only_key_cannot_add_or_keep_commitments(api, tenant_a):
    commitment = CommitmentFactory(
        goal__desired_outcome__member__organization=tenant_a.organization
    )
    client = api(tenant_a, scopes=["read"])
    body = {"goal": commitment.goal_id, "party": "together", "description": "More"}
    assert client.post(COMMITMENTS, body, format="json").status_code == 403
    assert client.patch(commitment_url(commitment.pk), {"done": True}).status_code == 403
    assert Commitment.objects.for_org(tenant_a.organization).count() == 1
    commitment.refresh_from_db()
    assert commitment.done_at is None


def test_commitments_are_not_replaced_or_deleted(api, tenant_a):
    commitment = CommitmentFactory(
        goal__desired_outcome__member__organization=tenant_a.organization
    )
    client = api(tenant_a)
    assert client.put(commitment_url(commitment.pk), {}, format="json").status_code == 405
    assert client.delete(commitment_url(commitment.pk)).status_code == 405


def test_commitments_filter_and_order(api, tenant_a, tenant_b):
    organization = tenant_a.organization
    today = timezone.localdate()
    goal = GoalFactory(desired_outcome__member__organization=organization)
    other_goal = GoalFactory(desired_outcome__member__organization=organization)
    overdue = CommitmentFactory(goal=goal, due_on=today - dt.timedelta(days=1))
    done = CommitmentFactory(goal=goal, party="together", done_at=timezone.now(), due_on=today)
    ours = CommitmentFactory(
        goal=other_goal,
        party="us_behind_scenes",
        owner_seat=tenant_a.msm,
        due_on=today + dt.timedelta(days=5),
    )
    CommitmentFactory(goal__desired_outcome__member__organization=tenant_b.organization)
    for row in (overdue, done):
        backdate(Commitment, row.pk, hours=5)
    client = api(tenant_a, scopes=["read"])

    assert ids(client.get(COMMITMENTS)) == [overdue.pk, done.pk, ours.pk]
    assert ids(client.get(COMMITMENTS, {"goal": goal.pk})) == [overdue.pk, done.pk]
    assert ids(client.get(COMMITMENTS, {"member": other_goal.member_id})) == [ours.pk]
    assert ids(client.get(COMMITMENTS, {"owner_seat": tenant_a.msm.pk})) == [ours.pk]
    assert ids(client.get(COMMITMENTS, {"party": "together"})) == [done.pk]
    assert ids(client.get(COMMITMENTS, {"status": "overdue"})) == [overdue.pk]
    assert ids(client.get(COMMITMENTS, {"status": "done"})) == [done.pk]
    assert ids(client.get(COMMITMENTS, {"status": "open"})) == [ours.pk]
    assert ids(client.get(COMMITMENTS, {"ordering": "-due_on"})) == [ours.pk, done.pk, overdue.pk]
    since = a_while_ago(1).isoformat()
    assert ids(client.get(COMMITMENTS, {"updated_since": since})) == [ours.pk]
    assert "updated_since" in errors(client.get(COMMITMENTS, {"updated_since": "last week"}))


def test_the_commitments_list_takes_the_same_queries_for_3_and_30_rows(api, tenant_a):
    client = api(tenant_a, scopes=["read"])
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)

    def add(count: int) -> None:
        CommitmentFactory.create_batch(count, goal=goal, owner_seat=tenant_a.msm, party="together")

    add(3)
    few = list_queries(client, COMMITMENTS)
    add(27)
    assert list_queries(client, COMMITMENTS) == few
