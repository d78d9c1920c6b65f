"""The member's signed confirmation link: a GET shows and never records (mail scanners fetch
links), a POST records once, and a tampered, expired, forged or dead link shows a clear page and
records nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.signing import TimestampSigner
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orchestration.events import (
    CONFIRM_SALT,
    confirmation_token,
    confirmation_url,
    orchestrated_event_create,
)
from orchestration.models import Nudge, OrchestratedEvent
from tests.factories import MemberFactory, OrchestratedEventFactory

Status = OrchestratedEvent.Status
INVALID = "This link is not valid or has expired"


def _event(organization, status: str = Status.ANNOUNCED, **fields) -> OrchestratedEvent:
    now = timezone.now()
    fields.setdefault("scheduled_for", now + dt.timedelta(days=10))
    if status != Status.PLANNED:
        fields.setdefault("announced_at", now)
    if status in (Status.HAPPENED, Status.CONFIRMED):
        fields.setdefault("happened_at", now)
    if status == Status.CONFIRMED:
        fields.setdefault("confirmed_at", now)
    return OrchestratedEventFactory(
        member__organization=organization,
        title="Annual membership review",
        status=status,
        **fields,
    )


def _url(event: OrchestratedEvent) -> str:
    return reverse("public:event_confirm", kwargs={"token": confirmation_token(event)})


def _row(event: OrchestratedEvent) -> dict:
    return (
        OrchestratedEvent.objects.unscoped()
        .filter(pk=event.pk)
        .values("status", "happened_at", "confirmed_at")
        .get()
    )


def _tamper(token: str) -> str:
    """Change one character of the signature."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


# --- the token and the link ---------------------------------------------------------------------


def test_the_token_signs_the_organization_and_the_event(tenant_a):
    event = _event(tenant_a.organization)
    token = confirmation_token(event)
    payload = TimestampSigner(salt=CONFIRM_SALT).unsign(token)
    assert payload == f"{tenant_a.organization.pk}:{event.pk}"


def test_the_link_is_absolute_on_the_configured_base(tenant_a, settings):
    event = _event(tenant_a.organization)
    settings.TANDEM_BASE_URL = "https://tandem.example.org/"
    url = confirmation_url(event)
    assert url.startswith("https://tandem.example.org/e/confirm/")
    assert url.endswith("/")
    assert confirmation_url(event, base_url="http://localhost:9000").startswith(
        "http://localhost:9000/e/confirm/"
    )


def test_the_link_in_the_announcement_email_opens_the_page(tenant_a):
    org = tenant_a.organization
    event = orchestrated_event_create(
        organization=org,
        member=MemberFactory(organization=org),
        title="Certification check-in",
        scheduled_for=timezone.now() + dt.timedelta(days=20),
        lead_days=[14],
    )
    body = Nudge.objects.for_org(org).get(event=event).body
    path = re.search(r"https?://[^/\s]+(/e/confirm/\S+)", body).group(1)
    response = Client().get(path)
    assert response.status_code == 200
    assert "Certification check-in" in response.content.decode()


# --- GET shows, POST records once ----------------------------------------------------------------


def test_get_shows_the_event_and_a_confirm_button_and_records_nothing(tenant_a):
    event = _event(tenant_a.organization, description="We look at your plan together.")
    before = _row(event)
    client = Client()
    response = client.get(_url(event))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Annual membership review" in body
    assert "We look at your plan together." in body
    assert tenant_a.organization.name in body
    assert 'method="post"' in body and "csrfmiddlewaretoken" in body
    assert "Yes, I know about this" in body
    assert client.head(_url(event)).status_code == 200
    assert _row(event) == before, "a GET (or a mail scanner's prefetch) must not record anything"


def test_the_page_shows_the_time_on_the_organizations_clock(tenant_a):
    event = _event(
        tenant_a.organization, scheduled_for=dt.datetime(2031, 3, 20, 9, 0, tzinfo=dt.UTC)
    )
    body = Client().get(_url(event)).content.decode()
    assert "Thursday 20 March 2031 at 10:00 (Europe/Paris time)" in body


def test_the_page_is_not_cached_not_indexed_and_shows_no_staff_navigation(tenant_a):
    event = _event(tenant_a.organization)
    response = Client().get(_url(event))
    assert "no-cache" in response["Cache-Control"]
    assert "noindex" in response["X-Robots-Tag"]
    body = response.content.decode()
    assert f"/o/{tenant_a.organization.slug}/" not in body
    assert event.member.email not in body


def test_post_records_the_confirmation_once(tenant_a):
    event = _event(tenant_a.organization)
    client = Client()
    first = client.post(_url(event))
    assert first.status_code == 200
    assert "Thank you" in first.content.decode()
    recorded = _row(event)
    assert recorded["confirmed_at"] is not None
    assert recorded["status"] == Status.ANNOUNCED  # acknowledged; it has not happened yet

    second = client.post(_url(event))
    assert second.status_code == 200
    assert "already confirmed" in second.content.decode()
    assert _row(event) == recorded, "a second confirmation must change nothing"
    assert "Yes, I know about this" not in client.get(_url(event)).content.decode()


def test_post_after_it_happened_moves_it_to_confirmed(tenant_a):
    event = _event(tenant_a.organization, Status.HAPPENED)
    assert Client().post(_url(event)).status_code == 200
    assert _row(event)["status"] == Status.CONFIRMED


