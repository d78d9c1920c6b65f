"""An admin configures coverage in real Chromium: the match preview answers as the rules are
typed, in place, and the model is created."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orchestration.models import CoverageModel
from tests.browser.flows import mark_window, screenshot, sign_in, window_kept
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_a_coverage_model_and_sees_the_preview(page, live_server, tenant_a):
    organization = tenant_a.organization
    MemberFactory.create_batch(3, organization=organization, tier="Gold")
    MemberFactory.create_batch(2, organization=organization, tier="Basic")
    sign_in(page, live_server, tenant_a.admin)
    page.goto(f"{live_server.url}/o/{organization.slug}/settings/")
    page.get_by_role("navigation", name="Settings sections").get_by_role(
        "link", name="Coverage models"
    ).click()
    page.get_by_role("link", name="New coverage model").click()
    page.get_by_role("heading", name="New coverage model", level=1).wait_for()
    mark_window(page)

    page.get_by_label("Name", exact=True).fill("Gold members")
    page.get_by_label("Field of rule 1").fill("tier")
    page.get_by_label("Operator of rule 1").select_option("eq")
    page.get_by_label("Value of rule 1").fill("Gold")
    page.get_by_label("Value of rule 1").blur()  # a change: the preview asks the server
    preview = page.locator("#coverage-preview")
    expect(preview).to_contain_text("3 members would match")
    assert window_kept(page), "the preview reloaded the page"
    screenshot(page, "settings-coverage-preview")

    page.get_by_role("button", name="Create coverage model").click()
    expect(page.get_by_role("link", name="Gold members")).to_be_visible()
    model = CoverageModel.objects.for_org(organization).get()
    assert model.name == "Gold members"
    assert model.criteria == [{"field": "tier", "op": "eq", "value": "Gold"}]
