"""The filter's tier choices are cached per organization and dropped by every member write that
can change them; a tier the cache does not know yet is read afresh."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import Member, MembershipEvent
from members.selectors import member_tiers
from members.services import member_update, membership_event_record
from members.tier_cache import cache_tiers, cached_tiers
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_tiers_are_read_once_then_served_from_the_cache(
    tenant_a, tenant_b, django_assert_num_queries
):
    MemberFactory(organization=tenant_a.organization, tier="Gold")
    MemberFactory(organization=tenant_a.organization, tier="")
    MemberFactory(organization=tenant_b.organization, tier="Basic")
    with django_assert_num_queries(1):
        assert member_tiers(organization=tenant_a.organization) == ["Gold"]
    with django_assert_num_queries(0):
        assert member_tiers(organization=tenant_a.organization) == ["Gold"]
    # Keyed by organization: B's tiers are B's own.
    assert member_tiers(organization=tenant_b.organization) == ["Basic"]
    assert member_tiers(organization=tenant_a.organization) == ["Gold"]


def test_creating_a_member_on_a_new_tier_drops_the_cache(tenant_a, tenant_b):
    MemberFactory(organization=tenant_a.organization, tier="Gold")
    MemberFactory(organization=tenant_b.organization, tier="Basic")
    assert member_tiers(organization=tenant_a.organization) == ["Gold"]
    assert member_tiers(organization=tenant_b.organization) == ["Basic"]
    MemberFactory(organization=tenant_a.organization, tier="Silver")
    assert cached_tiers(tenant_a.organization.pk) is None
    assert cached_tiers(tenant_b.organization.pk) == ["Basic"]  # another organization's stays
    assert member_tiers(organization=tenant_a.organization) == ["Gold", "Silver"]


def test_a_corrected_or_changed_tier_and_a_deletion_drop_the_cache(tenant_a):
    organization = tenant_a.organization
    member = MemberFactory(organization=organization, tier="Gold", status=Member.Status.ACTIVE)
    other = MemberFactory(organization=organization, tier="Basic")
    assert member_tiers(organization=organization) == ["Basic", "Gold"]

    member_update(organization=organization, member=member, tier="Silver")
    assert member_tiers(organization=organization) == ["Basic", "Silver"]

    membership_event_record(
        organization=organization,
        member=member,
        kind=MembershipEvent.Kind.UPGRADE,
        occurred_on=timezone.localdate(),
        tier="Platinum",
    )
    assert member_tiers(organization=organization) == ["Basic", "Platinum"]

    other.delete()
    assert member_tiers(organization=organization) == ["Platinum"]


def test_a_save_that_leaves_the_tier_alone_keeps_the_cache(tenant_a):
    member = MemberFactory(organization=tenant_a.organization, tier="Gold")
    cache_tiers(tenant_a.organization.pk, ["Gold", "Marker"])
    member.name = "Renamed"
    member.save(update_fields=["name"])
    assert cached_tiers(tenant_a.organization.pk) == ["Gold", "Marker"]


def test_a_filter_on_a_tier_the_cache_does_not_know_reads_the_tiers_afresh(login, tenant_a):
    """A bulk write sends no signal, and another process's cache may be behind: the page still
    filters on the new tier instead of refusing it."""
    organization = tenant_a.organization
    MemberFactory(organization=organization, tier="Gold", name="Gold Gwen")
    cache_tiers(organization.pk, ["Basic"])  # stale: no member is on Basic, none shows Gold
    url = reverse("members:list", kwargs={"org_slug": organization.slug})
    body = login(tenant_a.viewer).get(url + "?tier=Gold").content.decode()
    assert "Select a valid choice" not in body
    assert "Gold Gwen" in body and '<option value="Gold" selected>Gold</option>' in body
    assert cached_tiers(organization.pk) == ["Gold"]


def test_the_list_offers_a_tier_as_soon_as_a_member_is_on_it(login, tenant_a):
    organization = tenant_a.organization
    client = login(tenant_a.viewer)
    url = reverse("members:list", kwargs={"org_slug": organization.slug})
    assert '<option value="Gold">' not in client.get(url).content.decode()
    MemberFactory(organization=organization, tier="Gold")
    assert '<option value="Gold">Gold</option>' in client.get(url).content.decode()
