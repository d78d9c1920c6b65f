"""Filters and ordering for the engagement and context-event streams."""

from __future__ import annotations

import django_filters
from rest_framework.filters import OrderingFilter

from engagement.choices import EngagementType
from engagement.models import ContextEvent, Engagement
from tenancy.api.filters import BoundedIsoDateTimeFilter, IdFilter, updated_since


class StreamOrderingFilter(OrderingFilter):
    """The ordering asked for, ended by the id so it is unique: cursor pages need a total order
    to neither skip nor repeat rows that share a time."""

    def get_ordering(self, request, queryset, view) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            descending = bool(ordering) and ordering[-1].startswith("-")
            ordering.append("-id" if descending else "id")
        return ordering


def _occurred(lookup: str, label: str) -> BoundedIsoDateTimeFilter:
    return BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr=lookup, label=label)


class EngagementFilter(django_filters.FilterSet):
    member = IdFilter("member_id", label="Only this member's.")
    seat = IdFilter("seat_id", label="Only this seat's.")
    goal = IdFilter("goal_id", label="Only about this goal.")
    direction = django_filters.ChoiceFilter(choices=Engagement.Direction.choices)
    type = django_filters.ChoiceFilter(choices=EngagementType.choices)
    occurred_since = _occurred("gte", "Occurred at or after this ISO 8601 instant.")
    occurred_until = _occurred("lt", "Occurred before this ISO 8601 instant.")
    updated_since = updated_since("created_at")

    class Meta:
        model = Engagement
        fields: list[str] = []


class ContextEventFilter(django_filters.FilterSet):
    member = IdFilter("member_id", label="Only this member's.")
    kind = django_filters.ChoiceFilter(choices=ContextEvent.Kind.choices)
    source = django_filters.ChoiceFilter(choices=ContextEvent.Source.choices)
    name = django_filters.CharFilter(field_name="name", max_length=100, label="Exact event name.")
    external_id = django_filters.CharFilter(field_name="external_id", max_length=120)
    occurred_since = _occurred("gte", "Occurred at or after this ISO 8601 instant.")
    occurred_until = _occurred("lt", "Occurred before this ISO 8601 instant.")
    updated_since = updated_since("recorded_at")

    class Meta:
        model = ContextEvent
        fields: list[str] = []
