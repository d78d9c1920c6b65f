"""``updated_at`` on tasks, orchestrated events and nudges moves with every write — the guarded
UPDATEs of the services and the dispatcher's raw SQL too — so ``?updated_since=`` finds the
changes that leave no moment of their own (a task reassigned or reopened, a nudge cancelled or
released) as well as those that do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orchestration.dispatch import Outcome, nudge_send, nudges_claim, nudges_release_stale
from orchestration.events import (
    MISSED_AFTER,
    orchestrated_event_announce,
    orchestrated_event_cancel,
    orchestrated_event_confirm,
    orchestrated_event_create,
    orchestrated_event_mark_happened,
    orchestrated_event_mark_missed,
    orchestrated_events_mark_missed,
)
from orchestration.models import Nudge, OrchestratedEvent, Task
from orchestration.nudges import NudgeSpec, nudge_cancel, nudges_plan, nudges_requeue_failed
from orchestration.tasks_services import task_complete, task_edit, task_reassign, task_reopen
from tests.factories import MemberFactory, OrchestratedEventFactory, TaskFactory

pytestmark = pytest.mark.django_db

EVENTS = reverse("api:orchestrated-events-list")
TASKS = reverse("api:tasks-list")
NUDGES = reverse("api:nudges-list")
Status = OrchestratedEvent.Status
LONG_AGO = dt.timedelta(days=3)
SINCE = dt.timedelta(days=1)
REFUSING = "tests.orchestration.test_dispatch.RefusingBackend"


def backdate(*rows) -> dt.datetime:
    """Make the rows look untouched for three days; returns an instant a day ago, which a
    client that synced then would send as ``updated_since``."""
    for row in rows:
        type(row).objects.for_org(row.organization_id).filter(pk=row.pk).update(
            created_at=timezone.now() - LONG_AGO, updated_at=timezone.now() - LONG_AGO
        )
    return timezone.now() - SINCE


def updated_ids(client, url: str, since: dt.datetime) -> list[int]:
    response = client.get(url, {"updated_since": since.isoformat()})
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


def assert_moved(client, url: str, row, since: dt.datetime) -> None:
    """The row's ``updated_at`` moved past ``since``, and the list's ``updated_since`` finds it
    (and only it: the test's other rows were left as they were), showing the new value."""
    before = timezone.now()
    fresh = type(row).objects.for_org(row.organization_id).get(pk=row.pk)
    assert since < fresh.updated_at <= before
    assert updated_ids(client, url, since) == [row.pk]
    shown = client.get(url, {"updated_since": since.isoformat()}).json()["results"][0]
    assert dt.datetime.fromisoformat(shown["updated_at"]) == fresh.updated_at


@pytest.fixture
def member(tenant_a):
    return MemberFactory(organization=tenant_a.organization, email="ada@example.test")


# --- tasks ---------------------------------------------------------------------------------------


def _reassign(tenant, task):
    task_reassign(organization=tenant.organization, task=task, owner=tenant.msm)


def _unassign(tenant, task):
    task_reassign(organization=tenant.organization, task=task, owner=None)


def _edit(tenant, task):
    task_edit(organization=tenant.organization, task=task, notes="Call before Friday.")


def _complete(tenant, task):
    task_complete(organization=tenant.organization, task=task)


def _reopen(tenant, task):
    task_reopen(organization=tenant.organization, task=task)


@pytest.mark.parametrize(
    "change", [_reassign, _unassign, _edit, _complete, _reopen], ids=lambda f: f.__name__[1:]
)
def test_every_task_change_moves_updated_at(api, tenant_a, member, change: Callable):
    task = TaskFactory(member=member, owner=tenant_a.admin)
    if change is _reopen:
        task_complete(organization=tenant_a.organization, task=task)
    untouched = TaskFactory(member=member)
    since = backdate(task, untouched)
    client = api(tenant_a)
    assert updated_ids(client, TASKS, since) == []

    change(tenant_a, task)

    assert_moved(client, TASKS, task, since)


def test_reopening_an_open_task_leaves_updated_at_alone(tenant_a, member):
    task = TaskFactory(member=member)
    backdate(task)
    stamp = Task.objects.for_org(tenant_a.organization).get(pk=task.pk).updated_at

    task_reopen(organization=tenant_a.organization, task=task)

    assert Task.objects.for_org(tenant_a.organization).get(pk=task.pk).updated_at == stamp


def test_a_new_task_is_found_by_updated_since(api, tenant_a, member):
    since = timezone.now() - SINCE
    task = TaskFactory(member=member)
    assert updated_ids(api(tenant_a), TASKS, since) == [task.pk]


# --- orchestrated events -------------------------------------------------------------------------


def make_event(tenant, member, *, days: float = 21, announce: bool = True) -> OrchestratedEvent:
    return orchestrated_event_create(
        organization=tenant.organization,
        member=member,
        title="Annual membership review",
        scheduled_for=timezone.now() + dt.timedelta(days=days),
        lead_days=[14, 2],
        announce=announce,
    )


def _announce(tenant, event):
    orchestrated_event_announce(organization=tenant.organization, event=event)


def _happen(tenant, event):
    orchestrated_event_mark_happened(organization=tenant.organization, event=event)


def _confirm(tenant, event):
    orchestrated_event_confirm(organization=tenant.organization, event=event)


def _miss(tenant, event):
    orchestrated_event_mark_missed(organization=tenant.organization, event=event, at=timezone.now())


def _sweep(tenant, event):
    assert orchestrated_events_mark_missed(organization=tenant.organization) == 1


def _cancel(tenant, event):
    orchestrated_event_cancel(organization=tenant.organization, event=event, reason="Moved.")


EVENT_CHANGES = {
    # change: (days until the event, announced first, status after)
    _announce: (21, False, Status.ANNOUNCED),
    _happen: (21, True, Status.HAPPENED),
    _confirm: (21, True, Status.ANNOUNCED),  # acknowledged before it happens: a moment only
    _miss: (-1, True, Status.MISSED),
    _sweep: (-(MISSED_AFTER.days + 1), True, Status.MISSED),
    _cancel: (21, True, Status.CANCELLED),
}


@pytest.mark.parametrize("change", list(EVENT_CHANGES), ids=lambda f: f.__name__[1:])
def test_every_event_move_moves_updated_at(api, tenant_a, member, change: Callable):
    days, announce, status = EVENT_CHANGES[change]
    event = make_event(tenant_a, member, days=days, announce=announce)
    untouched = make_event(tenant_a, MemberFactory(organization=tenant_a.organization), days=30)
    since = backdate(event, untouched)
    client = api(tenant_a)
    assert updated_ids(client, EVENTS, since) == []

    change(tenant_a, event)

    assert OrchestratedEvent.objects.for_org(tenant_a.organization).get(pk=event.pk).status == (
        status
    )
    assert_moved(client, EVENTS, event, since)


def test_confirming_after_it_happened_moves_updated_at_again(api, tenant_a, member):
    event = make_event(tenant_a, member)
    _happen(tenant_a, event)
    since = backdate(event)

    _confirm(tenant_a, event)

    assert updated_ids(api(tenant_a), EVENTS, since) == [event.pk]


@pytest.mark.parametrize("change", [_happen, _miss, _sweep, _cancel], ids=lambda f: f.__name__[1:])
def test_the_nudges_an_event_move_cancels_move_too(api, tenant_a, member, change: Callable):
    days, _, _ = EVENT_CHANGES[change]
    event = make_event(tenant_a, member, days=days)
    nudges = list(Nudge.objects.for_org(tenant_a.organization).filter(event=event))
    scheduled = [n for n in nudges if n.status == Nudge.Status.SCHEDULED]
    assert scheduled
    since = backdate(*nudges)

    change(tenant_a, event)

    cancelled = Nudge.objects.for_org(tenant_a.organization).filter(
        event=event, status=Nudge.Status.CANCELLED
    )
    assert sorted(cancelled.values_list("pk", flat=True)) == sorted(n.pk for n in scheduled)
    assert updated_ids(api(tenant_a), NUDGES, since) == sorted(n.pk for n in scheduled)


def test_an_event_with_no_change_keeps_its_updated_at(tenant_a, member):
    """Confirming twice records nothing the second time, and says so: the row is not touched."""
    event = make_event(tenant_a, member)
    _confirm(tenant_a, event)
    backdate(event)
    stamp = OrchestratedEvent.objects.for_org(tenant_a.organization).get(pk=event.pk).updated_at

    assert orchestrated_event_confirm(organization=tenant_a.organization, event=event).recorded is (
        False
    )
    assert (
        OrchestratedEvent.objects.for_org(tenant_a.organization).get(pk=event.pk).updated_at
        == stamp
    )


# --- nudges --------------------------------------------------------------------------------------

DUE = timezone.now() - dt.timedelta(hours=2)


def plan_one(tenant, member, key: str, *, to_email: str | None = None) -> Nudge:
    spec = NudgeSpec(
        idempotency_key=key,
        subject="Your review is coming up",
        body="We will review your plan together.",
        scheduled_for=DUE,
        member_id=member.pk,
        to_email=member.email if to_email is None else to_email,
    )
    assert nudges_plan(organization=tenant.organization, specs=[spec]) == 1
    return Nudge.objects.for_org(tenant.organization).get(idempotency_key=key)


def claim(nudge: Nudge, *, now: dt.datetime = DUE) -> str:
    token, claimed = nudges_claim(batch_size=10, now=now)
    assert claimed == [nudge.pk]
    return token


def test_planning_sets_updated_at(tenant_a, member):
    before = timezone.now()
    nudge = plan_one(tenant_a, member, "planned")
    assert before <= nudge.updated_at == nudge.created_at <= timezone.now()


@pytest.fixture
def outbox(settings, tmp_path):
    settings.EMAIL_BACKEND = "orchestration.email.OutboxEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")


