"""Reads for engagement and context: a member's history, the relationship (engagement +
context), the direction mix, and whether the member gets the experience they require.

Every function takes the organization explicitly, reads through ``for_org`` and runs a fixed
number of queries whatever the number of rows (aggregates in the database, maths in Python).
Days are counted in the organization's own time zone, so "today" is the MSM's today.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Sum

from engagement.models import ContextEvent, Engagement
from members.models import Member
from ops.prepared import PreparedRead
from ops.sql_values import datetime_from_sql, decimal_from_sql
from outcomes.models import AppropriateExperience
from tenancy.models import Organization, Seat, User
from tenancy.rules import require_same_organization
from tenancy.selectors import organization_today

# --- relationship constants ----------------------------------------------------------------

# A member engaged about once a fortnight is engaged often enough: more adds nothing to the
# frequency part (it saturates at 1), less lowers it proportionally.
HEALTHY_ENGAGEMENT_INTERVAL_DAYS = 14

# Engagement strength = a weighted sum of its three parts (weights sum to 1).
RECENCY_WEIGHT = 0.4
FREQUENCY_WEIGHT = 0.4
PROACTIVE_WEIGHT = 0.2

# The kinds of context that tell whether a member is on the path: usage, activity, changes in
# their team or company, goal changes and membership changes. ``other`` is left out: an
# uncategorised data point does not say which part of the member's situation we know.
CONTEXT_KINDS_THAT_MATTER: tuple[str, ...] = (
    ContextEvent.Kind.USAGE,
    ContextEvent.Kind.ACTIVITY,
    ContextEvent.Kind.TEAM_CHANGE,
    ContextEvent.Kind.COMPANY_CHANGE,
    ContextEvent.Kind.GOAL_CHANGE,
    ContextEvent.Kind.MEMBERSHIP_CHANGE,
)

# |position| at most this is "balanced"; beyond it, "mostly ..." until the ends.
BALANCED_BAND = 1 / 3

NO_RELATIONSHIP = "no relationship yet"
ENGAGEMENT_ONLY = "engagement-only"
MOSTLY_ENGAGEMENT = "mostly engagement"
BALANCED = "balanced"
MOSTLY_CONTEXT = "mostly context"
CONTEXT_ONLY = "context-only"

PROACTIVE = Engagement.Direction.OUTBOUND_PROACTIVE


# --- days in the organization's time zone --------------------------------------------------


def _start_of(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _local_date(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def _window(
    organization: Organization, today: dt.date | None, window_days: int
) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """The ``window_days`` calendar days ending with today: ``[since, until)`` as datetimes."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1.")
    zone = organization.zone
    today = today or organization_today(organization)
    since = _start_of(today - dt.timedelta(days=window_days - 1), zone)
    until = _start_of(today + dt.timedelta(days=1), zone)
    return today, since, until


# --- a member's engagements ----------------------------------------------------------------


def member_engagements(
    *, organization: Organization, member: Member, limit: int = 50
) -> QuerySet[Engagement]:
    """The member's latest engagements, newest first, with who engaged and about which goal."""
    if limit < 1:
        raise ValueError("limit must be at least 1.")
    return (
        Engagement.objects.for_org(organization)
        .filter(member_id=member.pk)
        .select_related("seat__user", "goal")
        .order_by("-occurred_at", "-pk")[:limit]
    )


# What a timeline shows of an engagement (the keys of ``member_timeline``'s engagement rows).
TIMELINE_ENGAGEMENT_FIELDS = (
    "occurred_at",
    "type",
    "direction",
    "summary",
    "seat_id",
    "seat__user__full_name",
    "seat__user__email",
)
TIMELINE_LENGTH = 20


