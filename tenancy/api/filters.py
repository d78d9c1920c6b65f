"""Filter pieces shared by the API's lists: ids and instants bounded to what the database can
hold, so a fuzzed or mistyped query answers 400 instead of overflowing into a 500."""

from __future__ import annotations

from typing import Final

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

MAX_ID: Final = 2**63 - 1
FIRST_YEAR: Final = 1900
LAST_YEAR: Final = 2999


def check_year(value):
    """A date or datetime in the years the API accepts (time-zone arithmetic near year 1 or
    9999 overflows)."""
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise forms.ValidationError(f"Give a date between the years {FIRST_YEAR} and {LAST_YEAR}.")
    return value


class BoundedIsoDateTimeField(IsoDateTimeField):
    def clean(self, value):
        return check_year(super().clean(value))


class BoundedDateField(forms.DateField):
    def clean(self, value):
        return check_year(super().clean(value))


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant between FIRST_YEAR and LAST_YEAR."""

    field_class = BoundedIsoDateTimeField


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


class IdFilter(django_filters.NumberFilter):
    """The id of a related row: a whole number a 64-bit column can hold, else 400."""

    field_class = forms.IntegerField

    def __init__(self, field_name: str, label: str = "", **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(field_name=field_name, label=label or None, **kwargs)


def updated_since(field_name: str = "updated_at") -> BoundedIsoDateTimeFilter:
    """``?updated_since=<ISO 8601>``: rows changed (or, for append-only rows, recorded) at or
    after that instant, for incremental sync."""
    return BoundedIsoDateTimeFilter(
        field_name=field_name,
        lookup_expr="gte",
        label="Only rows changed at or after this ISO 8601 instant (for incremental sync).",
    )
