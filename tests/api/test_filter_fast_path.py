"""A list asked for one plain id (``?member=42``) is filtered without building its FilterSet
(tenancy.api.filters.TandemFilterBackend): the answer, error or not, must be what the FilterSet
gives for every spelling of the value."""

from __future__ import annotations

import pytest

from tenancy.api import filters
from tenancy.api.filters import TandemFilterBackend
from tests.factories import (
    ConditionFactory,
    ContextEventFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(tenant_a):
    org = tenant_a.organization
    member, other = MemberFactory(organization=org), MemberFactory(organization=org)
    for owner in (member, other):
        EngagementFactory(member=owner, organization=org, seat=tenant_a.msm)
        ContextEventFactory(member=owner, organization=org)
        goal = GoalFactory(desired_outcome__member=owner, desired_outcome__organization=org)
        ConditionFactory(goal=goal)
    return member


def _queries(member) -> list[str]:
    pk = member.pk
    spellings = [
        f"member={pk}",
        f"member=0{pk}",
        f"member={pk}.0",
        f"member=%20{pk}",
        f"member={pk}&member={pk + 1}",
        f"member={pk}&page_size=1",
        f"member={pk}&ordering=-id",
        "member=",
        "member=0",
        "member=-1",
        "member=abc",
        "member=9223372036854775807",
        "member=9223372036854775808",
        "member=99999999999999999999",
        "member=１２",  # full-width digits: int() reads them, the plain-id check must not
    ]
    lists = ["engagements", "context-events", "goals", "conditions", "desired-outcomes"]
    return [f"/api/v1/{name}?{query}" for name in lists for query in spellings]


def test_a_plain_id_answers_what_the_filterset_answers(api, tenant_a, member, monkeypatch):
    client = api(tenant_a)
    urls = _queries(member)
    direct = {url: client.get(url) for url in urls}
    monkeypatch.setattr(filters, "_plain_id_lookup", lambda *args: None)
    for url in urls:
        reference = client.get(url)
        assert direct[url].status_code == reference.status_code, url
        assert direct[url].content == reference.content, url
    assert direct[f"/api/v1/engagements?member={member.pk}"].json()["results"]
    assert direct["/api/v1/goals?member=0"].status_code == 400


def test_a_plain_id_builds_no_filterset_and_others_do(api, tenant_a, member, monkeypatch):
    built = []
    original = TandemFilterBackend.get_filterset

    def counting(self, request, queryset, view):
        built.append(view.basename)
        return original(self, request, queryset, view)

    monkeypatch.setattr(TandemFilterBackend, "get_filterset", counting)
    client = api(tenant_a)
    for name in ("engagements", "context-events", "goals"):
        assert len(client.get(f"/api/v1/{name}?member={member.pk}").json()["results"]) == 1
    assert built == []
    client.get(f"/api/v1/goals?member={member.pk}&status=active")
    client.get(f"/api/v1/engagements?member={member.pk}&member={member.pk}")
    assert built == ["goals", "engagements"]