@functools.cache
def _timeline_sql() -> str:
    """The member's latest engagements (with who engaged) and latest context events, newest
    first, in one statement told apart by the first column; each side a top-N read of its
    (organization, member, occurred_at) index on PostgreSQL. The seat and its user are joined
    by the engagement's own seat id, as the ORM's ``values("seat__user__…")`` joins them."""
    q = connection.ops.quote_name
    engagement, context = q(Engagement._meta.db_table), q(ContextEvent._meta.db_table)
    seat, user = q(Seat._meta.db_table), q(User._meta.db_table)
    # Only table names and placeholders go into the text.
    return (
        "SELECT * FROM ("  # noqa: S608
        " SELECT 'engagement' AS source, e.occurred_at, e.id, e.type, e.direction, e.summary,"
        " e.seat_id, u.full_name, u.email, CAST(NULL AS numeric) AS value"
        f" FROM {engagement} e LEFT JOIN {seat} s ON s.id = e.seat_id"
        f" LEFT JOIN {user} u ON u.id = s.user_id"
        " WHERE e.organization_id = %s AND e.member_id = %s"
        " ORDER BY e.occurred_at DESC, e.id DESC LIMIT %s) AS engagements"
        " UNION ALL"
        " SELECT * FROM ("
        " SELECT 'context' AS source, occurred_at, id, kind, name, CAST(NULL AS text),"
        " CAST(NULL AS bigint), CAST(NULL AS text), CAST(NULL AS text), value"
        f" FROM {context}"
        " WHERE organization_id = %s AND member_id = %s"
        " ORDER BY occurred_at DESC, id DESC LIMIT %s) AS events"
        " ORDER BY 1, 2 DESC, 3 DESC"
    )


def member_timeline(
    *, organization: Organization, member: Member, limit: int = TIMELINE_LENGTH
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The member's latest engagements and latest context events as plain rows for a
    timeline, newest first (the newest id first at the same moment), ``limit`` of each: an
    engagement's ``TIMELINE_ENGAGEMENT_FIELDS`` (when, type, direction, summary, and who
    engaged), a context event's when, kind, name and value. One statement, written once per
    process: building and compiling the two querysets it stands for cost several times what
    the database spends running it (tests/members/m360_reference.py holds them, and the tests
    hold this read to them)."""
    if limit < 1:
        raise ValueError("limit must be at least 1.")
    require_same_organization(organization, member=member)
    ids = [organization.pk, member.pk, limit]
    with connection.cursor() as cursor:
        cursor.execute(_timeline_sql(), ids * 2)
        rows = cursor.fetchall()
    engagements, events = [], []
    for source, at, _pk, kind, name, summary, seat_id, full_name, email, value in rows:
        if source == "engagement":
            values = (datetime_from_sql(at), kind, name, summary, seat_id, full_name, email)
            engagements.append(dict(zip(TIMELINE_ENGAGEMENT_FIELDS, values, strict=True)))
        else:
            events.append(
                {
                    "occurred_at": datetime_from_sql(at),
                    "kind": kind,
                    "name": name,
                    "value": decimal_from_sql(value),
                }
            )
    return engagements, events


# --- the relationship ----------------------------------------------------------------------


@dataclass(frozen=True)
class Relationship:
    """Where one member's relationship with us stands; see ``relationship`` for the maths."""

    member_id: int
    window_days: int
    today: dt.date
    engagements_in_window: int
    proactive_in_window: int
    last_engaged_at: dt.datetime | None
    days_since_last_engagement: int | None
    context_kinds_seen: tuple[str, ...]
    recency: float
    frequency: float
    proactive_share: float
    engagement_strength: float
    context_richness: float
    spectrum_position: float
    label: str

    @property
    def exists(self) -> bool:
        return self.label != NO_RELATIONSHIP


def _spectrum(strength: float, richness: float) -> tuple[float, str]:
    if strength == 0 and richness == 0:
        return 0.0, NO_RELATIONSHIP
    if richness == 0:
        return -1.0, ENGAGEMENT_ONLY
    if strength == 0:
        return 1.0, CONTEXT_ONLY
    position = (richness - strength) / (richness + strength)
    if position < -BALANCED_BAND:
        return position, MOSTLY_ENGAGEMENT
    if position > BALANCED_BAND:
        return position, MOSTLY_CONTEXT
    return position, BALANCED


