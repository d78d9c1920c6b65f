"""Reads for tenancy: seats of a user, the team of an organization."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from tenancy.models import Organization, Seat, User


def seats_for_user(*, user: User) -> QuerySet[Seat]:
    """The organizations a user can enter, for the chooser and the header's switcher."""
    return Seat.objects.for_user(user).order_by("organization__name")


def organization_team(*, organization: Organization) -> QuerySet[Seat]:
    """The organization's seats with their users, admins first."""
    return Seat.objects.for_org(organization).select_related("user").order_by("role", "user__email")


def organization_today(organization: Organization) -> dt.date:
    """Today on the organization's own calendar: due dates, renewals and "overdue" are its
    calendar days, so they must not depend on the server's time zone."""
    return timezone.localdate(timezone=organization.zone)
