"""CSV import watched to 100 % in real Chromium, and the portfolio page drawn with its charts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from members.models import Member, MemberImport
from members.tasks import import_members
from tests.browser.flows import mark_window, screenshot, sign_in, window_kept
from tests.factories import MemberFactory
from tests.pages.test_portfolio import hand_built

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 1200  # more than two progress steps of the worker


def members_csv(rows: int) -> bytes:
    lines = ["name,email,external_id,status,joined_on"]
    lines += [
        f"Member {n},member{n}@example.test,IMP-{n},active,2024-01-{1 + n % 28:02}"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_import_a_csv_and_watch_the_progress_reach_100(page, live_server, tenant_a):
    organization = tenant_a.organization
    sign_in(page, live_server, tenant_a.msm)
    page.goto(f"{live_server.url}/o/{organization.slug}/members/import/")
    page.get_by_role("heading", name="Import members", level=1).wait_for()
    page.get_by_label("CSV file").set_input_files(
        {"name": "new-members.csv", "mimeType": "text/csv", "buffer": members_csv(ROWS)}
    )
    screenshot(page, "import-upload")
    page.get_by_role("button", name="Upload and import").click()

    page.get_by_role("heading", name="Import of new-members.csv").wait_for()
    bar = page.locator("#import-bar")
    expect(bar).to_have_attribute("value", "0")
    expect(page.locator("#import-progress")).to_have_attribute("hx-trigger", "every 1s")
    mark_window(page)

    # The worker's task, run here as the worker would run it, while the page polls.
    member_import = MemberImport.objects.for_org(organization).get()
    assert import_members(import_id=member_import.pk, organization_id=organization.pk) == "done"

    expect(bar).to_have_attribute("value", "100", timeout=10_000)
    expect(page.locator("#import-progress")).to_contain_text(f"Imported {ROWS} members (100%)")
    expect(page.locator("#import-progress")).not_to_have_attribute("hx-trigger", "every 1s")
    assert window_kept(page), "the status page reloaded instead of polling"
    assert Member.objects.for_org(organization).count() == ROWS
    screenshot(page, "import-done")


def test_a_refused_row_is_reported_on_the_page(page, live_server, tenant_a):
    organization = tenant_a.organization
    MemberFactory(organization=organization, external_id="IMP-1")
    sign_in(page, live_server, tenant_a.admin)
    page.goto(f"{live_server.url}/o/{organization.slug}/members/import/")
    page.get_by_label("CSV file").set_input_files(
        {"name": "clash.csv", "mimeType": "text/csv", "buffer": members_csv(3)}
    )
    page.get_by_role("button", name="Upload and import").click()
    page.get_by_role("heading", name="Import of clash.csv").wait_for()
    mark_window(page)
    member_import = MemberImport.objects.for_org(organization).get()
    import_members(import_id=member_import.pk, organization_id=organization.pk)

    report = page.get_by_role("table", name="Refused rows")
    expect(report).to_contain_text("Another member of this organization has this external id.")
    expect(report.locator("tbody tr").first).to_contain_text("3")  # IMP-1 is on row 3
    expect(page.locator("#import-progress")).to_contain_text("nothing was imported")
    assert window_kept(page)
    assert Member.objects.for_org(organization).count() == 1
    screenshot(page, "import-refused")


def test_the_portfolio_draws_its_charts(page, live_server, tenant_a):
    hand_built(tenant_a)  # the page test's portfolio: its figures are worked out there
    sign_in(page, live_server, tenant_a.admin)
    page.goto(f"{live_server.url}/o/{tenant_a.organization.slug}/portfolio/")
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    chart = page.get_by_role("img", name="Members by band:")
    expect(chart).to_be_visible()
    assert "At risk: 4" in chart.get_attribute("aria-label")
    at_risk = chart.locator("rect.bar-at_risk").bounding_box()["width"]
    on_track = chart.locator("rect.bar-on_track").bounding_box()["width"]
    assert at_risk == pytest.approx(2 * on_track, rel=0.02)  # 4 members against 2
    expect(page.get_by_role("img", name="Renewal rate by band:")).to_be_visible()
    expect(page.get_by_role("img", name="Direction mix:").first).to_be_visible()
    screenshot(page, "portfolio")
