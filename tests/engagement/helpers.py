"""Moments in the organization's own time zone, so day arithmetic in tests matches the
selectors' (which count days where the organization is)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from tenancy.models import Organization


def at_noon(organization: Organization, day: dt.date) -> dt.datetime:
    """Midday of ``day`` where the organization is: far from any day boundary."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=zoneinfo.ZoneInfo(organization.time_zone))


def days_ago(organization: Organization, today: dt.date, days: int) -> dt.datetime:
    return at_noon(organization, today - dt.timedelta(days=days))
