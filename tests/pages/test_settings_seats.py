"""Settings · seats and roles: invite by email (with a one-time set-password link), change a
role, remove a seat; the last admin stays; the services' rules."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import Member, OwnershipChange
from tenancy.models import Seat, User
from tenancy.services import seat_change_role, seat_invite, seat_remove
from tests.factories import TEST_PASSWORD, MemberFactory, SeatFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r'value="(http://testserver/accounts/set-password/[^"]+)"')


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def seats(organization) -> list[tuple[int, str]]:
    return list(Seat.objects.for_org(organization).order_by("pk").values_list("user_id", "role"))


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_people_their_state_and_role(login, tenant_a, tenant_b):
    seat_invite(organization=tenant_a.organization, email="new@example.test", role="msm")
    body = login(tenant_a.admin).get(url("settings_seats", tenant_a)).content.decode()
    assert "4 seats" in body
    assert "new@example.test" in body and "Invited" in body
    assert tenant_a.viewer.user.email in body
    assert tenant_b.msm.user.email not in body
    assert f'id="role-{tenant_a.msm.pk}"' in body


def test_the_list_takes_the_same_queries_for_5_and_50_seats(login, tenant_a):
    client = login(tenant_a.admin)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settings_seats", tenant_a)).status_code == 200
        return len(queries)

    SeatFactory.create_batch(2, organization=tenant_a.organization)
    five = count()
    SeatFactory.create_batch(45, organization=tenant_a.organization)
    assert count() == five
    assert "Page 1 of 2" in client.get(url("settings_seats", tenant_a)).content.decode()


# --- invite ----------------------------------------------------------------------------------


def test_inviting_a_new_person_shows_a_set_password_link_once_and_it_works(login, tenant_a):
    client = login(tenant_a.admin)
    response = client.post(
        url("settings_seat_invite", tenant_a),
        {"email": " Dana@Example.TEST ", "full_name": "Dana Reyes", "role": "msm"},
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "dana@example.test" in body and "They have no password yet" in body
    link = LINK.search(body).group(1)
    user = User.objects.get(email="dana@example.test")
    assert not user.has_usable_password() and user.full_name == "Dana Reyes"
    assert (user.pk, "msm") in seats(tenant_a.organization)
    assert link not in client.get(url("settings_seats", tenant_a)).content.decode()  # once

    visitor = Client()
    form_page = visitor.get(link, follow=True)
    assert "Choose your password" in form_page.content.decode()
    done = visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a long enough passphrase", "new_password2": "a long enough passphrase"},
    )
    assert done.status_code == 302 and done["Location"] == reverse("login")
    assert visitor.login(username="dana@example.test", password="a long enough passphrase")
    again = Client().get(link, follow=True).content.decode()
    assert "This link no longer works" in again


def test_inviting_someone_who_already_has_a_login_gives_no_link(login, tenant_a, tenant_b):
    response = login(tenant_a.admin).post(
        url("settings_seat_invite", tenant_a),
        {"email": tenant_b.msm.user.email, "role": "viewer"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="seats-area"' in body
    assert "already have a Tandem login" in body and not LINK.search(body)
    assert (tenant_b.msm.user_id, "viewer") in seats(tenant_a.organization)
    tenant_b.msm.user.refresh_from_db()
    assert tenant_b.msm.user.check_password(TEST_PASSWORD)  # their password is untouched


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "role": "msm"}, "Enter a valid email address."),
        ({"email": "x@example.test", "role": "owner"}, "Select a valid choice."),
        ({"email": "TAKEN", "role": "msm"}, "This person already has a seat in this organization."),
    ],
)
def test_a_bad_invite_is_refused_in_place_and_nothing_written(login, tenant_a, data, message):
    if data["email"] == "TAKEN":
        data = {**data, "email": tenant_a.viewer.user.email.upper()}
    before = (seats(tenant_a.organization), User.objects.count())
    client = login(tenant_a.admin)
    response = client.post(url("settings_seat_invite", tenant_a), data)
    assert response.status_code == 400 and message in response.content.decode()
    htmx = client.post(url("settings_seat_invite", tenant_a), data, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and message in htmx.content.decode()
    assert (seats(tenant_a.organization), User.objects.count()) == before


def test_seat_invite_checks_every_field(tenant_a):
    with pytest.raises(ValidationError) as caught:
        seat_invite(
            organization=tenant_a.organization, email="nope", role="boss", full_name="x" * 300
        )
    assert set(caught.value.message_dict) == {"email", "role", "full_name"}


# --- roles -----------------------------------------------------------------------------------


def test_changing_a_role(login, tenant_a):
    client = login(tenant_a.admin)
    response = client.post(
        url("settings_seat_role", tenant_a, seat_id=tenant_a.viewer.pk), {"role": "msm"}
    )
    assert response.status_code == 302
    tenant_a.viewer.refresh_from_db()
    assert tenant_a.viewer.role == "msm"
    htmx = client.post(
        url("settings_seat_role", tenant_a, seat_id=tenant_a.viewer.pk),
        {"role": "admin"},
        HTTP_HX_REQUEST="true",
    )
    assert htmx.status_code == 200 and 'id="seats-area"' in htmx.content.decode()
    tenant_a.viewer.refresh_from_db()
    assert tenant_a.viewer.role == "admin"


def test_the_last_admin_cannot_be_demoted(login, tenant_a):
    response = login(tenant_a.admin).post(
        url("settings_seat_role", tenant_a, seat_id=tenant_a.admin.pk), {"role": "msm"}
    )
    assert response.status_code == 400
    assert "last admin" in response.content.decode()
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.role == "admin"


def test_an_admin_may_step_down_when_another_admin_remains(login, tenant_a):
    SeatFactory(organization=tenant_a.organization, role="admin")
    seat_change_role(organization=tenant_a.organization, seat=tenant_a.admin, role="msm")
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.role == "msm"


def test_an_owner_of_members_cannot_become_a_viewer(login, tenant_a):
    MemberFactory.create_batch(2, organization=tenant_a.organization, owner=tenant_a.msm)
    response = login(tenant_a.admin).post(
        url("settings_seat_role", tenant_a, seat_id=tenant_a.msm.pk),
        {"role": "viewer"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "This seat owns 2 members" in response.content.decode()
    tenant_a.msm.refresh_from_db()
    assert tenant_a.msm.role == "msm"


def test_role_services_refuse_bad_roles_and_other_organizations_seats(tenant_a, tenant_b):
    with pytest.raises(ValidationError) as caught:
        seat_change_role(organization=tenant_a.organization, seat=tenant_a.msm, role="owner")
    assert "role" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        seat_change_role(organization=tenant_a.organization, seat=tenant_b.msm, role="viewer")
    assert "seat" in caught.value.message_dict
    tenant_b.msm.refresh_from_db()
    assert tenant_b.msm.role == "msm"


# --- removing --------------------------------------------------------------------------------


def test_removing_a_seat_leaves_its_members_unowned_with_the_hand_off_kept(login, tenant_a):
    org = tenant_a.organization
    owned = MemberFactory.create_batch(3, organization=org, owner=tenant_a.msm)
    response = login(tenant_a.admin).post(
        url("settings_seat_remove", tenant_a, seat_id=tenant_a.msm.pk)
    )
    assert response.status_code == 302
    assert not Seat.objects.for_org(org).filter(pk=tenant_a.msm.pk).exists()
    assert User.objects.filter(pk=tenant_a.msm.user_id).exists()  # the person stays
    assert (
        not Member.objects.for_org(org)
        .filter(pk__in=[m.pk for m in owned], owner__isnull=False)
        .exists()
    )
    notes = list(OwnershipChange.objects.for_org(org).values_list("note", "changed_by_id"))
    assert notes == [(f"{tenant_a.msm.user.email} left the organization.", tenant_a.admin.pk)] * 3


def test_the_last_admin_cannot_be_removed(login, tenant_a):
    response = login(tenant_a.admin).post(
        url("settings_seat_remove", tenant_a, seat_id=tenant_a.admin.pk), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "last admin" in response.content.decode()
    assert Seat.objects.for_org(tenant_a.organization).filter(pk=tenant_a.admin.pk).exists()
    with pytest.raises(ValidationError) as caught:
        seat_remove(organization=tenant_a.organization, seat=tenant_a.admin)
    assert "seat" in caught.value.message_dict


def test_an_admin_who_removes_themselves_leaves_the_organization(login, tenant_a):
    SeatFactory(organization=tenant_a.organization, role="admin")
    client = login(tenant_a.admin)
    response = client.post(url("settings_seat_remove", tenant_a, seat_id=tenant_a.admin.pk))
    assert response.status_code == 302 and response["Location"] == reverse("tenancy:home")
    assert client.get(url("settings", tenant_a)).status_code == 404


def test_seat_remove_refuses_another_organizations_seat(tenant_a, tenant_b):
    with pytest.raises(ValidationError):
        seat_remove(organization=tenant_a.organization, seat=tenant_b.msm)
    assert Seat.objects.for_org(tenant_b.organization).filter(pk=tenant_b.msm.pk).exists()


def test_an_invited_user_is_not_recreated_across_organizations(tenant_a, tenant_b):
    seat_invite(organization=tenant_a.organization, email="shared@example.test", role="msm")
    seat_invite(organization=tenant_b.organization, email="SHARED@example.test", role="viewer")
    assert User.objects.filter(email="shared@example.test").count() == 1


def test_an_invited_person_can_be_given_a_new_link(login, tenant_a):
    seat = seat_invite(organization=tenant_a.organization, email="late@example.test", role="msm")
    client = login(tenant_a.admin)
    listing = client.get(url("settings_seats", tenant_a)).content.decode()
    assert url("settings_seat_link", tenant_a, seat_id=seat.pk) in listing
    response = client.post(
        url("settings_seat_link", tenant_a, seat_id=seat.pk), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and "late@example.test" in body
    link = LINK.search(body).group(1)
    assert "Choose your password" in Client().get(link, follow=True).content.decode()


def test_no_link_for_someone_who_has_a_password(login, tenant_a):
    response = login(tenant_a.admin).post(
        url("settings_seat_link", tenant_a, seat_id=tenant_a.msm.pk)
    )
    assert response.status_code == 400
    assert "chosen a password already" in response.content.decode()
    assert not LINK.search(response.content.decode())
