"""Settings · Webhooks: admins register endpoints (secret shown once), switch them off, rotate
secrets, remove them, see deliveries and replay them; errors come back on the form's fields."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.webhooks.helpers import domain_event, endpoint, fanned
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.sending import webhook_deliveries_send

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'value="(whsec_[A-Za-z0-9_-]{43})"')
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"webhooks:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def endpoints(tenant) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.for_org(tenant.organization))


def test_the_settings_navigation_links_the_page(login, tenant_a):
    body = login(tenant_a.admin).get(url("endpoint_list", tenant_a)).content.decode()
    assert f'href="{url("endpoint_list", tenant_a)}" aria-current="page">Webhooks' in body
    assert 'id="webhooks-area"' in body and "No endpoint yet." in body
    overview = reverse("tenancy:settings", kwargs={"org_slug": tenant_a.organization.slug})
    assert url("endpoint_list", tenant_a) in login(tenant_a.admin).get(overview).content.decode()


def test_an_endpoint_is_added_and_its_secret_shown_once(login, local_webhooks, tenant_a):
    client = login(tenant_a.admin)
    response = client.post(
        url("endpoint_new", tenant_a),
        {
            "url": "https://127.0.0.1:8443/in",
            "description": "CRM sync",
            "event_types": ["nudge.failed", "member.band_changed"],
        },
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = SECRET.search(response.content.decode()).group(1)
    [hook] = endpoints(tenant_a)
    assert (hook.url, hook.description, hook.secret) == (
        "https://127.0.0.1:8443/in",
        "CRM sync",
        secret,
    )
    assert hook.event_types == ["member.band_changed", "nudge.failed"]
    assert hook.created_by == tenant_a.admin and hook.is_active
    listing = client.get(url("endpoint_list", tenant_a)).content.decode()
    assert secret not in listing and hook.secret_hint in listing
    assert "Member band changed, Nudge failed" in listing


def test_adding_through_htmx_answers_the_area(login, local_webhooks, tenant_a):
    response = login(tenant_a.admin).post(
        url("endpoint_new", tenant_a),
        {"url": "https://127.0.0.1/in", "event_types": ["goal.status_changed"]},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="webhooks-area"' in body
    assert SECRET.search(body)


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"url": "http://hooks.example.org/in", "event_types": ["nudge.failed"]}, "https://"),
        ({"url": "https://127.0.0.1/in", "event_types": ["nudge.failed"]}, "127.0.0.1"),
        ({"url": "https://localhost/in", "event_types": ["nudge.failed"]}, "points to"),
        ({"url": "https://10.0.0.1/in"}, "Choose at least one event type."),
        ({"url": "https://10.0.0.1/in", "event_types": ["member.deleted"]}, "valid choice"),
        ({"url": "", "event_types": ["nudge.failed"]}, "This field is required."),
    ],
)
def test_a_refused_endpoint_shows_the_reason_on_its_field(
    login, settings, tenant_a, data, field_error
):
    settings.WEBHOOK_ALLOW_INSECURE = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    response = login(tenant_a.admin).post(url("endpoint_new", tenant_a), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'class="field-error" role="alert">[^<]*' + re.escape(field_error), body)
    assert not SECRET.search(body)
    assert endpoints(tenant_a) == []


@pytest.mark.parametrize("role", ["msm", "viewer"])
def test_only_admins_see_or_change_webhooks(login, local_webhooks, tenant_a, role):
    hook, _ = endpoint(tenant_a.organization, "https://127.0.0.1/in")
    client = login(tenant_a.seat(role))
    assert client.get(url("endpoint_list", tenant_a)).status_code == 403
    assert client.get(url("endpoint", tenant_a, endpoint_id=hook.pk)).status_code == 403
    data = {"url": "https://127.0.0.1/x", "event_types": ["nudge.failed"]}
    assert client.post(url("endpoint_new", tenant_a), data).status_code == 403
    assert client.post(url("endpoint_remove", tenant_a, endpoint_id=hook.pk)).status_code == 403
    assert endpoints(tenant_a) == [hook]


def test_switching_off_and_on(login, local_webhooks, tenant_a):
    hook, _ = endpoint(tenant_a.organization, "https://127.0.0.1/in")
    client = login(tenant_a.admin)
    response = client.post(
        url("endpoint_active", tenant_a, endpoint_id=hook.pk), {"active": "0"}, **HTMX
    )
    assert response.status_code == 200 and "Switch on" in response.content.decode()
    hook.refresh_from_db()
    assert not hook.is_active
    response = client.post(url("endpoint_active", tenant_a, endpoint_id=hook.pk), {"active": "1"})
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.is_active


def test_rotating_the_secret_shows_the_new_one_once(login, local_webhooks, tenant_a):
    hook, old = endpoint(tenant_a.organization, "https://127.0.0.1/in")
    client = login(tenant_a.admin)
    response = client.post(url("endpoint_rotate", tenant_a, endpoint_id=hook.pk))
    new = SECRET.search(response.content.decode()).group(1)
    hook.refresh_from_db()
    assert hook.secret == new != old and "no-store" in response["Cache-Control"]
    detail = client.get(url("endpoint", tenant_a, endpoint_id=hook.pk)).content.decode()
    assert new not in detail and hook.secret_hint in detail


def test_removing_an_endpoint_removes_its_deliveries(login, local_webhooks, tenant_a):
    org = tenant_a.organization
    hook, _ = endpoint(org, "https://127.0.0.1/in")
    domain_event(org)
    fanned(org)
    response = login(tenant_a.admin).post(url("endpoint_remove", tenant_a, endpoint_id=hook.pk))
    assert response.status_code == 302
    assert endpoints(tenant_a) == []
    assert WebhookDelivery.objects.for_org(org).count() == 0


def test_deliveries_are_listed_with_status_and_code_and_can_be_replayed(
    login, local_webhooks, receiver, tenant_a
):
    org = tenant_a.organization
    hook, _ = endpoint(org, receiver.url)
    receiver.statuses = [500]  # then 200
    domain_event(org)
    [delivery] = fanned(org)
    local_webhooks.WEBHOOK_MAX_ATTEMPTS = 1
    webhook_deliveries_send()
    client = login(tenant_a.admin)

    for page in (
        url("endpoint_list", tenant_a),
        url("endpoint", tenant_a, endpoint_id=hook.pk),
    ):
        body = client.get(page).content.decode()
        assert f'id="delivery-{delivery.pk}"' in body
        assert "Failed" in body and "<code>500</code>" in body and "HTTP 500" in body

    replay = url("delivery_replay", tenant_a, delivery_id=delivery.pk)
    response = client.post(replay, {"view": "endpoint"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="endpoint-area"' in body and "Queued again." in body
    again = WebhookDelivery.objects.for_org(org).exclude(pk=delivery.pk).get()
    assert (again.replay_of_id, again.payload, again.status) == (
        delivery.pk,
        delivery.payload,
        "pending",
    )
    assert f"replay of {delivery.pk}" in body

    assert webhook_deliveries_send().succeeded == 1
    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body


def test_a_refused_replay_is_explained_in_place(login, local_webhooks, tenant_a):
    org = tenant_a.organization
    endpoint(org, "https://127.0.0.1/in")
    domain_event(org)
    [delivery] = fanned(org)
    response = login(tenant_a.admin).post(url("delivery_replay", tenant_a, delivery_id=delivery.pk))
    assert response.status_code == 400
    assert "This delivery is still being sent." in response.content.decode()
    assert WebhookDelivery.objects.for_org(org).count() == 1


def test_pages_take_the_same_queries_for_few_and_many_rows(login, local_webhooks, tenant_a):
    org = tenant_a.organization
    client = login(tenant_a.admin)

    def count(page: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page).status_code == 200
        return len(queries)

    def add(n: int) -> WebhookEndpoint:
        for i in range(n):
            hook, _ = endpoint(org, f"https://127.0.0.1/in/{i}")
            domain_event(org)
        fanned(org)
        WebhookDelivery.objects.for_org(org).update(status="failed", last_status_code=500)
        return hook

    hook = add(3)
    client.get(reverse("tenancy:settings", kwargs={"org_slug": org.slug}))  # the session, set once
    listing, detail = (
        url("endpoint_list", tenant_a),
        url("endpoint", tenant_a, endpoint_id=hook.pk),
    )
    few = (count(listing), count(detail))
    add(30)
    assert (count(listing), count(detail)) == few
    assert WebhookDelivery.objects.for_org(org).filter(endpoint=hook).count() > 25  # paginated
