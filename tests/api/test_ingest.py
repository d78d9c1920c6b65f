"""``POST /api/v1/context-events/bulk``: per-item answers, idempotency, set-based writes, and
the milestone matching and score recompute that follow the batch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagement.api.ingest import BULK_MAX
from engagement.models import ContextEvent
from engagement.tasks import context_events_ingested
from milestones.models import ProgressMilestone
from outcomes.models import SuccessGapSnapshot
from outcomes.tasks import recompute_members
from tenancy.scope import organization_scope
from tests.factories import (
    ContextEventFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db

URL = reverse("api:context-events-bulk")
WHEN = "2026-01-05T10:00:00+00:00"


def stored(organization) -> list[tuple]:
    with organization_scope(organization):
        return list(
            ContextEvent.objects.for_org(organization)
            .order_by("pk")
            .values_list("pk", "member_id", "name", "value", "source", "external_id")
        )


def event(member, n: int = 0, **fields) -> dict:
    return {
        "member_id": member.pk,
        "kind": "usage",
        "name": "logins",
        "value": n,
        "occurred_at": WHEN,
        "external_id": f"usage-{member.pk}-{n}",
        **fields,
    }


def test_valid_items_are_stored_and_bad_ones_refused_field_by_field(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    items = [
        event(member, 1),
        {**event(member, 2), "kind": "gossip", "name": "has spaces"},
        event(member, 3, value="12.34567", payload={"course": "Estimating"}),
        {**event(member, 4), "occurred_at": "yesterday-ish"},
        {**event(member, 5), "occurred_at": "2026-01-05T10:00:00"},
        {**event(member, 6), "value": "a lot"},
        "not an object",
        {**event(member, 7), "occurred_at": (timezone.now() + dt.timedelta(days=2)).isoformat()},
        {"kind": "usage", "name": "logins", "occurred_at": WHEN},
        {**event(member, 8), "member_id": "42"},
        {**event(member, 9), "external_id": "x" * 121},
        {**event(member, 10), "payload": ["not", "an", "object"]},
        {**event(member, 11), "payload": {"note": "nul \x00 inside"}},
        {**event(member, 12), "occurred_at": "1850-01-01T00:00:00+00:00"},
    ]
    response = api(tenant_a).post(URL, items, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stored"] == 2 and body["already_stored"] == 0
    assert [a["index"] for a in body["accepted"]] == [0, 2]
    refused = {r["index"]: r["errors"] for r in body["refused"]}
    assert sorted(refused) == [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert set(refused[1]) == {"kind", "name"}
    assert "occurred_at" in refused[3]
    assert refused[4]["occurred_at"] == ["Give the time with its time zone."]
    assert "value" in refused[5]
    assert "non_field_errors" in refused[6]
    assert "future" in refused[7]["occurred_at"][0]
    assert "member_id" in refused[8]
    assert "member_id" in refused[9]
    assert "external_id" in refused[10]
    assert "payload" in refused[11]
    assert "payload" in refused[12]
    assert "occurred_at" in refused[13]
    rows = stored(tenant_a.organization)
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        (member.pk, "logins", Decimal("1.0000"), "api", f"usage-{member.pk}-1"),
        (member.pk, "logins", Decimal("12.3457"), "api", f"usage-{member.pk}-3"),
    ]
    assert [a["id"] for a in body["accepted"]] == [r[0] for r in rows]
    assert all(a["member"] == member.pk for a in body["accepted"])
    with organization_scope(tenant_a.organization):
        payloads = dict(
            ContextEvent.objects.for_org(tenant_a.organization).values_list("pk", "payload")
        )
        occurred = set(
            ContextEvent.objects.for_org(tenant_a.organization).values_list(
                "occurred_at", flat=True
            )
        )
        assert (
            ContextEvent.objects.for_org(tenant_a.organization)
            .filter(payload__course="Estimating")
            .count()
            == 1
        )
    assert payloads == {rows[0][0]: {}, rows[1][0]: {"course": "Estimating"}}
    assert occurred == {dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)}


def test_sending_the_same_batch_twice_stores_each_event_once(api, tenant_a):
    members = MemberFactory.create_batch(3, organization=tenant_a.organization)
    items = [event(member, n) for member in members for n in range(4)]
    client = api(tenant_a)
    first = client.post(URL, items, format="json").json()
    rows = stored(tenant_a.organization)
    assert first["stored"] == 12 and len(rows) == 12
    for _ in range(2):
        again = client.post(URL, items, format="json").json()
        assert again["stored"] == 0 and again["already_stored"] == 12
        assert all(a["already_stored"] for a in again["accepted"])
        assert [a["id"] for a in again["accepted"]] == [a["id"] for a in first["accepted"]]
        assert stored(tenant_a.organization) == rows


def test_an_external_id_repeated_in_one_batch_is_stored_once(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    other = MemberFactory(organization=tenant_a.organization)
    items = [
        event(member, 1),
        event(member, 2),
        {**event(other, 1), "external_id": f"usage-{member.pk}-1"},
    ]
    body = api(tenant_a).post(URL, items, format="json").json()
    assert body["stored"] == 2
    first, _, repeat = body["accepted"]
    assert repeat["already_stored"] and repeat["id"] == first["id"]
    assert repeat["member"] == member.pk  # the stored row's member, not the repeat's
    assert len(stored(tenant_a.organization)) == 2


def test_events_without_external_id_are_each_stored(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    items = [event(member, n, external_id="") for n in range(3)]
    body = api(tenant_a).post(URL, items, format="json").json()
    assert body["stored"] == 3
    rows = stored(tenant_a.organization)
    assert [a["id"] for a in body["accepted"]] == [r[0] for r in rows]
    assert [r[3] for r in rows] == [Decimal(0), Decimal(1), Decimal(2)]


def test_members_are_found_by_their_external_id(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization, external_id="crm-17")
    MemberFactory(organization=tenant_b.organization, external_id="crm-99")
    items = [
        {**event(member, 1), "member_id": None, "member_external_id": "crm-17"},
        {
            "member_external_id": "crm-99",
            **{k: v for k, v in event(member, 2).items() if k != "member_id"},
        },
        {**event(member, 3), "member_external_id": "crm-17"},
        {k: v for k, v in event(member, 4).items() if k != "member_id"},
    ]
    items[0].pop("member_id")
    body = api(tenant_a).post(URL, items, format="json").json()
    assert [(a["index"], a["member"]) for a in body["accepted"]] == [(0, member.pk)]
    refused = {r["index"]: r["errors"] for r in body["refused"]}
    assert refused[1] == {"member_external_id": ["No member with this id in your organization."]}
    assert "member_id" in refused[2] and "member_id" in refused[3]  # both, or neither


def test_another_organizations_members_are_refused_item_by_item(api, tenant_a, tenant_b):
    mine = MemberFactory(organization=tenant_a.organization)
    theirs = MemberFactory(organization=tenant_b.organization, name="Leaky Secret-Member")
    items = [event(mine, 1), event(theirs, 1), event(mine, 2, member_id=2**70)]
    response = api(tenant_a).post(URL, items, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [a["index"] for a in body["accepted"]] == [0]
    assert body["refused"] == [
        {"index": 1, "errors": {"member_id": ["No member with this id in your organization."]}},
        {"index": 2, "errors": {"member_id": ["No member with this id in your organization."]}},
    ]
    assert "Leaky" not in response.content.decode()
    assert stored(tenant_b.organization) == []
    assert [r[1] for r in stored(tenant_a.organization)] == [mine.pk]


@pytest.mark.parametrize("body", [{"kind": "usage"}, "events", 17, None, {"events": []}], ids=repr)
def test_an_envelope_that_is_not_a_list_answers_400(api, tenant_a, body):
    response = api(tenant_a).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "non_field_errors" in response.json()["errors"]


def test_more_than_the_limit_answers_400_and_stores_nothing(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    items = [event(member, n) for n in range(BULK_MAX + 1)]
    response = api(tenant_a).post(URL, items, format="json")
    assert response.status_code == 400
    assert f"At most {BULK_MAX:,} events" in response.json()["errors"]["non_field_errors"][0]
    assert stored(tenant_a.organization) == []


def test_exactly_the_limit_is_accepted(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    items = [event(member, n) for n in range(BULK_MAX)]
    body = api(tenant_a).post(URL, items, format="json").json()
    assert body["stored"] == BULK_MAX
    assert len(stored(tenant_a.organization)) == BULK_MAX


def test_an_empty_list_stores_nothing(api, tenant_a):
    response = api(tenant_a).post(URL, [], format="json")
    assert response.status_code == 200
    assert response.json() == {"stored": 0, "already_stored": 0, "accepted": [], "refused": []}


def test_a_read_only_key_is_refused(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a, scopes=["read"]).post(URL, [event(member)], format="json")
    assert response.status_code == 403
    assert stored(tenant_a.organization) == []


def test_bulk_resolves_before_the_detail_route(api, tenant_a):
    assert URL == "/api/v1/context-events/bulk"
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(URL + "/", [event(member)], format="json")
    assert response.status_code == 200
    assert response.json()["stored"] == 1


def _post_batch(client, organization, count: int, tag: str, definition) -> tuple[int, dict]:
    """Post one event for each of ``count`` new members (each with a milestone the event
    achieves, one named by external id); returns the request's query count and its answer."""
    members = MemberFactory.create_batch(count, organization=organization)
    for member in members:
        ProgressMilestoneFactory(member=member, definition=definition)
    members[0].external_id = f"ext-{tag}"
    members[0].save()
    items = [event(m, 1, external_id=f"{tag}-{m.pk}") for m in members]
    items[0] = {k: v for k, v in items[0].items() if k != "member_id"}
    items[0]["member_external_id"] = f"ext-{tag}"
    with CaptureQueriesContext(connection) as queries:
        body = client.post(URL, items, format="json").json()
    assert body["stored"] == count
    return len(queries), body


