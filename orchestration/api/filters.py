"""Filters of the orchestration lists.

``updated_since`` reads each row's ``updated_at``, which every write moves — the guarded
UPDATEs of the services and the dispatcher's raw SQL included — so it also finds the changes
that leave no moment of their own behind (a task reassigned, edited or reopened; a nudge
cancelled, retried or released).
"""

from __future__ import annotations

from typing import Final

import django_filters
from django.db.models import QuerySet

from orchestration.api.serializers import EVENT_KINDS, FIRST_YEAR, LAST_YEAR
from orchestration.models import Nudge, OrchestratedEvent, Task
from tenancy.api import filters as shared
from tenancy.api.filters import BoundedDateFilter, BoundedIsoDateTimeFilter, IdFilter
from tenancy.selectors import organization_today

# Query dates in the years these lists' bodies accept.
YEARS: Final = {"first_year": FIRST_YEAR, "last_year": LAST_YEAR}


def _instant(**kwargs) -> BoundedIsoDateTimeFilter:
    return BoundedIsoDateTimeFilter(**YEARS, **kwargs)


def _day(**kwargs) -> BoundedDateFilter:
    return BoundedDateFilter(**YEARS, **kwargs)


class OrchestratedEventFilter(django_filters.FilterSet):
    member = IdFilter(field_name="member_id", label="Member id.")
    status = django_filters.ChoiceFilter(choices=OrchestratedEvent.Status.choices)
    kind = django_filters.ChoiceFilter(
        choices=EVENT_KINDS, method="filter_kind", label="Made by hand, or by a playbook step."
    )
    scheduled_since = _instant(
        field_name="scheduled_for", lookup_expr="gte", label="Scheduled at or after (ISO 8601)."
    )
    scheduled_until = _instant(
        field_name="scheduled_for", lookup_expr="lt", label="Scheduled before (ISO 8601)."
    )
    updated_since = shared.updated_since("updated_at")

    class Meta:
        model = OrchestratedEvent
        fields: list[str] = []

    def filter_kind(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(enrollment__isnull=value != "playbook")


TASK_STATUSES: Final = [
    ("open", "Not done yet"),
    ("overdue", "Not done, and due before today (the organization's calendar)"),
    ("done", "Done"),
]


class TaskFilter(django_filters.FilterSet):
    member = IdFilter(field_name="member_id", label="Member id.")
    owner = IdFilter(field_name="owner_id", label="Seat id of the assignee.")
    unassigned = django_filters.BooleanFilter(
        field_name="owner", lookup_expr="isnull", label="true: only tasks nobody is given."
    )
    status = django_filters.ChoiceFilter(choices=TASK_STATUSES, method="filter_status")
    due_since = _day(field_name="due_on", lookup_expr="gte", label="Due on or after.")
    due_until = _day(field_name="due_on", lookup_expr="lte", label="Due on or before.")
    updated_since = shared.updated_since("updated_at")

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "done":
            return queryset.filter(done_at__isnull=False)
        queryset = queryset.filter(done_at__isnull=True)
        if value == "overdue":
            organization = self.request.user.organization
            queryset = queryset.filter(due_on__lt=organization_today(organization))
        return queryset


class NudgeFilter(django_filters.FilterSet):
    event = IdFilter(field_name="event_id", label="Orchestrated event id.")
    member = IdFilter(field_name="member_id", label="Member id.")
    status = django_filters.ChoiceFilter(choices=Nudge.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Nudge.Channel.choices)
    kind = django_filters.ChoiceFilter(choices=Nudge.Kind.choices)
    scheduled_since = _instant(
        field_name="scheduled_for", lookup_expr="gte", label="Due to send at or after (ISO 8601)."
    )
    scheduled_until = _instant(
        field_name="scheduled_for", lookup_expr="lt", label="Due to send before (ISO 8601)."
    )
    updated_since = shared.updated_since("updated_at")

    class Meta:
        model = Nudge
        fields: list[str] = []
