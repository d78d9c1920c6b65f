"""My book's events panel read as the ORM writes it: the reference the fixed SQL of
``orchestration.selectors.events_to_announce_or_confirm_page`` is held to
(tests/members/test_book_events_sql.py). It was the production read before that was written as
fixed SQL; here it only answers what the panel's read must answer."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from orchestration.models import OrchestratedEvent
from orchestration.selectors import TO_ANNOUNCE, _event_nudges
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization


def events_to_announce_or_confirm(
    *,
    organization: Organization,
    owner: Seat,
    now: dt.datetime | None = None,
    days: int = 7,
) -> QuerySet[OrchestratedEvent]:
    """The events of an owner's members that need them this week: planned or announced ones
    scheduled in the next ``days`` days (is the member told?), and the ones that happened but
    the member has not confirmed yet (ask them). Soonest first, with the member and the event's
    nudges (two queries)."""
    require_same_organization(organization, owner=owner)
    now = now or timezone.now()
    coming = Q(
        status__in=TO_ANNOUNCE,
        scheduled_for__gte=now,
        scheduled_for__lt=now + dt.timedelta(days=days),
    )
    unconfirmed = Q(status=OrchestratedEvent.Status.HAPPENED, confirmed_at__isnull=True)
    return (
        OrchestratedEvent.objects.for_org(organization)
        .filter(coming | unconfirmed, member__owner_id=owner.pk)
        .select_related("member")
        .order_by("scheduled_for", "pk")
        .prefetch_related(_event_nudges(organization))
    )
