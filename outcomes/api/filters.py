"""Filters of the outcomes API's lists. Ids are plain numbers (never a choice of rows, whose
queryset would be built outside the caller's organization)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField

from outcomes.models import (
    AppropriateExperience,
    Band,
    Condition,
    DesiredOutcome,
    Goal,
    SuccessGapSnapshot,
)
from tenancy.api.filters import updated_since

# The largest id a database column holds: a bigger number cannot name a row (and SQLite
# refuses to even compare with it).
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A whole number within the range of ids; anything else answers 400."""

    field_class = forms.IntegerField


def _id(field_name: str, label: str) -> IdFilter:
    return IdFilter(field_name=field_name, label=label, min_value=1, max_value=MAX_ID)


class InstantField(IsoDateTimeField):
    """An ISO 8601 instant that exists in UTC, where the database compares it (year 1 at
    +14:00 does not, and would fail the query rather than the request)."""

    def clean(self, value: object) -> dt.datetime | None:
        instant = super().clean(value)
        if instant is not None:
            try:
                instant.astimezone(dt.UTC)
            except OverflowError:
                raise forms.ValidationError(
                    "Give an instant between the years 1 and 9999."
                ) from None
        return instant


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField


def _instant(field_name: str, lookup_expr: str, label: str) -> InstantFilter:
    return InstantFilter(field_name=field_name, lookup_expr=lookup_expr, label=label)


def _updated_since(field_name: str = "updated_at") -> InstantFilter:
    """As ``tenancy.api.filters.updated_since``, with instants checked before the query."""
    return _instant(field_name, "gte", updated_since(field_name).label)


class DesiredOutcomeFilter(django_filters.FilterSet):
    member = _id("member_id", "Only this member's desired outcomes.")
    is_active = django_filters.BooleanFilter()
    updated_since = _updated_since()

    class Meta:
        model = DesiredOutcome
        fields: list[str] = []


class GoalFilter(django_filters.FilterSet):
    member = _id("member_id", "Only this member's goals.")
    desired_outcome = _id("desired_outcome_id", "Only the goals of this desired outcome.")
    status = django_filters.MultipleChoiceFilter(
        choices=Goal.Status.choices, label="Only goals in these statuses (repeat to give several)."
    )
    updated_since = InstantFilter(
        method="changed_since",
        label="Only goals changed (status changes included) at or after this ISO 8601 instant.",
    )

    class Meta:
        model = Goal
        fields: list[str] = []

    def changed_since(self, queryset: QuerySet[Goal], name: str, value: dt.datetime):
        """A status change moves only the status columns (the rule keeps the row's story), so
        it counts through ``status_changed_at`` as well as ``updated_at``."""
        return queryset.filter(Q(updated_at__gte=value) | Q(status_changed_at__gte=value))


class ConditionFilter(django_filters.FilterSet):
    goal = _id("goal_id", "Only this goal's conditions.")
    member = _id("goal__member_id", "Only the conditions of this member's goals.")
    state = django_filters.ChoiceFilter(choices=Condition.State.choices)
    updated_since = _updated_since()

    class Meta:
        model = Condition
        fields: list[str] = []


class ExperienceFilter(django_filters.FilterSet):
    member = _id("member_id", "Only this member's experience elements.")
    desired_outcome = _id("desired_outcome_id", "Only the elements tied to this outcome.")
    is_active = django_filters.BooleanFilter(label="False lists the retired elements.")
    required = django_filters.BooleanFilter()
    updated_since = _updated_since()

    class Meta:
        model = AppropriateExperience
        fields: list[str] = []


class SnapshotFilter(django_filters.FilterSet):
    member = _id("member_id", "Only this member's history.")
    band = django_filters.ChoiceFilter(choices=Band.choices)
    since = _instant("computed_at", "gte", "Computed at or after this instant.")
    until = _instant("computed_at", "lte", "Computed at or before this instant.")
    # Snapshots are never changed: "updated" is when they were computed.
    updated_since = _updated_since("computed_at")

    class Meta:
        model = SuccessGapSnapshot
        fields: list[str] = []
