"""Where webhooks may go: https only, public addresses only — judged on what the host name
resolves to — unless the development settings allow otherwise."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.webhooks.helpers import ALL_KINDS
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create
from webhooks.urlcheck import safe_target


@pytest.fixture
def strict(settings):
    settings.WEBHOOK_ALLOW_INSECURE = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    return settings


def refusal(url: str) -> str:
    with pytest.raises(ValidationError) as error:
        safe_target(url)
    return " ".join(error.value.message_dict["url"])


def test_shipped_settings_refuse_http_and_private_addresses():
    from django.conf import settings

    assert settings.WEBHOOK_ALLOW_INSECURE is False
    assert settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES is False


def test_a_public_https_url_is_accepted_with_its_checked_addresses(strict, public_dns):
    public_dns["hooks.example.org"] = ["93.184.216.34", "2606:2800:220:1::1"]
    target = safe_target("https://hooks.example.org:8443/in?x=1")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.org",
        8443,
        "/in?x=1",
    )
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1::1")


def test_http_is_refused_unless_insecure_is_allowed(strict, public_dns):
    public_dns["hooks.example.org"] = ["93.184.216.34"]
    assert "https://" in refusal("http://hooks.example.org/in")
    strict.WEBHOOK_ALLOW_INSECURE = True
    assert safe_target("http://hooks.example.org/in").port == 80
    assert "https://" in refusal("ftp://hooks.example.org/in")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 — an address to refuse, not one to bind
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused(strict, public_dns, address):
    public_dns["hooks.example.org"] = [address]
    assert address in refusal("https://hooks.example.org/in")


def test_one_private_record_among_public_ones_refuses_the_name(strict, public_dns):
    public_dns["hooks.example.org"] = ["93.184.216.34", "10.0.0.5"]
    assert "10.0.0.5" in refusal("https://hooks.example.org/in")


def test_literal_addresses_and_localhost_are_checked_too(strict):
    assert "127.0.0.1" in refusal("https://127.0.0.1/in")
    assert "::1" in refusal("https://[::1]/in")
    assert "points to" in refusal("https://localhost/in")  # resolved, not matched by name


def test_private_addresses_are_allowed_only_by_the_setting(strict):
    strict.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    assert safe_target("https://127.0.0.1:8443/in").addresses == ("127.0.0.1",)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "Enter the URL"),
        ("https://user:pw@hooks.example.org/in", "user name and password"),
        ("https:///nohost", "host name"),
        ("https://hooks.example.org:99999/in", "not a valid URL"),
        ("https://" + "a" * 600 + ".org/", "longer than"),
        ("https://no-such-host.invalid/in", "could not be resolved"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(strict, url, words):
    assert words in refusal(url)


def test_registration_refuses_with_a_field_error_and_stores_nothing(strict, tenant_a):
    org = tenant_a.organization
    with pytest.raises(ValidationError) as error:
        webhook_endpoint_create(organization=org, url="https://127.0.0.1/in", event_types=ALL_KINDS)
    assert list(error.value.message_dict) == ["url"]
    with pytest.raises(ValidationError) as error:
        webhook_endpoint_create(organization=org, url="https://127.0.0.1/in", event_types=["x"])
    assert "event_types" in error.value.message_dict
    assert WebhookEndpoint.objects.for_org(org).count() == 0
