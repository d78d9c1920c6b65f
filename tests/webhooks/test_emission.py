"""The domain events webhooks announce that orchestration writes: ``event.confirmed`` when a
member's confirmation is recorded, ``nudge.failed`` when a nudge fails for good."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from orchestration.dispatch import (
    LEASE_EXPIRED,
    nudge_send,
    nudges_claim,
    nudges_dispatch,
    nudges_release_stale,
)
from orchestration.events import orchestrated_event_confirm
from orchestration.models import Nudge, OrchestratedEvent
from tenancy.models import DomainEvent
from tests.factories import NudgeFactory, OrchestratedEventFactory
from tests.webhooks.helpers import endpoint, fanned

pytestmark = pytest.mark.django_db
HERE = "tests.webhooks.test_emission"


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server said no")


def events(organization, kind: str) -> list[DomainEvent]:
    return list(DomainEvent.objects.for_org(organization).filter(kind=kind).order_by("pk"))


def test_a_recorded_confirmation_emits_event_confirmed_once(local_webhooks, tenant_a, tenant_b):
    org = tenant_a.organization
    hook, _ = endpoint(org, "http://127.0.0.1:9/", ["event.confirmed"])
    now = timezone.now()
    event = OrchestratedEventFactory(
        member__organization=org,
        status=OrchestratedEvent.Status.HAPPENED,
        announced_at=now,
        happened_at=now,
        scheduled_for=now - dt.timedelta(days=1),
    )
    confirmed_at = now - dt.timedelta(minutes=5)

    assert orchestrated_event_confirm(organization=org, event=event, at=confirmed_at).recorded
    assert not orchestrated_event_confirm(organization=org, event=event).recorded

    [emitted] = events(org, "event.confirmed")
    assert emitted.subject_id == event.pk and emitted.occurred_at == confirmed_at
    assert emitted.payload == {
        "event_id": event.pk,
        "member_id": event.member_id,
        "title": event.title,
        "status": "confirmed",
        "scheduled_for": event.scheduled_for.isoformat(),
        "happened_at": now.isoformat(),
        "confirmed_at": confirmed_at.isoformat(),
    }
    assert events(tenant_b.organization, "event.confirmed") == []
    # …and it reaches the subscribed endpoint (its occurred_at predates the endpoint, so send
    # it through an endpoint registered before the confirmation time).
    hook.created_at = confirmed_at - dt.timedelta(minutes=1)
    hook.save(update_fields=["created_at"])
    [delivery] = fanned(org)
    assert delivery.payload["type"] == "event.confirmed"
    assert delivery.payload["data"]["event_id"] == event.pk


def test_an_acknowledgement_before_the_event_also_emits(tenant_a):
    org = tenant_a.organization
    event = OrchestratedEventFactory(
        member__organization=org,
        status=OrchestratedEvent.Status.ANNOUNCED,
        announced_at=timezone.now(),
    )
    orchestrated_event_confirm(organization=org, event=event)
    [emitted] = events(org, "event.confirmed")
    assert emitted.payload["status"] == "announced" and emitted.payload["happened_at"] is None


def test_a_nudge_that_cannot_be_sent_emits_nudge_failed(settings, tmp_path, tenant_a):
    settings.EMAIL_FILE_PATH = str(tmp_path)
    org = tenant_a.organization
    nudge = NudgeFactory(member__organization=org, to_email="")
    token, [pk] = nudges_claim(batch_size=5, now=timezone.now())

    assert nudge_send(nudge_id=pk, claim_token=token) == "failed"
    [emitted] = events(org, "nudge.failed")
    assert emitted.subject_id == nudge.pk
    assert emitted.payload == {
        "nudge_id": nudge.pk,
        "member_id": nudge.member_id,
        "seat_id": None,
        "channel": "email",
        "attempts": 1,
        "error": "PermanentSendError: This nudge has no email address to send to.",
    }


def test_a_retried_nudge_emits_only_when_it_finally_fails(settings, tenant_a):
    settings.EMAIL_BACKEND = f"{HERE}.RefusingBackend"
    settings.NUDGE_MAX_ATTEMPTS = 2
    org = tenant_a.organization
    nudge = NudgeFactory(member__organization=org)

    nudges_dispatch(budget_seconds=5)
    assert Nudge.objects.for_org(org).get(pk=nudge.pk).status == "scheduled"
    assert events(org, "nudge.failed") == []

    Nudge.objects.for_org(org).filter(pk=nudge.pk).update(scheduled_for=timezone.now())
    assert nudges_dispatch(budget_seconds=5).failed == 1
    [emitted] = events(org, "nudge.failed")
    assert emitted.payload["attempts"] == 2
    assert "mail server said no" in emitted.payload["error"]


def test_a_nudge_whose_workers_kept_dying_emits_when_released_as_failed(
    settings, tenant_a, tenant_b
):
    settings.NUDGE_MAX_ATTEMPTS = 1
    dying = NudgeFactory(member__organization=tenant_a.organization)
    other = NudgeFactory(member__organization=tenant_b.organization)
    now = timezone.now()
    nudges_claim(batch_size=5, now=now)

    assert nudges_release_stale(lease_seconds=60, now=now + dt.timedelta(seconds=61)) == 2
    for organization, nudge in ((tenant_a.organization, dying), (tenant_b.organization, other)):
        [emitted] = events(organization, "nudge.failed")
        assert emitted.subject_id == nudge.pk
        assert emitted.payload["error"] == LEASE_EXPIRED
        assert Nudge.objects.for_org(organization).get(pk=nudge.pk).status == "failed"
    assert nudges_release_stale(lease_seconds=60, now=now + dt.timedelta(seconds=120)) == 0
    assert len(events(tenant_a.organization, "nudge.failed")) == 1
