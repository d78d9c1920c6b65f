"""Filters of the milestones API's lists: by member, goal, definition, status, and
``updated_since`` for incremental sync."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from milestones.models import Commitment, MilestoneDefinition, MilestoneType, ProgressMilestone
from milestones.selectors import (
    CommitmentStatus,
    MilestoneStatus,
    commitments_with_status,
    milestones_with_status,
)
from tenancy.api.filters import IdFilter, updated_since
from tenancy.selectors import organization_today


class MilestoneDefinitionFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=MilestoneType.choices)
    anchor = django_filters.ChoiceFilter(choices=MilestoneDefinition.Anchor.choices)
    is_active = django_filters.BooleanFilter()
    match_event_name = django_filters.CharFilter(max_length=100)
    updated_since = updated_since()

    class Meta:
        model = MilestoneDefinition
        fields: list[str] = []


class ProgressMilestoneFilter(django_filters.FilterSet):
    member = IdFilter(field_name="member_id", label="Only this member's milestones.")
    definition = IdFilter(
        field_name="definition_id", label="Only milestones planned from this definition."
    )
    goal = IdFilter(field_name="goal_id", label="Only milestones tied to this goal.")
    type = django_filters.ChoiceFilter(choices=MilestoneType.choices)
    achieved = django_filters.BooleanFilter(
        field_name="achieved_at",
        lookup_expr="isnull",
        exclude=True,
        label="true: achieved ones; false: pending ones.",
    )
    status = django_filters.ChoiceFilter(
        choices=MilestoneStatus.choices,
        method="filter_status",
        label="Where it stands today, on the organization's calendar.",
    )
    updated_since = updated_since()

    class Meta:
        model = ProgressMilestone
        fields: list[str] = []

    def filter_status(
        self, queryset: QuerySet[ProgressMilestone], name: str, value: str
    ) -> QuerySet[ProgressMilestone]:
        today = organization_today(self.request.user.organization)
        return milestones_with_status(queryset, status=value, today=today)


class CommitmentFilter(django_filters.FilterSet):
    member = IdFilter(field_name="member_id", label="Only this member's commitments.")
    goal = IdFilter(field_name="goal_id", label="Only this goal's plan.")
    owner_seat = IdFilter(field_name="owner_seat_id", label="Only those this seat owns.")
    party = django_filters.ChoiceFilter(choices=Commitment.Party.choices)
    status = django_filters.ChoiceFilter(
        choices=CommitmentStatus.choices,
        method="filter_status",
        label="done, overdue (open past its due date), or open (not yet due).",
    )
    updated_since = updated_since()

    class Meta:
        model = Commitment
        fields: list[str] = []

    def filter_status(
        self, queryset: QuerySet[Commitment], name: str, value: str
    ) -> QuerySet[Commitment]:
        today = organization_today(self.request.user.organization)
        return commitments_with_status(queryset, status=value, today=today)
