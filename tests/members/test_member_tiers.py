"""The filter's tier choices: the organization's own tiers in use, in order, never stale (on
PostgreSQL they are read by a skip scan of the (organization, tier) index)."""

from __future__ import annotations

import pytest

from members.selectors import member_tiers
from members.services import member_update
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_tiers_in_use_in_order_without_the_empty_one(tenant_a, tenant_b):
    for tier in ("Silver", "Gold", "Gold", "", "Basic", "Silver"):
        MemberFactory(organization=tenant_a.organization, tier=tier)
    MemberFactory(organization=tenant_b.organization, tier="Another organization's")
    assert member_tiers(organization=tenant_a.organization) == ["Basic", "Gold", "Silver"]
    assert member_tiers(organization=tenant_b.organization) == ["Another organization's"]


def test_a_new_or_changed_tier_shows_at_once(tenant_a):
    member = MemberFactory(organization=tenant_a.organization, tier="Gold")
    assert member_tiers(organization=tenant_a.organization) == ["Gold"]
    member_update(organization=tenant_a.organization, member=member, tier="Platinum")
    assert member_tiers(organization=tenant_a.organization) == ["Platinum"]
    MemberFactory(organization=tenant_a.organization, tier="Basic")
    assert member_tiers(organization=tenant_a.organization) == ["Basic", "Platinum"]


def test_an_organization_without_tiers_offers_none(tenant_a):
    MemberFactory(organization=tenant_a.organization, tier="")
    assert member_tiers(organization=tenant_a.organization) == []