def test_claiming_moves_updated_at_to_now_whatever_the_claims_clock(api, tenant_a, member):
    nudge = plan_one(tenant_a, member, "claimed")
    since = backdate(nudge)

    claim(nudge)  # the claim's own clock is two hours back; updated_at is the real now

    assert_moved(api(tenant_a), NUDGES, nudge, since)
    fresh = Nudge.objects.for_org(tenant_a.organization).get(pk=nudge.pk)
    assert fresh.status == Nudge.Status.SENDING and fresh.claimed_at == DUE


def _sent(tenant, nudge, settings):
    token = claim(nudge)
    backdate(nudge)
    assert nudge_send(nudge_id=nudge.pk, claim_token=token) == Outcome.SENT
    return Nudge.Status.SENT


def _failed_for_good(tenant, nudge, settings):
    Nudge.objects.for_org(tenant.organization).filter(pk=nudge.pk).update(to_email="")
    token = claim(nudge)
    backdate(nudge)
    assert nudge_send(nudge_id=nudge.pk, claim_token=token) == Outcome.FAILED
    return Nudge.Status.FAILED


def _retried(tenant, nudge, settings):
    settings.EMAIL_BACKEND = REFUSING
    token = claim(nudge)
    backdate(nudge)
    assert nudge_send(nudge_id=nudge.pk, claim_token=token) == Outcome.RETRY
    return Nudge.Status.SCHEDULED


