"""Member 360's header figures (one statement) agree with ``member_results`` (three queries)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from members.selectors import member_headline_results, member_results
from tests.factories import MemberFactory
from tests.members.test_selectors import TODAY, answer, count_queries, days_ago, event

pytestmark = pytest.mark.django_db

SHOWN = ("tenure_days", "renewals", "upgrades", "referrals", "nps_latest")


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


def both(org, member):
    full = member_results(organization=org, member=member, today=TODAY)
    headline = member_headline_results(organization=org, member=member, today=TODAY)
    return {name: full[name] for name in SHOWN}, headline


def test_a_member_with_no_history(org):
    expected, headline = both(org, MemberFactory(organization=org, status="prospect"))
    assert (
        headline
        == expected
        == {
            "tenure_days": 0,
            "renewals": 0,
            "upgrades": 0,
            "referrals": 0,
            "nps_latest": None,
        }
    )


@pytest.mark.parametrize("status", ["active", "lapsed", "cancelled"])
def test_a_full_history_counts_the_same(org, tenant_b, status):
    member = MemberFactory(organization=org, joined_on=days_ago(800), status=status)
    event(member, "renew", days_ago(435), "120.00")
    event(member, "renew", days_ago(70), "120.00")
    event(member, "upgrade", days_ago(60), "30.50")
    event(member, "lapse", days_ago(300))
    event(member, "cancel", days_ago(40))
    event(member, "renew", days_ago(-1), "999.00")  # after "today": not counted
    event(member, "cancel", days_ago(-2))
    answer(member, "referral", days_ago(30))
    answer(member, "testimonial", days_ago(5))
    answer(member, "nps", days_ago(2), score=4)
    answer(member, "nps", days_ago(2), score=7)
    answer(member, "nps", days_ago(-1), score=1)
    neighbour = MemberFactory(organization=org)
    event(neighbour, "renew", days_ago(1))
    answer(neighbour, "referral", days_ago(1))
    event(MemberFactory(organization=tenant_b.organization), "upgrade", days_ago(1))

    expected, headline = both(org, member)

    assert headline == expected
    assert (headline["renewals"], headline["upgrades"], headline["referrals"]) == (2, 1, 1)
    assert headline["nps_latest"] == 7


def test_one_query(org):
    member = MemberFactory(organization=org)
    event(member, "renew", days_ago(3))
    answer(member, "nps", days_ago(3), score=9)
    assert (
        count_queries(lambda: member_headline_results(organization=org, member=member, today=TODAY))
        == 1
    )


def test_refuses_another_organizations_member(org, tenant_b):
    other = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError):
        member_headline_results(organization=org, member=other, today=TODAY)
