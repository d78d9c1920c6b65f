"""Security headers on every response, and a CSP our own pages satisfy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ops.conftest import ROOT


def csp(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def assert_security_headers(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    policy = csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz", "/readyz", "/no-such-page/"])
def test_anonymous_responses_carry_the_headers(client, path):
    assert_security_headers(client.get(path))


def test_an_organization_page_carries_the_headers_and_a_fresh_nonce(login, tenant_a):
    client = login(tenant_a.msm)
    url = f"/o/{tenant_a.organization.slug}/book/"
    first, second = client.get(url), client.get(url)
    assert first.status_code == 200
    assert_security_headers(first)
    nonce = re.search(r"'nonce-([^']+)'", csp(first)["script-src"]).group(1)
    assert len(nonce) >= 22
    assert nonce not in csp(second)["script-src"]
    # htmx is loaded from our own static files, with the nonce django-htmx adds.
    assert f'src="/static/django_htmx/htmx-2.min.js" defer nonce="{nonce}"' in (
        first.content.decode()
    )


def test_our_templates_have_no_inline_scripts_styles_or_handlers():
    """The CSP refuses these; a template that needs one must carry ``nonce="{{ csp_nonce }}"``."""
    offenders = []
    template_dirs = [ROOT / "templates", *ROOT.glob("*/templates")]
    for folder in template_dirs:
        for template in Path(folder).rglob("*.html"):
            text = template.read_text()
            for match in re.finditer(r"<script\b[^>]*>|<style\b[^>]*>", text):
                tag = match.group(0)
                if "src=" not in tag and "nonce=" not in tag:
                    offenders.append(f"{template}: {tag}")
            for match in re.finditer(r"\s(style|on[a-z]+)=\"", text):
                offenders.append(f"{template}: {match.group(0).strip()}")
    assert offenders == []


@pytest.mark.django_db
def test_the_api_docs_render_with_their_nonce(client, tenant_a, login):
    client = login(tenant_a.admin)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = csp(response)
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    body = response.content.decode()
    assert f'<script nonce="{nonce}">' in body
    assert "SwaggerUIBundle" in body
    # Swagger UI sets inline styles: relaxed for styles only, never for scripts.
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert "'unsafe-inline'" not in policy["script-src"]


@pytest.mark.django_db
def test_the_500_page_needs_no_inline_style(client, settings):
    from django.template.loader import get_template

    html = get_template("500.html").render()
    assert "style=" not in html
    assert "/static/css/error.css" in html