def _release(nudge) -> None:
    claim(nudge, now=timezone.now() - dt.timedelta(hours=1))
    backdate(nudge)
    assert nudges_release_stale(lease_seconds=300) == 1


def _released(tenant, nudge, settings):
    _release(nudge)
    return Nudge.Status.SCHEDULED


def _released_as_failed(tenant, nudge, settings):
    settings.NUDGE_MAX_ATTEMPTS = 1
    _release(nudge)
    return Nudge.Status.FAILED


def _cancelled(tenant, nudge, settings):
    backdate(nudge)
    nudge_cancel(organization=tenant.organization, nudge=nudge)
    return Nudge.Status.CANCELLED


def _requeued(tenant, nudge, settings):
    _failed_for_good(tenant, nudge, settings)
    backdate(nudge)
    assert nudges_requeue_failed(organization=tenant.organization, nudge_ids=[nudge.pk]) == 1
    return Nudge.Status.SCHEDULED


@pytest.mark.parametrize(
    "change",
    [_sent, _failed_for_good, _retried, _released, _released_as_failed, _cancelled, _requeued],
    ids=lambda f: f.__name__[1:],
)
def test_every_nudge_change_moves_updated_at(
    api, settings, outbox, tenant_a, member, change: Callable
):
    nudge = plan_one(tenant_a, member, "changing")
    untouched = Nudge.objects.for_org(tenant_a.organization).get(
        pk=plan_one(tenant_a, member, "untouched").pk
    )
    Nudge.objects.for_org(tenant_a.organization).filter(pk=untouched.pk).update(
        scheduled_for=timezone.now() + dt.timedelta(days=30)  # never claimed here
    )
    backdate(untouched)
    since = timezone.now() - SINCE

    status = change(tenant_a, nudge, settings)

    assert Nudge.objects.for_org(tenant_a.organization).get(pk=nudge.pk).status == status
    assert_moved(api(tenant_a), NUDGES, nudge, since)


def test_a_refused_cancel_leaves_updated_at_alone(outbox, tenant_a, member):
    nudge = plan_one(tenant_a, member, "sent")
    _sent(tenant_a, nudge, None)
    backdate(nudge)
    stamp = Nudge.objects.for_org(tenant_a.organization).get(pk=nudge.pk).updated_at

    with pytest.raises(Exception, match="already sent"):
        nudge_cancel(organization=tenant_a.organization, nudge=nudge)

    assert Nudge.objects.for_org(tenant_a.organization).get(pk=nudge.pk).updated_at == stamp


