"""Filters for the members app's lists: by status, owner, band and external id, a search, and
``updated_since`` for incremental sync."""

from __future__ import annotations

import django_filters

from members.models import Advocacy, Member, MembershipEvent
from members.selectors import members_matching
from outcomes.models import Band
from tenancy.api.filters import IdFilter, updated_since


class MemberFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Member.Status.choices, label="Membership status.")
    owner = IdFilter("owner_id", "The owning seat's id.")
    band = django_filters.ChoiceFilter(
        field_name="success_band", choices=Band.choices, label="The latest success-gap band."
    )
    external_id = django_filters.CharFilter(
        max_length=100, label="The member's id in your own systems (exact)."
    )
    q = django_filters.CharFilter(
        method="search", max_length=200, label="Part of the name, email or external id."
    )
    updated_since = updated_since("updated_at")

    class Meta:
        model = Member
        fields: list[str] = []

    def search(self, queryset, name: str, value: str):
        return members_matching(queryset, value)


class MembershipEventFilter(django_filters.FilterSet):
    member = IdFilter("member_id", "The member's id.")
    kind = django_filters.ChoiceFilter(choices=MembershipEvent.Kind.choices, label="The change.")
    updated_since = updated_since("recorded_at")

    class Meta:
        model = MembershipEvent
        fields: list[str] = []


class AdvocacyFilter(django_filters.FilterSet):
    member = IdFilter("member_id", "The member's id.")
    kind = django_filters.ChoiceFilter(choices=Advocacy.Kind.choices, label="The kind of advocacy.")
    updated_since = updated_since("recorded_at")

    class Meta:
        model = Advocacy
        fields: list[str] = []
