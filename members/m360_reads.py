"""Member 360's read of the team, compiled once per connection (the page's other reads are
their home apps' selectors)."""

from __future__ import annotations

from django.db.models import QuerySet

from ops.prepared import PreparedRead
from tenancy.models import Organization, Seat


def _team(*, organization_id: int) -> QuerySet[Seat]:
    return (
        Seat.objects.for_org(organization_id).select_related("user").order_by("role", "user__email")
    )


_TEAM = PreparedRead(_team, organization_id=int)


def organization_team(*, organization: Organization) -> list[Seat]:
    """``tenancy.selectors.organization_team`` (the seats with their users, admins first),
    compiled once per connection: the ownership section offers every seat on every page."""
    return _TEAM.rows(organization_id=organization.pk)
