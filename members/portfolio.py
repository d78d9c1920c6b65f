"""Reads for the portfolio page that no app's selectors had in a set-based form.

``experience_fulfilment_by_organization`` is ``engagement.selectors.experience_fulfilment``
counted over every served member at once: the per-member selector answers for one account;
the portfolio needs the whole organization in a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)

from engagement.models import Engagement
from members.models import Member
from outcomes.models import AppropriateExperience
from tenancy.models import Organization
from tenancy.selectors import organization_today

# Members we serve now: a lapsed or cancelled member's experience elements would be "overdue"
# forever and drown the figure for the members we are actually serving.
SERVED_STATUSES = (Member.Status.PROSPECT, Member.Status.ACTIVE, Member.Status.GRACE)


@dataclass(frozen=True)
class ExperienceFulfilmentTotals:
    """Required experience elements across the organization, by where each one stands."""

    required: int
    fulfilled: int
    overdue: int
    not_yet_due: int
    members: int
    members_with_overdue: int

    @property
    def share(self) -> float | None:
        """Fulfilled / required elements; None when nothing is required (not 0 % or 100 %)."""
        return round(self.fulfilled / self.required, 4) if self.required else None


def _start_of(day: dt.date, organization: Organization) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=organization.zone)


def experience_fulfilment_by_organization(
    *, organization: Organization, today: dt.date | None = None
) -> ExperienceFulfilmentTotals:
    """Across every served member (prospect, active, grace): how many active, required
    experience elements are fulfilled, overdue or not yet due, with the same rules as
    ``engagement.selectors.experience_fulfilment`` for one member.

    With c = an element's cadence in days and T(c) = the start of day ``today − c`` in the
    organization's time zone, and "last" = the last engagement of the element's type with its
    member before the end of ``today``:

    - **fulfilled** when last ≥ T(c) (delivered within the cadence);
    - **overdue** when last < T(c), or, never delivered, when the element was set before T(c);
    - **not yet due** otherwise (never delivered, set within its first cadence).

    T(c) is a constant per cadence, so it is computed here for each distinct cadence and put
    into the query as a CASE: two queries whatever the number of members and elements.
    """
    today = today or organization_today(organization)
    elements = AppropriateExperience.objects.for_org(organization).filter(
        is_active=True, required=True, member__status__in=SERVED_STATUSES
    )
    cadences = sorted(elements.order_by().values_list("cadence_days", flat=True).distinct())
    if not cadences:
        return ExperienceFulfilmentTotals(0, 0, 0, 0, 0, 0)
    threshold = Case(
        *(
            When(
                cadence_days=cadence,
                then=Value(_start_of(today - dt.timedelta(days=cadence), organization)),
            )
            for cadence in cadences
        ),
        output_field=DateTimeField(),
    )
    last = Subquery(
        Engagement.objects.for_org(organization)
        .filter(
            member_id=OuterRef("member_id"),
            type=OuterRef("engagement_type"),
            occurred_at__lt=_start_of(today + dt.timedelta(days=1), organization),
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    # The DISTINCT (over the primary key, so it removes nothing) makes the aggregate read from
    # a derived table: the last engagement is looked up once per element, not once per count.
    rows = (
        elements.annotate(last=last, threshold=threshold)
        .values("pk", "member_id", "created_at", "last", "threshold")
        .distinct()
    )
    fulfilled = Q(last__gte=F("threshold"))
    overdue = Q(last__lt=F("threshold")) | Q(last__isnull=True, created_at__lt=F("threshold"))
    totals = rows.aggregate(
        required=Count("pk"),
        fulfilled=Count("pk", filter=fulfilled),
        overdue=Count("pk", filter=overdue),
        members=Count("member_id", distinct=True),
        members_with_overdue=Count("member_id", distinct=True, filter=overdue),
    )
    return ExperienceFulfilmentTotals(
        required=totals["required"],
        fulfilled=totals["fulfilled"],
        overdue=totals["overdue"],
        not_yet_due=totals["required"] - totals["fulfilled"] - totals["overdue"],
        members=totals["members"],
        members_with_overdue=totals["members_with_overdue"],
    )
