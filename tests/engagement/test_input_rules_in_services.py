"""Rules on free-form input live in the services, so pages, the API and bulk ingest refuse the
same input with the same words: NUL characters in JSON, and instants before 1900."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from engagement.models import ContextEvent
from engagement.services import context_event_record
from members.models import Member
from members.services import member_create
from tenancy.rules import NUL_REFUSED, contains_nul
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_contains_nul_looks_inside_nested_keys_and_values():
    assert contains_nul({"a": [1, {"b": "x\x00"}]})
    assert contains_nul({"k\x00": 1})
    assert not contains_nul({"a": [1, {"b": "x"}]}, "plain", None)


def _event(tenant, **overrides):
    fields = {
        "organization": tenant.organization,
        "member": MemberFactory(organization=tenant.organization),
        "kind": ContextEvent.Kind.USAGE,
        "name": "logins",
        "occurred_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    } | overrides
    return context_event_record(**fields)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"payload": {"note": "a\x00b"}}, "payload", NUL_REFUSED),
        ({"external_id": "ext\x00"}, "external_id", NUL_REFUSED),
        (
            {"occurred_at": dt.datetime(1850, 1, 1, tzinfo=dt.UTC)},
            "occurred_at",
            "Give a date in 1900 or later.",
        ),
    ],
)
def test_the_context_event_service_refuses_what_the_api_refuses(
    tenant_a, overrides, field, message
):
    with pytest.raises(ValidationError) as refused:
        _event(tenant_a, **overrides)
    assert refused.value.message_dict[field] == [message]
    assert ContextEvent.objects.for_org(tenant_a.organization).count() == 0


def test_member_attributes_with_nul_are_refused_by_the_service(tenant_a):
    with pytest.raises(ValidationError) as refused:
        member_create(
            organization=tenant_a.organization, name="Ada", attributes={"club": "chess\x00"}
        )
    assert refused.value.message_dict["attributes"] == [NUL_REFUSED]
    assert Member.objects.for_org(tenant_a.organization).count() == 0
