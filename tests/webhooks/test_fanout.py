"""Fan-out: one delivery per new domain event and subscribed, active endpoint of the event's
organization; none for others; never twice; events before an endpoint existed are not sent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.webhooks.helpers import deliveries, domain_event, endpoint, fanned
from webhooks.fanout import organizations_with_endpoints, webhook_deliveries_fan_out
from webhooks.models import WebhookCursor
from webhooks.services import webhook_endpoint_set_active
from webhooks.tasks import fan_out

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:9/"


def test_one_delivery_per_subscribed_active_endpoint(local_webhooks, tenant_a):
    org = tenant_a.organization
    bands, _ = endpoint(org, URL + "bands", ["member.band_changed"])
    everything, _ = endpoint(org, URL + "all")
    goals, _ = endpoint(org, URL + "goals", ["goal.status_changed"])
    off, _ = endpoint(org, URL + "off", ["member.band_changed"])
    webhook_endpoint_set_active(organization=org, endpoint=off, active=False)

    band = domain_event(org, "member.band_changed")
    nudge = domain_event(org, "nudge.failed", nudge_id=3)

    rows = fanned(org)
    assert sorted((row.endpoint_id, row.domain_event_id) for row in rows) == sorted(
        [(bands.pk, band.pk), (everything.pk, band.pk), (everything.pk, nudge.pk)]
    )
    assert goals.pk not in {row.endpoint_id for row in rows}
    assert all(row.status == "pending" and row.next_attempt_at for row in rows)
    [nudge_row] = [row for row in rows if row.event_kind == "nudge.failed"]
    assert nudge_row.payload["type"] == "nudge.failed"
    assert nudge_row.payload["data"] == {"subject_id": 1, "nudge_id": 3}


def test_a_second_run_creates_nothing_and_new_events_are_picked_up(local_webhooks, tenant_a):
    org = tenant_a.organization
    endpoint(org, URL)
    domain_event(org)
    assert len(fanned(org)) == 1
    assert len(fanned(org)) == 1
    domain_event(org, "milestone.achieved")
    assert [row.event_kind for row in fanned(org)] == ["member.band_changed", "milestone.achieved"]


def test_a_rewound_cursor_delivers_nothing_twice(local_webhooks, tenant_a):
    org = tenant_a.organization
    endpoint(org, URL)
    domain_event(org)
    fanned(org)
    WebhookCursor.objects.for_org(org).update(last_event_id=0)
    assert len(fanned(org)) == 1


def test_events_before_the_endpoint_existed_are_not_sent(local_webhooks, tenant_a):
    org = tenant_a.organization
    domain_event(org)
    hook, _ = endpoint(org, URL)
    after = domain_event(org)
    assert [row.domain_event_id for row in fanned(org)] == [after.pk]
    assert hook.pk == deliveries(org)[0].endpoint_id


def test_organizations_stay_apart(local_webhooks, tenant_a, tenant_b):
    a, b = tenant_a.organization, tenant_b.organization
    hook_a, _ = endpoint(a, URL + "a")
    domain_event(b)  # B has events but no endpoint
    event_a = domain_event(a)

    assert organizations_with_endpoints() == [a.pk]
    assert fan_out() == 1
    assert [(row.endpoint_id, row.domain_event_id) for row in deliveries(a)] == [
        (hook_a.pk, event_a.pk)
    ]
    assert deliveries(b) == []
    hook_b, _ = endpoint(b, URL + "b")
    event_b = domain_event(b)
    fan_out()
    assert [(row.endpoint_id, row.domain_event_id) for row in deliveries(b)] == [
        (hook_b.pk, event_b.pk)
    ]
    assert len(deliveries(a)) == 1


def test_the_grace_period_holds_the_newest_events_back_once(local_webhooks, tenant_a):
    """With a grace, a run reads only up to what an earlier run saw at least that long ago."""
    local_webhooks.WEBHOOK_FANOUT_GRACE_SECONDS = 10
    org = tenant_a.organization
    endpoint(org, URL)
    first = domain_event(org)
    now = timezone.now()

    assert webhook_deliveries_fan_out(organization=org, now=now) == 0  # horizon set at first
    second = domain_event(org)
    assert webhook_deliveries_fan_out(organization=org, now=now + dt.timedelta(seconds=5)) == 0
    assert webhook_deliveries_fan_out(organization=org, now=now + dt.timedelta(seconds=11)) == 1
    assert [row.domain_event_id for row in deliveries(org)] == [first.pk]
    at = now + dt.timedelta(seconds=22)
    assert webhook_deliveries_fan_out(organization=org, now=at) == 1
    assert [row.domain_event_id for row in deliveries(org)] == [first.pk, second.pk]


def test_fan_out_queries_do_not_grow_with_events(local_webhooks, tenant_a):
    org = tenant_a.organization
    endpoint(org, URL + "1")
    endpoint(org, URL + "2")

    def run(count: int) -> int:
        for _ in range(count):
            domain_event(org)
        with CaptureQueriesContext(connection) as queries:
            webhook_deliveries_fan_out(organization=org)
        return len(queries)

    # (SQLite caps the parameters of one INSERT: 60 rows still fit in one.)
    assert run(3) == run(30)
    assert len(deliveries(org)) == 66
