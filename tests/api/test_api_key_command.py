"""The api_key management command: create (printed once), list, revoke."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from tenancy.models import ApiKey

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("api_key", *args, stdout=out)
    return out.getvalue()


def test_a_created_key_works_once_printed_and_stops_when_revoked(tenant_a):
    slug = tenant_a.organization.slug
    output = _run("--org", slug, "--name", "CRM sync", "--scopes", "read")
    secret = output.strip().splitlines()[-1]
    key = ApiKey.objects.for_org(tenant_a.organization).get(name="CRM sync")
    assert key.scopes == ["read"] and secret.startswith(f"tdm_{key.prefix}")
    assert secret not in str(key.key_hash)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(reverse("api:me")).json()["scopes"] == ["read"]
    assert f"tdm_{key.prefix}" in _run("--org", slug, "--list")

    _run("--org", slug, "--revoke", f"tdm_{key.prefix}")
    assert client.get(reverse("api:me")).status_code == 401
    assert "revoked" in _run("--org", slug, "--list")


def test_bad_input_is_a_clear_error(tenant_a):
    with pytest.raises(CommandError, match="No organization"):
        _run("--org", "nope", "--name", "x")
    with pytest.raises(CommandError, match="scopes"):
        _run("--org", tenant_a.organization.slug, "--name", "x", "--scopes", "admin")
    with pytest.raises(CommandError, match="No key"):
        _run("--org", tenant_a.organization.slug, "--revoke", "tdm_zzzzzzzz")
