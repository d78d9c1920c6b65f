"""Member 360's reads as the ORM writes them: the references the fixed SQL of the pages' reads
is held to (tests/members/test_m360_reads.py). They were the production reads before those
were written as fixed SQL texts; here they only answer what the page's reads must answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engagement.models import ContextEvent, Engagement
from engagement.selectors import (
    TIMELINE_ENGAGEMENT_FIELDS,
    ExperienceFulfilmentSummary,
    Relationship,
    _context_kinds_seen,
    _element_fulfilment,
    _engagement_aggregates,
    _relationship_from,
    _required_elements,
    _summary,
    _window,
)
from members.models import Member
from tenancy.models import Organization


def member_timeline_engagements(
    *, organization: Organization, member: Member, limit: int = 20
) -> list[dict[str, Any]]:
    """The member's latest engagements as plain rows for a timeline (when, type, direction,
    summary, and who engaged)."""
    return list(
        Engagement.objects.for_org(organization)
        .filter(member_id=member.pk)
        .order_by("-occurred_at", "-pk")
        .values(*TIMELINE_ENGAGEMENT_FIELDS)[:limit]
    )


def member_timeline_context_events(
    *, organization: Organization, member: Member, limit: int = 20
) -> list[dict[str, Any]]:
    """The member's latest context events as plain rows (when, kind, name, value), newest
    first."""
    return list(
        ContextEvent.objects.for_org(organization)
        .filter(member_id=member.pk)
        .order_by("-occurred_at", "-pk")
        .values("occurred_at", "kind", "name", "value")[:limit]
    )


def relationship_and_experience(
    *,
    organization: Organization,
    member: Member,
    today: dt.date | None = None,
    window_days: int = 90,
) -> tuple[Relationship, ExperienceFulfilmentSummary]:
    """``relationship`` and ``experience_fulfilment_summary`` together, in three queries: one
    read of the member's engagements grouped by type gives the relationship's totals (summed
    over the types) and the last delivery of each type."""
    today, since, until = _window(organization, today, window_days)
    zone = organization.zone
    elements = _required_elements(organization, member)
    by_type = list(
        Engagement.objects.for_org(organization)
        .filter(member_id=member.pk, occurred_at__lt=until)
        .order_by()
        .values("type")
        .annotate(**_engagement_aggregates(since))
    )
    lasts = [row["last"] for row in by_type if row["last"] is not None]
    found = _relationship_from(
        member_id=member.pk,
        today=today,
        window_days=window_days,
        zone=zone,
        last_engaged_at=max(lasts, default=None),
        engagements=sum(row["engagements"] for row in by_type),
        proactive=sum(row["proactive"] for row in by_type),
        kinds=_context_kinds_seen(organization, member, since, until),
    )
    last_by_type = {row["type"]: row["last"] for row in by_type}
    fulfilment = [
        _element_fulfilment(element, last_by_type.get(element.engagement_type), today, zone)
        for element in elements
    ]
    return found, _summary(fulfilment)
