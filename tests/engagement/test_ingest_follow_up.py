"""A bulk batch's follow-up is kept until the worker has done it, so a lost task is sent again.

The batch writes an ``IngestFollowUp`` in its own transaction; the task marks it done in the
follow-up's transaction; a sweep sends the task again for rows left pending too long (here the
broker really is the test broker: what the sweep sends is read back from its queue and run).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from engagement.models import IngestFollowUp
from engagement.services import ingest_follow_ups_resend
from engagement.tasks import context_events_ingested, resend_ingest_follow_ups
from milestones.models import ProgressMilestone
from tenancy.scope import organization_scope
from tests.factories import MemberFactory, MilestoneDefinitionFactory, ProgressMilestoneFactory

pytestmark = pytest.mark.django_db
URL = reverse("api:context-events-bulk")


def _ingest(api, tenant, member, tag: str, django_capture_on_commit_callbacks) -> dict:
    item = {
        "member_id": member.pk,
        "kind": "activity",
        "name": "course_completed",
        "value": 5,
        "occurred_at": "2026-01-05T09:00:00+00:00",
        "external_id": f"follow-up-{tag}",
    }
    with django_capture_on_commit_callbacks(execute=True):
        body = api(tenant).post(URL, [item], format="json").json()
    assert body["stored"] == 1
    return body


def _age(follow_up: IngestFollowUp, minutes: int) -> None:
    IngestFollowUp.objects.unscoped().filter(pk=follow_up.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=minutes)
    )


def test_a_lost_follow_up_is_sent_again_and_then_done(
    api, tenant_a, tenant_b, broker_queue, django_capture_on_commit_callbacks
):
    organization = tenant_a.organization
    definition = MilestoneDefinitionFactory(
        organization=organization, match_event_name="course_completed"
    )
    member = MemberFactory(organization=organization)
    milestone = ProgressMilestoneFactory(member=member, definition=definition)
    body = _ingest(api, tenant_a, member, "lost", django_capture_on_commit_callbacks)

    follow_up = IngestFollowUp.objects.for_org(organization).get()
    assert follow_up.event_ids == [body["accepted"][0]["id"]] and follow_up.done_at is None
    sent = broker_queue()  # the first send, taken and dropped: this task is "lost"
    assert [m["follow_up_id"] for m in sent] == [follow_up.pk]

    # Not yet overdue: the sweep leaves it alone (its task may just be queued behind others).
    assert ingest_follow_ups_resend() == 0
    assert broker_queue() == []
    _age(follow_up, settings.INGEST_FOLLOW_UP_RESEND_MINUTES + 1)
    assert resend_ingest_follow_ups() == 1
    (again,) = broker_queue()
    assert again["task"] == "engagement.context_events_ingested"
    assert (again["organization_id"], again["follow_up_id"]) == (organization.pk, follow_up.pk)

    achieved = context_events_ingested(
        organization_id=again["organization_id"],
        event_ids=again["event_ids"],
        follow_up_id=again["follow_up_id"],
    )
    assert achieved == 1
    with organization_scope(organization):
        milestone.refresh_from_db()
        follow_up.refresh_from_db()
    assert milestone.achieved_via == ProgressMilestone.Via.RULE
    assert follow_up.done_at is not None
    # Done: never sent again. The other organization has no follow-up of its own.
    assert ingest_follow_ups_resend() == 0
    assert not IngestFollowUp.objects.for_org(tenant_b.organization).exists()


def test_the_task_marks_its_follow_up_done_and_a_second_run_achieves_nothing(
    api, tenant_a, broker_queue, django_capture_on_commit_callbacks
):
    organization = tenant_a.organization
    definition = MilestoneDefinitionFactory(
        organization=organization, match_event_name="course_completed"
    )
    member = MemberFactory(organization=organization)
    ProgressMilestoneFactory(member=member, definition=definition)
    _ingest(api, tenant_a, member, "twice", django_capture_on_commit_callbacks)
    (message,) = broker_queue()
    kwargs = {k: message[k] for k in ("organization_id", "event_ids", "follow_up_id")}

    assert context_events_ingested(**kwargs) == 1
    assert context_events_ingested(**kwargs) == 0
    follow_up = IngestFollowUp.objects.for_org(organization).get(pk=kwargs["follow_up_id"])
    assert follow_up.done_at is not None


def test_done_follow_ups_are_removed_after_a_day(tenant_a):
    organization = tenant_a.organization
    now = timezone.now()
    old, recent, pending = (
        IngestFollowUp.objects.for_org(organization).create(
            organization=organization, event_ids=[1]
        )
        for _ in range(3)
    )
    IngestFollowUp.objects.for_org(organization).filter(pk=old.pk).update(
        done_at=now - dt.timedelta(days=2)
    )
    IngestFollowUp.objects.for_org(organization).filter(pk=recent.pk).update(
        done_at=now - dt.timedelta(hours=2)
    )
    # The pending one is not overdue yet, so nothing is sent.
    assert ingest_follow_ups_resend(now=now) == 0
    left = set(IngestFollowUp.objects.for_org(organization).values_list("pk", flat=True))
    assert left == {recent.pk, pending.pk}


def test_the_resend_sweep_is_on_the_beat_with_an_expiry():
    entry = settings.CELERY_BEAT_SCHEDULE["engagement-resend-ingest-follow-ups"]
    assert entry["task"] == "engagement.resend_ingest_follow_ups"
    assert 0 < entry["options"]["expires"] <= entry["schedule"]
