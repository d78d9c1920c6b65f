"""Member 360's inline actions in real Chromium: a goal refused without its due date (the error
in place), and a milestone marked achieved that moves the success gap — without a reload."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import AuditEntry
from outcomes.models import Goal
from outcomes.scoring import success_gaps_recompute
from tests.browser.flows import mark_window, screenshot, sign_in, window_kept
from tests.factories import (
    DesiredOutcomeFactory,
    GoalFactory,
    MemberFactory,
    ProgressMilestoneFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_member(page, live_server, tenant, member) -> None:
    sign_in(page, live_server, tenant.msm)
    page.goto(f"{live_server.url}/o/{tenant.organization.slug}/members/{member.pk}/")
    page.get_by_role("heading", name=member.name, level=1).wait_for()
    mark_window(page)


def test_a_goal_without_a_due_date_is_refused_in_place(page, live_server, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm, name="Gia Goal")
    outcome = DesiredOutcomeFactory(member=member, title="Lead the regional chapter")
    open_member(page, live_server, tenant_a, member)

    page.locator("#outcomes").get_by_text("Add a goal").click()
    form = page.locator("form[aria-label^='Add a goal']")
    form.get_by_label("Objective").fill("Chair three chapter meetings")
    form.get_by_label("Starts").fill(timezone.localdate().isoformat())
    form.get_by_role("button", name="Add goal").click()

    error = page.locator("form[aria-label^='Add a goal'] .field-invalid")
    expect(error).to_contain_text("A goal needs a time frame: give the date it is due.")
    expect(error.get_by_label("Due (required)")).to_be_visible()  # next to the due date
    expect(page.locator("form[aria-label^='Add a goal']").get_by_label("Objective")).to_have_value(
        "Chair three chapter meetings"
    )  # what was typed is kept
    assert window_kept(page), "the refused goal reloaded the page"
    assert not Goal.objects.for_org(tenant_a.organization).filter(desired_outcome=outcome).exists()
    screenshot(page, "member-360-goal-refused")

    form = page.locator("form[aria-label^='Add a goal']")
    form.get_by_label("Due (required)").fill(
        (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    )
    form.get_by_role("button", name="Add goal").click()
    expect(page.locator("#outcomes")).to_contain_text("Chair three chapter meetings")
    expect(page.locator("#outcomes .field-invalid")).to_have_count(0)
    assert window_kept(page)
    assert Goal.objects.for_org(tenant_a.organization).filter(desired_outcome=outcome).count() == 1


def test_marking_a_milestone_moves_the_gap(page, live_server, tenant_a):
    """No progress on the goal (outcome attainment 0) and two functional milestones due, none
    done (functional completion 0): gap 0. One achieved: completion 1/2, gap 50."""
    today = timezone.localdate()
    member = MemberFactory(
        organization=tenant_a.organization, owner=tenant_a.msm, name="Milo Stone"
    )
    GoalFactory(desired_outcome__member=member, current_value=Decimal(0))
    first = ProgressMilestoneFactory(
        member=member, name="Finished the orientation", due_on=today - dt.timedelta(days=10)
    )
    ProgressMilestoneFactory(
        member=member, name="Booked the first workshop", due_on=today - dt.timedelta(days=5)
    )
    success_gaps_recompute(organization=tenant_a.organization)
    open_member(page, live_server, tenant_a, member)
    header = page.locator("#member-header")
    expect(header).to_contain_text("gap 0")

    page.locator(f"#milestone-{first.pk}").get_by_role("button", name="Mark achieved").click()
    expect(header).to_contain_text("gap 50")
    expect(page.locator(f"#milestone-{first.pk}")).to_contain_text("achieved")
    assert window_kept(page), "marking a milestone reloaded the page"
    screenshot(page, "member-360-milestone-marked")
    # The audit trail names the seat that clicked, with the milestone's before → after.
    entry = AuditEntry.objects.for_org(tenant_a.organization).get(
        action="milestone.achieve", object_id=first.pk
    )
    assert (entry.actor_kind, entry.seat_id) == ("seat", tenant_a.msm.pk)
    assert entry.changes["achieved_via"] == ["", "manual"]
