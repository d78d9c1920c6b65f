"""Filter helpers shared by the API's lists."""

from __future__ import annotations

import django_filters


def updated_since(field_name: str = "updated_at") -> django_filters.IsoDateTimeFilter:
    """``?updated_since=<ISO 8601>``: rows changed (or, for append-only rows, recorded) at or
    after that instant, for incremental sync."""
    return django_filters.IsoDateTimeFilter(
        field_name=field_name,
        lookup_expr="gte",
        label="Only rows changed at or after this ISO 8601 instant (for incremental sync).",
    )
