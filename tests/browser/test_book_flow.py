"""An MSM's day in real Chromium: log in, open My book, filter it, open a member and log an
engagement inline — each update in place, without a page reload."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.scoring import success_gaps_recompute
from tests.browser.flows import log_in, mark_window, screenshot, sign_in, window_kept
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

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def book_of(tenant):
    """Two accounts of the MSM — one at risk, one on track — and one of the admin's."""
    organization = tenant.organization
    risky = MemberFactory(organization=organization, owner=tenant.msm, name="Risky Rita")
    goal = GoalFactory(desired_outcome__member=risky, current_value=Decimal(2))
    ConditionFactory(goal=goal, state="not_met")
    CommitmentFactory(goal=goal, party="together")
    ProgressMilestoneFactory(member=risky, due_on=timezone.localdate() - dt.timedelta(days=3))
    AppropriateExperienceFactory(member=risky)
    EngagementFactory(member=risky, seat=tenant.msm)
    ContextEventFactory(member=risky)
    safe = MemberFactory(organization=organization, owner=tenant.msm, name="Safe Sam")
    GoalFactory(desired_outcome__member=safe, current_value=Decimal(40))
    MemberFactory(organization=organization, owner=tenant.admin, name="Not Mine")
    success_gaps_recompute(organization=organization)
    return risky


def test_log_in_open_my_book_and_filter_it_in_place(page, live_server, tenant_a):
    book_of(tenant_a)
    log_in(page, live_server, tenant_a.msm.user.email)
    page.get_by_role("link", name="My book").click()
    page.get_by_role("heading", name="My book", level=1).wait_for()
    results = page.locator("#results")
    expect(results).to_contain_text("Risky Rita")
    expect(results).to_contain_text("Safe Sam")
    expect(results).not_to_contain_text("Not Mine")
    screenshot(page, "my-book")

    mark_window(page)
    page.locator("form.filters").get_by_label("Band").select_option("at_risk")
    expect(results).not_to_contain_text("Safe Sam")
    expect(results).to_contain_text("Risky Rita")
    expect(results).to_contain_text("At risk")  # the band in words
    assert "band=at_risk" in page.url  # bookmarkable
    assert window_kept(page), "filtering reloaded the page"

    page.reload()  # the bookmarked URL shows the same list
    expect(results).not_to_contain_text("Safe Sam")
    expect(page.locator("form.filters").get_by_label("Band")).to_have_value("at_risk")


def test_open_a_member_and_log_an_engagement_inline(page, live_server, tenant_a):
    risky = book_of(tenant_a)
    sign_in(page, live_server, tenant_a.msm)
    page.goto(f"{live_server.url}/o/{tenant_a.organization.slug}/book/")
    page.get_by_role("link", name="Risky Rita").click()
    page.get_by_role("heading", name="Risky Rita", level=1).wait_for()
    assert page.url.endswith(f"/members/{risky.pk}/")
    expect(page.locator("#member-header")).to_contain_text("At risk")
    screenshot(page, "member-360")

    mark_window(page)
    form = page.locator("form[aria-label='Log an engagement']")
    form.get_by_label("Direction").select_option("outbound_proactive")
    form.get_by_label("Type").select_option("meeting_1_1")
    form.get_by_label("Summary").fill("Rehearsed the board presentation together")
    form.get_by_role("button", name="Log engagement").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Rehearsed the board presentation together")
    assert window_kept(page), "logging an engagement reloaded the page"
    screenshot(page, "member-360-engagement-logged")
