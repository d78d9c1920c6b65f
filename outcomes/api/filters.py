"""Filters of the outcomes API's lists. Ids are plain numbers (never a choice of rows, whose
queryset would be built outside the caller's organization)."""

from __future__ import annotations

import django_filters

from outcomes.models import (
    AppropriateExperience,
    Band,
    Condition,
    DesiredOutcome,
    Goal,
    SuccessGapSnapshot,
)
from tenancy.api.filters import BoundedIsoDateTimeFilter, IdFilter, changed_since, updated_since


class DesiredOutcomeFilter(django_filters.FilterSet):
    member = IdFilter("member_id", "Only this member's desired outcomes.")
    is_active = django_filters.BooleanFilter()
    updated_since = updated_since()

    class Meta:
        model = DesiredOutcome
        fields: list[str] = []


class GoalFilter(django_filters.FilterSet):
    member = IdFilter("member_id", "Only this member's goals.")
    desired_outcome = IdFilter("desired_outcome_id", "Only the goals of this desired outcome.")
    status = django_filters.MultipleChoiceFilter(
        choices=Goal.Status.choices, label="Only goals in these statuses (repeat to give several)."
    )
    # A status change moves only the status columns (the rule keeps the row's story), so it
    # counts through ``status_changed_at`` as well as ``updated_at``.
    updated_since = BoundedIsoDateTimeFilter(
        method=changed_since("updated_at", "status_changed_at"),
        label="Only goals changed (status changes included) at or after this ISO 8601 instant.",
    )

    class Meta:
        model = Goal
        fields: list[str] = []


class ConditionFilter(django_filters.FilterSet):
    goal = IdFilter("goal_id", "Only this goal's conditions.")
    member = IdFilter("goal__member_id", "Only the conditions of this member's goals.")
    state = django_filters.ChoiceFilter(choices=Condition.State.choices)
    updated_since = updated_since()

    class Meta:
        model = Condition
        fields: list[str] = []


class ExperienceFilter(django_filters.FilterSet):
    member = IdFilter("member_id", "Only this member's experience elements.")
    desired_outcome = IdFilter("desired_outcome_id", "Only the elements tied to this outcome.")
    is_active = django_filters.BooleanFilter(label="False lists the retired elements.")
    required = django_filters.BooleanFilter()
    updated_since = updated_since()

    class Meta:
        model = AppropriateExperience
        fields: list[str] = []


class SnapshotFilter(django_filters.FilterSet):
    member = IdFilter("member_id", "Only this member's history.")
    band = django_filters.ChoiceFilter(choices=Band.choices)
    since = BoundedIsoDateTimeFilter(
        field_name="computed_at", lookup_expr="gte", label="Computed at or after this instant."
    )
    until = BoundedIsoDateTimeFilter(
        field_name="computed_at", lookup_expr="lte", label="Computed at or before this instant."
    )
    # Snapshots are never changed: "updated" is when they were computed.
    updated_since = updated_since("computed_at")

    class Meta:
        model = SuccessGapSnapshot
        fields: list[str] = []
