"""My book, the member list (with CSV export) and Member 360, with its inline engagement form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagement.models import Engagement
from outcomes.scoring import success_gaps_recompute
from tests.factories import (
    AppropriateExperienceFactory,
    CommitmentFactory,
    ConditionFactory,
    ContextEventFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db


def url(name: str, tenant, **kwargs) -> str:
    return reverse(name, kwargs={"org_slug": tenant.organization.slug, **kwargs})


def rich_member(tenant, **fields):
    """A member with something in every section of the Member 360 page."""
    member = MemberFactory(organization=tenant.organization, owner=tenant.msm, **fields)
    goal = GoalFactory(desired_outcome__member=member, current_value=Decimal(5))
    ConditionFactory(goal=goal, state="not_met")
    CommitmentFactory(goal=goal, party="together")
    ProgressMilestoneFactory(member=member, due_on=timezone.localdate() - dt.timedelta(days=3))
    AppropriateExperienceFactory(member=member)
    EngagementFactory(member=member, seat=tenant.msm)
    ContextEventFactory(member=member)
    return member


def test_my_book_lists_my_accounts_riskiest_first(login, tenant_a, tenant_b):
    mine_safe = MemberFactory(
        organization=tenant_a.organization, owner=tenant_a.msm, name="Safe Sam"
    )
    rich_member(tenant_a, name="Risky Rita")
    MemberFactory(organization=tenant_a.organization, owner=tenant_a.admin, name="Not Mine")
    MemberFactory(organization=tenant_b.organization, name="Other Org")
    GoalFactory(desired_outcome__member=mine_safe, current_value=Decimal(40))
    success_gaps_recompute(organization=tenant_a.organization)
    body = login(tenant_a.msm).get(url("members:book", tenant_a)).content.decode()
    assert body.index("Risky Rita") < body.index("Safe Sam")
    assert "Not Mine" not in body and "Other Org" not in body
    assert "At risk" in body  # the band in words, not only a colour
    assert "direction mix" in body.lower()


def test_filters_update_the_list_through_htmx_with_a_bookmarkable_url(login, tenant_a):
    MemberFactory(
        organization=tenant_a.organization, owner=tenant_a.msm, name="Gold Gwen", tier="Gold"
    )
    MemberFactory(
        organization=tenant_a.organization, owner=tenant_a.msm, name="Basic Bob", tier="Basic"
    )
    client = login(tenant_a.msm)
    response = client.get(url("members:book", tenant_a) + "?tier=Gold", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body  # a fragment for htmx
    assert "Gold Gwen" in body and "Basic Bob" not in body
    full = client.get(url("members:book", tenant_a) + "?tier=Gold").content.decode()
    assert "<html" in full and "Gold Gwen" in full and "Basic Bob" not in full


def test_a_bad_filter_value_is_shown_not_a_500(login, tenant_a):
    response = login(tenant_a.msm).get(url("members:list", tenant_a) + "?band=purple&renewal=7")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_member_list_searches_and_paginates(login, tenant_a):
    MemberFactory.create_batch(30, organization=tenant_a.organization, name="Pat Member")
    MemberFactory(organization=tenant_a.organization, name="Quincy Unique")
    client = login(tenant_a.viewer)
    body = client.get(url("members:list", tenant_a)).content.decode()
    assert "31 members" in body and "Page 1 of 2" in body
    found = client.get(url("members:list", tenant_a) + "?q=quincy").content.decode()
    assert "Quincy Unique" in found and "1 member" in found


def test_csv_export_is_the_filtered_list(login, tenant_a, tenant_b):
    MemberFactory(organization=tenant_a.organization, name="Ann Export", tier="Gold")
    MemberFactory(organization=tenant_a.organization, name="Ben Skip", tier="Basic")
    MemberFactory(organization=tenant_b.organization, name="Other Org", tier="Gold")
    response = login(tenant_a.viewer).get(url("members:export", tenant_a) + "?tier=Gold")
    content = b"".join(response.streaming_content).decode()
    assert response["Content-Type"] == "text/csv"
    assert "Ann Export" in content and "Ben Skip" not in content and "Other Org" not in content
    assert content.splitlines()[0].startswith("id,external_id,name")


def test_member_360_shows_every_section(login, tenant_a):
    member = rich_member(tenant_a, name="Whole Wanda")
    success_gaps_recompute(organization=tenant_a.organization)
    body = (
        login(tenant_a.viewer)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    for text in (
        "Whole Wanda",
        "Desired outcomes",
        "Complete 40 continuing-education credits",
        "Feels confident presenting",
        "Appropriate experience",
        "Milestones",
        "Joint accountability",
        "Blind spot",
        "Engagement and context",
        "Why this gap?",
        "course_completed",
    ):
        assert text in body, text
    assert "Log engagement" not in body  # a viewer sees no write controls


@pytest.mark.parametrize("name", ["members:book", "members:list", "members:detail"])
def test_pages_use_a_constant_number_of_queries(login, tenant_a, name):
    client = login(tenant_a.msm)
    anchor = rich_member(tenant_a)

    def count() -> int:
        kwargs = {"member_id": anchor.pk} if name == "members:detail" else {}
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(name, tenant_a, **kwargs)).status_code == 200
        return len(queries)

    def grow(n: int) -> None:
        for _ in range(n):
            rich_member(tenant_a)
            goal = GoalFactory(desired_outcome__member=anchor)
            ConditionFactory(goal=goal)
            EngagementFactory(member=anchor, seat=tenant_a.msm)
        success_gaps_recompute(organization=tenant_a.organization)

    grow(4)
    small = count()
    grow(45)
    assert count() == small


def test_logging_an_engagement_inline_updates_the_timeline_and_the_gap(login, tenant_a):
    member = rich_member(tenant_a)
    client = login(tenant_a.msm)
    response = client.post(
        url("members:log_engagement", tenant_a, member_id=member.pk),
        {
            "direction": "outbound_proactive",
            "type": "meeting_1_1",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "summary": "Planned the board presentation",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Planned the board presentation" in body
    assert 'id="member-header"' in body and 'hx-swap-oob="true"' in body
    member.refresh_from_db()
    assert member.success_band  # scored at once
    assert Engagement.objects.for_org(tenant_a.organization).filter(member=member).count() == 2


def test_a_bad_engagement_shows_field_errors_and_writes_nothing(login, tenant_a):
    member = rich_member(tenant_a)
    client = login(tenant_a.msm)
    future = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url("members:log_engagement", tenant_a, member_id=member.pk),
        {"direction": "sideways", "type": "call", "occurred_at": future},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "field-error" in body and "sideways" in body
    assert Engagement.objects.for_org(tenant_a.organization).filter(member=member).count() == 1
    no_js = client.post(
        url("members:log_engagement", tenant_a, member_id=member.pk),
        {"direction": "outbound_proactive", "type": "call", "occurred_at": future},
    )
    assert no_js.status_code == 400
    assert "future" in no_js.content.decode()


def test_a_viewer_cannot_log_an_engagement(login, tenant_a):
    member = rich_member(tenant_a)
    response = login(tenant_a.viewer).post(
        url("members:log_engagement", tenant_a, member_id=member.pk),
        {
            "direction": "outbound_proactive",
            "type": "call",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 403
    assert Engagement.objects.for_org(tenant_a.organization).filter(member=member).count() == 1


def test_pages_show_times_on_the_organizations_clock(login, tenant_a):
    organization = tenant_a.organization
    organization.time_zone = "Asia/Tokyo"  # UTC+9
    organization.save()
    member = MemberFactory(organization=organization)
    EngagementFactory(member=member, occurred_at=dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC))
    body = (
        login(tenant_a.msm)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    assert "Mar 2, 2026 21:00" in body
    assert timezone.get_current_timezone_name() == "UTC"  # the request's zone did not leak out


def test_an_id_longer_than_any_row_is_404_not_500(login, tenant_a):
    """The member pages read their URL's row by id: an id past 64 bits names no row."""
    client = login(tenant_a.msm)
    slug = tenant_a.organization.slug
    assert client.get(f"/o/{slug}/members/{2**63}/").status_code == 404
    assert client.post(f"/o/{slug}/milestones/{2**64}/achieve/").status_code == 404
    assert client.post(f"/o/{slug}/goals/{2**63}/progress/").status_code == 404
