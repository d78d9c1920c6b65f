"""Numbered pages read keys first (tenancy.api.pagination.KeysFirstPaginator): every page holds
exactly what Django's plain paginator puts there, in the same order, under any ordering; and
every ordering is total, so no row is repeated or skipped across pages."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator, UnorderedObjectListWarning
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenancy.api.pagination import KeysFirstPaginator, TandemPageNumberPagination
from tests.factories import GoalFactory, MemberFactory

pytestmark = pytest.mark.django_db


def _all_pages(client, path: str) -> list[dict]:
    pages, url = [], path
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
        url = body["next"]
    return pages


@pytest.fixture
def members(tenant_a, tenant_b):
    names = ["Ada", "Bea", "Ada", "Cy", "Bea", "Dee", "Ada", "Eve", "Fay", "Cy", "Gus"]
    for index, name in enumerate(names * 2):
        owner = (tenant_a.msm, tenant_a.admin, None)[index % 3]
        MemberFactory(organization=tenant_a.organization, name=name, owner=owner)
    MemberFactory.create_batch(3, organization=tenant_b.organization, name="Ada")


@pytest.mark.parametrize("ordering", ["", "name", "-name", "-updated_at", "success_gap"])
@pytest.mark.parametrize("page_size", [3, 5, 50])
def test_member_pages_equal_the_plain_paginators(
    api, tenant_a, members, monkeypatch, ordering, page_size
):
    client = api(tenant_a, scopes=["read"])
    path = f"/api/v1/members?page_size={page_size}" + (f"&ordering={ordering}" if ordering else "")
    keys_first = _all_pages(client, path)
    monkeypatch.setattr(TandemPageNumberPagination, "django_paginator_class", Paginator)
    plain = _all_pages(client, path)
    assert keys_first == plain
    ids = [row["id"] for page in keys_first for row in page["results"]]
    assert len(ids) == len(set(ids)) == 22


def test_goal_pages_with_their_conditions_equal_the_plain_paginators(api, tenant_a, monkeypatch):
    for _ in range(7):
        GoalFactory(desired_outcome__member__organization=tenant_a.organization)
    client = api(tenant_a, scopes=["read"])
    keys_first = _all_pages(client, "/api/v1/goals?page_size=2")
    monkeypatch.setattr(TandemPageNumberPagination, "django_paginator_class", Paginator)
    assert keys_first == _all_pages(client, "/api/v1/goals?page_size=2")


def test_total_orders_take_the_keys_first(tenant_a, members):
    from django.db.models import F

    from members.models import Member

    rows = Member.objects.for_org(tenant_a.organization)
    for queryset in (
        rows.order_by("name", "pk"),
        rows.order_by("-name", "-id"),
        rows.order_by(F("name").desc(nulls_last=True), F("id").asc(nulls_last=True)),
        rows.order_by("-pk"),
    ):
        page = KeysFirstPaginator(queryset, 3).page(2)
        assert " IN (SELECT " in str(page.object_list.query)
        assert list(page.object_list) == list(queryset[3:6])


def test_a_later_page_selects_its_keys_in_a_subquery(api, tenant_a, members):
    client = api(tenant_a, scopes=["read"])
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/members?page=3&page_size=5").status_code == 200
    rows = [q["sql"] for q in captured.captured_queries if "LIMIT 5" in q["sql"]]
    assert len(rows) == 1 and " IN (SELECT " in rows[0] and "OFFSET 10" in rows[0]


def test_querysets_it_cannot_express_exactly_are_sliced_as_before(tenant_a, members):
    from django.db.models import Count

    from members.models import Member

    rows = Member.objects.for_org(tenant_a.organization)
    for queryset in (
        rows.order_by("name"),  # a partial order: ties may come in any order
        rows.order_by("-pk", "name"),
        rows.order_by("name", "pk").distinct(),
        rows.values("name").annotate(n=Count("pk")).order_by("name"),
        rows.order_by("name", "pk").annotate(n=Count("goals")),
    ):
        page = KeysFirstPaginator(queryset, 3).page(2)
        assert list(page.object_list) == list(queryset[3:6])
        assert " IN (SELECT " not in str(page.object_list.query)
    # An unordered queryset too (Django warns about it; the pages are what they were).
    unordered = Member.objects.for_org(tenant_a.organization).order_by()
    with pytest.warns(UnorderedObjectListWarning):
        page = KeysFirstPaginator(unordered, 3).page(2)
    assert " IN (SELECT " not in str(page.object_list.query)
