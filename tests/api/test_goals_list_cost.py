"""The goals list leaves each goal's conditions as a plain list (``Prefetch(to_attr=...)``)
instead of a related manager's queryset per goal: same answer as the selector's prefetch,
still two queries for the page whatever the number of goals."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.api import views
from outcomes.api.serializers import GOAL_CONDITIONS_ATTR
from outcomes.models import Condition
from outcomes.selectors import goals_with_conditions
from tests.factories import ConditionFactory, DesiredOutcomeFactory, GoalFactory, MemberFactory

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/goals", "/api/v1/goals?page_size=2&page=2", "/api/v1/goals?ordering=-id"]


@pytest.fixture
def goals(tenant_a):
    org = tenant_a.organization
    outcome = DesiredOutcomeFactory(member=MemberFactory(organization=org), organization=org)
    made = [GoalFactory(desired_outcome=outcome) for _ in range(4)]
    for goal, count in zip(made, (0, 1, 3, 2), strict=True):
        for _ in range(count):
            ConditionFactory(goal=goal)
    return made


def test_the_list_answers_what_the_selectors_prefetch_answers(api, tenant_a, goals, monkeypatch):
    client = api(tenant_a)
    listed = {url: client.get(url) for url in LISTS}
    monkeypatch.setattr(
        views.GoalViewSet,
        "get_tenant_queryset",
        lambda view: goals_with_conditions(organization=view.organization),
    )
    for url in LISTS:
        reference = client.get(url)
        assert reference.status_code == 200, reference.content
        assert listed[url].content == reference.content, url
    body = listed["/api/v1/goals"].json()
    assert sorted(len(goal["conditions"]) for goal in body["results"]) == [0, 1, 2, 3]


def test_each_goal_gets_a_plain_list_of_its_own_conditions(tenant_a, goals):
    organization = tenant_a.organization
    rows = list(views.goals_listing_conditions(organization=organization))
    assert len(rows) == len(goals)
    for goal in rows:
        listed = goal.__dict__[GOAL_CONDITIONS_ATTR]
        own = Condition.objects.for_org(organization).filter(goal=goal).order_by("pk")
        assert type(listed) is list
        assert [c.pk for c in listed] == [c.pk for c in own]


def test_a_page_of_goals_is_two_queries_whatever_their_number(api, tenant_a, goals):
    client = api(tenant_a)
    client.get("/api/v1/me")  # the key's use is recorded once, outside the count

    def queries(url: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return [q["sql"] for q in captured if "outcomes_" in q["sql"]]

    few = queries("/api/v1/goals?page_size=1")
    many = queries("/api/v1/goals?page_size=50")
    assert len(few) == len(many) == 3  # the count, the goals, their conditions
