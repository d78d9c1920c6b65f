"""Login, organization choice, the dashboard, and how pages answer bad input."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenancy.access import require_role
from tenancy.models import Seat
from tests.factories import TEST_PASSWORD, OrganizationFactory, SeatFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_is_styled_and_carries_csrf(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "css/tandem.css" in body
    assert "csrfmiddlewaretoken" in body
    assert '<label for="id_username">Email</label>' in body


def test_wrong_password_shows_a_form_error(client, tenant_a):
    response = client.post(
        reverse("login"), {"username": tenant_a.msm.user.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_by_email_reaches_the_only_organization(client, tenant_a):
    response = client.post(
        reverse("login"),
        {"username": tenant_a.msm.user.email.upper(), "password": TEST_PASSWORD},
        follow=True,
    )
    # The MSM's home is My book.
    assert response.redirect_chain[-1][0] == f"/o/{tenant_a.organization.slug}/book/"
    assert tenant_a.organization.name in response.content.decode()
    assert "My book" in response.content.decode()


def test_user_with_several_seats_chooses(client, tenant_a, tenant_b):
    user = tenant_a.admin.user
    SeatFactory(organization=tenant_b.organization, user=user, role="viewer")
    client.force_login(user)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("tenancy:choose")
    body = response.content.decode()
    assert tenant_a.organization.name in body and tenant_b.organization.name in body
    # and can switch into either
    assert client.get(f"/o/{tenant_b.organization.slug}/").status_code == 200


def test_user_without_seats_sees_an_empty_chooser(client, db):
    client.force_login(UserFactory())
    response = client.get(reverse("tenancy:choose"))
    assert "do not have a seat" in response.content.decode()


def test_anonymous_is_sent_to_login(client, tenant_a):
    response = client.get(f"/o/{tenant_a.organization.slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_slug_is_a_styled_404(login, tenant_a):
    response = login(tenant_a.admin).get("/o/no-such-place/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_no_seat_means_404_not_403(login, tenant_a, tenant_b):
    response = login(tenant_a.admin).get(f"/o/{tenant_b.organization.slug}/")
    assert response.status_code == 404
    assert tenant_b.organization.name not in response.content.decode()


def test_dashboard_shows_team_and_role(login, tenant_a, tenant_b):
    response = login(tenant_a.viewer).get(f"/o/{tenant_a.organization.slug}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert tenant_a.msm.user.email in body
    assert tenant_b.msm.user.email not in body
    assert 'hx-headers=\'{"X-CSRFToken"' in body
    assert "htmx" in body


def test_dashboard_is_read_only(login, tenant_a):
    response = login(tenant_a.admin).post(f"/o/{tenant_a.organization.slug}/")
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("role", "method", "expected"),
    [
        ("viewer", "get", 200),
        ("viewer", "post", 403),
        ("msm", "post", 200),
        ("msm", "delete", 200),
        ("admin", "post", 200),
    ],
)
def test_require_role_keeps_viewers_read_only(rf, tenant_a, role, method, expected):
    @require_role(Seat.Role.MSM)
    def work_accounts(request, org_slug):
        return HttpResponse("done")

    request = getattr(rf, method)("/o/x/")
    request.seat = tenant_a.seat(role)
    if expected == 403:
        with pytest.raises(PermissionDenied):
            work_accounts(request, org_slug="x")
    else:
        assert work_accounts(request, org_slug="x").status_code == expected


def test_require_role_without_a_resolved_seat_is_404(rf):
    @require_role(Seat.Role.VIEWER)
    def page(request):
        return HttpResponse("data")

    request = rf.get("/")
    request.seat = None
    with pytest.raises(Http404):
        page(request)


def test_dashboard_query_count_is_constant(login, tenant_a):
    client = login(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    small = count()
    SeatFactory.create_batch(45, organization=tenant_a.organization)
    assert count() == small


def test_logout_is_a_post(login, tenant_a):
    client = login(tenant_a.msm)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(f"/o/{tenant_a.organization.slug}/").status_code == 302


def test_admin_works_for_staff_across_organizations(client, tenant_a, tenant_b):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get(reverse("admin:tenancy_seat_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.msm.user.email in body and tenant_b.msm.user.email in body
    change = client.get(reverse("admin:tenancy_seat_change", args=[tenant_b.msm.pk]))
    assert change.status_code == 200


def test_organization_users_are_not_admin_staff(login, tenant_a):
    response = login(tenant_a.admin).get(reverse("admin:index"))
    assert response.status_code == 302


def test_organization_time_zone_is_validated(db):
    from django.core.exceptions import ValidationError

    organization = OrganizationFactory.build(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="time_zone"):
        organization.full_clean()
