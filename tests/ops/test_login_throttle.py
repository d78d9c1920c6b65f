"""Failed-login throttling, through the real login page."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.test import Client

from tests.factories import TEST_PASSWORD

LOGIN = "/accounts/login/"
LOCKED = "Too many failed attempts; try again in"


def attempt(client: Client, email: str, password: str, ip: str = "198.51.100.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_for_an_email_lock_it_without_checking_the_password(client, tenant_a):
    email = tenant_a.msm.user.email
    for _ in range(5):
        response = attempt(client, email, "wrong")
        assert "do not match an account" in response.content.decode()

    with mock.patch("django.contrib.auth.forms.authenticate") as authenticate:
        response = attempt(client, email, TEST_PASSWORD)
    authenticate.assert_not_called()
    assert response.status_code == 200
    assert f"{LOCKED} 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session

    # Another person is not affected (the address is still under its own limit).
    other = attempt(Client(), tenant_a.admin.user.email, TEST_PASSWORD)
    assert other.status_code == 302


def test_the_email_lock_ignores_case_and_ends_after_the_window(client, tenant_a, settings):
    email = tenant_a.msm.user.email
    for _ in range(5):
        attempt(client, email.upper(), "wrong")
    assert LOCKED in attempt(client, email, TEST_PASSWORD).content.decode()

    later = time.time() + settings.LOGIN_THROTTLE_WINDOW_SECONDS - 50
    with mock.patch("ops.throttle.time.time", return_value=later):
        assert f"{LOCKED} 1 minute." in attempt(client, email, TEST_PASSWORD).content.decode()

    from django.core.cache import cache

    cache.clear()  # what the window's expiry does to the counts
    assert attempt(client, email, TEST_PASSWORD).status_code == 302


def test_a_success_clears_the_emails_count(client, tenant_a):
    email = tenant_a.msm.user.email
    for _ in range(4):
        attempt(client, email, "wrong")
    assert attempt(client, email, TEST_PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, email, "wrong")
    assert attempt(client, email, TEST_PASSWORD).status_code == 302


def test_twenty_failures_from_one_address_lock_every_email_from_it(client, tenant_a, settings):
    for n in range(20):
        attempt(client, f"guess{n}@example.org", "wrong", ip="203.0.113.9")
    response = attempt(client, tenant_a.admin.user.email, TEST_PASSWORD, ip="203.0.113.9")
    assert LOCKED in response.content.decode()
    # The same person from elsewhere still gets in.
    assert attempt(client, tenant_a.admin.user.email, TEST_PASSWORD).status_code == 302


def test_limits_come_from_settings(client, tenant_a, settings):
    settings.LOGIN_THROTTLE_MAX_PER_EMAIL = 2
    email = tenant_a.viewer.user.email
    attempt(client, email, "wrong")
    assert LOCKED not in attempt(client, email, "wrong").content.decode()
    assert LOCKED in attempt(client, email, TEST_PASSWORD).content.decode()


def test_behind_trusted_proxies_the_forwarded_address_counts(client, tenant_a, settings):
    settings.TANDEM_TRUSTED_PROXIES = 1
    settings.LOGIN_THROTTLE_MAX_PER_IP = 3
    for n in range(3):
        client.post(
            LOGIN,
            {"username": f"g{n}@example.org", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.50",
        )
    # A different client behind the same proxy is not locked out; a spoofed first hop is ignored.
    ok = client.post(
        LOGIN,
        {"username": tenant_a.msm.user.email, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.51",
    )
    assert ok.status_code == 302
    locked = Client().post(
        LOGIN,
        {"username": tenant_a.admin.user.email, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.50",
    )
    assert LOCKED in locked.content.decode()


@pytest.mark.django_db
def test_the_admin_login_is_throttled_too(client, settings):
    from tenancy.models import User

    User.objects.create_superuser(email="root@example.org", password=TEST_PASSWORD)
    for _ in range(5):
        client.post("/admin/login/", {"username": "root@example.org", "password": "nope"})
    response = client.post(
        "/admin/login/", {"username": "root@example.org", "password": TEST_PASSWORD}
    )
    assert LOCKED in response.content.decode()
