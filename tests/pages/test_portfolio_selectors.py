"""The reads behind the portfolio page: results by band, experience fulfilment across the
organization, and the bar chart that draws them."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagement.selectors import experience_fulfilment_summary
from members.models import Member
from members.portfolio import experience_fulfilment_by_organization
from members.selectors import BAND_ORDER, portfolio_results, results_by_band
from outcomes.models import AppropriateExperience
from tenancy.templatetags.ui import bar_chart, direction_bar
from tests.factories import (
    AppropriateExperienceFactory,
    EngagementFactory,
    MemberFactory,
    MembershipEventFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 15)


def banded(organization, band: str, gap: float | None = None, **fields) -> Member:
    member = MemberFactory(organization=organization, **fields)
    Member.objects.for_org(organization).filter(pk=member.pk).update(
        success_band=band, success_gap=gap
    )
    return member


# --- results_by_band -------------------------------------------------------------------------


def test_results_by_band_follow_the_portfolio_definitions(tenant_a, tenant_b):
    org = tenant_a.organization
    renewed = banded(org, "on_track", 10, renewal_on=TODAY + dt.timedelta(days=300))
    MembershipEventFactory(member=renewed, kind="renew", occurred_on=TODAY - dt.timedelta(days=60))
    MembershipEventFactory(
        member=renewed, kind="upgrade", occurred_on=TODAY - dt.timedelta(days=3), amount=Decimal(40)
    )
    MembershipEventFactory(
        member=renewed, kind="upgrade", occurred_on=TODAY - dt.timedelta(days=400), amount=99
    )  # before the window
    banded(org, "on_track", 30, renewal_on=TODAY - dt.timedelta(days=1))
    banded(org, "on_track", 20, renewal_on=TODAY + dt.timedelta(days=30))
    lost = banded(org, "at_risk", 70, renewal_on=TODAY - dt.timedelta(days=100))
    MembershipEventFactory(
        member=lost, kind="upgrade", occurred_on=TODAY - dt.timedelta(days=10), amount=Decimal(15)
    )
    banded(org, "", None, renewal_on=None)
    banded(tenant_b.organization, "watch", 25, renewal_on=TODAY - dt.timedelta(days=1))

    rows = {row["band"]: row for row in results_by_band(organization=org, today=TODAY)}

    assert list(rows) == list(BAND_ORDER)
    on_track = rows["on_track"]
    assert on_track["members"] == 3 and on_track["average_gap"] == pytest.approx(20.0)
    assert (on_track["renewals_due"], on_track["renewals_done"]) == (2, 1)
    assert on_track["renewal_rate"] == Decimal("50.0")
    assert on_track["expanded_members"] == 1 and on_track["expansion_rate"] == Decimal("33.3")
    assert on_track["expansion_amount"] == Decimal("40.00")
    at_risk = rows["at_risk"]
    assert (at_risk["renewals_due"], at_risk["renewals_done"]) == (1, 0)
    assert at_risk["renewal_rate"] == Decimal("0.0") and at_risk["expansion_amount"] == Decimal(
        "15.00"
    )
    watch = rows["watch"]  # only organization B has a watch member
    assert watch["members"] == 0 and watch["renewal_rate"] is None
    assert watch["expansion_rate"] is None and watch["expansion_amount"] == Decimal("0.00")
    assert rows[""]["members"] == 1 and rows[""]["average_gap"] is None


def test_results_by_band_add_up_to_the_portfolio_totals(tenant_a):
    org = tenant_a.organization
    rng = random.Random(6)
    for _ in range(40):
        member = banded(
            org,
            rng.choice([*BAND_ORDER]),
            rng.uniform(0, 100),
            renewal_on=TODAY + dt.timedelta(days=rng.randint(-400, 200)),
        )
        for kind in rng.sample(["renew", "upgrade", "downgrade", "lapse"], k=rng.randint(0, 3)):
            MembershipEventFactory(
                member=member,
                kind=kind,
                occurred_on=TODAY - dt.timedelta(days=rng.randint(0, 500)),
                amount=Decimal(rng.randint(0, 300)),
                renewal_on=TODAY - dt.timedelta(days=rng.randint(-100, 400)),
            )
    rows = results_by_band(organization=org, today=TODAY)
    totals = portfolio_results(organization=org, today=TODAY)
    for name in ("members", "renewals_due", "renewals_done", "expanded_members"):
        assert sum(row[name] for row in rows) == totals[name], name
    assert sum(row["expansion_amount"] for row in rows) == totals["expansion_amount"]


def test_results_by_band_take_two_queries_whatever_the_number_of_members(tenant_a):
    org = tenant_a.organization

    def grow(n: int) -> int:
        for i in range(n):
            member = banded(org, BAND_ORDER[i % 5], float(i))
            MembershipEventFactory(member=member, kind="upgrade", occurred_on=TODAY)
        with CaptureQueriesContext(connection) as queries:
            results_by_band(organization=org, today=TODAY)
        return len(queries)

    assert grow(5) == grow(45) == 2


# --- experience_fulfilment_by_organization ---------------------------------------------------


def test_experience_fulfilment_across_the_organization_matches_each_members(tenant_a, tenant_b):
    """The set-based count equals the per-member selector summed over the served members."""
    org = tenant_a.organization
    rng = random.Random(11)
    now = timezone.now()
    served = []
    for i in range(25):
        status = ["active", "grace", "prospect", "lapsed", "cancelled"][i % 5]
        member = MemberFactory(organization=org, status=status)
        if status in ("active", "grace", "prospect"):
            served.append(member)
        for _ in range(rng.randint(0, 3)):
            element = AppropriateExperienceFactory(
                member=member,
                engagement_type=rng.choice(["call", "chat", "meeting_1_1"]),
                cadence_days=rng.choice([1, 7, 30, 90]),
                required=rng.random() > 0.2,
                is_active=rng.random() > 0.2,
            )
            AppropriateExperience.objects.for_org(org).filter(pk=element.pk).update(
                created_at=now - dt.timedelta(days=rng.randint(0, 120))
            )
        for _ in range(rng.randint(0, 4)):
            EngagementFactory(
                member=member,
                type=rng.choice(["call", "chat", "meeting_1_1", "email"]),
                occurred_at=now - dt.timedelta(hours=rng.randint(0, 24 * 120)),
            )
    other = MemberFactory(organization=tenant_b.organization)
    AppropriateExperienceFactory(member=other, cadence_days=1)

    totals = experience_fulfilment_by_organization(organization=org)
    summaries = [experience_fulfilment_summary(organization=org, member=m) for m in served]
    assert totals.required == sum(s.required for s in summaries) > 0
    assert totals.fulfilled == sum(s.fulfilled for s in summaries)
    assert totals.overdue == sum(s.overdue for s in summaries)
    assert totals.not_yet_due == totals.required - totals.fulfilled - totals.overdue
    assert totals.members == sum(1 for s in summaries if s.required)
    assert totals.members_with_overdue == sum(1 for s in summaries if s.overdue)
    assert totals.share == round(totals.fulfilled / totals.required, 4)


def test_the_cadence_counts_in_days_of_the_organizations_time_zone(tenant_a):
    """A 7-day element on 15 June (Paris) is kept by an engagement from 8 June 00:00 Paris
    on; one a second before is a day too old."""
    org = tenant_a.organization
    paris = org.zone
    start = dt.datetime(2025, 6, 8, tzinfo=paris)
    kept, lost = MemberFactory(organization=org), MemberFactory(organization=org)
    for member, moment in ((kept, start), (lost, start - dt.timedelta(seconds=1))):
        AppropriateExperienceFactory(member=member, engagement_type="call", cadence_days=7)
        EngagementFactory(member=member, type="call", occurred_at=moment)
    AppropriateExperience.objects.for_org(org).update(created_at=start - dt.timedelta(days=30))
    totals = experience_fulfilment_by_organization(organization=org, today=TODAY)
    assert (totals.fulfilled, totals.overdue, totals.members_with_overdue) == (1, 1, 1)
    for member, fulfilled in ((kept, 1), (lost, 0)):
        summary = experience_fulfilment_summary(organization=org, member=member, today=TODAY)
        assert summary.fulfilled == fulfilled


def test_an_engagement_after_today_does_not_count(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    AppropriateExperienceFactory(member=member, engagement_type="call", cadence_days=7)
    EngagementFactory(
        member=member, type="call", occurred_at=dt.datetime(2025, 6, 16, tzinfo=org.zone)
    )
    totals = experience_fulfilment_by_organization(organization=org, today=TODAY)
    assert totals.fulfilled == 0


def test_nothing_required_is_no_share_not_zero(tenant_a):
    totals = experience_fulfilment_by_organization(organization=tenant_a.organization)
    assert totals.required == 0 and totals.share is None


def test_experience_fulfilment_takes_two_queries_whatever_the_number_of_elements(tenant_a):
    org = tenant_a.organization

    def grow(n: int) -> int:
        for i in range(n):
            member = MemberFactory(organization=org)
            AppropriateExperienceFactory(member=member, cadence_days=1 + i % 9)
            EngagementFactory(member=member, type="meeting_1_1")
        with CaptureQueriesContext(connection) as queries:
            experience_fulfilment_by_organization(organization=org)
        return len(queries)

    assert grow(5) == grow(45) == 2


# --- the chart -------------------------------------------------------------------------------


def test_the_bar_chart_has_text_labels_and_escapes_them():
    svg = bar_chart(
        [("On track", 3, "bar-on_track"), ("<b>Bold</b>", None, "bar-x"), ("Six", 6, "bar-y")],
        "Members:",
    )
    assert 'role="img"' in svg
    assert 'aria-label="Members: On track: 3; &lt;b&gt;Bold&lt;/b&gt;: no data; Six: 6"' in svg
    assert '<text class="bar-name" x="0" y="11">On track</text>' in svg
    assert 'width="42.50%"' in svg and 'width="85.00%"' in svg  # 3 and 6 of a top of 6
    assert "<b>" not in svg and ">no data</text>" in svg


def test_the_bar_chart_scales_to_a_given_top_and_formats_decimals():
    svg = bar_chart([("Rate", Decimal("50.0"), "bar")], "Rates:", unit="%", top=100)
    assert 'width="42.50%"' in svg and ">50.0%</text>" in svg


def test_the_direction_bar_reads_every_direction():
    mix = {
        "directions": {
            "inbound_reactive": {"label": "Inbound, reactive", "share": 0.25},
            "outbound_proactive": {"label": "Outbound, proactive", "share": 0.75},
        }
    }
    svg = direction_bar(mix)
    assert 'aria-label="Direction mix: Inbound, reactive 25%, Outbound, proactive 75%"' in svg
    assert 'class="mix-outbound_proactive"' in svg
