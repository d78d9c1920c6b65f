"""The tenant-scoped base fails closed: unscoped queries raise, scoped ones see only their rows."""

import pytest

from tenancy.models import Seat
from tenancy.scope import (
    UnscopedQueryError,
    current_organization_id,
    organization_scope,
    scoped_task,
)
from tests.factories import SeatFactory


def test_unscoped_query_raises(tenant_a):
    with pytest.raises(UnscopedQueryError, match="without an organization"):
        list(Seat.objects.all())
    with pytest.raises(UnscopedQueryError):
        Seat.objects.filter(role="admin").count()
    with pytest.raises(UnscopedQueryError):
        Seat.objects.get(pk=tenant_a.admin.pk)


def test_related_access_outside_a_scope_raises(tenant_a):
    with pytest.raises(UnscopedQueryError):
        list(tenant_a.organization.seats.all())


def test_for_org_returns_only_that_organizations_rows(tenant_a, tenant_b):
    seats_a = set(Seat.objects.for_org(tenant_a.organization))
    assert seats_a == {tenant_a.admin, tenant_a.msm, tenant_a.viewer}
    assert not seats_a & {tenant_b.admin, tenant_b.msm, tenant_b.viewer}


def test_context_scope_filters_and_is_reset(tenant_a, tenant_b):
    with organization_scope(tenant_b.organization):
        assert set(Seat.objects.all()) == {tenant_b.admin, tenant_b.msm, tenant_b.viewer}
        assert not Seat.objects.filter(pk=tenant_a.admin.pk).exists()
        # Related access is scoped too: A's seats are invisible from inside B's scope.
        assert list(tenant_a.organization.seats.all()) == []
    assert current_organization_id() is None
    with pytest.raises(UnscopedQueryError):
        Seat.objects.count()


def test_scope_is_reset_when_the_block_raises(tenant_a):
    with pytest.raises(ZeroDivisionError), organization_scope(tenant_a.organization):
        1 / 0  # noqa: B018
    assert current_organization_id() is None


def test_writing_another_organizations_row_inside_a_scope_is_refused(tenant_a, tenant_b):
    seat = tenant_b.viewer
    seat.role = Seat.Role.ADMIN
    with organization_scope(tenant_a.organization), pytest.raises(UnscopedQueryError):
        seat.save()
    seat.refresh_from_db()
    assert seat.role == Seat.Role.VIEWER


def test_create_without_organization_needs_a_scope(tenant_a):
    user = SeatFactory(organization=other_organization()).user
    with pytest.raises(UnscopedQueryError):
        Seat.objects.create(user=user, role="msm")
    with organization_scope(tenant_a.organization):
        seat = Seat.objects.create(user=user, role="msm")
    assert seat.organization == tenant_a.organization


def other_organization():
    """A third organization, so the user made there has no seat in A yet."""
    from tests.factories import OrganizationFactory

    return OrganizationFactory()


def test_unscoped_is_the_named_escape_hatch(tenant_a, tenant_b):
    assert Seat.objects.unscoped().count() == 6


def test_scoped_task_requires_an_organization(tenant_a):
    @scoped_task
    def count_seats(*, organization_id):
        return Seat.objects.count()

    with pytest.raises(UnscopedQueryError):
        count_seats()
    assert count_seats(organization_id=tenant_a.organization.pk) == 3
    assert current_organization_id() is None


def test_seat_roles_rank(tenant_a):
    assert tenant_a.admin.has_role("msm")
    assert tenant_a.msm.has_role("viewer")
    assert not tenant_a.msm.has_role("admin")
    assert not tenant_a.viewer.has_role("msm")


def test_full_clean_checks_uniqueness_within_the_rows_own_organization(tenant_a, tenant_b):
    from django.core.exceptions import ValidationError

    duplicate = Seat(organization=tenant_a.organization, user=tenant_a.msm.user, role="viewer")
    with pytest.raises(ValidationError, match="already exists"):
        duplicate.full_clean()
    Seat(organization=tenant_b.organization, user=tenant_a.msm.user, role="viewer").full_clean()
    assert current_organization_id() is None
