"""The orchestration API: orchestrated events, tasks and nudges, through the same services as the
pages — an event scheduled here is announced with its nudges, one cancelled stops them, and the
domain's refusals answer 400 field by field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orchestration.events import orchestrated_event_create
from orchestration.models import Nudge, OrchestratedEvent, Task
from tests.factories import (
    EnrollmentFactory,
    MemberFactory,
    NudgeFactory,
    OrchestratedEventFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

EVENTS = reverse("api:orchestrated-events-list")
TASKS = reverse("api:tasks-list")
NUDGES = reverse("api:nudges-list")
Status = OrchestratedEvent.Status


def event_url(event: OrchestratedEvent, action: str = "detail") -> str:
    return reverse(f"api:orchestrated-events-{action}", kwargs={"event_id": event.pk})


def task_url(task: Task, action: str = "detail") -> str:
    return reverse(f"api:tasks-{action}", kwargs={"task_id": task.pk})


def nudge_url(nudge: Nudge, action: str = "detail") -> str:
    return reverse(f"api:nudges-{action}", kwargs={"nudge_id": nudge.pk})


def in_days(days: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def assert_invalid(response, *fields: str) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert set(fields) <= set(body["errors"]), body["errors"]
    return body["errors"]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def list_queries(client, url: str) -> int:
    client.get(url)  # the key's first use writes last_used_at once: count only the list
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def announced_event(tenant, *, member=None, days: float = 21, lead_days=(14, 2)):
    """An event made and announced through the service, as the pages and playbooks do."""
    return orchestrated_event_create(
        organization=tenant.organization,
        member=member or MemberFactory(organization=tenant.organization),
        title="Annual membership review",
        scheduled_for=in_days(days),
        lead_days=list(lead_days),
    )


def nudge_statuses(event: OrchestratedEvent) -> list[str]:
    nudges = Nudge.objects.for_org(event.organization_id).filter(event_id=event.pk)
    return sorted(nudges.values_list("status", flat=True))


# ---------------------------------------------------------------------------------------------
# Orchestrated events: scheduling


def event_body(who, **overrides) -> dict:
    return {
        "member": who.pk,
        "title": "Annual membership review",
        "description": "We will go through your plan.",
        "scheduled_for": iso(in_days(21)),
        "lead_days": [2, 14],
        **overrides,
    }


def test_scheduling_an_event_announces_it_and_plans_its_nudges(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(EVENTS, event_body(member), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "announced"
    assert body["lead_days"] == [14, 2]
    assert body["kind"] == "manual"
    assert body["member"] == member.pk
    event = OrchestratedEvent.objects.for_org(tenant_a.organization).get(pk=body["id"])
    assert event.announced_at is not None
    nudges = Nudge.objects.for_org(tenant_a.organization).filter(event=event)
    assert sorted(nudges.values_list("kind", flat=True)) == ["announcement", "reminder"]
    assert set(nudges.values_list("to_email", flat=True)) == {member.email}


def test_scheduling_without_announcing_leaves_it_planned(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(EVENTS, event_body(member, announce=False), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "planned"
    assert not Nudge.objects.for_org(tenant_a.organization).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"lead_days": []}, "lead_days"),
        ({"lead_days": [0]}, "lead_days"),
        ({"lead_days": [400]}, "lead_days"),
        ({"lead_days": "14"}, "lead_days"),
        ({"scheduled_for": "not a date"}, "scheduled_for"),
        ({"scheduled_for": "1890-01-01T10:00:00+00:00"}, "scheduled_for"),
        ({"scheduled_for": "9999-12-31T23:59:59-12:00"}, "scheduled_for"),
        ({"member": 10**20}, "member"),
        ({"member": "abc"}, "member"),
        ({"announce": "perhaps"}, "announce"),
    ],
)
def test_scheduling_refuses_bad_fields_field_by_field(api, tenant_a, change, field):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(EVENTS, event_body(member, **change), format="json")

    assert_invalid(response, field)
    assert not OrchestratedEvent.objects.for_org(tenant_a.organization).exists()


def test_scheduling_for_another_organizations_member_is_refused(api, tenant_a, tenant_b):
    theirs = MemberFactory(organization=tenant_b.organization)
    response = api(tenant_a).post(EVENTS, event_body(theirs), format="json")

    errors = assert_invalid(response, "member")
    assert "does not exist" in errors["member"][0]
    assert not OrchestratedEvent.objects.unscoped().exists()


def test_a_read_only_key_cannot_schedule_or_move_events(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    event = announced_event(tenant_a, member=member)
    client = api(tenant_a, scopes=["read"])

    assert client.post(EVENTS, event_body(member), format="json").status_code == 403
    for action in ("announce", "happened", "confirm", "miss", "cancel"):
        assert client.post(event_url(event, action), {}, format="json").status_code == 403
    event.refresh_from_db()
    assert event.status == Status.ANNOUNCED
    assert OrchestratedEvent.objects.for_org(tenant_a.organization).count() == 1
    assert nudge_statuses(event) == ["scheduled", "scheduled"]


def test_events_offer_no_put_patch_or_delete(api, tenant_a):
    event = announced_event(tenant_a)
    client = api(tenant_a)
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(event_url(event), {}, format="json").status_code == 405
    assert OrchestratedEvent.objects.for_org(tenant_a.organization).get().status == "announced"


# ---------------------------------------------------------------------------------------------
# Orchestrated events: moving through the lifecycle


def test_announcing_a_planned_event_plans_its_nudges(api, tenant_a):
    event = OrchestratedEventFactory(member__organization=tenant_a.organization)
    response = api(tenant_a).post(event_url(event, "announce"), format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "announced"
    assert nudge_statuses(event) == ["scheduled", "scheduled"]
    # Announcing again plans nothing new.
    assert api(tenant_a).post(event_url(event, "announce")).status_code == 200
    assert len(nudge_statuses(event)) == 2


def test_cancelling_an_event_cancels_its_pending_nudges(api, tenant_a):
    event = announced_event(tenant_a)
    client = api(tenant_a)
    response = client.post(event_url(event, "cancel"), {"reason": "Asked to skip"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["closed_at"] is not None
    assert nudge_statuses(event) == ["cancelled", "cancelled"]

    again = client.post(event_url(event, "cancel"), {}, format="json")
    errors = assert_invalid(again, "status")
    assert "cancelled" in errors["status"][0]


def test_marking_an_event_as_happened_then_confirmed(api, tenant_a):
    event = announced_event(tenant_a, days=-0.5, lead_days=(1,))
    client = api(tenant_a)

    happened = client.post(event_url(event, "happened"), {}, format="json")
    assert happened.status_code == 200, happened.content
    assert happened.json()["status"] == "happened"
    assert happened.json()["happened_at"] is not None

    confirmed = client.post(event_url(event, "confirm"), {}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "confirmed"
    event.refresh_from_db()
    assert event.status == Status.CONFIRMED and event.confirmed_at is not None


def test_confirming_an_announced_event_records_the_acknowledgement_only(api, tenant_a):
    event = announced_event(tenant_a)
    moment = timezone.now() - dt.timedelta(hours=1)
    response = api(tenant_a).post(event_url(event, "confirm"), {"at": iso(moment)}, format="json")

    assert response.status_code == 200, response.content
    event.refresh_from_db()
    assert event.status == Status.ANNOUNCED
    assert event.confirmed_at == moment


def test_a_moment_in_the_future_is_refused_on_the_at_field(api, tenant_a):
    event = announced_event(tenant_a)
    response = api(tenant_a).post(
        event_url(event, "happened"), {"at": iso(in_days(1))}, format="json"
    )

    assert_invalid(response, "at")
    event.refresh_from_db()
    assert event.status == Status.ANNOUNCED


def test_a_future_event_cannot_be_missed_but_a_past_one_can(api, tenant_a):
    client = api(tenant_a)
    future = announced_event(tenant_a)
    assert_invalid(client.post(event_url(future, "miss"), {}, format="json"), "status")

    past = announced_event(tenant_a, days=-1, lead_days=(2,))
    response = client.post(event_url(past, "miss"), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "missed"
    assert set(nudge_statuses(past)) <= {"cancelled", "sent"}


def test_a_planned_event_cannot_be_marked_as_happened(api, tenant_a):
    event = OrchestratedEventFactory(member__organization=tenant_a.organization)
    response = api(tenant_a).post(event_url(event, "happened"), {}, format="json")

    errors = assert_invalid(response, "status")
    assert "not announced yet" in errors["status"][0]


# ---------------------------------------------------------------------------------------------
# Orchestrated events: reading


def test_retrieve_shows_the_event(api, tenant_a):
    event = announced_event(tenant_a)
    body = api(tenant_a, scopes=["read"]).get(event_url(event)).json()

    assert body["id"] == event.pk
    assert body["title"] == "Annual membership review"
    assert body["status"] == "announced"
    assert body["lead_days"] == [14, 2]


def test_event_filters(api, tenant_a, tenant_b):
    organization = tenant_a.organization
    alice, bob = MemberFactory.create_batch(2, organization=organization)
    soon = announced_event(tenant_a, member=alice, days=5)
    later = OrchestratedEventFactory(member=bob, scheduled_for=in_days(40))
    enrollment = EnrollmentFactory(member=bob, playbook__organization=organization)
    from_playbook = OrchestratedEventFactory(
        member=bob, enrollment=enrollment, scheduled_for=in_days(60)
    )
    OrchestratedEventFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    assert sorted(ids(client.get(EVENTS))) == sorted([soon.pk, later.pk, from_playbook.pk])
    assert ids(client.get(EVENTS, {"member": alice.pk})) == [soon.pk]
    assert ids(client.get(EVENTS, {"status": "announced"})) == [soon.pk]
    assert ids(client.get(EVENTS, {"kind": "playbook"})) == [from_playbook.pk]
    assert sorted(ids(client.get(EVENTS, {"kind": "manual"}))) == sorted([soon.pk, later.pk])
    window = {"scheduled_since": iso(in_days(10)), "scheduled_until": iso(in_days(50))}
    assert ids(client.get(EVENTS, window)) == [later.pk]
    assert_invalid(client.get(EVENTS, {"member": 10**20}), "member")
    assert ids(client.get(EVENTS, {"member": 2**63 - 1})) == []


def test_event_updated_since_sees_moves_as_well_as_new_rows(api, tenant_a):
    old = OrchestratedEventFactory(member__organization=tenant_a.organization)
    OrchestratedEventFactory(member__organization=tenant_a.organization)  # left untouched
    three_days_ago = timezone.now() - dt.timedelta(days=3)
    OrchestratedEvent.objects.for_org(tenant_a.organization).update(
        created_at=three_days_ago, updated_at=three_days_ago
    )
    since = timezone.now() - dt.timedelta(days=1)
    client = api(tenant_a)
    assert ids(client.get(EVENTS, {"updated_since": iso(since)})) == []

    assert client.post(event_url(old, "announce")).status_code == 200
    fresh = OrchestratedEventFactory(member__organization=tenant_a.organization)
    assert sorted(ids(client.get(EVENTS, {"updated_since": iso(since)}))) == sorted(
        [old.pk, fresh.pk]
    )


@pytest.mark.parametrize(
    "query",
    [
        {"scheduled_since": "0001-01-01T00:00:00-12:00"},
        {"updated_since": "9999-12-31T23:59:59+14:00"},
        {"scheduled_until": "yesterday"},
        {"status": "sideways"},
        {"member": "abc"},
    ],
)
def test_odd_filter_values_answer_400(api, tenant_a, query):
    OrchestratedEventFactory(member__organization=tenant_a.organization)
    response = api(tenant_a).get(EVENTS, query)
    assert_invalid(response, *query)


def test_events_are_cursor_paginated_latest_first_and_orderable(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    events = [
        OrchestratedEventFactory(member=member, scheduled_for=in_days(days)) for days in range(1, 6)
    ]
    client = api(tenant_a)

    first = client.get(EVENTS, {"page_size": 2}).json()
    assert [row["id"] for row in first["results"]] == [events[4].pk, events[3].pk]
    seen = [row["id"] for row in first["results"]]
    page = first
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert seen == [event.pk for event in reversed(events)]

    ascending = client.get(EVENTS, {"ordering": "scheduled_for"})
    assert ids(ascending) == [event.pk for event in events]


def test_listing_events_costs_the_same_queries_for_3_or_30(api, tenant_a):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    OrchestratedEventFactory.create_batch(3, member=member)
    few = list_queries(client, EVENTS)
    OrchestratedEventFactory.create_batch(27, member=member)
    assert list_queries(client, EVENTS) == few


# ---------------------------------------------------------------------------------------------
# Tasks


def task_body(who, **overrides) -> dict:
    return {
        "member": who.pk,
        "title": "Call about the renewal",
        "notes": "Asked about the student rate.",
        "due_on": timezone.localdate().isoformat(),
        **overrides,
    }


def test_creating_a_task_for_a_given_owner(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(TASKS, task_body(member, owner=tenant_a.admin.pk), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] == tenant_a.admin.pk
    assert body["is_done"] is False
    task = Task.objects.for_org(tenant_a.organization).get(pk=body["id"])
    assert (task.title, task.member_id, task.owner_id) == (
        "Call about the renewal",
        member.pk,
        tenant_a.admin.pk,
    )


def test_a_task_without_owner_goes_to_the_members_owner(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).post(TASKS, task_body(member), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["owner"] == tenant_a.msm.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"due_on": "2026-02-30"}, "due_on"),
        ({"due_on": "1700-01-01"}, "due_on"),
        ({"due_on": "2026-03-01T10:00:00Z"}, "due_on"),
        ({"owner": 10**20}, "owner"),
        ({"notes": "x" * 10_001}, "notes"),
    ],
)
def test_creating_a_task_refuses_bad_fields(api, tenant_a, change, field):
    member = MemberFactory(organization=tenant_a.organization)
    assert_invalid(api(tenant_a).post(TASKS, task_body(member, **change), format="json"), field)
    assert not Task.objects.for_org(tenant_a.organization).exists()


def test_a_viewer_cannot_be_given_a_task(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(TASKS, task_body(member, owner=tenant_a.viewer.pk), format="json")
    errors = assert_invalid(response, "owner")
    assert "viewer" in errors["owner"][0]
    assert not Task.objects.for_org(tenant_a.organization).exists()


def test_a_task_cannot_name_another_organizations_member_or_seat(api, tenant_a, tenant_b):
    ours = MemberFactory(organization=tenant_a.organization)
    theirs = MemberFactory(organization=tenant_b.organization)
    client = api(tenant_a)

    assert_invalid(client.post(TASKS, task_body(theirs), format="json"), "member")
    assert_invalid(
        client.post(TASKS, task_body(ours, owner=tenant_b.msm.pk), format="json"), "owner"
    )
    task = TaskFactory(member=ours, owner=tenant_a.msm)
    assert_invalid(client.patch(task_url(task), {"owner": tenant_b.msm.pk}, format="json"), "owner")
    assert not Task.objects.unscoped().exclude(pk=task.pk).exists()
    task.refresh_from_db()
    assert task.owner_id == tenant_a.msm.pk


def test_patching_a_task_changes_only_the_fields_given(api, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization, owner=tenant_a.msm)
    due = timezone.localdate() + dt.timedelta(days=7)
    response = api(tenant_a).patch(
        task_url(task), {"title": " Postponed call ", "due_on": due.isoformat()}, format="json"
    )

    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert (task.title, task.due_on, task.owner_id) == ("Postponed call", due, tenant_a.msm.pk)
    assert response.json()["title"] == "Postponed call"


def test_patching_the_owner_to_null_unassigns_the_task(api, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).patch(task_url(task), {"owner": None}, format="json")

    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert task.owner_id is None


def test_a_refused_owner_leaves_the_other_changes_unmade(api, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).patch(
        task_url(task), {"title": "New title", "owner": tenant_a.viewer.pk}, format="json"
    )

    assert_invalid(response, "owner")
    task.refresh_from_db()
    assert (task.title, task.owner_id) == ("Follow up on the certification plan", tenant_a.msm.pk)


def test_patching_a_blank_title_is_refused(api, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization)
    assert_invalid(api(tenant_a).patch(task_url(task), {"title": ""}, format="json"), "title")


def test_completing_and_reopening_a_task(api, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization)
    client = api(tenant_a)
    moment = timezone.now() - dt.timedelta(hours=2)

    done = client.post(task_url(task, "complete"), {"at": iso(moment)}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["is_done"] is True
    task.refresh_from_db()
    assert task.done_at == moment
    # Completing again keeps the first time.
    assert client.post(task_url(task, "complete"), {}, format="json").status_code == 200
    task.refresh_from_db()
    assert task.done_at == moment

    assert_invalid(
        client.post(task_url(task, "complete"), {"at": iso(in_days(1))}, format="json"), "at"
    )
    reopened = client.post(task_url(task, "reopen"))
    assert reopened.status_code == 200
    task.refresh_from_db()
    assert task.done_at is None


def test_a_read_only_key_cannot_write_tasks(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    task = TaskFactory(member=member, owner=tenant_a.msm)
    client = api(tenant_a, scopes=["read"])

    assert client.post(TASKS, task_body(member), format="json").status_code == 403
    assert client.patch(task_url(task), {"title": "x"}, format="json").status_code == 403
    assert client.post(task_url(task, "complete"), {}, format="json").status_code == 403
    assert client.post(task_url(task, "reopen"), {}, format="json").status_code == 403
    task.refresh_from_db()
    assert (task.title, task.done_at) == ("Follow up on the certification plan", None)
    assert Task.objects.for_org(tenant_a.organization).count() == 1
    assert client.get(task_url(task)).status_code == 200


def test_tasks_offer_no_put_or_delete(api, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization)
    client = api(tenant_a)
    assert client.put(task_url(task), {"title": "x"}, format="json").status_code == 405
    assert client.delete(task_url(task)).status_code == 405
    assert Task.objects.for_org(tenant_a.organization).filter(pk=task.pk).exists()


def test_task_filters(api, tenant_a, tenant_b):
    organization = tenant_a.organization
    today = timezone.localdate()
    alice, bob = MemberFactory.create_batch(2, organization=organization)
    overdue = TaskFactory(member=alice, owner=tenant_a.msm, due_on=today - dt.timedelta(days=3))
    upcoming = TaskFactory(member=alice, owner=tenant_a.admin, due_on=today + dt.timedelta(days=5))
    done = TaskFactory(member=bob, owner=tenant_a.msm, due_on=today, done_at=timezone.now())
    unassigned = TaskFactory(member=bob, due_on=today + dt.timedelta(days=30))
    TaskFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    assert ids(client.get(TASKS)) == [overdue.pk, done.pk, upcoming.pk, unassigned.pk]
    assert ids(client.get(TASKS, {"owner": tenant_a.msm.pk})) == [overdue.pk, done.pk]
    assert ids(client.get(TASKS, {"unassigned": "true"})) == [unassigned.pk]
    assert ids(client.get(TASKS, {"member": bob.pk})) == [done.pk, unassigned.pk]
    assert ids(client.get(TASKS, {"status": "open"})) == [overdue.pk, upcoming.pk, unassigned.pk]
    assert ids(client.get(TASKS, {"status": "overdue"})) == [overdue.pk]
    assert ids(client.get(TASKS, {"status": "done"})) == [done.pk]
    window = {"due_since": today.isoformat(), "due_until": (today + dt.timedelta(days=5))}
    assert ids(client.get(TASKS, window)) == [done.pk, upcoming.pk]
    assert ids(client.get(TASKS, {"ordering": "-due_on"})) == [
        unassigned.pk,
        upcoming.pk,
        done.pk,
        overdue.pk,
    ]
    assert_invalid(client.get(TASKS, {"due_since": "0000-01-01"}), "due_since")


def test_task_updated_since_sees_changes_that_leave_no_moment_and_new_tasks(api, tenant_a):
    old, finished, handed_over = TaskFactory.create_batch(
        3, member__organization=tenant_a.organization
    )
    three_days_ago = timezone.now() - dt.timedelta(days=3)
    Task.objects.for_org(tenant_a.organization).update(
        created_at=three_days_ago, updated_at=three_days_ago
    )
    since = iso(timezone.now() - dt.timedelta(days=1))
    client = api(tenant_a)
    assert ids(client.get(TASKS, {"updated_since": since})) == []

    assert client.post(task_url(finished, "complete"), {}, format="json").status_code == 200
    body = {"owner": tenant_a.msm.pk}
    assert client.patch(task_url(handed_over), body, format="json").status_code == 200
    fresh = TaskFactory(member__organization=tenant_a.organization)
    assert sorted(ids(client.get(TASKS, {"updated_since": since}))) == sorted(
        [finished.pk, handed_over.pk, fresh.pk]
    )
    assert old.pk not in ids(client.get(TASKS, {"updated_since": since}))


def test_listing_tasks_costs_the_same_queries_for_3_or_30(api, tenant_a):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    TaskFactory.create_batch(3, member=member, owner=tenant_a.msm)
    few = list_queries(client, TASKS)
    TaskFactory.create_batch(27, member=member, owner=tenant_a.msm)
    assert list_queries(client, TASKS) == few


# ---------------------------------------------------------------------------------------------
# Nudges


def test_cancelling_a_scheduled_nudge(api, tenant_a):
    nudge = NudgeFactory(member__organization=tenant_a.organization, scheduled_for=in_days(3))
    response = api(tenant_a).post(nudge_url(nudge, "cancel"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    nudge.refresh_from_db()
    assert nudge.status == Nudge.Status.CANCELLED
    # Again: nothing more to do, same answer.
    assert api(tenant_a).post(nudge_url(nudge, "cancel")).status_code == 200


@pytest.mark.parametrize(("status", "words"), [("sent", "already sent"), ("sending", "being sent")])
def test_a_nudge_sent_or_being_sent_cannot_be_cancelled(api, tenant_a, status, words):
    nudge = NudgeFactory(member__organization=tenant_a.organization, status=status)
    response = api(tenant_a).post(nudge_url(nudge, "cancel"))

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "conflict"
    assert words in body["detail"]
    assert body["errors"] == {}
    nudge.refresh_from_db()
    assert nudge.status == status


def test_cancelling_an_events_nudge_leaves_the_others(api, tenant_a):
    event = announced_event(tenant_a)
    first, second = Nudge.objects.for_org(tenant_a.organization).filter(event=event)
    assert api(tenant_a).post(nudge_url(first, "cancel")).status_code == 200
    second.refresh_from_db()
    assert second.status == Nudge.Status.SCHEDULED
    event.refresh_from_db()
    assert event.status == Status.ANNOUNCED


def test_a_read_only_key_cannot_cancel_a_nudge(api, tenant_a):
    nudge = NudgeFactory(member__organization=tenant_a.organization)
    client = api(tenant_a, scopes=["read"])
    assert client.post(nudge_url(nudge, "cancel")).status_code == 403
    nudge.refresh_from_db()
    assert nudge.status == Nudge.Status.SCHEDULED
    assert client.get(nudge_url(nudge)).json()["status"] == "scheduled"


def test_nudges_are_read_only_apart_from_cancelling(api, tenant_a):
    nudge = NudgeFactory(member__organization=tenant_a.organization)
    client = api(tenant_a)
    assert client.post(NUDGES, {"subject": "x"}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(nudge_url(nudge), {}, format="json").status_code == 405
    assert Nudge.objects.for_org(tenant_a.organization).get().subject == nudge.subject


def test_retrieve_shows_a_nudge_without_its_internals(api, tenant_a):
    nudge = NudgeFactory(member__organization=tenant_a.organization, claim_token="secret-claim")
    body = api(tenant_a).get(nudge_url(nudge)).json()

    assert body["id"] == nudge.pk
    assert body["subject"] == "Your review is coming up"
    assert body["status"] == "scheduled"
    assert "claim_token" not in body and "idempotency_key" not in body


def test_nudge_filters(api, tenant_a, tenant_b):
    event = announced_event(tenant_a)
    announcement, reminder = (
        Nudge.objects.for_org(tenant_a.organization).filter(event=event).order_by("scheduled_for")
    )
    Nudge.objects.for_org(tenant_a.organization).filter(pk=announcement.pk).update(
        status=Nudge.Status.SENT, sent_at=timezone.now()
    )
    in_app = NudgeFactory(
        member__organization=tenant_a.organization,
        channel=Nudge.Channel.IN_APP,
        scheduled_for=in_days(30),
    )
    NudgeFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    assert ids(client.get(NUDGES)) == [in_app.pk, reminder.pk, announcement.pk]
    assert ids(client.get(NUDGES, {"event": event.pk})) == [reminder.pk, announcement.pk]
    assert ids(client.get(NUDGES, {"member": in_app.member_id})) == [in_app.pk]
    assert ids(client.get(NUDGES, {"status": "sent"})) == [announcement.pk]
    assert ids(client.get(NUDGES, {"channel": "in_app"})) == [in_app.pk]
    assert ids(client.get(NUDGES, {"kind": "reminder"})) == [reminder.pk]
    assert ids(client.get(NUDGES, {"ordering": "scheduled_for"})) == [
        announcement.pk,
        reminder.pk,
        in_app.pk,
    ]
    assert_invalid(client.get(NUDGES, {"channel": "pigeon"}), "channel")


def test_nudge_updated_since_sees_cancellations(api, tenant_a):
    cancelled, _waiting = NudgeFactory.create_batch(2, member__organization=tenant_a.organization)
    three_days_ago = timezone.now() - dt.timedelta(days=3)
    Nudge.objects.for_org(tenant_a.organization).update(
        created_at=three_days_ago, updated_at=three_days_ago
    )
    since = iso(timezone.now() - dt.timedelta(days=1))
    client = api(tenant_a)
    assert ids(client.get(NUDGES, {"updated_since": since})) == []

    assert client.post(nudge_url(cancelled, "cancel")).status_code == 200
    assert ids(client.get(NUDGES, {"updated_since": since})) == [cancelled.pk]


def test_nudges_are_cursor_paginated(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    nudges = [NudgeFactory(member=member, scheduled_for=in_days(days)) for days in range(5)]
    client = api(tenant_a)

    page = client.get(NUDGES, {"page_size": 3}).json()
    seen = [row["id"] for row in page["results"]]
    assert len(seen) == 3 and page["next"]
    page = client.get(page["next"]).json()
    seen += [row["id"] for row in page["results"]]
    assert page["next"] is None
    assert seen == [nudge.pk for nudge in reversed(nudges)]
    assert client.get(NUDGES, {"cursor": "garbage"}).status_code == 404


def test_listing_nudges_costs_the_same_queries_for_3_or_30(api, tenant_a):
    client = api(tenant_a)
    member = MemberFactory(organization=tenant_a.organization)
    NudgeFactory.create_batch(3, member=member)
    few = list_queries(client, NUDGES)
    NudgeFactory.create_batch(27, member=member)
    assert list_queries(client, NUDGES) == few
