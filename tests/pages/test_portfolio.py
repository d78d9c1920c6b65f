"""The portfolio page: gap distribution, results by band, anticipation, direction mix per seat
and experience fulfilment, on a hand-built portfolio whose figures are worked out below."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.models import Member
from outcomes.models import AppropriateExperience
from tenancy.selectors import organization_today
from tests.factories import (
    AppropriateExperienceFactory,
    EngagementFactory,
    MemberFactory,
    MembershipEventFactory,
    NudgeFactory,
    OrchestratedEventFactory,
    SeatFactory,
)

pytestmark = pytest.mark.django_db


def url(tenant, **query) -> str:
    base = reverse("members_extra:portfolio", kwargs={"org_slug": tenant.organization.slug})
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def banded(tenant, band: str, gap: float | None, **fields) -> Member:
    member = MemberFactory(organization=tenant.organization, **fields)
    Member.objects.for_org(tenant.organization).filter(pk=member.pk).update(
        success_band=band, success_gap=gap
    )
    return member


def event(member, *, announced_in_time: bool, days_ago: int = 5):
    """A happened orchestrated event; its announcement was sent in time or a day late."""
    scheduled = timezone.now() - dt.timedelta(days=days_ago)
    orchestrated = OrchestratedEventFactory(
        member=member, scheduled_for=scheduled, status="happened", lead_days=[14, 2]
    )
    sent = scheduled - dt.timedelta(days=14 if announced_in_time else 13)
    NudgeFactory(
        member=member,
        event=orchestrated,
        kind="announcement",
        status="sent",
        sent_at=sent,
        scheduled_for=sent,
    )


def hand_built(tenant) -> None:
    """On track: 2 members (gaps 10 and 20), both due to renew, one renewed and upgraded
    (100.00). At risk: 3 members (gaps 60, 70, 80), two due, none renewed. Watch: nobody.
    One member without a recorded outcome, one not scored yet, one lapsed at risk (not served,
    not due). Anticipation: 1 of 2 events of the last 90 days in time. Experience: 3 required elements among served
    members — 1 fulfilled, 1 overdue, 1 not yet due (the lapsed member's does not count)."""
    today = organization_today(tenant.organization)
    msm, admin = tenant.msm, tenant.admin
    ada = banded(tenant, "on_track", 10.0, owner=msm, renewal_on=today + dt.timedelta(days=340))
    MembershipEventFactory(member=ada, kind="renew", occurred_on=today - dt.timedelta(days=25))
    MembershipEventFactory(
        member=ada, kind="upgrade", occurred_on=today - dt.timedelta(days=5), amount=Decimal(100)
    )
    banded(tenant, "on_track", 20.0, owner=msm, renewal_on=today - dt.timedelta(days=30))
    cleo = banded(tenant, "at_risk", 60.0, owner=admin, renewal_on=today - dt.timedelta(days=15))
    banded(tenant, "at_risk", 70.0, owner=admin, renewal_on=today - dt.timedelta(days=40))
    banded(tenant, "at_risk", 80.0, renewal_on=today + dt.timedelta(days=60))
    fern = banded(tenant, "no_outcome", None, renewal_on=today + dt.timedelta(days=60))
    banded(tenant, "", None, renewal_on=today + dt.timedelta(days=60))
    lapsed = banded(tenant, "at_risk", 90.0, status="lapsed", renewal_on=None)

    event(ada, announced_in_time=True)
    event(cleo, announced_in_time=False)
    event(cleo, announced_in_time=True, days_ago=120)  # before the 90 days: not counted

    AppropriateExperienceFactory(member=ada, engagement_type="meeting_1_1", cadence_days=30)
    EngagementFactory(
        member=ada,
        seat=msm,
        type="meeting_1_1",
        direction="outbound_proactive",
        occurred_at=timezone.now() - dt.timedelta(days=5),
    )
    overdue = AppropriateExperienceFactory(member=cleo, engagement_type="call", cadence_days=7)
    AppropriateExperienceFactory(member=fern, engagement_type="chat", cadence_days=30)
    late = AppropriateExperienceFactory(member=lapsed, engagement_type="call", cadence_days=7)
    AppropriateExperience.objects.for_org(tenant.organization).filter(
        pk__in=[overdue.pk, late.pk]
    ).update(created_at=timezone.now() - dt.timedelta(days=20))

    # The MSM's direction mix: 1 inbound-reactive and 2 outbound-proactive (with ada's above).
    EngagementFactory(member=ada, seat=msm, direction="inbound_reactive")
    EngagementFactory(member=cleo, seat=msm, direction="outbound_proactive", type="email")
    EngagementFactory(  # before the 30 days of the mix: not counted
        member=cleo, seat=msm, type="email", occurred_at=timezone.now() - dt.timedelta(days=40)
    )


def test_the_portfolio_shows_the_hand_built_figures(login, tenant_a, tenant_b):
    hand_built(tenant_a)
    banded(tenant_b, "watch", 30.0, name="Other Org Member")
    body = login(tenant_a.admin).get(url(tenant_a)).content.decode()

    # Gap distribution by band: counts, shares and average gaps, and the chart reads them.
    assert 'aria-label="Members by band: On track: 2; Watch: 0; At risk: 4;' in body
    assert "No desired outcome recorded: 1; Not scored: 1" in body
    assert "<td>2</td>\n            <td>25%</td>\n            <td>15.0</td>" in body
    assert "<td>4</td>\n            <td>50%</td>\n            <td>75.0</td>" in body

    # Renewal and expansion by band: does a small gap go with renewing?
    assert "<td>1 / 2</td>\n            <td>50.0%</td>\n            <td>1</td>\n" in body
    assert "<td>50.0%</td>\n            <td>100.00</td>" in body  # on track: upgrades
    assert "<td>0 / 2</td>\n            <td>0.0%</td>" in body  # at risk: nobody renewed
    assert 'aria-label="Renewal rate by band: On track: 50.0%; Watch: no data;' in body
    assert "<dt>Renewal rate</dt><dd>25.0%</dd>" in body  # 1 of the 4 due

    # Anticipation: 1 of 2 events announced in time.
    assert "<dt>Anticipation rate</dt><dd>50%</dd>" in body
    assert "1 of 2 events of the last 90 days were announced to the member in time." in body

    # Experience: 1 of 3 elements fulfilled, 1 overdue for 1 member, 1 not yet due.
    assert "1 of 3 required experience elements delivered on cadence, for 3 members" in body
    assert "1 overdue</strong>, for 1 member" in body and "1 not yet due" in body

    # The team: the MSM's mix (2 of 3 proactive), anticipation per current owner.
    msm_row = body.split(tenant_a.msm.user.display_name, 1)[1].split("</tr>", 1)[0]
    assert (
        "Direction mix: Inbound, reactive 33%, Outbound, reactive 0%, Outbound, proactive 67%"
        in msm_row
    )
    assert "<td>3</td>" in msm_row and "<td>67%</td>" in msm_row
    assert "100% <span" in msm_row and "(1 of 1)" in msm_row
    admin_row = body.split(tenant_a.admin.user.display_name + " <span", 1)[1].split("</tr>", 1)[0]
    assert "No engagement logged" in admin_row and "0% <span" in admin_row
    assert tenant_a.viewer.user.display_name + " <span" not in body  # viewers work no accounts

    assert "Other Org Member" not in body
    assert "Watch: 0" in body  # B's watch member is not counted here


def test_bands_are_named_in_words_not_colour_alone(login, tenant_a):
    hand_built(tenant_a)
    body = login(tenant_a.msm).get(url(tenant_a)).content.decode()
    for words in ("On track", "Watch", "At risk", "No outcome recorded", "Not scored"):
        assert words in body
    assert "<h1>Portfolio</h1>" in body and body.index("<h1>") < body.index("<h2")


def test_an_empty_organization_shows_no_data_instead_of_zero_rates(login, tenant_a):
    body = login(tenant_a.admin).get(url(tenant_a)).content.decode()
    assert "<dt>Renewal rate</dt><dd>—</dd>" in body
    assert "No orchestrated event happened" in body
    assert "No member we serve has a required experience element yet." in body


def test_a_viewer_may_read_the_portfolio_but_not_post_to_it(login, tenant_a):
    hand_built(tenant_a)
    client = login(tenant_a.viewer)
    response = client.get(url(tenant_a))
    assert response.status_code == 200
    assert "<form" not in response.content.decode().split("<main", 1)[1]
    assert client.post(url(tenant_a)).status_code == 405


def test_the_team_list_is_paginated(login, tenant_a):
    for _ in range(26):
        SeatFactory(organization=tenant_a.organization, role="msm")
    client = login(tenant_a.admin)
    first = client.get(url(tenant_a)).content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = client.get(url(tenant_a, page=2)).content.decode()
    assert "Page 2 of 2" in second


def test_the_portfolio_uses_a_constant_number_of_queries(login, tenant_a):
    client = login(tenant_a.admin)
    hand_built(tenant_a)
    today = organization_today(tenant_a.organization)

    def grow(n: int) -> None:
        for i in range(n):
            seat = SeatFactory(organization=tenant_a.organization, role="msm")
            member = banded(
                tenant_a,
                ["on_track", "watch", "at_risk", "no_outcome", ""][i % 5],
                float(i % 100),
                owner=seat,
                renewal_on=today - dt.timedelta(days=i % 300),
            )
            MembershipEventFactory(member=member, kind="renew", occurred_on=today)
            MembershipEventFactory(member=member, kind="upgrade", occurred_on=today)
            EngagementFactory(member=member, seat=seat)
            AppropriateExperienceFactory(member=member, cadence_days=1 + i % 40)
            event(member, announced_in_time=bool(i % 2))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(tenant_a)).status_code == 200
        return len(queries)

    grow(5)
    small = count()
    grow(45)
    assert count() == small