def _relationship_from(
    *,
    member_id: int,
    today: dt.date,
    window_days: int,
    zone: zoneinfo.ZoneInfo,
    last_engaged_at: dt.datetime | None,
    engagements: int,
    proactive: int,
    kinds: Iterable[str],
) -> Relationship:
    """The maths of ``relationship``, shared by the one-member and the set-based reads."""
    days_since = None if last_engaged_at is None else (today - _local_date(last_engaged_at, zone))
    days = None if days_since is None else days_since.days
    recency = 0.0 if days is None else max(0.0, 1 - days / window_days)
    frequency = min(1.0, engagements * HEALTHY_ENGAGEMENT_INTERVAL_DAYS / window_days)
    proactive_share = proactive / engagements if engagements else 0.0
    strength = (
        RECENCY_WEIGHT * recency + FREQUENCY_WEIGHT * frequency + PROACTIVE_WEIGHT * proactive_share
    )
    kinds = set(kinds)
    seen = tuple(kind for kind in CONTEXT_KINDS_THAT_MATTER if kind in kinds)
    richness = len(seen) / len(CONTEXT_KINDS_THAT_MATTER)
    position, label = _spectrum(strength, richness)
    return Relationship(
        member_id=member_id,
        window_days=window_days,
        today=today,
        engagements_in_window=engagements,
        proactive_in_window=proactive,
        last_engaged_at=last_engaged_at,
        days_since_last_engagement=days,
        context_kinds_seen=seen,
        recency=round(recency, 4),
        frequency=round(frequency, 4),
        proactive_share=round(proactive_share, 4),
        engagement_strength=round(strength, 4),
        context_richness=round(richness, 4),
        spectrum_position=round(position, 4),
        label=label,
    )


def _engagement_aggregates(since: dt.datetime) -> dict[str, Any]:
    in_window = Q(occurred_at__gte=since)
    return {
        "last": Max("occurred_at"),
        "engagements": Count("pk", filter=in_window),
        "proactive": Count("pk", filter=in_window & Q(direction=PROACTIVE)),
    }


def relationship(
    *,
    organization: Organization,
    member: Member,
    today: dt.date | None = None,
    window_days: int = 90,
) -> Relationship:
    """Relationship = engagement + context, over the ``window_days`` days ending ``today``.

    The window is the W = ``window_days`` calendar days ending with ``today`` (default: today
    in the organization's time zone). All parts are in [0, 1]:

    - recency R = max(0, 1 - d / W), d = whole days from the last engagement (at any time up
      to today) to today; 0 when there never was one. Engaged today: 1; W days ago or more: 0.
    - frequency Fq = min(1, n * HEALTHY_ENGAGEMENT_INTERVAL_DAYS / W), n = engagements in the
      window: one engagement per 14 days or more is 1.
    - proactive share P = p / n, p = outbound-proactive engagements in the window (0 if n = 0).
    - engagement strength E = 0.4 R + 0.4 Fq + 0.2 P.
    - context richness C = k / 6, k = distinct kinds among CONTEXT_KINDS_THAT_MATTER (usage,
      activity, team change, company change, goal change, membership change) seen in the
      member's context events in the window; ``other`` does not count.
    - spectrum position S in [-1, 1] = (C - E) / (C + E): -1 engagement-only, +1 context-only,
      0 balanced; 0 when E = C = 0.
    - label: E = C = 0 "no relationship yet"; C = 0 "engagement-only"; E = 0 "context-only";
      S < -1/3 "mostly engagement"; S > 1/3 "mostly context"; otherwise "balanced".

    Values are rounded to 4 decimals. Two queries.
    """
    today, since, until = _window(organization, today, window_days)
    totals = (
        Engagement.objects.for_org(organization)
        .filter(member_id=member.pk, occurred_at__lt=until)
        .aggregate(**_engagement_aggregates(since))
    )
    return _relationship_from(
        member_id=member.pk,
        today=today,
        window_days=window_days,
        zone=organization.zone,
        last_engaged_at=totals["last"],
        engagements=totals["engagements"],
        proactive=totals["proactive"],
        kinds=_context_kinds_seen(organization, member, since, until),
    )


