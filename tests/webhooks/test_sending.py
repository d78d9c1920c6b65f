"""Sending: signed POSTs checked by a real receiver on loopback, retries with backoff on a
500, giving up after the last attempt, replays signed afresh, the URL checked again at send."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.webhooks.helpers import deliveries, domain_event, endpoint, fanned
from webhooks.models import WebhookDelivery
from webhooks.sending import backoff, webhook_deliveries_send
from webhooks.services import (
    webhook_delivery_replay,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_set_active,
)

pytestmark = pytest.mark.django_db


def later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_a_delivery_is_signed_and_the_receiver_verifies_it(local_webhooks, receiver, tenant_a):
    org = tenant_a.organization
    hook, secret = endpoint(org, receiver.url)
    receiver.secret = secret
    event = domain_event(org, member_id=7, to="at_risk")
    [delivery] = fanned(org)

    report = webhook_deliveries_send()

    assert report.succeeded == 1
    [request] = receiver.received
    assert receiver.verified == [True]
    assert request.path == "/hooks/tandem?source=test"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["tandem-webhook-id"] == str(delivery.pk)
    # The signature, recomputed here from the raw bytes received.
    timestamp = request.headers["tandem-webhook-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["tandem-webhook-signature"] == f"v1={expected.hexdigest()}"
    assert abs(int(timestamp) - timezone.now().timestamp()) < 60
    assert request.json == {
        "id": f"evt_{event.pk}",
        "type": "member.band_changed",
        "occurred_at": event.occurred_at.isoformat(),
        "organization": org.slug,
        "data": {"subject_id": 7, "member_id": 7, "to": "at_risk"},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert hook.pk == delivery.endpoint_id


def test_a_wrong_secret_is_refused_by_the_receiver(local_webhooks, receiver, tenant_a):
    org = tenant_a.organization
    hook, secret = endpoint(org, receiver.url)
    receiver.secret = secret
    webhook_endpoint_rotate_secret(organization=org, endpoint=hook)  # the receiver has the old
    domain_event(org)
    fanned(org)

    report = webhook_deliveries_send()

    assert receiver.verified == [False]
    assert report.retried == 1
    [delivery] = deliveries(org)
    assert (delivery.status, delivery.last_status_code) == ("pending", 401)


def test_a_500_is_retried_after_its_backoff_then_succeeds(local_webhooks, receiver, tenant_a):
    org = tenant_a.organization
    _, receiver.secret = endpoint(org, receiver.url)
    receiver.statuses = [500]
    domain_event(org)
    fanned(org)

    first = webhook_deliveries_send()
    [delivery] = deliveries(org)
    assert first.retried == 1
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "HTTP 500: answer 500" in delivery.last_error
    assert later(25) < delivery.next_attempt_at <= later(31)  # WEBHOOK_BACKOFF_SECONDS = 30

    assert webhook_deliveries_send().claimed == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1

    second = webhook_deliveries_send(now=later(31))
    delivery.refresh_from_db()
    assert second.succeeded == 1
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    assert delivery.last_error == ""
    assert receiver.verified == [True, True]
    # Each attempt carries its own timestamp and signature, and the same id and body.
    one, two = receiver.received
    assert one.body == two.body
    assert one.headers["tandem-webhook-id"] == two.headers["tandem-webhook-id"]


def test_it_gives_up_after_the_last_attempt(local_webhooks, receiver, tenant_a):
    org = tenant_a.organization
    endpoint(org, receiver.url)
    receiver.statuses = [503, 500, 502, 500]
    domain_event(org)
    fanned(org)

    webhook_deliveries_send()
    webhook_deliveries_send(now=later(31))
    third = webhook_deliveries_send(now=later(31 + 61))

    [delivery] = deliveries(org)
    assert third.failed == 1
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 502)
    assert delivery.next_attempt_at is None
    assert webhook_deliveries_send(now=later(10_000)).claimed == 0
    assert len(receiver.received) == 3


def test_the_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 200
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 200]


def test_a_network_error_is_retried_with_the_error_recorded(local_webhooks, tenant_a):
    org = tenant_a.organization
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint(org, f"http://127.0.0.1:{port}/nobody")
    domain_event(org)
    fanned(org)

    assert webhook_deliveries_send().retried == 1
    [delivery] = deliveries(org)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "ConnectionRefusedError" in delivery.last_error


def test_a_slow_receiver_times_out(local_webhooks, receiver, tenant_a):
    local_webhooks.WEBHOOK_TIMEOUT_SECONDS = 0.3
    org = tenant_a.organization
    endpoint(org, receiver.url)
    receiver.delay = 1.0
    domain_event(org)
    fanned(org)

    assert webhook_deliveries_send().retried == 1
    [delivery] = deliveries(org)
    assert "timed out" in delivery.last_error.lower()


def test_the_url_is_checked_again_when_sending(local_webhooks, receiver, tenant_a):
    """Registered while private addresses were allowed; now they are not: nothing is sent."""
    org = tenant_a.organization
    endpoint(org, receiver.url)
    domain_event(org)
    fanned(org)
    local_webhooks.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    assert webhook_deliveries_send().retried == 1
    assert receiver.received == []
    [delivery] = deliveries(org)
    assert "Refused URL" in delivery.last_error and "127.0.0.1" in delivery.last_error


def test_dns_that_changes_after_registration_is_caught_at_send(
    local_webhooks, public_dns, tenant_a
):
    local_webhooks.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    org = tenant_a.organization
    public_dns["hooks.example.org"] = ["93.184.216.34"]
    endpoint(org, "https://hooks.example.org/tandem")
    domain_event(org)
    fanned(org)
    public_dns["hooks.example.org"] = ["10.0.0.8"]  # rebinding to the inside

    assert webhook_deliveries_send().retried == 1
    [delivery] = deliveries(org)
    assert "10.0.0.8" in delivery.last_error and delivery.last_status_code is None


def test_replay_sends_the_same_payload_signed_afresh(local_webhooks, receiver, tenant_a):
    org = tenant_a.organization
    _, receiver.secret = endpoint(org, receiver.url)
    domain_event(org)
    [original] = fanned(org)
    webhook_deliveries_send()
    original.refresh_from_db()

    replay = webhook_delivery_replay(organization=org, delivery=original)
    assert (replay.status, replay.attempts, replay.replay_of_id) == ("pending", 0, original.pk)
    assert webhook_deliveries_send(now=later(1)).succeeded == 1

    first, second = receiver.received
    assert receiver.verified == [True, True]
    assert first.body == second.body
    assert json.loads(second.body)["id"] == json.loads(first.body)["id"]
    assert second.headers["tandem-webhook-id"] == str(replay.pk) != str(original.pk)
    replay.refresh_from_db()
    assert (replay.status, replay.last_status_code) == ("succeeded", 200)
    original.refresh_from_db()
    assert (original.status, original.attempts) == ("succeeded", 1)  # its history unchanged


def test_replay_is_refused_while_pending_or_when_the_endpoint_is_off(local_webhooks, tenant_a):
    org = tenant_a.organization
    hook, _ = endpoint(org, "http://127.0.0.1:9/never")
    domain_event(org)
    [delivery] = fanned(org)
    with pytest.raises(ValidationError, match="still being sent"):
        webhook_delivery_replay(organization=org, delivery=delivery)

    webhook_endpoint_set_active(organization=org, endpoint=hook, active=False)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "switched off" in delivery.last_error
    with pytest.raises(ValidationError, match="switched off"):
        webhook_delivery_replay(organization=org, delivery=delivery)
    assert WebhookDelivery.objects.for_org(org).count() == 1


def test_a_worker_that_died_on_the_last_attempt_leaves_a_failed_delivery(local_webhooks, tenant_a):
    from webhooks.sending import deliveries_claim

    local_webhooks.WEBHOOK_MAX_ATTEMPTS = 1
    local_webhooks.WEBHOOK_LEASE_SECONDS = 60
    org = tenant_a.organization
    endpoint(org, "http://127.0.0.1:9/never")
    domain_event(org)
    fanned(org)
    _, [(pk, organization_id)] = deliveries_claim(batch_size=5, now=timezone.now())
    assert organization_id == org.pk  # … and the worker dies here

    assert webhook_deliveries_send(now=later(30)).claimed == 0  # still leased
    report = webhook_deliveries_send(now=later(61))
    assert (report.exhausted, report.claimed) == (1, 0)
    delivery = WebhookDelivery.objects.for_org(org).get(pk=pk)
    assert delivery.status == "failed" and "stopped" in delivery.last_error


def test_each_organization_gets_its_own_deliveries_signed_with_its_own_secret(
    local_webhooks, receiver, tenant_a, tenant_b
):
    a, b = tenant_a.organization, tenant_b.organization
    _, secret_a = endpoint(a, receiver.url)
    _, secret_b = endpoint(b, receiver.url + "&org=b")
    domain_event(a, member_id=1)
    domain_event(b, member_id=2)
    fanned(a), fanned(b)

    assert webhook_deliveries_send().succeeded == 2
    by_org = {request.json["organization"]: request for request in receiver.received}
    assert set(by_org) == {a.slug, b.slug}
    assert by_org[b.slug].path.endswith("&org=b")
    from webhooks.signing import verify

    for slug, secret in ((a.slug, secret_a), (b.slug, secret_b)):
        request = by_org[slug]
        assert verify(
            secret=secret,
            timestamp=request.headers["tandem-webhook-timestamp"],
            body=request.body,
            header=request.headers["tandem-webhook-signature"],
        )
    assert by_org[a.slug].json["data"]["member_id"] == 1
    assert by_org[b.slug].json["data"]["member_id"] == 2
