"""Filters of the orchestration lists.

None of these models has an ``updated_at`` column, so ``updated_since`` reads the moments each
row records as it changes (created, announced, happened, confirmed, closed; claimed and sent;
done): a row changed at or after the instant has one of them at or after it. Changes that leave
no moment behind (a task reassigned or reopened, a nudge cancelled) are not seen by it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField

from orchestration.api.serializers import EVENT_KINDS, FIRST_YEAR, LAST_YEAR
from orchestration.models import Nudge, OrchestratedEvent, Task
from tenancy.selectors import organization_today

MAX_ID: Final = 2**63 - 1
UPDATED_SINCE_HELP: Final = (
    "Only rows changed at or after this ISO 8601 instant (for incremental sync)."
)


def _check_year(value):
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise forms.ValidationError(f"Give a date between the years {FIRST_YEAR} and {LAST_YEAR}.")
    return value


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant in the years the API accepts: any other answers 400 rather than
    reaching time-zone arithmetic that cannot represent it."""

    def clean(self, value):
        return _check_year(super().clean(value))


class BoundedDateField(forms.DateField):
    def clean(self, value):
        return _check_year(super().clean(value))


class IdFilter(django_filters.NumberFilter):
    """The id of a related row: a whole number a database integer can hold (beyond that SQLite
    raises instead of finding nothing), otherwise 400."""

    field_class = forms.IntegerField

    def __init__(self, field_name: str, label: str) -> None:
        super().__init__(field_name=field_name, label=label, min_value=1, max_value=MAX_ID)


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


def _changed_since(*fields: str):
    """A filter method: rows with any of ``fields`` at or after the value."""

    def method(queryset: QuerySet, name: str, value: dt.datetime) -> QuerySet:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__gte": value})
        return queryset.filter(condition)

    return method


class OrchestratedEventFilter(django_filters.FilterSet):
    member = IdFilter(field_name="member_id", label="Member id.")
    status = django_filters.ChoiceFilter(choices=OrchestratedEvent.Status.choices)
    kind = django_filters.ChoiceFilter(
        choices=EVENT_KINDS, method="filter_kind", label="Made by hand, or by a playbook step."
    )
    scheduled_since = BoundedIsoDateTimeFilter(
        field_name="scheduled_for", lookup_expr="gte", label="Scheduled at or after (ISO 8601)."
    )
    scheduled_until = BoundedIsoDateTimeFilter(
        field_name="scheduled_for", lookup_expr="lt", label="Scheduled before (ISO 8601)."
    )
    updated_since = BoundedIsoDateTimeFilter(
        label=UPDATED_SINCE_HELP,
        method=_changed_since(
            "created_at", "announced_at", "happened_at", "confirmed_at", "closed_at"
        ),
    )

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
    due_since = BoundedDateFilter(field_name="due_on", lookup_expr="gte", label="Due on or after.")
    due_until = BoundedDateFilter(field_name="due_on", lookup_expr="lte", label="Due on or before.")
    updated_since = BoundedIsoDateTimeFilter(
        label=UPDATED_SINCE_HELP, method=_changed_since("created_at", "done_at")
    )

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
    scheduled_since = BoundedIsoDateTimeFilter(
        field_name="scheduled_for", lookup_expr="gte", label="Due to send at or after (ISO 8601)."
    )
    scheduled_until = BoundedIsoDateTimeFilter(
        field_name="scheduled_for", lookup_expr="lt", label="Due to send before (ISO 8601)."
    )
    updated_since = BoundedIsoDateTimeFilter(
        label=UPDATED_SINCE_HELP, method=_changed_since("created_at", "claimed_at", "sent_at")
    )

    class Meta:
        model = Nudge
        fields: list[str] = []
