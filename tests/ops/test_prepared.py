"""``ops.prepared.PreparedRead`` gives exactly what iterating the queryset gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from ops.prepared import PreparedRead
from tenancy.models import Seat

pytestmark = pytest.mark.django_db


def _seat(*, user_id: int, org_slug: str):
    return (
        Seat.objects.unscoped()
        .filter(user_id=user_id, organization__slug=org_slug)
        .select_related("organization", "user")
        .order_by()[:1]
    )


SEAT = PreparedRead(_seat, user_id=int, org_slug=str)


def _fields(obj: Model) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_the_rows_equal_the_querysets_with_their_related_rows(tenant_a, tenant_b):
    for seat in (tenant_a.admin, tenant_a.viewer, tenant_b.msm):
        params = {"user_id": seat.user_id, "org_slug": seat.organization.slug}
        expected = list(_seat(**params))
        with CaptureQueriesContext(connection) as captured:
            found = SEAT.rows(**params)
        assert len(captured) == 1
        assert len(found) == len(expected) == 1
        assert _fields(found[0]) == _fields(expected[0])
        # select_related: the user and organization come with the row, no query on access.
        with CaptureQueriesContext(connection) as captured:
            assert _fields(found[0].user) == _fields(expected[0].user)
            assert _fields(found[0].organization) == _fields(expected[0].organization)
        assert len(captured) == 0
        # Values keep their types (aware datetimes, booleans) through the converters.
        assert found[0].created_at == expected[0].created_at
        assert found[0].created_at.tzinfo is not None
        assert found[0].user.is_active is True
        assert found[0]._state.adding is False and found[0]._state.db == "default"


def test_no_row_is_none(tenant_a, tenant_b):
    assert SEAT.first(user_id=tenant_a.msm.user_id, org_slug=tenant_b.organization.slug) is None
    assert SEAT.first(user_id=tenant_a.msm.user_id, org_slug="no-such-org") is None


def test_an_integer_no_column_can_hold_matches_no_row(tenant_a):
    """As the ORM's exact lookups answer it, without sending the value (SQLite's driver raises
    on it)."""
    slug = tenant_a.organization.slug
    with CaptureQueriesContext(connection) as captured:
        assert SEAT.rows(user_id=2**63, org_slug=slug) == []
        assert SEAT.first(user_id=-(2**63) - 1, org_slug=slug) is None
    assert len(captured) == 0
    assert SEAT.first(user_id=tenant_a.msm.user_id, org_slug=slug) is not None


def test_the_parameters_are_named_and_typed(tenant_a):
    with pytest.raises(TypeError):
        SEAT.rows(user_id=tenant_a.msm.user_id)
    with pytest.raises(TypeError):
        SEAT.rows(user_id=str(tenant_a.msm.user_id), org_slug=tenant_a.organization.slug)


def test_a_query_that_does_not_use_a_parameter_is_refused(tenant_a):
    unused = PreparedRead(lambda *, user_id: Seat.objects.unscoped().all()[:1], user_id=int)
    with pytest.raises(ValueError, match="exactly once"):
        unused.rows(user_id=1)


def _seats_created(*, org_slug: str, created_at: dt.datetime):
    return Seat.objects.unscoped().filter(organization__slug=org_slug, created_at=created_at)


SEATS_CREATED = PreparedRead(_seats_created, org_slug=str, created_at=dt.datetime)


def test_a_datetime_parameter_matches_as_the_querysets_does(tenant_a, tenant_b):
    """Written as its column's value on this database (SQLite keeps UTC text), from any time
    zone, to the microsecond."""
    seat = tenant_a.admin
    elsewhere = seat.created_at.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    for moment in (seat.created_at, elsewhere):
        params = {"org_slug": tenant_a.organization.slug, "created_at": moment}
        found = SEATS_CREATED.rows(**params)
        assert [s.pk for s in found] == [s.pk for s in _seats_created(**params)] == [seat.pk]
    later = seat.created_at + dt.timedelta(microseconds=1)
    assert SEATS_CREATED.rows(org_slug=tenant_a.organization.slug, created_at=later) == []
    assert SEATS_CREATED.rows(org_slug=tenant_b.organization.slug, created_at=elsewhere) == []
