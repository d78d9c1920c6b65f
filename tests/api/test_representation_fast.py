"""Lists of a FastRepresentation serializer go through FastListSerializer (the time zone read
once per list, plain columns read together and left as they are when DRF would not change
them): the bytes must be DRF's, a subclass's own ``to_representation`` and a ``Meta`` list class
must still be honoured, and so must a big integer asked as a string; decimals of the field's
scale are passed as they are, any other as DRF quantizes it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from engagement.api.serializers import EngagementSerializer
from engagement.models import Engagement
from members.api.serializers import MemberSerializer
from members.models import Member
from tenancy.api.representation import FastListSerializer, FastRepresentation
from tenancy.scope import organization_scope
from tests.factories import EngagementFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engagements(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org, owner=tenant_a.msm, email="", tier="")
    MemberFactory(organization=org, joined_on=None, attributes={"a": [1, None]})
    EngagementFactory(member=member, organization=org, seat=tenant_a.msm)
    EngagementFactory(member=member, organization=org, duration_minutes=None)
    return org


def _drf_list(serializer_class, rows) -> bytes:
    """What DRF's own ListSerializer and Serializer.to_representation answer."""
    child = serializer_class()
    data = [serializers.Serializer.to_representation(child, row) for row in rows]
    return JSONRenderer().render(data)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/Chicago"])
def test_lists_answer_drfs_bytes(engagements, zone):
    with organization_scope(engagements), timezone.override(zone):
        members = list(Member.objects.for_org(engagements).select_related("owner__user"))
        rows = list(Engagement.objects.for_org(engagements))
        for serializer_class, items in ((MemberSerializer, members), (EngagementSerializer, rows)):
            many = serializer_class(items, many=True)
            assert type(many) is FastListSerializer
            assert JSONRenderer().render(many.data) == _drf_list(serializer_class, items)


def test_ids_are_numbers_and_a_string_big_integer_stays_a_string(engagements):
    class Ids(FastRepresentation, serializers.ModelSerializer):
        text_id = serializers.BigIntegerField(source="id", coerce_to_string=True)

        class Meta:
            model = Engagement
            fields = ["id", "text_id", "member", "duration_minutes"]

    with organization_scope(engagements):
        rows = list(Engagement.objects.for_org(engagements).order_by("pk"))
        data = Ids(rows, many=True).data
    assert data == [
        {
            "id": row.pk,
            "text_id": str(row.pk),
            "member": row.member_id,
            "duration_minutes": row.duration_minutes,
        }
        for row in rows
    ]
    assert type(data[0]["id"]) is int


def test_a_subclass_with_its_own_output_and_a_meta_list_class_are_kept(engagements):
    class Shouting(EngagementSerializer):
        def to_representation(self, instance):
            return {"id": instance.pk, "loud": True}

    class Listed(serializers.ListSerializer):
        pass

    class WithListClass(EngagementSerializer):
        class Meta(EngagementSerializer.Meta):
            list_serializer_class = Listed

    with organization_scope(engagements):
        rows = list(Engagement.objects.for_org(engagements).order_by("pk"))
        assert Shouting(rows, many=True).data == [{"id": row.pk, "loud": True} for row in rows]
        listed = WithListClass(rows, many=True)
        assert type(listed) is Listed
        assert JSONRenderer().render(listed.data) == _drf_list(EngagementSerializer, rows)


class _Amounts(FastRepresentation, serializers.Serializer):
    amount = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    text = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=True)


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1.25"),
        Decimal("-0.00"),
        Decimal("1234.56"),
        Decimal("1.2"),
        Decimal("1.255"),
        Decimal("7"),
        Decimal("1E+2"),
        3,
        1.5,
        "2.50",
    ],
)
def test_decimals_are_drfs_whatever_their_scale(value):
    row = SimpleNamespace(amount=value, text=value)
    fast = _Amounts(row).data
    reference = serializers.Serializer.to_representation(_Amounts(), row)
    assert fast == reference
    assert [type(v) for v in fast.values()] == [type(v) for v in reference.values()]
    assert str(fast["amount"]) == str(reference["amount"])  # the exponent too


def test_a_decimal_too_long_for_the_field_fails_as_in_drf():
    row = SimpleNamespace(amount=Decimal("12345.67"), text=Decimal("1.00"))
    with pytest.raises(InvalidOperation):
        serializers.Serializer.to_representation(_Amounts(), row)
    with pytest.raises(InvalidOperation):
        _Amounts(row).data  # noqa: B018 - reading it is the test
