"""The webhook API: endpoints registered, changed, rotated and removed through the services the
pages use; deliveries listed, filtered and replayed; everything needs a write-scoped key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.webhooks.helpers import deliveries, domain_event, endpoint, fanned
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = reverse("api:webhook-endpoints-list")
DELIVERIES = reverse("api:webhook-deliveries-list")
BODY = {"url": "https://127.0.0.1/in", "event_types": ["nudge.failed", "member.band_changed"]}


def endpoint_url(pk: int, action: str = "") -> str:
    if action:
        return reverse(f"api:webhook-endpoints-{action}", kwargs={"endpoint_id": pk})
    return reverse("api:webhook-endpoints-detail", kwargs={"endpoint_id": pk})


def test_registering_answers_the_secret_once(api, local_webhooks, tenant_a):
    client = api(tenant_a)
    response = client.post(ENDPOINTS, {**BODY, "description": "CRM"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    hook = WebhookEndpoint.objects.for_org(tenant_a.organization).get()
    assert body["secret"] == hook.secret and body["secret"].startswith("whsec_")
    assert body["event_types"] == hook.event_types == ["member.band_changed", "nudge.failed"]
    assert (body["url"], body["description"], body["is_active"]) == (BODY["url"], "CRM", True)
    shown = client.get(endpoint_url(hook.pk)).json()
    assert "secret" not in shown and shown["secret_hint"] == hook.secret_hint


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "url": "http://hooks.example.org/in"}, "url"),
        ({**BODY, "url": "https://10.0.0.1/in"}, "url"),
        ({**BODY, "url": "https://localhost/in"}, "url"),
        ({**BODY, "url": "x" * 501}, "url"),
        ({**BODY, "event_types": []}, "event_types"),
        ({**BODY, "event_types": ["member.deleted"]}, "event_types"),
        ({"url": BODY["url"]}, "event_types"),
        ({**BODY, "description": "d" * 201}, "description"),
    ],
)
def test_a_refused_registration_answers_400_by_field(api, settings, tenant_a, body, field):
    settings.WEBHOOK_ALLOW_INSECURE = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = api(tenant_a).post(ENDPOINTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert WebhookEndpoint.objects.for_org(tenant_a.organization).count() == 0


def test_a_read_only_key_may_neither_read_nor_change_webhooks(api, local_webhooks, tenant_a):
    hook, _ = endpoint(tenant_a.organization, "https://127.0.0.1/in")
    client = api(tenant_a, scopes=["read"])
    assert client.get(ENDPOINTS).status_code == 403
    assert client.get(DELIVERIES).status_code == 403
    assert client.post(ENDPOINTS, BODY, format="json").status_code == 403
    assert client.delete(endpoint_url(hook.pk)).status_code == 403
    assert client.post(endpoint_url(hook.pk, "rotate-secret")).status_code == 403
    assert list(WebhookEndpoint.objects.for_org(tenant_a.organization)) == [hook]


def test_an_msm_session_may_not_but_an_admin_session_may(login, local_webhooks, tenant_a):
    endpoint(tenant_a.organization, "https://127.0.0.1/in")
    accept = {"HTTP_ACCEPT": "application/json"}
    assert login(tenant_a.msm).get(ENDPOINTS, **accept).status_code == 403
    response = login(tenant_a.admin).get(ENDPOINTS, **accept)
    assert response.status_code == 200 and response.json()["count"] == 1


def test_changing_switching_off_rotating_and_removing(api, local_webhooks, tenant_a):
    org = tenant_a.organization
    hook, old = endpoint(org, "https://127.0.0.1/in")
    domain_event(org)
    [pending] = fanned(org)
    client = api(tenant_a)

    response = client.patch(
        endpoint_url(hook.pk), {"event_types": ["goal.status_changed"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["event_types"] == ["goal.status_changed"]
    refused = client.patch(endpoint_url(hook.pk), {"url": "ftp://x"}, format="json")
    assert refused.status_code == 400 and "url" in refused.json()["errors"]

    off = client.patch(endpoint_url(hook.pk), {"is_active": False}, format="json")
    assert off.status_code == 200 and off.json()["is_active"] is False
    pending.refresh_from_db()
    assert pending.status == "failed"

    rotated = client.post(endpoint_url(hook.pk, "rotate-secret"))
    hook.refresh_from_db()
    assert rotated.status_code == 200 and rotated.json()["secret"] == hook.secret != old

    assert client.delete(endpoint_url(hook.pk)).status_code == 204
    assert WebhookEndpoint.objects.for_org(org).count() == 0
    assert deliveries(org) == []


def test_deliveries_are_listed_filtered_and_replayed(api, local_webhooks, tenant_a):
    org = tenant_a.organization
    first, _ = endpoint(org, "https://127.0.0.1/a")
    second, _ = endpoint(org, "https://127.0.0.1/b", ["nudge.failed"])
    domain_event(org)
    domain_event(org, "nudge.failed", nudge_id=4)
    rows = fanned(org)
    assert len(rows) == 3
    WebhookDelivery.objects.for_org(org).filter(endpoint=second).update(
        status="failed", last_status_code=500
    )
    client = api(tenant_a)

    listing = client.get(DELIVERIES).json()
    assert [row["id"] for row in listing["results"]] == sorted(
        (row.pk for row in rows), reverse=True
    )
    failed = client.get(DELIVERIES, {"status": "failed"}).json()["results"]
    assert [(row["endpoint"], row["last_status_code"]) for row in failed] == [(second.pk, 500)]
    of_first = client.get(DELIVERIES, {"endpoint": first.pk}).json()["results"]
    assert {row["event_kind"] for row in of_first} == {"member.band_changed", "nudge.failed"}
    kinds = client.get(DELIVERIES, {"event_kind": "nudge.failed"}).json()["results"]
    assert len(kinds) == 2
    oldest = client.get(DELIVERIES, {"ordering": "pk"}).json()["results"]
    assert [row["id"] for row in oldest] == sorted(row.pk for row in rows)
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert client.get(DELIVERIES, {"updated_since": future}).json()["results"] == []
    assert client.get(DELIVERIES, {"endpoint": "x"}).status_code == 400
    assert client.get(DELIVERIES, {"status": "lost"}).status_code == 400

    [target] = failed
    url = reverse("api:webhook-deliveries-replay", kwargs={"delivery_id": target["id"]})
    replayed = client.post(url)
    assert replayed.status_code == 201
    assert (replayed.json()["replay_of"], replayed.json()["status"]) == (target["id"], "pending")
    assert replayed.json()["payload"] == target["payload"]
    pending = next(row for row in rows if row.endpoint_id == first.pk)
    refused = client.post(
        reverse("api:webhook-deliveries-replay", kwargs={"delivery_id": pending.pk})
    )
    assert refused.status_code == 400


def test_lists_take_the_same_queries_for_3_and_30_rows(api, local_webhooks, tenant_a):
    org = tenant_a.organization
    client = api(tenant_a)
    client.get(ENDPOINTS)  # the key's last use is recorded once a minute: not in the counts

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def grow(n: int) -> None:
        for i in range(n):
            endpoint(org, f"https://127.0.0.1/{i}")
            domain_event(org)
        fanned(org)

    grow(3)
    few = (count(ENDPOINTS), count(DELIVERIES))
    grow(27)
    assert (count(ENDPOINTS), count(DELIVERIES)) == few