def test_post_needs_the_csrf_token_from_the_page(tenant_a):
    event = _event(tenant_a.organization)
    client = Client(enforce_csrf_checks=True)
    assert client.post(_url(event)).status_code == 403
    assert _row(event)["confirmed_at"] is None

    page = client.get(_url(event)).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(_url(event), {"csrfmiddlewaretoken": csrf}).status_code == 200
    assert _row(event)["confirmed_at"] is not None


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (Status.CANCELLED, "cancelled"),
        (Status.MISSED, "did not take place"),
        (Status.PLANNED, "nothing to confirm yet"),
    ],
)
def test_nothing_to_confirm_is_said_plainly_and_a_post_records_nothing(tenant_a, status, words):
    event = _event(tenant_a.organization, status, scheduled_for=timezone.now())
    before = _row(event)
    client = Client()
    page = client.get(_url(event))
    assert page.status_code == 200
    assert words in page.content.decode()
    assert "Yes, I know about this" not in page.content.decode()
    refused = client.post(_url(event))
    assert refused.status_code == 409
    assert "Nothing was recorded" in refused.content.decode()
    assert _row(event) == before


def test_other_methods_are_not_allowed(tenant_a):
    event = _event(tenant_a.organization)
    assert Client().put(_url(event)).status_code == 405
    assert _row(event)["confirmed_at"] is None


# --- links that do not work -------------------------------------------------------------------


def _assert_refused(response, status: int, event: OrchestratedEvent, before: dict) -> None:
    assert response.status_code == status
    assert INVALID in response.content.decode()
    assert "Nothing was recorded" in response.content.decode()
    assert _row(event) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_refused_with_a_clear_page(tenant_a, method):
    event = _event(tenant_a.organization)
    before = _row(event)
    token = _tamper(confirmation_token(event))
    url = reverse("public:event_confirm", kwargs={"token": token})
    _assert_refused(getattr(Client(), method)(url), 400, event, before)


@pytest.mark.parametrize("token", ["nonsense", "1:2", "::", "1:2:3:4"])
def test_garbage_is_refused(db, token):
    url = reverse("public:event_confirm", kwargs={"token": token})
    response = Client().get(url)
    assert response.status_code == 400
    assert INVALID in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_link_older_than_the_cap_is_expired(tenant_a, settings, method):
    event = _event(tenant_a.organization)
    before = _row(event)
    url = _url(event)
    settings.TANDEM_CONFIRM_LINK_MAX_AGE = -1  # every link is older than that
    _assert_refused(getattr(Client(), method)(url), 400, event, before)


def test_a_link_works_until_the_window_after_the_event_closes(tenant_a, settings):
    settings.TANDEM_CONFIRM_LINK_DAYS_AFTER_EVENT = 30
    now = timezone.now()
    open_event = _event(
        tenant_a.organization, Status.HAPPENED, scheduled_for=now - dt.timedelta(days=29)
    )
    closed = _event(
        tenant_a.organization, Status.HAPPENED, scheduled_for=now - dt.timedelta(days=31)
    )
    before = _row(closed)
    assert Client().get(_url(open_event)).status_code == 200
    _assert_refused(Client().post(_url(closed)), 400, closed, before)
    assert Client().post(_url(open_event)).status_code == 200
    assert _row(open_event)["status"] == Status.CONFIRMED


def test_a_link_to_a_deleted_event_is_not_found(tenant_a):
    event = _event(tenant_a.organization)
    url = _url(event)
    OrchestratedEvent.objects.for_org(tenant_a.organization).filter(pk=event.pk).delete()
    for method in ("get", "post"):
        response = getattr(Client(), method)(url)
        assert response.status_code == 404
        assert INVALID in response.content.decode()


def test_a_forged_link_to_another_organizations_event_records_nothing(tenant_a, tenant_b):
    """B's event, with A's organization id put in the payload: the signature breaks. Even a
    validly signed pair of A's organization and B's event id finds nothing: the event is read in
    the organization the token names, never unscoped."""
    theirs = _event(tenant_b.organization)
    before = _row(theirs)
    real = confirmation_token(theirs)
    _org, event_id, stamp, signature = real.split(":")
    forged = f"{tenant_a.organization.pk}:{event_id}:{stamp}:{signature}"
    assert forged != real
    url = reverse("public:event_confirm", kwargs={"token": forged})
    _assert_refused(Client().post(url), 400, theirs, before)

    signed_mismatch = TimestampSigner(salt=CONFIRM_SALT).sign(
        f"{tenant_a.organization.pk}:{theirs.pk}"
    )
    url = reverse("public:event_confirm", kwargs={"token": signed_mismatch})
    for method in ("get", "post"):
        response = getattr(Client(), method)(url)
        assert response.status_code == 404
        assert tenant_b.organization.name not in response.content.decode()
        assert "Annual membership review" not in response.content.decode()
    assert _row(theirs) == before


def test_a_token_signed_for_something_else_is_refused(tenant_a):
    """The salt separates purposes: a signature made for another use does not confirm."""
    event = _event(tenant_a.organization)
    before = _row(event)
    other_purpose = TimestampSigner(salt="something.else").sign(
        f"{tenant_a.organization.pk}:{event.pk}"
    )
    url = reverse("public:event_confirm", kwargs={"token": other_purpose})
    _assert_refused(Client().post(url), 400, event, before)
