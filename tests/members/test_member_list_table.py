"""The members table's fixed SQL (``member_table_page``) reads what the ORM read: the same
members, in the same order, on the same page, with the same count, for every filter."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members import table_rows
from members.models import Member
from members.selectors import (
    SEARCH_COLUMNS,
    _icontains,
    member_table_page,
    members_for_list,
)
from outcomes.scoring import success_gaps_recompute
from tenancy.templatetags.ui import band_badge, trend_arrow
from tests.factories import GoalFactory, MemberFactory
from tests.members.table_reference import member_table_values

pytestmark = pytest.mark.django_db

PER_PAGE = 4
TODAY = dt.date(2030, 6, 1)
NAMES = [
    "Ann Anders",
    "ANNA Smith",
    "Brian Lee",
    "Émile Zola",
    "émile Martin",
    "100% Club",
    "Under_Score Co",
    "Back\\slash Ltd",
    "Mark Olson",
    "Zed",
    "zed",
    "Quinn Marsh",
]


@pytest.fixture
def listed(tenant_a, tenant_b):
    """Members across bands, gaps (some equal, some empty), tiers, renewal dates and owners,
    with names, emails and external ids the search must treat literally; and look-alikes in
    another organization that no read may return."""
    organization = tenant_a.organization
    bands = ["at_risk", "watch", "on_track", "no_outcome", ""]
    gaps = [55.0, 25.0, 5.0, None, None, 40.0, 25.0]
    owners = [tenant_a.msm, None, tenant_a.admin]
    for index, name in enumerate(NAMES * 2):
        member = MemberFactory(
            organization=organization,
            name=name,
            email=f"m{index}@{'an' if index % 3 else 'x'}.example",
            external_id=f"X-{index:03d}" if index % 4 else "",
            tier=["Gold", "Silver", ""][index % 3],
            owner=owners[index % 3],
            renewal_on=None if index % 5 == 0 else TODAY + dt.timedelta(days=7 * (index % 9)),
        )
        if index % 6 == 0:
            GoalFactory(desired_outcome__member=member, current_value=index)
    success_gaps_recompute(organization=organization)
    success_gaps_recompute(organization=organization)
    for index, member in enumerate(Member.objects.for_org(organization).order_by("pk")):
        band = bands[index % len(bands)]
        gap = None if band in ("no_outcome", "") else gaps[index % len(gaps)]
        Member.objects.for_org(organization).filter(pk=member.pk).update(
            success_band=band, success_gap=gap
        )
    for name in NAMES[:4]:
        MemberFactory(organization=tenant_b.organization, name=name, owner=None)
    return tenant_a


def _orm_page(organization, owner, number, filters):
    """The read as the views made it before: the ORM's paginator over ``members_for_list``,
    then the page's columns through ``member_table_values``."""
    members = members_for_list(organization=organization, owner=owner, today=TODAY, **filters)
    page = Paginator(members, PER_PAGE).get_page(number)
    rows = member_table_values(
        organization=organization, page=page.object_list, sort=filters.get("sort", "risk")
    )
    return page, list(rows)


def _assert_same(organization, owner, number, **filters):
    expected_page, expected_rows = _orm_page(organization, owner, number, filters)
    page = member_table_page(
        organization=organization,
        owner=owner,
        number=number,
        per_page=PER_PAGE,
        today=TODAY,
        **filters,
    )
    assert page.paginator.count == expected_page.paginator.count, filters
    assert page.number == expected_page.number, (number, filters)
    assert list(page.object_list) == expected_rows, (number, filters)


SEARCHES = ["", "an", "AN", " mar ", "%", "_", "\\", "émile", "ÉMILE", "x-01", "@", "nobody"]
SORTS = ["risk", "gap", "renewal", "name", "bogus"]


@pytest.mark.parametrize("search", SEARCHES)
def test_the_search_finds_what_the_orm_finds_in_every_order(listed, search):
    for sort, number in itertools.product(SORTS, [None, "2", "99"]):
        _assert_same(listed.organization, None, number, search=search, sort=sort)


def test_the_books_filters_read_what_the_orm_reads(listed):
    organization = listed.organization
    combinations = itertools.product(
        [listed.msm, listed.admin, None],
        ["", "at_risk", "no_outcome", ""],
        ["", "Gold"],
        [None, 30],
        ["risk", "renewal"],
    )
    for owner, band, tier, renewal, sort in combinations:
        for number in ("1", "2"):
            _assert_same(
                organization,
                owner,
                number,
                band=band,
                tier=tier,
                renewal_within_days=renewal,
                sort=sort,
            )


@pytest.mark.parametrize("number", [None, "", "1", "3", "0", "-1", "abc", "2.0", "999"])
def test_page_numbers_follow_get_pages_rules(listed, number):
    _assert_same(listed.organization, None, number, search="", sort="name")


def test_a_page_is_two_queries_and_nothing_found_is_one(listed):
    with CaptureQueriesContext(connection) as queries:
        page = member_table_page(organization=listed.organization, number="2", per_page=PER_PAGE)
        assert len(page.object_list) == PER_PAGE
    assert len(queries) == 2
    with CaptureQueriesContext(connection) as queries:
        page = member_table_page(organization=listed.organization, search="no such member")
        assert page.paginator.count == 0 and list(page.object_list) == []
    assert len(queries) == 1


def test_another_organizations_owner_is_refused(listed, tenant_b):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        member_table_page(organization=listed.organization, owner=tenant_b.msm)


def test_the_search_is_written_as_the_trigram_index_reads_it(db):
    """On PostgreSQL the search's conditions can use the trigram index of migration 0007 (its
    expressions are the ones ``_icontains`` writes); SQLite has no such index to use."""
    search = " OR ".join(_icontains(f"p.{column}") for column in SEARCH_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'member_search_trgm'")
            assert cursor.fetchall() == []
            return
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT p.id FROM members_member p WHERE {search}",  # noqa: S608 - our SQL
            {"search": "%mar%"},
        )
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert plan.count("Bitmap Index Scan on member_search_trgm") == 3, plan


def test_the_kept_badge_and_trend_cells_are_the_tags_markup():
    """Cells kept per process by what they show are what the template tags write for every
    gap, however it rounds (ties, negatives, no gap, no previous snapshot)."""
    gaps = [None, 0.0, 0.4, 0.5, 0.6, -0.4, 1.5, 2.5, 12.49, 12.5, 40.0, 99.5, 100.0, 1e6]
    rng = random.Random(8)
    gaps += [rng.uniform(-5, 105) for _ in range(300)]
    for band in ["at_risk", "watch", "on_track", "no_outcome", "", None, "<odd>"]:
        for gap in gaps:
            assert table_rows._badge(band, gap) == band_badge(band, gap), (band, gap)
    for gap, previous in itertools.product(gaps[:14], gaps[:14]):
        assert table_rows._trend(gap, previous) == trend_arrow(gap, previous), (gap, previous)
    for _ in range(2000):
        gap, previous = rng.uniform(0, 100), rng.uniform(0, 100)
        assert table_rows._trend(gap, previous) == trend_arrow(gap, previous), (gap, previous)
