"""Values read by raw SQL, made what the ORM would have given: the fixed-SQL reads of the busiest
pages (Member 360, My book) skip the ORM's converters, and SQLite hands back its storage forms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def datetime_from_sql(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp, aware and in UTC. PostgreSQL gives one already; SQLite gives its stored UTC
    text (an aggregate, or a raw read) or a naive datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def decimal_from_sql(value: Decimal | float | int | None) -> Decimal | None:
    """A decimal as a ``Decimal``: PostgreSQL gives one, SQLite (which stores a decimal column
    as a number) an int or a float, written back as it reads."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))