def _context_kinds_seen(
    organization: Organization, member: Member, since: dt.datetime, until: dt.datetime
) -> list[str]:
    """The kinds that matter among the member's context events in ``[since, until)``."""
    return list(
        ContextEvent.objects.for_org(organization)
        .filter(
            member_id=member.pk,
            occurred_at__gte=since,
            occurred_at__lt=until,
            kind__in=CONTEXT_KINDS_THAT_MATTER,
        )
        .order_by()
        .values_list("kind", flat=True)
        .distinct()
    )


def relationships_for_members(
    *,
    organization: Organization,
    member_ids: Iterable[int] | QuerySet,
    today: dt.date | None = None,
    window_days: int = 90,
) -> dict[int, Relationship]:
    """``relationship`` for many members at once, keyed by member id, in three queries.

    ``member_ids`` may be a list or a ``values_list("pk", flat=True)`` queryset (then it runs
    as a subquery). Ids that are not this organization's members are left out of the answer.
    """
    today, since, until = _window(organization, today, window_days)
    ids = member_ids if isinstance(member_ids, QuerySet) else list(member_ids)
    known = list(
        Member.objects.for_org(organization)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    totals = {
        row["member_id"]: row
        for row in Engagement.objects.for_org(organization)
        .filter(member_id__in=ids, occurred_at__lt=until)
        .order_by()
        .values("member_id")
        .annotate(**_engagement_aggregates(since))
    }
    kinds: dict[int, set[str]] = defaultdict(set)
    for member_id, kind in (
        ContextEvent.objects.for_org(organization)
        .filter(
            member_id__in=ids,
            occurred_at__gte=since,
            occurred_at__lt=until,
            kind__in=CONTEXT_KINDS_THAT_MATTER,
        )
        .order_by()
        .values_list("member_id", "kind")
        .distinct()
    ):
        kinds[member_id].add(kind)
    zone = organization.zone
    empty = {"last": None, "engagements": 0, "proactive": 0}
    return {
        member_id: _relationship_from(
            member_id=member_id,
            today=today,
            window_days=window_days,
            zone=zone,
            last_engaged_at=totals.get(member_id, empty)["last"],
            engagements=totals.get(member_id, empty)["engagements"],
            proactive=totals.get(member_id, empty)["proactive"],
            kinds=kinds.get(member_id, ()),
        )
        for member_id in known
    }


# --- direction mix -------------------------------------------------------------------------


def _bound(value: dt.date | dt.datetime, zone: zoneinfo.ZoneInfo, *, end: bool) -> dt.datetime:
    """A datetime stays as given; a date means its whole day (``until`` includes it)."""
    if isinstance(value, dt.datetime):
        return value
    return _start_of(value + dt.timedelta(days=1) if end else value, zone)


def _range(
    organization: Organization, since: dt.date | dt.datetime, until: dt.date | dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    zone = organization.zone
    start, end = _bound(since, zone, end=False), _bound(until, zone, end=True)
    # Two dates: until is included, so until the day before since is already inverted.
    if end < start or (not isinstance(until, dt.datetime) and end <= start):
        raise ValidationError({"until": "The end of the period is before its start."})
    return start, end


def _mix_aggregates(prefix: str, within: Q | None = None) -> dict[str, Any]:
    """Counts and minutes per direction, as filtered aggregates: one pass over the rows."""
    aggregates: dict[str, Any] = {
        "total": Count(f"{prefix}pk", filter=within),
        "minutes": Sum(f"{prefix}duration_minutes", filter=within),
    }
    for direction in Engagement.Direction.values:
        only = Q(**{f"{prefix}direction": direction})
        if within is not None:
            only &= within
        aggregates[f"{direction}__count"] = Count(f"{prefix}pk", filter=only)
        aggregates[f"{direction}__minutes"] = Sum(f"{prefix}duration_minutes", filter=only)
    return aggregates


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _mix_from(row: Any, get: Any) -> dict[str, Any]:
    total, minutes = get(row, "total") or 0, get(row, "minutes") or 0
    directions = {}
    for direction in Engagement.Direction:
        count = get(row, f"{direction.value}__count") or 0
        spent = get(row, f"{direction.value}__minutes") or 0
        directions[direction.value] = {
            "label": direction.label,
            "count": count,
            "share": _share(count, total),
            "minutes": spent,
            "minutes_share": _share(spent, minutes),
        }
    return {"total": total, "minutes": minutes, "directions": directions}


def direction_mix(
    *,
    organization: Organization,
    seat: Seat | None = None,
    member: Member | None = None,
    since: dt.date | dt.datetime,
    until: dt.date | dt.datetime,
) -> dict[str, Any]:
    """How engagement splits across inbound-reactive, outbound-reactive and outbound-proactive.

    For one seat, one member, both, or (neither) the whole organization, automated engagement
    included. ``since``/``until``: datetimes are a half-open ``[since, until)``; dates are whole
    days, both included. ``minutes`` sums the durations that were given. One query.

    Returns ``{"since", "until", "total", "minutes", "directions": {direction: {"label",
    "count", "share", "minutes", "minutes_share"}}}``; shares are 0 when there is nothing.
    """
    start, end = _range(organization, since, until)
    params: list[Any] = [organization.pk]
    if seat is not None:
        params.append(seat.pk)
    if member is not None:
        params.append(member.pk)
    adapt = connection.ops.adapt_datetimefield_value
    params += [adapt(start), adapt(end)]
    with connection.cursor() as cursor:
        cursor.execute(_mix_sql(seat is not None, member is not None), params)
        row = dict(zip(_MIX_COLUMNS, cursor.fetchone(), strict=True))
    return {"since": start, "until": end, **_mix_from(row, lambda r, key: r[key])}


# The columns of ``_mix_sql``'s one row, in order (the keys ``_mix_from`` reads).
_MIX_COLUMNS = (
    "total",
    "minutes",
    *(f"{d}__{part}" for d in Engagement.Direction.values for part in ("count", "minutes")),
)


@functools.cache
def _mix_sql(by_seat: bool, by_member: bool) -> str:
    """``direction_mix``'s aggregate, written once per shape: the ORM's ``aggregate()`` of
    eight filtered aggregates cost ~1.5 ms of CPU to build and compile on every My book, ten
    times the Python this needs. The same filtered aggregates ``_mix_aggregates`` asks for
    (``COUNT(*)``: the id is never null), scoped to the organization like ``for_org``; on
    PostgreSQL an index-only scan of ``engagement_org_seat`` (or ``engagement_org_member``)."""
    table = connection.ops.quote_name(Engagement._meta.db_table)
    columns = ["COUNT(*)", "SUM(duration_minutes)"]
    for direction in Engagement.Direction.values:
        only = f"FILTER (WHERE direction = '{direction}')"  # a choice value, not user input
        columns += [f"COUNT(*) {only}", f"SUM(duration_minutes) {only}"]
    where = ["organization_id = %s"]
    if by_seat:
        where.append("seat_id = %s")
    if by_member:
        where.append("member_id = %s")
    where += ["occurred_at >= %s", "occurred_at < %s"]
    # Only column names, fixed choice values and placeholders go into the text.
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608


def direction_mix_by_seat(
    *,
    organization: Organization,
    since: dt.date | dt.datetime,
    until: dt.date | dt.datetime,
) -> list[dict[str, Any]]:
    """One row per seat of the organization (its user loaded), with its direction mix.

    Seats with no engagement in the period are listed with zeros, so a team page shows
    everyone. Automated engagement has no seat and is not in these rows (``direction_mix``
    for the organization includes it). One query.
    """
    start, end = _range(organization, since, until)
    within = Q(engagements__occurred_at__gte=start, engagements__occurred_at__lt=end)
    seats = (
        Seat.objects.for_org(organization)
        .select_related("user")
        .annotate(**_mix_aggregates("engagements__", within))
        .order_by("user__email", "pk")
    )
    return [{"seat": seat, **_mix_from(seat, getattr)} for seat in seats]


# --- appropriate experience fulfilment -----------------------------------------------------


FULFILLED = "fulfilled"
OVERDUE = "overdue"
NOT_YET_DUE = "not yet due"


@dataclass(frozen=True)
class ElementFulfilment:
    """One required experience element: when it was last delivered and whether that is enough.

    ``due_on`` is the last day the next delivery keeps the cadence: last delivery + cadence, or
    (never delivered) the day the element was set + cadence.
    """

    element: AppropriateExperience
    last_engaged_at: dt.datetime | None
    due_on: dt.date
    status: str
    days_overdue: int

    @property
    def fulfilled(self) -> bool:
        return self.status == FULFILLED

    @property
    def overdue(self) -> bool:
        return self.status == OVERDUE


@dataclass(frozen=True)
class ExperienceFulfilmentSummary:
    elements: list[ElementFulfilment]
    required: int
    fulfilled: int
    overdue: int
    share: float | None

    @property
    def most_days_overdue(self) -> int:
        return max((item.days_overdue for item in self.elements), default=0)


def _element_fulfilment(
    element: AppropriateExperience,
    last: dt.datetime | None,
    today: dt.date,
    zone: zoneinfo.ZoneInfo,
) -> ElementFulfilment:
    cadence = dt.timedelta(days=element.cadence_days)
    since = _local_date(last, zone) if last is not None else _local_date(element.created_at, zone)
    due_on = since + cadence
    if last is not None and today <= due_on:
        status, days_overdue = FULFILLED, 0
    elif today > due_on:
        status, days_overdue = OVERDUE, (today - due_on).days
    else:
        status, days_overdue = NOT_YET_DUE, 0
    return ElementFulfilment(
        element=element,
        last_engaged_at=last,
        due_on=due_on,
        status=status,
        days_overdue=days_overdue,
    )


def experience_fulfilment(
    *, organization: Organization, member: Member, today: dt.date | None = None
) -> list[ElementFulfilment]:
    """Is the member getting the experience they require, at the cadence they require it?

    For each active, required experience element: the last engagement of its type with this
    member (up to the end of ``today``). Fulfilled when that was at most ``cadence_days`` days
    before today. Overdue when today is past ``due_on`` (last delivery + cadence, or, never
    delivered, the day the element was set + cadence), by ``days_overdue`` days. A new element
    never delivered is "not yet due" during its first cadence. Two queries.
    """
    zone = organization.zone
    today = today or organization_today(organization)
    elements = _required_elements(organization, member)
    if not elements:
        return []
    last_by_type = dict(
        Engagement.objects.for_org(organization)
        .filter(
            member_id=member.pk,
            type__in={element.engagement_type for element in elements},
            occurred_at__lt=_start_of(today + dt.timedelta(days=1), zone),
        )
        .order_by()
        .values("type")
        .annotate(last=Max("occurred_at"))
        .values_list("type", "last")
    )
    return [
        _element_fulfilment(element, last_by_type.get(element.engagement_type), today, zone)
        for element in elements
    ]


def _required_elements_of(
    *, organization_id: int, member_id: int
) -> QuerySet[AppropriateExperience]:
    return AppropriateExperience.objects.for_org(organization_id).filter(
        member_id=member_id, is_active=True, required=True
    )


def _required_elements(organization: Organization, member: Member) -> list[AppropriateExperience]:
    return list(_required_elements_of(organization_id=organization.pk, member_id=member.pk))


# Compiled once per connection: Member 360 reads them on every visit.
_REQUIRED_ELEMENTS = PreparedRead(_required_elements_of, organization_id=int, member_id=int)


def experience_fulfilment_summary(
    *, organization: Organization, member: Member, today: dt.date | None = None
) -> ExperienceFulfilmentSummary:
    """``experience_fulfilment`` with its counts; share = fulfilled / required elements, or
    None when the member has no required element (nothing to fulfil is not 0% or 100%)."""
    return _summary(experience_fulfilment(organization=organization, member=member, today=today))


def _summary(elements: list[ElementFulfilment]) -> ExperienceFulfilmentSummary:
    fulfilled = sum(1 for item in elements if item.fulfilled)
    return ExperienceFulfilmentSummary(
        elements=elements,
        required=len(elements),
        fulfilled=fulfilled,
        overdue=sum(1 for item in elements if item.overdue),
        share=round(fulfilled / len(elements), 4) if elements else None,
    )


@functools.cache
def _relationship_sql() -> str:
    """The member's engagements up to ``until`` by type (last one, how many since ``since``,
    how many of those proactive), then the kinds that matter among their context events in
    ``[since, until)``: the reads of ``relationship_and_experience`` in one statement, told
    apart by the first column. On PostgreSQL both are range scans of the (organization,
    member, occurred_at) indexes."""
    q = connection.ops.quote_name
    kinds = ", ".join(["%s"] * len(CONTEXT_KINDS_THAT_MATTER))
    # Only table names and placeholders go into the text.
    return (
        "SELECT 'engagement', type, MAX(occurred_at),"  # noqa: S608
        " COUNT(*) FILTER (WHERE occurred_at >= %s),"
        " COUNT(*) FILTER (WHERE occurred_at >= %s AND direction = %s)"
        f" FROM {q(Engagement._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s AND occurred_at < %s"
        " GROUP BY type"
        " UNION ALL"
        " SELECT 'context', kind, NULL, NULL, NULL"
        f" FROM {q(ContextEvent._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s"
        f" AND occurred_at >= %s AND occurred_at < %s AND kind IN ({kinds})"
        " GROUP BY kind"
    )


_RELATIONSHIP_WINDOW_DAYS = 90


def relationship_and_experience(
    *, organization: Organization, member: Member, today: dt.date | None = None
) -> tuple[Relationship, ExperienceFulfilmentSummary]:
    """``relationship`` (over the 90 days ending ``today``) and
    ``experience_fulfilment_summary`` together, for a page showing both: the member's
    engagements grouped by type give the relationship's totals (summed over the types) and
    the last delivery of each type, both counted up to the end of ``today``. Two statements
    compiled once (the required elements through ``PreparedRead``, then the engagements and
    the context kinds in one ``UNION ALL``) instead of three querysets built on every page
    (tests/members/m360_reference.py holds those, and the tests hold this read to them)."""
    require_same_organization(organization, member=member)
    window_days = _RELATIONSHIP_WINDOW_DAYS
    today, since, until = _window(organization, today, window_days)
    zone = organization.zone
    elements = _REQUIRED_ELEMENTS.rows(organization_id=organization.pk, member_id=member.pk)
    adapt = connection.ops.adapt_datetimefield_value
    start, end = adapt(since), adapt(until)
    params = [start, start, PROACTIVE, organization.pk, member.pk, end]
    params += [organization.pk, member.pk, start, end, *CONTEXT_KINDS_THAT_MATTER]
    with connection.cursor() as cursor:
        cursor.execute(_relationship_sql(), params)
        rows = cursor.fetchall()
    last_by_type: dict[str, dt.datetime | None] = {}
    engagements = proactive = 0
    kinds = []
    for source, kind, last, in_window, proactive_in_window in rows:
        if source == "context":
            kinds.append(kind)
            continue
        last_by_type[kind] = datetime_from_sql(last)
        engagements += in_window
        proactive += proactive_in_window
    found = _relationship_from(
        member_id=member.pk,
        today=today,
        window_days=window_days,
        zone=zone,
        last_engaged_at=max(filter(None, last_by_type.values()), default=None),
        engagements=engagements,
        proactive=proactive,
        kinds=kinds,
    )
    fulfilment = [
        _element_fulfilment(element, last_by_type.get(element.engagement_type), today, zone)
        for element in elements
    ]
    return found, _summary(fulfilment)


# --- API lists -----------------------------------------------------------------------------


def engagements_for_api(*, organization: Organization) -> QuerySet[Engagement]:
    """Every engagement of the organization, newest first. Rows carry related ids only, so a
    page of any length is one query."""
    return Engagement.objects.for_org(organization).order_by("-occurred_at", "-pk")


def context_events_for_api(*, organization: Organization) -> QuerySet[ContextEvent]:
    """Every context event of the organization, newest first; related ids only, one query."""
    return ContextEvent.objects.for_org(organization).order_by("-occurred_at", "-pk")
