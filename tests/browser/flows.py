"""Helpers the browser flows share: logging in, screenshots, and proof that a page was not
reloaded (a marker set on ``window`` survives an htmx swap but not a navigation)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.test import Client

from tenancy.models import Seat
from tests.factories import TEST_PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MARKER = "tandem-no-reload"


def log_in(page, live_server, email: str, password: str = TEST_PASSWORD) -> None:
    """Log in through the form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def sign_in(page, live_server, seat: Seat) -> None:
    """Start the browser with a signed-in session (the form itself is tested once)."""
    client = Client()
    client.force_login(seat.user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def mark_window(page) -> None:
    page.evaluate(f"window.__tandemMarker = {MARKER!r}")


def window_kept(page) -> bool:
    """True when the page was updated in place since ``mark_window``."""
    return page.evaluate("window.__tandemMarker") == MARKER
