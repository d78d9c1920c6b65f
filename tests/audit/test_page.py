"""The admin's audit trail page: newest first, filters (htmx and plain GET), admins only, one
organization's entries, constant queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.context import acting_as, seat_actor
from audit.models import AuditEntry
from audit.services import audit_record

pytestmark = pytest.mark.django_db


def page_url(tenant) -> str:
    return reverse("audit:list", kwargs={"org_slug": tenant.organization.slug})


def record(tenant, n: int, **kwargs) -> None:
    for index in range(n):
        audit_record(
            organization=tenant.organization,
            action=kwargs.get("action", "update"),
            model=kwargs.get("model", "members.Member"),
            object_id=kwargs.get("object_id", 1000 + index),
            label=f"Row {index}",
            changes=kwargs.get("changes", {"tier": ["Member", f"Tier {index}"]}),
        )


def test_entries_show_before_and_after_newest_first(login, tenant_a):
    with acting_as(seat_actor(tenant_a.msm)):
        record(tenant_a, 1, changes={"tier": ["Member", "Fellow"]}, object_id=7)
    record(tenant_a, 1, action="goal.abandoned", model="outcomes.Goal", object_id=8)
    response = login(tenant_a.admin).get(page_url(tenant_a))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("outcomes.Goal #8") < body.index("members.Member #7")  # newest first
    assert "Member</span> → <span" in body and "Fellow" in body
    assert tenant_a.msm.user.email in body and "system" in body
    assert "Audit trail" in body


def test_filters_narrow_the_list_with_htmx_and_without(login, tenant_a):
    with acting_as(seat_actor(tenant_a.msm)):
        record(tenant_a, 1, object_id=11)
    record(tenant_a, 1, action="goal.abandoned", model="outcomes.Goal", object_id=12)
    client = login(tenant_a.admin)
    url = page_url(tenant_a)
    by_actor = client.get(url, {"actor": "seat"}).content.decode()
    assert "#11" in by_actor and "#12" not in by_actor
    by_email = client.get(url, {"actor": tenant_a.msm.user.email}).content.decode()
    assert "#11" in by_email and "#12" not in by_email
    by_model = client.get(url, {"model": "outcomes.Goal"}).content.decode()
    assert "#12" in by_model and "#11" not in by_model
    by_action = client.get(url, {"action": "goal.abandoned"}).content.decode()
    assert "#12" in by_action and "#11" not in by_action
    by_id = client.get(url, {"object_id": "11"}).content.decode()
    assert "#11" in by_id and "#12" not in by_id
    today = timezone.localdate()
    in_range = client.get(url, {"since": today.isoformat(), "until": today.isoformat()})
    assert "#11" in in_range.content.decode()
    past = (today - dt.timedelta(days=3)).isoformat()
    assert "#11" not in client.get(url, {"until": past}).content.decode()
    partial = client.get(url, {"model": "outcomes.Goal"}, HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert text.lstrip().startswith('<div id="results"') and "<html" not in text
    assert "#12" in text


def test_only_admins_and_only_their_own_organization(login, tenant_a, tenant_b):
    record(tenant_b, 1, object_id=424242)
    record(tenant_a, 1, object_id=131313)
    body = login(tenant_a.admin).get(page_url(tenant_a)).content.decode()
    assert "131313" in body and "424242" not in body
    assert login(tenant_a.msm).get(page_url(tenant_a)).status_code == 403
    assert login(tenant_a.admin).get(page_url(tenant_b)).status_code == 404
    assert login(tenant_a.admin).get(page_url(tenant_a), {"actor": "key:1"}).status_code == 200


@pytest.mark.parametrize("count", [5, 50])
def test_the_page_runs_in_constant_queries(login, tenant_a, count):
    record(tenant_a, count)
    client = login(tenant_a.admin)
    client.get(page_url(tenant_a))  # warm the session
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page_url(tenant_a))
    assert response.status_code == 200
    stored = AuditEntry.objects.for_org(tenant_a.organization).count()  # the seats' own, too
    assert stored >= count
    assert response.content.decode().count("<tr>") == min(stored, 50) + 1
    # session, seat with its user, the filter's record types, the count, the page of entries
    assert len(captured.captured_queries) == 5, [q["sql"] for q in captured.captured_queries]


def test_the_settings_menu_links_to_the_trail(login, tenant_a):
    body = (
        login(tenant_a.admin)
        .get(reverse("tenancy:settings", kwargs={"org_slug": tenant_a.organization.slug}))
        .content.decode()
    )
    assert page_url(tenant_a) in body
