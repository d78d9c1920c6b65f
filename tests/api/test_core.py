"""The API's common machinery: keys, scopes, the error shape, throttling, idempotency, schema."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import path, reverse
from rest_framework.response import Response
from rest_framework.test import APIClient

from tenancy.api.views import TenantAPIView
from tenancy.models import DomainEvent, IdempotencyRecord
from tenancy.services import api_key_revoke

pytestmark = pytest.mark.django_db


class RecordEventView(TenantAPIView):
    """A tiny writing endpoint for these tests: stores one domain event per call."""

    def post(self, request):
        if not isinstance(request.data, dict) or "subject_id" not in request.data:
            return Response({"code": "invalid"}, status=400)
        event = DomainEvent.objects.create(
            organization=self.organization,
            kind=DomainEvent.Kind.BAND_CHANGED,
            subject_id=int(request.data["subject_id"]),
        )
        return Response({"id": event.pk, "count": DomainEvent.objects.count()}, status=201)


class BrokenView(TenantAPIView):
    """Writes, then fails on our side: the claim must be released and the write rolled back."""

    def post(self, request):
        DomainEvent.objects.create(
            organization=self.organization, kind=DomainEvent.Kind.BAND_CHANGED, subject_id=1
        )
        return Response({"code": "error"}, status=503)


urlpatterns = [
    path("t/record", RecordEventView.as_view(), name="record"),
    path("t/broken", BrokenView.as_view(), name="broken"),
]


def test_me_names_the_keys_organization_and_scopes(api, tenant_a, tenant_b):
    response = api(tenant_a, scopes=["read"]).get(reverse("api:me"))
    assert response.status_code == 200
    assert response.json()["organization_slug"] == tenant_a.organization.slug
    assert response.json()["scopes"] == ["read"]


def test_no_key_answers_401_in_the_error_shape(db):
    response = APIClient().get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert set(response.json()) == {"code", "detail", "errors"}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer tdm_nonsense-but-long-enough", "Bearer", "Bearer a b", "Bearer xyz"]
)
def test_unknown_or_malformed_keys_answer_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(reverse("api:me")).status_code == 401


def test_a_revoked_key_stops_working_at_once(api, tenant_a):
    client = api(tenant_a)
    assert client.get(reverse("api:me")).status_code == 200
    api_key_revoke(organization=tenant_a.organization, api_key=client.api_key)
    response = client.get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(api, tenant_a):
    client = api(tenant_a)
    forged = client.secret[:-4] + ("AAAA" if not client.secret.endswith("AAAA") else "BBBB")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert client.get(reverse("api:me")).status_code == 401


@pytest.mark.urls("tests.api.test_core")
def test_a_read_only_key_cannot_write(api, tenant_a):
    response = api(tenant_a, scopes=["read"]).post("/t/record", {"subject_id": 1}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert DomainEvent.objects.for_org(tenant_a.organization).count() == 0


def test_use_is_recorded_on_the_key(api, tenant_a):
    client = api(tenant_a)
    client.get(reverse("api:me"))
    client.api_key.refresh_from_db()
    assert client.api_key.last_used_at is not None


def test_session_auth_uses_the_organization_last_opened(login, tenant_a, tenant_b):
    from tests.factories import SeatFactory

    SeatFactory(organization=tenant_b.organization, user=tenant_a.msm.user, role="viewer")
    client = login(tenant_a.msm)
    # Two seats and nothing opened yet: the API cannot guess.
    assert client.get(reverse("api:me")).status_code == 403
    client.get(reverse("tenancy:dashboard", kwargs={"org_slug": tenant_b.organization.slug}))
    me = client.get(reverse("api:me")).json()
    assert me["organization_slug"] == tenant_b.organization.slug
    assert me["scopes"] == ["read"]  # a viewer's seat there
    client.get(reverse("tenancy:dashboard", kwargs={"org_slug": tenant_a.organization.slug}))
    me = client.get(reverse("api:me")).json()
    assert me["organization_slug"] == tenant_a.organization.slug
    assert me["scopes"] == ["read", "write"]


@pytest.mark.urls("tests.api.test_core")
def test_session_writes_need_csrf(login, tenant_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a.admin.user)
    response = client.post("/t/record", {"subject_id": 1}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.urls("tests.api.test_core")
def test_idempotency_key_replays_the_first_answer_and_writes_once(api, tenant_a):
    client = api(tenant_a)
    first = client.post("/t/record", {"subject_id": 7}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = client.post("/t/record", {"subject_id": 7}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert DomainEvent.objects.for_org(tenant_a.organization).count() == 1
    # A new key is a new request.
    third = client.post("/t/record", {"subject_id": 7}, format="json", HTTP_IDEMPOTENCY_KEY="abc-2")
    assert third.json()["count"] == 2


@pytest.mark.urls("tests.api.test_core")
def test_idempotency_key_reused_for_another_body_answers_422(api, tenant_a):
    client = api(tenant_a)
    client.post("/t/record", {"subject_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = client.post("/t/record", {"subject_id": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert DomainEvent.objects.for_org(tenant_a.organization).count() == 1


@pytest.mark.urls("tests.api.test_core")
def test_idempotency_keys_are_per_key_not_shared(api, tenant_a, tenant_b):
    one, other = api(tenant_a), api(tenant_b)
    one.post("/t/record", {"subject_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    response = other.post(
        "/t/record", {"subject_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert DomainEvent.objects.for_org(tenant_b.organization).count() == 1


@pytest.mark.urls("tests.api.test_core")
def test_a_request_still_running_answers_409(api, tenant_a):
    client = api(tenant_a)
    IdempotencyRecord.objects.for_org(tenant_a.organization).create(
        organization=tenant_a.organization,
        principal=f"key:{client.api_key.pk}",
        key="busy",
        fingerprint="x" * 64,
    )
    response = client.post(
        "/t/record", {"subject_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    # A different fingerprint is a reuse; make the stored one match by replaying the same body.
    assert response.status_code == 422
    record = IdempotencyRecord.objects.for_org(tenant_a.organization).get(key="busy")
    record.delete()
    first = client.post("/t/record", {"subject_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    record = IdempotencyRecord.objects.for_org(tenant_a.organization).get(key="busy")
    record.status_code = None
    record.save()
    assert first.status_code == 201
    response = client.post(
        "/t/record", {"subject_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


@pytest.mark.urls("tests.api.test_core")
def test_a_client_error_is_an_answer_and_is_kept(api, tenant_a):
    client = api(tenant_a)
    bad = client.post("/t/record", {}, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert bad.status_code == 400
    record = IdempotencyRecord.objects.for_org(tenant_a.organization).get(key="retry-me")
    assert record.status_code == 400
    again = client.post("/t/record", {}, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.urls("tests.api.test_core")
def test_a_server_error_releases_the_key_so_a_retry_runs(api, tenant_a):
    client = api(tenant_a)
    first = client.post("/t/broken", {}, format="json", HTTP_IDEMPOTENCY_KEY="oops")
    assert first.status_code == 503
    assert not IdempotencyRecord.objects.for_org(tenant_a.organization).filter(key="oops").exists()
    second = client.post("/t/broken", {}, format="json", HTTP_IDEMPOTENCY_KEY="oops")
    assert second.status_code == 503
    assert "Idempotent-Replayed" not in second
    # Nothing half-written: the failed request's write was rolled back with it.
    assert DomainEvent.objects.for_org(tenant_a.organization).count() == 0


def test_throttling_answers_429_with_retry_after(api, tenant_a, settings):
    from django.core.cache import cache

    from tenancy.api.throttling import PrincipalRateThrottle

    cache.clear()
    client = api(tenant_a)
    PrincipalRateThrottle.THROTTLE_RATES = {"api": "3/min"}
    try:
        answers = [client.get(reverse("api:me")).status_code for _ in range(4)]
        response = client.get(reverse("api:me"))
    finally:
        PrincipalRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        cache.clear()
    assert answers == [200, 200, 200, 429]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"


def test_each_key_has_its_own_allowance(api, tenant_a, settings):
    from django.core.cache import cache

    from tenancy.api.throttling import PrincipalRateThrottle

    cache.clear()
    busy, quiet = api(tenant_a), api(tenant_a)
    PrincipalRateThrottle.THROTTLE_RATES = {"api": "2/min"}
    try:
        busy_answers = [busy.get(reverse("api:me")).status_code for _ in range(3)]
        quiet_answer = quiet.get(reverse("api:me")).status_code
    finally:
        PrincipalRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        cache.clear()
    assert busy_answers == [200, 200, 429]
    assert quiet_answer == 200


def test_the_schema_is_served_and_valid(db, client):
    response = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_docs_are_served_offline(db, client, settings):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "swagger-ui" in body
    assert "//cdn" not in body and "https://" not in body.split("<body")[0]


@override_settings(DEBUG=False)
def test_scope_does_not_outlive_the_request(api, tenant_a):
    from tenancy.scope import current_organization_id

    api(tenant_a).get(reverse("api:me"))
    assert current_organization_id() is None


def test_the_schema_generates_without_warnings_and_validates(db, tmp_path):
    """Every endpoint is described well enough for drf-spectacular to say nothing about it."""
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/me" in out.read_text()


def test_an_empty_queryset_needs_no_scope(db):
    """Schema generation asks a model's manager for ``none()`` outside any request."""
    assert list(DomainEvent.objects.none()) == []


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/members/1.5/x/y"])
def test_an_unrouted_api_url_answers_the_json_404(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_pages_keep_the_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.api.test_core")
def test_a_body_over_the_limit_answers_413_in_the_error_shape(api, tenant_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api(tenant_a).post(
        "/t/record", {"subject_id": 1, "pad": "x" * 500}, format="json", HTTP_IDEMPOTENCY_KEY="big"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert DomainEvent.objects.for_org(tenant_a.organization).count() == 0


@pytest.mark.parametrize(
    "query",
    [
        "updated_since=0001-01-01T00:00:00%2B05:00",
        "updated_since=9999-12-31T23:59:59-05:00",
        "updated_since=yesterday",
        "member=99999999999999999999999",
        "member=-1",
    ],
)
def test_out_of_range_filters_answer_400_not_500(api, tenant_a, query):
    response = api(tenant_a, scopes=["read"]).get(f"{reverse('api:engagements-list')}?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_an_instant_with_a_far_offset_is_read_in_utc(api, tenant_a):
    """+19:16 is valid ISO 8601 but beyond what PostgreSQL accepts as an offset."""
    response = api(tenant_a, scopes=["read"]).get(
        reverse("api:engagements-list"), {"updated_since": "2020-10-18T12:34:39+19:16"}
    )
    assert response.status_code == 200