def test_the_number_of_queries_does_not_grow_with_the_batch(api, tenant_a):
    """The request, and the follow-up that matches milestones, each in a fixed number."""
    organization = tenant_a.organization
    definition = MilestoneDefinitionFactory(organization=organization, match_event_name="logins")
    client = api(tenant_a)
    client.get(reverse("api:me"))  # the key's first use writes last_used_at once
    requests, follow_ups = [], []
    for count, tag in ((10, "small"), (100, "large")):
        queries, body = _post_batch(client, organization, count, tag, definition)
        requests.append(queries)
        with CaptureQueriesContext(connection) as queries:
            achieved = context_events_ingested(
                organization_id=organization.pk, event_ids=[a["id"] for a in body["accepted"]]
            )
        assert achieved == count
        follow_ups.append(len(queries))
    assert requests[0] == requests[1]
    assert follow_ups[0] == follow_ups[1]


def _take_follow_up(broker_queue) -> dict:
    messages = broker_queue()
    assert [m["task"] for m in messages] == ["engagement.context_events_ingested"]
    return messages[0]


def test_new_events_achieve_milestones_then_one_recompute_scores_their_members(
    api, tenant_a, broker_queue, django_capture_on_commit_callbacks
):
    organization = tenant_a.organization
    definition = MilestoneDefinitionFactory(
        organization=organization, match_event_name="course_completed", match_min_value=Decimal(3)
    )
    first, second, idle = MemberFactory.create_batch(3, organization=organization)
    early = ProgressMilestoneFactory(member=first, definition=definition)
    too_low = ProgressMilestoneFactory(member=second, definition=definition)
    untouched = ProgressMilestoneFactory(member=idle, definition=definition)
    items = [
        event(first, 5, name="course_completed", occurred_at="2026-01-07T09:00:00+00:00"),
        event(first, 4, name="course_completed", occurred_at="2026-01-06T09:00:00+00:00"),
        event(second, 2, name="course_completed"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        body = api(tenant_a).post(URL, items, format="json").json()
    assert body["stored"] == 3
    follow_up = _take_follow_up(broker_queue)
    assert follow_up["organization_id"] == organization.pk
    assert sorted(follow_up["event_ids"]) == sorted(a["id"] for a in body["accepted"])

    with django_capture_on_commit_callbacks(execute=True):
        achieved = context_events_ingested(
            organization_id=follow_up["organization_id"], event_ids=follow_up["event_ids"]
        )
    assert achieved == 1
    with organization_scope(organization):
        for milestone in (early, too_low, untouched):
            milestone.refresh_from_db()
    winner = next(a["id"] for a in body["accepted"] if a["index"] == 1)  # the earliest match
    assert early.achieved_via == ProgressMilestone.Via.RULE
    assert early.context_event_id == winner
    assert early.achieved_at == dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC)
    assert too_low.achieved_at is None and untouched.achieved_at is None

    messages = broker_queue()
    assert messages == [
        {
            "task": "outcomes.recompute_members",
            "organization_id": organization.pk,
            "member_ids": sorted([first.pk, second.pk]),
        }
    ]
    recompute_members(organization_id=organization.pk, member_ids=messages[0]["member_ids"])
    with organization_scope(organization):
        scored = dict(
            SuccessGapSnapshot.objects.for_org(organization).values_list(
                "member_id", "milestones_done"
            )
        )
    assert set(scored) == {first.pk, second.pk}
    # The recompute ran after the matching: it counts the milestone just achieved.
    assert scored[first.pk] == 1
    assert scored[second.pk] == 0


def test_a_resent_batch_sets_nothing_off(
    api, tenant_a, broker_queue, django_capture_on_commit_callbacks
):
    organization = tenant_a.organization
    definition = MilestoneDefinitionFactory(organization=organization, match_event_name="logins")
    member = MemberFactory(organization=organization)
    items = [event(member, 1)]
    client = api(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, items, format="json")
    _take_follow_up(broker_queue)
    milestone = ProgressMilestoneFactory(member=member, definition=definition)
    with django_capture_on_commit_callbacks(execute=True):
        body = client.post(URL, items, format="json").json()
    assert body["already_stored"] == 1
    assert broker_queue() == []
    with organization_scope(organization):
        milestone.refresh_from_db()
    assert milestone.achieved_at is None  # as a re-sent single event, it achieves nothing


def test_an_event_stored_singly_is_already_stored_for_the_batch(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    existing = ContextEventFactory(member=member, external_id="shared-1")
    body = api(tenant_a).post(URL, [event(member, 1, external_id="shared-1")], format="json").json()
    assert body["accepted"] == [
        {
            "index": 0,
            "id": existing.pk,
            "member": member.pk,
            "external_id": "shared-1",
            "already_stored": True,
        }
    ]
