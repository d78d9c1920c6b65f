"""``/api/v1/engagements`` and ``/api/v1/context-events``: list, retrieve, create."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from engagement.models import ContextEvent, Engagement
from milestones.models import ProgressMilestone
from tenancy.scope import organization_scope
from tests.factories import (
    ContextEventFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db

ENGAGEMENTS = reverse("api:engagements-list")
EVENTS = reverse("api:context-events-list")
WHEN = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def at(day: int) -> dt.datetime:
    return WHEN + dt.timedelta(days=day)


def rows(model, organization) -> list:
    with organization_scope(organization):
        return list(model.objects.for_org(organization).order_by("pk").values())


# --- engagements ---------------------------------------------------------------------------


def engagement_body(who, /, **fields) -> dict:
    return {
        "member": who.pk,
        "direction": "outbound_proactive",
        "type": "call",
        "occurred_at": "2026-01-05T10:00:00+00:00",
        "summary": "  Planned the exam together. ",
        "duration_minutes": 25,
        **fields,
    }


def test_an_engagement_is_recorded_through_the_service(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    goal = GoalFactory(desired_outcome__member=member)
    response = api(tenant_a).post(ENGAGEMENTS, engagement_body(member, goal=goal.pk), format="json")
    assert response.status_code == 201, response.content
    [row] = rows(Engagement, tenant_a.organization)
    assert response.json()["id"] == row["id"]
    assert response.json()["member"] == member.pk and response.json()["goal"] == goal.pk
    assert row["summary"] == "Planned the exam together."  # the service trims it
    assert row["seat_id"] is None  # an API key's engagement is automated
    assert row["occurred_at"] == WHEN and row["duration_minutes"] == 25


def test_an_engagement_may_name_the_seat_that_engaged(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    body = engagement_body(member, seat=tenant_a.msm.pk)
    assert api(tenant_a).post(ENGAGEMENTS, body, format="json").status_code == 201
    assert rows(Engagement, tenant_a.organization)[0]["seat_id"] == tenant_a.msm.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"type": "telepathy"}, "type"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "1850-01-01T00:00:00Z"}, "occurred_at"),
        ({"duration_minutes": -5}, "duration_minutes"),
        ({"member": 2**70}, "member"),
        ({"summary": "nul \x00"}, "summary"),
    ],
    ids=lambda value: str(value),
)
def test_a_bad_engagement_answers_400_by_field(api, tenant_a, change, field):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(ENGAGEMENTS, engagement_body(member, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert rows(Engagement, tenant_a.organization) == []


def test_a_goal_of_another_member_is_refused_by_the_domain(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    goal = GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    response = api(tenant_a).post(ENGAGEMENTS, engagement_body(member, goal=goal.pk), format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["goal"] == ["This goal belongs to another member."]


@pytest.mark.parametrize("field", ["member", "seat", "goal"])
def test_an_engagement_naming_another_organizations_rows_is_refused(api, tenant_a, tenant_b, field):
    member = MemberFactory(organization=tenant_a.organization)
    theirs = {
        "member": lambda: MemberFactory(organization=tenant_b.organization).pk,
        "seat": lambda: tenant_b.msm.pk,
        "goal": lambda: GoalFactory(desired_outcome__member__organization=tenant_b.organization).pk,
    }[field]()
    response = api(tenant_a).post(
        ENGAGEMENTS, engagement_body(member, **{field: theirs}), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert rows(Engagement, tenant_a.organization) == []
    assert rows(Engagement, tenant_b.organization) == []


def test_a_read_only_key_cannot_record_an_engagement(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a, scopes=["read"]).post(
        ENGAGEMENTS, engagement_body(member), format="json"
    )
    assert response.status_code == 403
    assert rows(Engagement, tenant_a.organization) == []


def test_engagements_are_neither_edited_nor_deleted(api, tenant_a):
    engagement = EngagementFactory(member__organization=tenant_a.organization)
    url = reverse("api:engagements-detail", kwargs={"engagement_id": engagement.pk})
    client = api(tenant_a)
    assert client.get(url).json()["id"] == engagement.pk
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(url, {"summary": "x"}, format="json").status_code == 405
    assert rows(Engagement, tenant_a.organization)[0]["summary"] == engagement.summary


def test_the_engagement_list_is_filtered_and_ordered(api, tenant_a, tenant_b):
    organization = tenant_a.organization
    member, other = MemberFactory.create_batch(2, organization=organization)
    old = EngagementFactory(member=member, occurred_at=at(-10), type="email")
    new = EngagementFactory(member=member, occurred_at=at(0), direction="inbound_reactive")
    theirs = EngagementFactory(member=other, occurred_at=at(-5))
    EngagementFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    def ids(**query) -> list[int]:
        response = client.get(ENGAGEMENTS, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [new.pk, theirs.pk, old.pk]  # newest first, nothing of B
    assert ids(member=member.pk) == [new.pk, old.pk]
    assert ids(type="email") == [old.pk]
    assert ids(direction="inbound_reactive") == [new.pk]
    assert ids(occurred_since=at(-6).isoformat(), occurred_until=at(-1).isoformat()) == [theirs.pk]
    assert ids(ordering="occurred_at") == [old.pk, theirs.pk, new.pk]
    with organization_scope(organization):
        Engagement.objects.for_org(organization).filter(pk=old.pk).update(created_at=at(-30))
    assert old.pk not in ids(updated_since=at(-20).isoformat())
    assert client.get(ENGAGEMENTS, {"type": "telepathy"}).status_code == 400
    assert client.get(ENGAGEMENTS, {"occurred_since": "not a date"}).status_code == 400


def test_engagement_cursor_pages_neither_skip_nor_repeat(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    made = [EngagementFactory(member=member, occurred_at=WHEN).pk for _ in range(5)]
    client = api(tenant_a)
    seen, url = [], ENGAGEMENTS + "?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(made, reverse=True)  # same time: ties broken by id


def _list_queries(client, url, organization, count: int, factory) -> int:
    for _ in range(count):
        factory(member=MemberFactory(organization=organization))
    client.get(url)  # the key's first use writes last_used_at once: count only the list
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200
    assert len(response.json()["results"]) >= count
    return len(queries)


@pytest.mark.parametrize(
    ("url", "factory"), [(ENGAGEMENTS, EngagementFactory), (EVENTS, ContextEventFactory)]
)
def test_list_queries_do_not_grow_with_the_rows(api, tenant_a, url, factory):
    client = api(tenant_a)
    few = _list_queries(client, url, tenant_a.organization, 3, factory)
    many = _list_queries(client, url, tenant_a.organization, 30, factory)
    assert few == many


# --- context events ------------------------------------------------------------------------


def event_body(who, /, **fields) -> dict:
    return {
        "member": who.pk,
        "kind": "activity",
        "name": "course_completed",
        "occurred_at": "2026-01-05T10:00:00+00:00",
        "value": 4,
        "payload": {"course": "Estimating"},
        "external_id": "lms-1",
        **fields,
    }


def test_a_context_event_is_recorded_once_and_achieves_milestones(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization, match_event_name="course_completed"
    )
    milestone = ProgressMilestoneFactory(member=member, definition=definition)
    client = api(tenant_a)
    first = client.post(EVENTS, event_body(member), format="json")
    assert first.status_code == 201, first.content
    [row] = rows(ContextEvent, tenant_a.organization)
    assert row["source"] == "api" and row["value"] == Decimal(4)
    assert row["payload"] == {"course": "Estimating"} and row["occurred_at"] == WHEN
    with organization_scope(tenant_a.organization):
        milestone.refresh_from_db()
    assert milestone.context_event_id == row["id"]
    assert milestone.achieved_via == ProgressMilestone.Via.RULE

    again = client.post(EVENTS, event_body(member, value=99), format="json")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert rows(ContextEvent, tenant_a.organization) == [row]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"name": "has spaces"}, "name"),
        ({"value": "NaN"}, "value"),
        ({"value": "1e12"}, "value"),
        ({"payload": ["a", "list"]}, "payload"),
        ({"payload": {"k": "nul \x00"}}, "payload"),
        ({"external_id": "x" * 121}, "external_id"),
        ({"occurred_at": "2026-01-05T10:00:00"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at"),
        ({"member": "abc"}, "member"),
    ],
    ids=lambda value: str(value),
)
def test_a_bad_context_event_answers_400_by_field(api, tenant_a, change, field):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(EVENTS, event_body(member, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert rows(ContextEvent, tenant_a.organization) == []


def test_a_context_event_for_another_organizations_member_is_refused(api, tenant_a, tenant_b):
    theirs = MemberFactory(organization=tenant_b.organization)
    response = api(tenant_a).post(EVENTS, event_body(theirs), format="json")
    assert response.status_code == 400
    assert "member" in response.json()["errors"]
    assert rows(ContextEvent, tenant_b.organization) == []


def test_a_read_only_key_cannot_record_a_context_event(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a, scopes=["read"]).post(EVENTS, event_body(member), format="json")
    assert response.status_code == 403
    assert rows(ContextEvent, tenant_a.organization) == []


def test_the_context_event_list_is_filtered_and_ordered(api, tenant_a, tenant_b):
    organization = tenant_a.organization
    member, other = MemberFactory.create_batch(2, organization=organization)
    usage = ContextEventFactory(member=member, occurred_at=at(-3), kind="usage", name="logins")
    done = ContextEventFactory(
        member=member, occurred_at=at(0), kind="activity", external_id="lms-7"
    )
    theirs = ContextEventFactory(
        member=other, occurred_at=at(-1), source="import", kind="team_change"
    )
    ContextEventFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    def ids(**query) -> list[int]:
        response = client.get(EVENTS, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [done.pk, theirs.pk, usage.pk]
    assert ids(member=member.pk) == [done.pk, usage.pk]
    assert ids(kind="usage") == [usage.pk]
    assert ids(name="logins") == [usage.pk]
    assert ids(source="import") == [theirs.pk]
    assert ids(external_id="lms-7") == [done.pk]
    assert ids(occurred_since=at(-2).isoformat()) == [done.pk, theirs.pk]
    assert ids(ordering="id") == [usage.pk, done.pk, theirs.pk]
    with organization_scope(organization):
        ContextEvent.objects.for_org(organization).filter(pk=usage.pk).update(recorded_at=at(-30))
    assert usage.pk not in ids(updated_since=at(-20).isoformat())
    detail = reverse("api:context-events-detail", kwargs={"context_event_id": done.pk})
    assert client.get(detail).json()["external_id"] == "lms-7"