# --- the lists -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [EVENTS, TASKS, NUDGES])
def test_updated_since_answers_in_constant_queries(api, tenant_a, member, url):
    client = api(tenant_a)
    since = (timezone.now() - SINCE).isoformat()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, {"updated_since": since}).status_code == 200
        return len(captured)

    def add(count: int) -> None:
        for i in range(count):
            if url == EVENTS:
                OrchestratedEventFactory(member=member)
            elif url == TASKS:
                TaskFactory(member=member, owner=tenant_a.msm)
            else:
                plan_one(tenant_a, member, f"q-{timezone.now().timestamp()}-{i}")

    client.get(url)  # the key's first use writes last_used_at once: count only the list
    add(3)
    few = queries()
    add(27)
    assert queries() == few


def test_updated_at_is_read_only_on_the_api(api, tenant_a, member):
    task = TaskFactory(member=member)
    since = backdate(task)
    url = reverse("api:tasks-detail", kwargs={"task_id": task.pk})
    body = {"title": "Call about the renewal", "updated_at": "2001-01-01T00:00:00Z"}
    response = api(tenant_a).patch(url, body, format="json")
    assert response.status_code == 200, response.content
    assert dt.datetime.fromisoformat(response.json()["updated_at"]) > since


# --- the migration's backfill --------------------------------------------------------------------


def test_the_backfill_takes_each_rows_latest_moment_never_the_future(tenant_a, member):
    backfill = import_module("orchestration.migrations.0003_updated_at").backfill
    # The models as the migration sees them (plain managers, no organization scope).
    state = MigrationLoader(connection).project_state(("orchestration", "0003_updated_at"))
    at = timezone.now().replace(microsecond=0)
    task = TaskFactory(member=member)
    Task.objects.for_org(tenant_a.organization).filter(pk=task.pk).update(
        created_at=at - dt.timedelta(days=5), done_at=at - dt.timedelta(days=2)
    )
    open_task = TaskFactory(member=member)
    Task.objects.for_org(tenant_a.organization).filter(pk=open_task.pk).update(
        created_at=at - dt.timedelta(days=4)
    )
    event = OrchestratedEventFactory(member=member)
    OrchestratedEvent.objects.for_org(tenant_a.organization).filter(pk=event.pk).update(
        created_at=at - dt.timedelta(days=9),
        announced_at=at - dt.timedelta(days=8),
        confirmed_at=at - dt.timedelta(days=6),
    )
    ahead = OrchestratedEventFactory(member=member)
    OrchestratedEvent.objects.for_org(tenant_a.organization).filter(pk=ahead.pk).update(
        created_at=at - dt.timedelta(days=9), announced_at=at + dt.timedelta(days=300)
    )
    nudge = plan_one(tenant_a, member, "backfilled")
    Nudge.objects.for_org(tenant_a.organization).filter(pk=nudge.pk).update(
        created_at=at - dt.timedelta(days=7),
        claimed_at=at - dt.timedelta(days=3),
        sent_at=at - dt.timedelta(days=1),
    )

    class Editor:
        connection = connection

    backfill(state.apps, Editor())

    def stamp(model, row):
        return model.objects.for_org(tenant_a.organization).get(pk=row.pk).updated_at

    assert stamp(Task, task) == at - dt.timedelta(days=2)
    assert stamp(Task, open_task) == at - dt.timedelta(days=4)
    assert stamp(OrchestratedEvent, event) == at - dt.timedelta(days=6)
    assert at <= stamp(OrchestratedEvent, ahead) <= timezone.now()
    assert stamp(Nudge, nudge) == at - dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("action", "body"),
    [("complete", {}), ("reopen", {}), ("detail", {"owner": None}), ("detail", {"notes": "Hi"})],
)
def test_a_task_action_answers_with_the_new_updated_at(api, tenant_a, member, action, body):
    task = TaskFactory(member=member, owner=tenant_a.msm)
    if action == "reopen":
        task_complete(organization=tenant_a.organization, task=task)
    since = backdate(task)
    url = reverse(f"api:tasks-{action}", kwargs={"task_id": task.pk})
    client = api(tenant_a)
    response = (client.patch if action == "detail" else client.post)(url, body, format="json")
    assert response.status_code == 200, response.content
    shown = dt.datetime.fromisoformat(response.json()["updated_at"])
    assert since < shown == Task.objects.for_org(tenant_a.organization).get(pk=task.pk).updated_at


def test_cancelling_a_nudge_answers_with_the_new_updated_at(api, tenant_a, member):
    nudge = plan_one(tenant_a, member, "cancel-me")
    since = backdate(nudge)
    url = reverse("api:nudges-cancel", kwargs={"nudge_id": nudge.pk})
    response = api(tenant_a).post(url, {}, format="json")
    assert response.status_code == 200, response.content
    shown = dt.datetime.fromisoformat(response.json()["updated_at"])
    assert since < shown == Nudge.objects.for_org(tenant_a.organization).get(pk=nudge.pk).updated_at
