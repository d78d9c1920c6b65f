"""Reads for tenancy: seats of a user, the team of an organization, API keys."""

from __future__ import annotations

import datetime as dt
import hmac

from django.db.models import QuerySet
from django.utils import timezone

from ops.prepared import PreparedRead
from tenancy.models import ApiKey, Organization, Seat, User


def seats_for_user(*, user: User) -> QuerySet[Seat]:
    """The organizations a user can enter, for the chooser and the header's switcher."""
    return Seat.objects.for_user(user).order_by("organization__name")


def organization_team(*, organization: Organization) -> QuerySet[Seat]:
    """The organization's seats with their users, admins first."""
    return _team(organization_id=organization.pk)


def _team(*, organization_id: int) -> QuerySet[Seat]:
    return (
        Seat.objects.for_org(organization_id).select_related("user").order_by("role", "user__email")
    )


# Compiled once per connection: Member 360's ownership section offers every seat on every page.
_TEAM = PreparedRead(_team, organization_id=int)


def organization_team_rows(*, organization: Organization) -> list[Seat]:
    """``organization_team``'s seats (with their users, admins first), its SQL compiled once
    per connection instead of built on every page that lists them all."""
    return _TEAM.rows(organization_id=organization.pk)


def organization_today(organization: Organization) -> dt.date:
    """Today on the organization's own calendar: due dates, renewals and "overdue" are its
    calendar days, so they must not depend on the server's time zone."""
    return timezone.localdate(timezone=organization.zone)


def api_keys_for_list(*, organization: Organization) -> QuerySet[ApiKey]:
    """The organization's keys, newest first, with who created them (live and revoked)."""
    return (
        ApiKey.objects.for_org(organization)
        .select_related("created_by__user")
        .order_by("-created_at", "-pk")
    )


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The live key this secret is, with its organization, or None.

    This read cannot be scoped to an organization beforehand: the key is the API's tenant
    credential, and the organization is what it tells us. So it looks the prefix up across
    organizations (``ApiKey.objects.live_with_prefix``, one indexed query) and trusts a row only
    when the full key's hash matches, compared in constant time. A revoked key finds nothing.
    """
    from tenancy.services import api_key_hash, api_key_prefix

    if not isinstance(secret, str):
        return None
    prefix = api_key_prefix(secret)
    if prefix is None:
        return None
    digest = api_key_hash(secret)
    for key in ApiKey.objects.live_with_prefix(prefix):
        if hmac.compare_digest(key.key_hash, digest):
            return key
    return None
