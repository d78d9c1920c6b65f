"""What an API list costs besides its rows: the key's use is written at most once a minute,
and a query that names no filter skips the FilterSet without changing the answer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenancy.api.filters import TandemFilterBackend
from tenancy.models import ApiKey
from tests.factories import EngagementFactory, MemberFactory

pytestmark = pytest.mark.django_db

ME = reverse("api:me")


def _key_updates(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(ME).status_code == 200
    return sum(
        1
        for query in captured
        if query["sql"].startswith("UPDATE") and "tenancy_apikey" in query["sql"]
    )


def test_a_key_used_a_moment_ago_is_not_written_again(api, tenant_a):
    client = api(tenant_a)
    assert _key_updates(client) == 1  # first use: recorded
    assert _key_updates(client) == 0  # within the minute: the row already says so
    client.api_key.refresh_from_db()
    assert client.api_key.last_used_at is not None


def test_a_key_last_used_over_a_minute_ago_is_written(api, tenant_a):
    client = api(tenant_a)
    earlier = timezone.now() - dt.timedelta(minutes=5)
    ApiKey.objects.for_org(tenant_a.organization).filter(pk=client.api_key.pk).update(
        last_used_at=earlier
    )
    assert _key_updates(client) == 1
    client.api_key.refresh_from_db()
    assert client.api_key.last_used_at > earlier


def test_lists_without_filters_skip_the_filterset(api, tenant_a, monkeypatch):
    members = [MemberFactory(organization=tenant_a.organization) for _ in range(3)]
    EngagementFactory(member=members[0], organization=tenant_a.organization)
    built = []
    original = TandemFilterBackend.get_filterset

    def counting(self, request, queryset, view):
        built.append(view.basename)
        return original(self, request, queryset, view)

    monkeypatch.setattr(TandemFilterBackend, "get_filterset", counting)
    client = api(tenant_a)
    assert client.get("/api/v1/members?page_size=2&ordering=name").json()["count"] == 3
    assert client.get("/api/v1/engagements?page_size=2").status_code == 200
    assert built == []
    body = client.get(f"/api/v1/members?status=active&owner={tenant_a.msm.pk}").json()
    assert body["count"] == 0
    assert client.get(f"/api/v1/engagements?member={members[0].pk}").json()["results"]
    assert built == ["members"]  # a plain ?member=<id> is applied without the FilterSet
    assert client.get(f"/api/v1/engagements?member=0{members[0].pk}").json()["results"]
    assert built == ["members", "engagements"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/members?owner=abc",
        "/api/v1/members?status=bogus",
        "/api/v1/goals?status=bogus",
        "/api/v1/engagements?occurred_since=yesterday",
        "/api/v1/context-events?member=0",
    ],
)
def test_a_bad_filter_value_still_answers_400(api, tenant_a, url):
    response = api(tenant_a).get(url)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


def test_member_reads_load_only_the_owner_columns_they_show(api, tenant_a):
    MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    client = api(tenant_a)
    client.get(ME)
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/v1/members").json()
    owner = body["results"][0]["owner"]
    user = tenant_a.msm.user
    assert owner == {"id": tenant_a.msm.pk, "email": user.email, "name": user.full_name}
    member_queries = [q["sql"] for q in captured if "members_member" in q["sql"]]
    assert member_queries
    assert not any("password" in sql for sql in member_queries)
