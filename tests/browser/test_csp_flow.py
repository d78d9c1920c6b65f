"""Real Chromium: our pages and the API docs run under the CSP with no violation."""

from __future__ import annotations

import pytest

from tests.browser.flows import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page itself: every CSP refusal fires this event, whatever the console says.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_app_pages_and_api_docs_raise_no_csp_violation(page, live_server, tenant_a):
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on("console", lambda message: console.append(message.text))
    sign_in(page, live_server, tenant_a.admin)
    slug = tenant_a.organization.slug

    for path in ("book/", "members/", "portfolio/", "settings/"):
        page.goto(f"{live_server.url}/o/{slug}/{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.htmx") == "object", path
        assert violations(page) == [], path
        # Our stylesheet applied (a refused stylesheet would leave the top bar unstyled).
        assert page.locator(".topbar").evaluate("el => getComputedStyle(el).display") == "flex"

    # An htmx request (the member filter) still swaps in place under the policy.
    page.goto(f"{live_server.url}/o/{slug}/members/")
    page.locator("#id_q").fill("zzz-nobody")
    page.wait_for_load_state("networkidle")
    assert violations(page) == []

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Tandem API" in page.locator(".swagger-ui .info .title").inner_text()
    assert violations(page) == []
    assert not [text for text in console if "Content Security Policy" in text]
