"""Resolving the seat of a page request: the session's user and the seat in one query, with
exactly the answers Django's own ``get_user`` and the seat lookup gave (tenancy/access.py), and
the database sessions read by ``ops.sessions``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenancy.models import Seat

pytestmark = pytest.mark.django_db


def _dashboard(tenant) -> str:
    return f"/o/{tenant.organization.slug}/"


def test_a_page_reads_session_then_seat_with_user_and_organization(login, tenant_a):
    client = login(tenant_a.msm)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(_dashboard(tenant_a))
    assert response.status_code == 200
    sql = [query["sql"] for query in captured.captured_queries]
    assert '"django_session"' in sql[0]
    assert '"tenancy_seat"' in sql[1] and '"tenancy_user"' in sql[1]
    assert not any(s.startswith('SELECT "tenancy_user"') for s in sql), sql
    # The page names the same person and role as before.
    assert response.context["user"] == tenant_a.msm.user
    assert response.context["seat"] == tenant_a.msm
    assert response.context["organization"] == tenant_a.organization


def test_another_tenants_page_is_404(login, tenant_a, tenant_b):
    client = login(tenant_a.msm)
    assert client.get(_dashboard(tenant_b)).status_code == 404
    assert client.get("/o/no-such-org/").status_code == 404


def test_anonymous_is_sent_to_log_in(client, tenant_a):
    response = client.get(_dashboard(tenant_a))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_inactive_user_is_refused(login, tenant_a):
    client = login(tenant_a.msm)
    user = tenant_a.msm.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get(_dashboard(tenant_a))
    # Django's get_user no longer returns the user: signed out, as before.
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_changed_password_signs_other_sessions_out(login, tenant_a):
    client = login(tenant_a.msm)
    user = tenant_a.msm.user
    user.set_password("a-new-password-entirely")
    user.save(update_fields=["password"])
    response = client.get(_dashboard(tenant_a))
    assert response.status_code == 302
    # And the session was flushed, as Django does on a hash that does not verify.
    assert not Session.objects.filter(session_key=client.session.session_key).exists()


def test_a_session_signed_with_a_fallback_secret_is_rotated_not_refused(login, tenant_a):
    with override_settings(SECRET_KEY="the-old-secret-key-0123456789"):
        client = login(tenant_a.msm)
        old_key = client.cookies["sessionid"].value
    with override_settings(
        SECRET_KEY="the-new-secret-key-0123456789",
        SECRET_KEY_FALLBACKS=["the-old-secret-key-0123456789"],
    ):
        response = client.get(_dashboard(tenant_a))
        assert response.status_code == 200
        assert response.context["seat"] == tenant_a.msm
        # Django's path took it: a new session key with the current hash.
        assert client.cookies["sessionid"].value != old_key
        assert client.session[HASH_SESSION_KEY] == tenant_a.msm.user.get_session_auth_hash()


def test_a_role_change_applies_at_once(login, tenant_a):
    client = login(tenant_a.admin)
    settings_url = f"/o/{tenant_a.organization.slug}/settings/"
    assert client.get(settings_url).status_code == 200
    Seat.objects.for_org(tenant_a.organization).filter(pk=tenant_a.admin.pk).update(role="viewer")
    assert client.get(settings_url).status_code == 403


def test_log_out_ends_the_session(login, tenant_a):
    client = login(tenant_a.msm)
    assert client.get(_dashboard(tenant_a)).status_code == 200
    client.post("/accounts/logout/")
    assert client.get(_dashboard(tenant_a)).status_code == 302


def test_an_expired_session_is_anonymous(login, tenant_a):
    client = login(tenant_a.msm)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.get(_dashboard(tenant_a)).status_code == 302


def test_an_unknown_session_key_is_anonymous(client, tenant_a):
    client.cookies["sessionid"] = "x" * 32
    assert client.get(_dashboard(tenant_a)).status_code == 302


@pytest.mark.parametrize(
    ("role", "settings_link"), [("admin", True), ("msm", False), ("viewer", False)]
)
def test_the_layout_links_to_the_organizations_pages(
    login, tenant_a, tenant_b, role, settings_link
):
    slug = tenant_a.organization.slug
    body = login(tenant_a.seat(role)).get(f"/o/{slug}/").content.decode()
    assert f'<a class="brand" href="/o/{slug}/book/">' in body
    assert f'<a href="/o/{slug}/book/" >My book</a>' in body
    assert f'<a href="/o/{slug}/members/" >Members</a>' in body
    assert f'<a href="/o/{slug}/portfolio/" >Portfolio</a>' in body
    assert f'<a href="/o/{slug}/" aria-current="page">Team</a>' in body
    assert (f'<a href="/o/{slug}/settings/" >Settings</a>' in body) is settings_link
    assert '<a href="/orgs/" title="Switch organization">Switch</a>' in body
    assert '<form method="post" action="/accounts/logout/" class="inline-form">' in body
    # Each organization gets its own links.
    other = tenant_b.organization.slug
    client = login(tenant_b.seat(role))
    assert f'<a href="/o/{other}/book/" >My book</a>' in client.get(f"/o/{other}/").content.decode()
