"""Members selectors: the lists, the ownership history and the three results of success —
each figure checked against a hand-built history, and each read in a constant number of
queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.selectors import (
    WINDOW_DAYS,
    member_list,
    member_ownership_history,
    member_results,
    organization_today,
    portfolio_results,
)
from tests.factories import (
    AdvocacyFactory,
    MemberFactory,
    MembershipEventFactory,
    OrganizationFactory,
    OwnershipChangeFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 30)
DAY = dt.timedelta(days=1)


def days_ago(n: int) -> dt.date:
    return TODAY - n * DAY


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


def event(member, kind, on, amount="0", **fields):
    return MembershipEventFactory(
        member=member, kind=kind, occurred_on=on, amount=Decimal(amount), **fields
    )


def answer(member, kind, on, score=None, **fields):
    return AdvocacyFactory(member=member, kind=kind, occurred_on=on, score=score, **fields)


def count_queries(func) -> int:
    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


# ---------------------------------------------------------------------------------------------
# organization_today


def test_today_is_the_organizations_date():
    early = OrganizationFactory(time_zone="Pacific/Kiritimati")
    late = OrganizationFactory(time_zone="Pacific/Pago_Pago")
    # 25 hours apart: Kiritimati's date is always ahead.
    assert organization_today(organization=early) > organization_today(organization=late)


# ---------------------------------------------------------------------------------------------
# member_list and member_ownership_history


def test_member_list_filters_by_owner_status_and_search(org, tenant_a, tenant_b):
    ada = MemberFactory(organization=org, name="Ada Byron", owner=tenant_a.msm, status="active")
    MemberFactory(organization=org, name="Grace Hopper", owner=tenant_a.admin, status="lapsed")
    crm = MemberFactory(organization=org, name="Zed", external_id="CRM-ADA-9", owner=None)
    mail = MemberFactory(organization=org, name="Yan", email="ada@lab.test", owner=None)
    MemberFactory(organization=tenant_b.organization, name="Ada in B")

    assert set(member_list(organization=org, search="  ada ")) == {ada, crm, mail}
    assert list(member_list(organization=org, owner=tenant_a.msm)) == [ada]
    assert [m.name for m in member_list(organization=org, status="lapsed")] == ["Grace Hopper"]
    assert list(member_list(organization=org, owner=tenant_a.msm, status="lapsed")) == []
    assert member_list(organization=org).count() == 4


def test_member_list_refuses_an_owner_of_another_organization(org, tenant_b):
    with pytest.raises(ValidationError) as exc_info:
        member_list(organization=org, owner=tenant_b.msm)
    assert "owner" in exc_info.value.message_dict


@pytest.mark.parametrize("rows", [5, 50])
def test_member_list_reads_owners_in_one_query(org, tenant_a, rows):
    for index in range(rows):
        MemberFactory(organization=org, owner=tenant_a.msm if index % 2 else tenant_a.admin)

    def read():
        names = [m.owner.user.email for m in member_list(organization=org)]
        assert len(names) == rows

    assert count_queries(read) == 1


def test_ownership_history_is_newest_first_with_the_seats_users(org, tenant_a, tenant_b):
    member = MemberFactory(organization=org)
    now = timezone.now()
    old = OwnershipChangeFactory(
        member=member, to_seat=tenant_a.msm, changed_at=now - dt.timedelta(days=30)
    )
    new = OwnershipChangeFactory(
        member=member,
        from_seat=tenant_a.msm,
        to_seat=tenant_a.admin,
        changed_by=tenant_a.admin,
        changed_at=now,
    )
    OwnershipChangeFactory(member=MemberFactory(organization=org), to_seat=tenant_a.msm)
    history = member_ownership_history(organization=org, member=member)
    assert list(history) == [new, old]
    other = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as exc_info:
        member_ownership_history(organization=org, member=other)
    assert "member" in exc_info.value.message_dict


@pytest.mark.parametrize("rows", [5, 50])
def test_ownership_history_reads_in_one_query(org, tenant_a, rows):
    member = MemberFactory(organization=org)
    for _ in range(rows):
        OwnershipChangeFactory(
            member=member, from_seat=tenant_a.admin, to_seat=tenant_a.msm, changed_by=tenant_a.admin
        )

    def read():
        for change in member_ownership_history(organization=org, member=member):
            assert change.from_seat.user.email and change.to_seat.user.email
            assert change.changed_by.user.email

    assert count_queries(read) == 1


# ---------------------------------------------------------------------------------------------
# member_results


def test_member_results_of_a_member_with_no_history(org):
    prospect = MemberFactory(organization=org, status="prospect", joined_on=None)
    results = member_results(organization=org, member=prospect, today=TODAY)
    assert results == {
        "tenure_days": 0,
        "renewals": 0,
        "last_renewed_on": None,
        "upgrades": 0,
        "downgrades": 0,
        "expansion_amount": Decimal("0.00"),
        "total_paid": Decimal("0.00"),
        "referrals": 0,
        "testimonials": 0,
        "reviews": 0,
        "nps_responses": 0,
        "nps_latest": None,
        "nps_average": None,
    }


def test_member_results_count_each_result(org, tenant_b):
    member = MemberFactory(organization=org, joined_on=days_ago(800), status="active")
    event(member, "join", days_ago(800), "100.00")
    event(member, "renew", days_ago(435), "120.00")
    event(member, "renew", days_ago(70), "120.00")
    event(member, "upgrade", days_ago(60), "30.50")
    event(member, "upgrade", days_ago(20), "19.50")
    event(member, "downgrade", days_ago(10), "0")
    event(member, "renew", TODAY + DAY, "999.00")  # after "today": not counted
    answer(member, "referral", days_ago(300))
    answer(member, "referral", days_ago(30))
    answer(member, "testimonial", days_ago(5))
    answer(member, "review", days_ago(4))
    answer(member, "nps", days_ago(200), score=6)
    answer(member, "nps", days_ago(100), score=9)
    answer(member, "nps", days_ago(3), score=10)
    # Someone else's history, in this organization and in another one, is not this member's.
    neighbour = MemberFactory(organization=org)
    event(neighbour, "renew", days_ago(1), "500.00")
    answer(neighbour, "nps", days_ago(1), score=0)
    stranger = MemberFactory(organization=tenant_b.organization)
    event(stranger, "upgrade", days_ago(1), "700.00")

    results = member_results(organization=org, member=member, today=TODAY)

    assert results["tenure_days"] == 800
    assert results["renewals"] == 2
    assert results["last_renewed_on"] == days_ago(70)
    assert (results["upgrades"], results["downgrades"]) == (2, 1)
    assert results["expansion_amount"] == Decimal("50.00")
    assert results["total_paid"] == Decimal("390.00")
    assert (results["referrals"], results["testimonials"], results["reviews"]) == (2, 1, 1)
    assert results["nps_responses"] == 3
    assert results["nps_latest"] == 10
    assert results["nps_average"] == Decimal("8.3")


def test_latest_nps_on_the_same_day_is_the_one_recorded_last(org):
    member = MemberFactory(organization=org)
    answer(member, "nps", days_ago(2), score=4)
    answer(member, "nps", days_ago(2), score=7)
    answer(member, "nps", days_ago(9), score=10)
    assert member_results(organization=org, member=member, today=TODAY)["nps_latest"] == 7


@pytest.mark.parametrize(
    ("status", "joined", "ended", "expected"),
    [
        ("active", 100, None, 100),
        ("grace", 100, None, 100),
        ("lapsed", 100, 40, 60),
        ("cancelled", 300, 10, 290),
        ("prospect", None, None, 0),
        ("active", -5, None, 0),
    ],
    ids=["active", "grace", "lapsed", "cancelled", "never-joined", "joins-tomorrow"],
)
def test_tenure_runs_from_joining_until_today_or_until_the_membership_ended(
    org, status, joined, ended, expected
):
    member = MemberFactory(
        organization=org,
        status=status,
        joined_on=None if joined is None else days_ago(joined),
    )
    if ended is not None:
        event(member, "lapse" if status == "lapsed" else "cancel", days_ago(ended))
    assert member_results(organization=org, member=member, today=TODAY)["tenure_days"] == expected


def test_a_reinstated_member_stays_longer_again(org):
    member = MemberFactory(organization=org, status="active", joined_on=days_ago(500))
    event(member, "lapse", days_ago(200))
    event(member, "reinstate", days_ago(100))
    assert member_results(organization=org, member=member, today=TODAY)["tenure_days"] == 500


def test_member_results_refuse_another_organizations_member(org, tenant_b):
    other = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as exc_info:
        member_results(organization=org, member=other, today=TODAY)
    assert "member" in exc_info.value.message_dict


def test_member_results_default_to_the_organizations_today(org):
    member = MemberFactory(organization=org, joined_on=organization_today(organization=org))
    assert member_results(organization=org, member=member)["tenure_days"] == 0


@pytest.mark.parametrize("rows", [5, 50])
def test_member_results_take_three_queries_whatever_the_history(org, rows):
    member = MemberFactory(organization=org, joined_on=days_ago(2000))
    for index in range(rows):
        event(member, ["renew", "upgrade", "downgrade"][index % 3], days_ago(index), "10.00")
        answer(member, "nps", days_ago(index), score=index % 11)
        answer(member, "referral", days_ago(index))
    assert count_queries(lambda: member_results(organization=org, member=member, today=TODAY)) == 3


# ---------------------------------------------------------------------------------------------
# portfolio_results


def build_portfolio(org, owner=None):
    """Seven members whose renewals, upgrades and answers are known; see the expected figures
    in ``test_portfolio_results_follow_the_documented_definitions``."""
    in_window, before_window = days_ago(100), days_ago(WINDOW_DAYS + 10)

    def member(name, status, renewal_on, **fields):
        return MemberFactory(
            organization=org, name=name, status=status, renewal_on=renewal_on, **fields
        )

    # Due in the window (the join set it) and renewed in it.
    renewed = member("renewed", "active", days_ago(-265), owner=owner)
    event(renewed, "join", days_ago(465), "100", renewal_on=in_window)
    event(renewed, "renew", in_window, "100", renewal_on=days_ago(-265))
    event(renewed, "upgrade", days_ago(50), "100", tier="Fellow")
    answer(renewed, "nps", days_ago(200), score=3)
    answer(renewed, "nps", days_ago(20), score=10)  # latest: a promoter
    answer(renewed, "referral", days_ago(15))

    # Due in the window (its current date), not renewed: in grace.
    grace = member("grace", "grace", days_ago(30), owner=owner)
    event(grace, "upgrade", before_window, "999")  # too old to count
    answer(grace, "nps", days_ago(90), score=9)
    answer(grace, "nps", days_ago(30), score=5)  # latest: a detractor
    answer(grace, "referral", before_window)  # too old to count

    # Due in the window, lapsed: the lapse keeps the missed date.
    lapsed = member("lapsed", "lapsed", days_ago(200))
    event(lapsed, "join", days_ago(565), "80", renewal_on=days_ago(200))
    event(lapsed, "lapse", days_ago(170), renewal_on=days_ago(200))
    answer(lapsed, "nps", days_ago(100), score=7)  # a passive
    answer(lapsed, "testimonial", days_ago(100))

    # Due in the window (the join set it), lapsed, then won back: a reinstatement is not a
    # renewal, and its new date is next year.
    reinstated = member("reinstated", "active", days_ago(-345))
    event(reinstated, "join", days_ago(465), "100", renewal_on=days_ago(100))
    event(reinstated, "lapse", days_ago(70), renewal_on=days_ago(100))
    event(reinstated, "reinstate", days_ago(20), "100", renewal_on=days_ago(-345))

    # Due next quarter: not due.
    member("later", "active", days_ago(-100))
    # Renewed early, before its date came: due (it answered a renewal) and renewed.
    early = member("early", "active", days_ago(-385))
    event(early, "renew", days_ago(10), "100", renewal_on=days_ago(-385))
    event(early, "upgrade", days_ago(40), "50.25", tier="Fellow")
    event(early, "upgrade", days_ago(5), "24.75", tier="Chartered")
    answer(early, "nps", days_ago(60), score=9)  # a promoter
    answer(early, "review", days_ago(60))
    # Due long ago, outside the window; answered NPS only before the window.
    old = member("old", "cancelled", before_window)
    answer(old, "nps", before_window, score=10)
    answer(old, "referral", days_ago(1), referred_member=renewed)


def test_portfolio_results_follow_the_documented_definitions(org, tenant_b):
    build_portfolio(org)
    build_portfolio(tenant_b.organization)  # another organization's book changes nothing
    results = portfolio_results(organization=org, today=TODAY)

    assert results["today"] == TODAY
    assert results["window_start"] == TODAY - 364 * DAY
    assert results["members"] == 7
    assert results["by_status"] == {
        "prospect": 0,
        "active": 4,
        "grace": 1,
        "lapsed": 1,
        "cancelled": 1,
    }
    # Due: renewed, grace, lapsed, reinstated, early. Renewed: renewed, early.
    assert (results["renewals_due"], results["renewals_done"]) == (5, 2)
    assert results["renewal_rate"] == Decimal("40.0")
    # Upgrades in the window: renewed (100) and early (50.25 + 24.75).
    assert results["expanded_members"] == 2
    assert results["expansion_amount"] == Decimal("175.00")
    assert (results["referrals"], results["testimonials"], results["reviews"]) == (2, 1, 1)
    # Latest answer in the window per member: 10, 5, 7, 9 → 2 promoters, 1 passive, 1 detractor.
    assert results["nps_responses"] == 4
    assert (results["promoters"], results["passives"], results["detractors"]) == (2, 1, 1)
    assert results["nps"] == Decimal("25.0")


def test_portfolio_results_of_one_owners_book(org, tenant_a, tenant_b):
    build_portfolio(org, owner=tenant_a.msm)
    results = portfolio_results(organization=org, owner=tenant_a.msm, today=TODAY)
    # The book holds "renewed" and "grace".
    assert results["members"] == 2
    assert results["by_status"]["active"] == 1 and results["by_status"]["grace"] == 1
    assert (results["renewals_due"], results["renewals_done"]) == (2, 1)
    assert results["renewal_rate"] == Decimal("50.0")
    assert (results["expanded_members"], results["expansion_amount"]) == (1, Decimal("100.00"))
    assert (results["referrals"], results["testimonials"], results["reviews"]) == (1, 0, 0)
    assert (results["nps_responses"], results["promoters"], results["detractors"]) == (2, 1, 1)
    assert results["nps"] == Decimal("0.0")

    with pytest.raises(ValidationError) as exc_info:
        portfolio_results(organization=org, owner=tenant_b.msm, today=TODAY)
    assert "owner" in exc_info.value.message_dict


def test_an_empty_portfolio_measures_nothing_rather_than_zero(org):
    results = portfolio_results(organization=org, today=TODAY)
    assert results["members"] == 0
    assert results["renewal_rate"] is None
    assert results["nps"] is None
    assert results["expansion_amount"] == Decimal("0.00")


def test_nps_uses_each_members_latest_answer_only(org):
    member = MemberFactory(organization=org)
    for score in (0, 1, 2):
        answer(member, "nps", days_ago(50), score=score)
    answer(member, "nps", days_ago(10), score=10)
    results = portfolio_results(organization=org, today=TODAY)
    assert (results["nps_responses"], results["promoters"], results["nps"]) == (
        1,
        1,
        Decimal("100.0"),
    )


def test_renewal_rate_rounds_to_one_decimal(org):
    for name in ("a", "b", "c"):
        MemberFactory(organization=org, name=name, renewal_on=days_ago(10))
    done = MemberFactory(organization=org, renewal_on=days_ago(-355))
    event(done, "renew", days_ago(10), renewal_on=days_ago(-355))
    event(done, "join", days_ago(400), renewal_on=days_ago(10))
    results = portfolio_results(organization=org, today=TODAY)
    assert (results["renewals_done"], results["renewals_due"]) == (1, 4)
    assert results["renewal_rate"] == Decimal("25.0")
    MemberFactory.create_batch(2, organization=org, renewal_on=days_ago(1))
    assert portfolio_results(organization=org, today=TODAY)["renewal_rate"] == Decimal("16.7")


@pytest.mark.parametrize("rows", [5, 50])
def test_portfolio_results_take_three_queries_whatever_the_number_of_members(org, tenant_a, rows):
    for index in range(rows):
        member = MemberFactory(organization=org, owner=tenant_a.msm, renewal_on=days_ago(index))
        event(member, "renew", days_ago(index), "10.00", renewal_on=days_ago(-300))
        event(member, "upgrade", days_ago(index), "5.00", tier=f"T{index}")
        answer(member, "nps", days_ago(index), score=index % 11)
        answer(member, "referral", days_ago(index))
    for owner in (None, tenant_a.msm):
        queries = count_queries(
            lambda owner=owner: portfolio_results(organization=org, owner=owner, today=TODAY)
        )
        assert queries == 3
    assert portfolio_results(organization=org, today=TODAY)["members"] == rows
