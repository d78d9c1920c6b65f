"""Logging in, choosing an organization and being refused another's, in real Chromium."""

import pytest

from tests.factories import TEST_PASSWORD, SeatFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_wrong_password_shows_an_error_in_place(page, live_server, tenant_a):
    log_in(page, live_server, tenant_a.msm.user.email, "not-the-password")
    alert = page.get_by_role("alert")
    assert "do not match an account" in alert.inner_text()
    assert page.url.endswith("/accounts/login/")


def test_login_choose_switch_and_log_out(page, live_server, tenant_a, tenant_b):
    user = tenant_a.admin.user
    SeatFactory(organization=tenant_b.organization, user=user, role="viewer")
    log_in(page, live_server, user.email, TEST_PASSWORD)

    page.get_by_role("heading", name="Choose an organization").wait_for()
    page.get_by_role("link", name=tenant_b.organization.name).click()
    page.get_by_role("heading", name="My book").wait_for()
    assert page.url.endswith(f"/o/{tenant_b.organization.slug}/book/")
    assert tenant_b.organization.name in page.locator(".org-name").inner_text()
    assert "Viewer" in page.locator(".user-menu").inner_text()

    # The stylesheet is served and applied: the top bar is laid out as a flex row.
    assert page.locator(".topbar").evaluate("el => getComputedStyle(el).display") == "flex"
    # htmx is loaded through django-htmx.
    assert page.evaluate("typeof window.htmx") == "object"

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in to Tandem").wait_for()


def test_another_organizations_page_is_not_found(page, live_server, tenant_a, tenant_b):
    log_in(page, live_server, tenant_a.msm.user.email, TEST_PASSWORD)
    page.get_by_role("heading", name="My book").wait_for()
    response = page.goto(f"{live_server.url}/o/{tenant_b.organization.slug}/")
    assert response.status == 404
    assert tenant_b.organization.name not in page.content()
