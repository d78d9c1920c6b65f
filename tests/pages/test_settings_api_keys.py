"""Settings · API keys: created here and shown once, listed by prefix, revoked; the services
and the selector the API authenticates with."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenancy.models import ApiKey
from tenancy.selectors import api_key_for_secret
from tenancy.services import api_key_create, api_key_record_use, api_key_revoke

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'value="(tdm_[A-Za-z0-9_-]{43})"')


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def make_key(tenant, name: str = "CRM sync", scopes=("read",)):
    return api_key_create(
        organization=tenant.organization, name=name, scopes=list(scopes), created_by=tenant.admin
    )


# --- the page --------------------------------------------------------------------------------


def test_a_new_key_is_shown_in_full_once_and_stored_as_a_hash(login, tenant_a):
    client = login(tenant_a.admin)
    response = client.post(
        url("settings_api_key_new", tenant_a), {"name": "CRM sync", "scopes": ["write", "read"]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = SECRET.search(response.content.decode()).group(1)
    key = ApiKey.objects.for_org(tenant_a.organization).get()
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[4:12] and key.scopes == ["read", "write"]
    assert key.created_by == tenant_a.admin
    assert secret not in str(ApiKey.objects.for_org(tenant_a.organization).values().get())
    listing = client.get(url("settings_api_keys", tenant_a)).content.decode()
    assert secret not in listing  # never again
    assert f"tdm_{key.prefix}…" in listing and "read, write" in listing and "Never" in listing


def test_creating_through_htmx_answers_the_keys_area(login, tenant_a):
    response = login(tenant_a.admin).post(
        url("settings_api_key_new", tenant_a),
        {"name": "Sync", "scopes": ["read"]},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="keys-area"' in body
    assert SECRET.search(body)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "scopes": ["read"]}, "This field is required."),
        ({"name": "Sync"}, "This field is required."),
        ({"name": "Sync", "scopes": ["admin"]}, "Select a valid choice."),
    ],
)
def test_a_bad_key_request_is_refused_in_place_and_nothing_written(login, tenant_a, data, message):
    response = login(tenant_a.admin).post(url("settings_api_key_new", tenant_a), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not SECRET.search(response.content.decode())
    assert ApiKey.objects.for_org(tenant_a.organization).count() == 0


def test_revoking_a_key(login, tenant_a):
    key, secret = make_key(tenant_a)
    client = login(tenant_a.admin)
    response = client.post(url("settings_api_key_revoke", tenant_a, key_id=key.pk))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_key_for_secret(secret) is None
    body = client.get(url("settings_api_keys", tenant_a)).content.decode()
    assert "Revoked" in body and "Revoke<" not in body


def test_the_list_takes_the_same_queries_for_5_and_50_keys(login, tenant_a):
    client = login(tenant_a.admin)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settings_api_keys", tenant_a)).status_code == 200
        return len(queries)

    for n in range(5):
        make_key(tenant_a, name=f"Key {n}")
    five = count()
    for n in range(45):
        make_key(tenant_a, name=f"More {n}")
    assert count() == five
    assert "Page 1 of 2" in client.get(url("settings_api_keys", tenant_a)).content.decode()


# --- services and the selector ---------------------------------------------------------------


def test_the_secret_finds_its_key_and_its_organization(tenant_a, tenant_b):
    key, secret = make_key(tenant_a)
    make_key(tenant_b)
    found = api_key_for_secret(secret)
    assert found == key and found.organization == tenant_a.organization
    assert secret.startswith("tdm_") and len(secret) == 47


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
        lambda s: s[:12],
        lambda s: "x" + s,
        lambda s: "",
    ],
)
def test_a_wrong_secret_finds_nothing(tenant_a, mangle):
    _, secret = make_key(tenant_a)
    assert api_key_for_secret(mangle(secret)) is None


def test_the_hash_decides_when_two_organizations_share_a_prefix(tenant_a, tenant_b):
    key, secret = make_key(tenant_a)
    ApiKey.objects.for_org(tenant_b.organization).create(
        organization=tenant_b.organization,
        name="Look-alike",
        prefix=key.prefix,
        key_hash="0" * 64,
        scopes=["read"],
    )
    assert api_key_for_secret(secret) == key


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": " ", "scopes": ["read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["read"]}, "name"),
        ({"name": "Sync", "scopes": []}, "scopes"),
        ({"name": "Sync", "scopes": "read"}, "scopes"),
        ({"name": "Sync", "scopes": ["read", "delete"]}, "scopes"),
    ],
)
def test_api_key_create_refuses_bad_input_and_writes_nothing(tenant_a, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        api_key_create(organization=tenant_a.organization, created_by=tenant_a.admin, **kwargs)
    assert field in caught.value.message_dict
    assert ApiKey.objects.for_org(tenant_a.organization).count() == 0


def test_only_an_admin_of_the_organization_creates_keys(tenant_a, tenant_b):
    with pytest.raises(ValidationError) as caught:
        api_key_create(
            organization=tenant_a.organization, name="X", scopes=["read"], created_by=tenant_a.msm
        )
    assert "created_by" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        api_key_create(
            organization=tenant_a.organization, name="X", scopes=["read"], created_by=tenant_b.admin
        )
    assert "created_by" in caught.value.message_dict
    assert ApiKey.objects.for_org(tenant_a.organization).count() == 0


def test_revoking_twice_keeps_the_first_time_and_refuses_other_organizations(tenant_a, tenant_b):
    key, _ = make_key(tenant_a)
    first = api_key_revoke(organization=tenant_a.organization, api_key=key).revoked_at
    assert api_key_revoke(organization=tenant_a.organization, api_key=key).revoked_at == first
    other, other_secret = make_key(tenant_b)
    with pytest.raises(ValidationError):
        api_key_revoke(organization=tenant_a.organization, api_key=other)
    assert api_key_for_secret(other_secret) == other


def test_use_is_recorded_at_most_once_a_minute(tenant_a):
    key, _ = make_key(tenant_a)
    start = timezone.now()
    api_key_record_use(organization=tenant_a.organization, api_key=key, at=start)
    api_key_record_use(
        organization=tenant_a.organization, api_key=key, at=start + dt.timedelta(seconds=30)
    )
    key.refresh_from_db()
    assert key.last_used_at == start
    later = start + dt.timedelta(minutes=2)
    api_key_record_use(organization=tenant_a.organization, api_key=key, at=later)
    key.refresh_from_db()
    assert key.last_used_at == later
