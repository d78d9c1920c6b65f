"""Reads for members: the book of accounts, who owned them, and the three results of success —
the member stays longer (tenure, renewals), buys more (upgrades) and advocates for us
(referrals, testimonials, reviews, NPS).

Every function queries through ``for_org`` and runs a fixed number of queries, however many
members, events or answers there are: the figures are aggregates computed by the database.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict

from django.core.paginator import Page
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from members.models import RISK_ORDER, Advocacy, Member, MembershipEvent, OwnershipChange
from members.paging import page_of
from ops.prepared import PreparedRead
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization
from tenancy.selectors import organization_today

# The portfolio looks back over the 365 days that end today (today included).
WINDOW_DAYS = 365
CENTS = Decimal("0.01")
TENTHS = Decimal("0.1")
ZERO = Decimal("0.00")


def _percent(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` to one decimal; None when there is nothing to
    divide by (a 0 % would claim a result nobody measured)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTHS, rounding=ROUND_HALF_UP)


def _money(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(CENTS)


# ---------------------------------------------------------------------------------------------
# Lists


def member_list(
    *,
    organization: Organization,
    owner: Seat | None = None,
    status: str | None = None,
    search: str = "",
) -> QuerySet[Member]:
    """The organization's members — or one owner's book — with each owner's user joined in,
    filtered by status and by a search over name, email and external id."""
    require_same_organization(organization, owner=owner)
    members = Member.objects.for_org(organization).select_related("owner__user")
    if owner is not None:
        members = members.filter(owner=owner)
    if status:
        members = members.filter(status=status)
    return members_matching(members, search)


def members_matching(members: QuerySet[Member], search: str) -> QuerySet[Member]:
    """Narrow ``members`` to those whose name, email or external id contains ``search``
    (ignoring case); a blank search keeps them all. Shared by the pages' search and the API's
    ``?q=``, so both find the same members."""
    search = search.strip()
    if not search:
        return members
    return members.filter(
        Q(name__icontains=search) | Q(email__icontains=search) | Q(external_id__icontains=search)
    )


def member_ownership_history(
    *, organization: Organization, member: Member
) -> QuerySet[OwnershipChange]:
    """Every hand-off of the account, newest first, with the users of all three seats joined."""
    require_same_organization(organization, member=member)
    return (
        OwnershipChange.objects.for_org(organization)
        .filter(member_id=member.pk)
        .select_related("from_seat__user", "to_seat__user", "changed_by__user")
    )


def _latest_ownership_changes(*, organization_id: int, member_id: int) -> QuerySet[OwnershipChange]:
    return OwnershipChange.objects.for_org(organization_id).filter(member_id=member_id)[
        :LATEST_OWNERSHIP_CHANGES
    ]


LATEST_OWNERSHIP_CHANGES = 5
# Compiled once per connection: Member 360 shows the latest hand-offs on every visit.
_LATEST_OWNERSHIP = PreparedRead(_latest_ownership_changes, organization_id=int, member_id=int)


def latest_ownership_changes(
    *, organization: Organization, member: Member
) -> list[OwnershipChange]:
    """The latest five hand-offs, newest first, with only the ids of their seats (a page that
    has the organization's seats at hand puts them in)."""
    require_same_organization(organization, member=member)
    return _LATEST_OWNERSHIP.rows(organization_id=organization.pk, member_id=member.pk)


def membership_event_list(*, organization: Organization) -> QuerySet[MembershipEvent]:
    """The organization's membership changes, for the API's stream; each row names its member
    by id only, so no join is needed however many rows a page holds."""
    return MembershipEvent.objects.for_org(organization)


def advocacy_list(*, organization: Organization) -> QuerySet[Advocacy]:
    """The organization's advocacy (referrals, testimonials, reviews, NPS answers), for the
    API's stream; members are named by id only."""
    return Advocacy.objects.for_org(organization)


# ---------------------------------------------------------------------------------------------
# One member's results

Kind = MembershipEvent.Kind


class MemberResults(TypedDict):
    tenure_days: int
    renewals: int
    last_renewed_on: dt.date | None
    upgrades: int
    downgrades: int
    expansion_amount: Decimal
    total_paid: Decimal
    referrals: int
    testimonials: int
    reviews: int
    nps_responses: int
    nps_latest: int | None
    nps_average: Decimal | None


def _tenure_days(member: Member, today: dt.date, ended_on: dt.date | None) -> int:
    """Days from joining to today — or, for a lapsed or cancelled member, to the day the
    membership last ended: a member who left does not keep staying longer."""
    if member.joined_on is None:
        return 0
    end = today
    if member.status in (Member.Status.LAPSED, Member.Status.CANCELLED) and ended_on:
        end = min(ended_on, today)
    return max(0, (end - member.joined_on).days)


def member_results(
    *, organization: Organization, member: Member, today: dt.date | None = None
) -> MemberResults:
    """How this member stays, buys and advocates, up to ``today`` (default: the organization's
    today). Three queries: one aggregate over membership changes, one over advocacy, and the
    latest NPS answer."""
    require_same_organization(organization, member=member)
    today = today or organization_today(organization=organization)
    events = MembershipEvent.objects.for_org(organization).filter(
        member_id=member.pk, occurred_on__lte=today
    )
    changes = events.aggregate(
        renewals=Count("pk", filter=Q(kind=Kind.RENEW)),
        last_renewed_on=Max("occurred_on", filter=Q(kind=Kind.RENEW)),
        upgrades=Count("pk", filter=Q(kind=Kind.UPGRADE)),
        downgrades=Count("pk", filter=Q(kind=Kind.DOWNGRADE)),
        expansion_amount=Sum("amount", filter=Q(kind=Kind.UPGRADE)),
        total_paid=Sum("amount"),
        ended_on=Max("occurred_on", filter=Q(kind__in=[Kind.LAPSE, Kind.CANCEL])),
    )
    answers = Advocacy.objects.for_org(organization).filter(
        member_id=member.pk, occurred_on__lte=today
    )
    advocacy = answers.aggregate(
        referrals=Count("pk", filter=Q(kind=Advocacy.Kind.REFERRAL)),
        testimonials=Count("pk", filter=Q(kind=Advocacy.Kind.TESTIMONIAL)),
        reviews=Count("pk", filter=Q(kind=Advocacy.Kind.REVIEW)),
        nps_responses=Count("pk", filter=Q(kind=Advocacy.Kind.NPS)),
        nps_total=Sum("score", filter=Q(kind=Advocacy.Kind.NPS)),
    )
    nps_latest = (
        answers.filter(kind=Advocacy.Kind.NPS)
        .order_by("-occurred_on", "-pk")
        .values_list("score", flat=True)
        .first()
    )
    responses = advocacy["nps_responses"]
    nps_average = None
    if responses:
        nps_average = (Decimal(advocacy["nps_total"]) / responses).quantize(
            TENTHS, rounding=ROUND_HALF_UP
        )
    return MemberResults(
        tenure_days=_tenure_days(member, today, changes["ended_on"]),
        renewals=changes["renewals"],
        last_renewed_on=changes["last_renewed_on"],
        upgrades=changes["upgrades"],
        downgrades=changes["downgrades"],
        expansion_amount=_money(changes["expansion_amount"]),
        total_paid=_money(changes["total_paid"]),
        referrals=advocacy["referrals"],
        testimonials=advocacy["testimonials"],
        reviews=advocacy["reviews"],
        nps_responses=responses,
        nps_latest=nps_latest,
        nps_average=nps_average,
    )


class MemberHeadline(TypedDict):
    tenure_days: int
    renewals: int
    upgrades: int
    referrals: int
    nps_latest: int | None


_HEADLINE_CHANGES = (Kind.RENEW, Kind.UPGRADE, Kind.LAPSE, Kind.CANCEL)
_HEADLINE_ANSWERS = (Advocacy.Kind.REFERRAL, Advocacy.Kind.NPS)


@functools.cache
def _headline_sql() -> str:
    """The member's renewals, upgrades, lapses and cancellations, then their referrals and NPS
    answers (the latest first), up to a day: ``member_headline_results``' two reads in one
    statement, told apart by the first column."""
    q = connection.ops.quote_name
    changes = ", ".join(["%s"] * len(_HEADLINE_CHANGES))
    answers = ", ".join(["%s"] * len(_HEADLINE_ANSWERS))
    # Only table names and placeholders go into the text.
    return (
        "SELECT 'change', kind, occurred_on, NULL, NULL"  # noqa: S608
        f" FROM {q(MembershipEvent._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s AND occurred_on <= %s"
        f" AND kind IN ({changes})"
        " UNION ALL"
        " SELECT 'answer', kind, occurred_on, score, id"
        f" FROM {q(Advocacy._meta.db_table)}"
        " WHERE organization_id = %s AND member_id = %s AND occurred_on <= %s"
        f" AND kind IN ({answers})"
        " ORDER BY 1, 3 DESC, 5 DESC"
    )


def _day(value: dt.date | str) -> dt.date:
    """A date read by raw SQL: PostgreSQL gives a date, SQLite (in a union) its ISO text."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def member_headline_results(
    *, organization: Organization, member: Member, today: dt.date
) -> MemberHeadline:
    """The results Member 360's header shows (tenure, renewals, upgrades, referrals, latest
    NPS), counted as ``member_results`` counts them but from the few rows they need (a member
    has a handful of membership changes and answers), instead of three queries with twelve
    filtered aggregates the page never shows. One statement, written once per process:
    building and compiling querysets for it cost more CPU than counting those rows here
    (tests/members/m360_reference.py holds the two querysets it stands for, and the tests
    hold this read to them)."""
    require_same_organization(organization, member=member)
    day = connection.ops.adapt_datefield_value(today)
    ids = [organization.pk, member.pk, day]
    with connection.cursor() as cursor:
        cursor.execute(_headline_sql(), [*ids, *_HEADLINE_CHANGES, *ids, *_HEADLINE_ANSWERS])
        rows = cursor.fetchall()
    renewals = upgrades = referrals = 0
    ended_on: dt.date | None = None
    nps_latest: int | None = None
    nps_seen = False
    for source, kind, occurred_on, score, _pk in rows:
        if source == "answer":
            if kind == Advocacy.Kind.REFERRAL:
                referrals += 1
            elif not nps_seen:  # the latest answer comes first
                nps_seen, nps_latest = True, score
        elif kind == Kind.RENEW:
            renewals += 1
        elif kind == Kind.UPGRADE:
            upgrades += 1
        else:  # an ending
            on = _day(occurred_on)
            ended_on = on if ended_on is None else max(ended_on, on)
    return MemberHeadline(
        tenure_days=_tenure_days(member, today, ended_on),
        renewals=renewals,
        upgrades=upgrades,
        referrals=referrals,
        nps_latest=nps_latest,
    )


# ---------------------------------------------------------------------------------------------
# A portfolio's results


class PortfolioResults(TypedDict):
    window_start: dt.date
    today: dt.date
    members: int
    by_status: dict[str, int]
    renewals_due: int
    renewals_done: int
    renewal_rate: Decimal | None
    expanded_members: int
    expansion_amount: Decimal
    referrals: int
    testimonials: int
    reviews: int
    nps_responses: int
    promoters: int
    passives: int
    detractors: int
    nps: Decimal | None


def _renewal_aggregates(organization: Organization, start: dt.date, today: dt.date) -> dict:
    """Members due to renew, renewed and expanded in the window, as aggregates over members
    (the definitions are in ``portfolio_results``); shared with ``results_by_band``."""
    in_window = MembershipEvent.objects.for_org(organization).filter(
        occurred_on__gte=start, occurred_on__lte=today
    )
    renewed = in_window.filter(kind=Kind.RENEW).values("member_id")
    upgraded = in_window.filter(kind=Kind.UPGRADE).values("member_id")
    # Any renewal date a membership change set (each event keeps the date it left in place).
    came_due = (
        MembershipEvent.objects.for_org(organization)
        .filter(occurred_on__lte=today, renewal_on__gte=start, renewal_on__lte=today)
        .values("member_id")
    )
    due = Q(renewal_on__gte=start, renewal_on__lte=today) | Q(pk__in=came_due) | Q(pk__in=renewed)
    return {
        "renewals_due": Count("pk", filter=due),
        "renewals_done": Count("pk", filter=Q(pk__in=renewed)),
        "expanded_members": Count("pk", filter=Q(pk__in=upgraded)),
    }


def _member_figures(
    organization: Organization, members: QuerySet[Member], start: dt.date, today: dt.date
) -> dict:
    """Status counts, renewals and expansion per member, in one aggregate with subqueries."""
    return members.aggregate(
        members=Count("pk"),
        **{
            f"status_{status}": Count("pk", filter=Q(status=status))
            for status in Member.Status.values
        },
        **_renewal_aggregates(organization, start, today),
    )


def _advocacy_figures(
    organization: Organization, owner: Seat | None, start: dt.date, today: dt.date
) -> dict:
    """Advocacy counts in the window, and the NPS answers that are each member's latest."""
    answers = Advocacy.objects.for_org(organization).filter(
        occurred_on__gte=start, occurred_on__lte=today
    )
    if owner is not None:
        answers = answers.filter(member__owner=owner)
    latest_answer = (
        Advocacy.objects.for_org(organization)
        .filter(
            member_id=OuterRef("member_id"),
            kind=Advocacy.Kind.NPS,
            occurred_on__gte=start,
            occurred_on__lte=today,
        )
        .order_by("-occurred_on", "-pk")
        .values("pk")[:1]
    )
    latest = Q(kind=Advocacy.Kind.NPS, pk=Subquery(latest_answer))
    return answers.aggregate(
        referrals=Count("pk", filter=Q(kind=Advocacy.Kind.REFERRAL)),
        testimonials=Count("pk", filter=Q(kind=Advocacy.Kind.TESTIMONIAL)),
        reviews=Count("pk", filter=Q(kind=Advocacy.Kind.REVIEW)),
        nps_responses=Count("pk", filter=latest),
        promoters=Count("pk", filter=latest & Q(score__gte=9)),
        detractors=Count("pk", filter=latest & Q(score__lte=6)),
    )


def portfolio_results(
    *, organization: Organization, owner: Seat | None = None, today: dt.date | None = None
) -> PortfolioResults:
    """The three results across the organization, or across one owner's current book.

    The window is the 365 days ending ``today`` (default: the organization's today), both ends
    included; ``window_start`` says where it begins.

    - **Renewal rate** = renewals done / renewals due, as a percentage (None when none was
      due). A member *was due* when a renewal date fell in the window — their current one, or
      one a membership change set — or when they renewed in the window (an early renewal
      still answers a renewal). A member *renewed* when they have a renew event in the window;
      a reinstatement after a lapse is a win-back, not a renewal.
      So the renewed members are a subset of the due ones, and the rate is at most 100 %.
    - **Expansion**: members with an upgrade in the window, and the sum of those upgrades.
    - **Advocacy**: referrals, testimonials and reviews recorded in the window.
    - **NPS**: over each member's latest NPS answer in the window, the share of promoters (9–10)
      minus the share of detractors (0–6), in points from -100 to 100 (None without answers).

    Three queries whatever the number of members.
    """
    require_same_organization(organization, owner=owner)
    today = today or organization_today(organization=organization)
    start = today - dt.timedelta(days=WINDOW_DAYS - 1)
    members = Member.objects.for_org(organization)
    upgrades = MembershipEvent.objects.for_org(organization).filter(
        kind=Kind.UPGRADE, occurred_on__gte=start, occurred_on__lte=today
    )
    if owner is not None:
        members = members.filter(owner=owner)
        upgrades = upgrades.filter(member__owner=owner)

    figures = _member_figures(organization, members, start, today)
    expansion = upgrades.aggregate(amount=Sum("amount"))["amount"]
    advocacy = _advocacy_figures(organization, owner, start, today)
    responses = advocacy["nps_responses"]
    promoters, detractors = advocacy["promoters"], advocacy["detractors"]
    return PortfolioResults(
        window_start=start,
        today=today,
        members=figures["members"],
        by_status={status: figures[f"status_{status}"] for status in Member.Status.values},
        renewals_due=figures["renewals_due"],
        renewals_done=figures["renewals_done"],
        renewal_rate=_percent(figures["renewals_done"], figures["renewals_due"]),
        expanded_members=figures["expanded_members"],
        expansion_amount=_money(expansion),
        referrals=advocacy["referrals"],
        testimonials=advocacy["testimonials"],
        reviews=advocacy["reviews"],
        nps_responses=responses,
        promoters=promoters,
        passives=responses - promoters - detractors,
        detractors=detractors,
        nps=_percent(promoters - detractors, responses),
    )


# ---------------------------------------------------------------------------------------------
# The book of accounts, sorted by risk

SORTS = {
    # The member_org_risk index, then the gap within its whole point (Member.success_gap_step).
    "risk": [RISK_ORDER.asc(), F("success_gap_step").desc(), F("success_gap").desc(), "name", "pk"],
    "name": ["name", "pk"],
    "renewal": [F("renewal_on").asc(nulls_last=True), "name", "pk"],
    "gap": [F("success_gap").desc(nulls_last=True), "name", "pk"],
}


def members_for_list(
    *,
    organization: Organization,
    owner: Seat | None = None,
    band: str = "",
    tier: str = "",
    status: str = "",
    renewal_within_days: int | None = None,
    search: str = "",
    sort: str = "risk",
    today: dt.date | None = None,
) -> QuerySet[Member]:
    """Members for the member list's CSV export: filtered and sorted (risk first by default),
    with each owner's user joined in. My book and the member list read a page of the same
    members through ``member_table_page``."""
    members = member_list(organization=organization, owner=owner, status=status, search=search)
    if band:
        members = members.filter(success_band=band)
    if tier:
        members = members.filter(tier=tier)
    if renewal_within_days is not None:
        today = today or organization_today(organization)
        members = members.filter(
            renewal_on__gte=today, renewal_on__lte=today + dt.timedelta(days=renewal_within_days)
        )
    return members.order_by(*SORTS.get(sort, SORTS["risk"]))


# The members table of My book and the member list, in fixed SQL: on every visit the ORM spent
# more CPU building and compiling the count and the page's query (a filtered slice as a subquery,
# the previous snapshot's gap) than the database spent running them. The text is written once per
# process for each combination of filters (``_table_sql``) and run with the request's values.

# ``SORTS`` in SQL; "risk" is ``RISK_ORDER`` word for word, so PostgreSQL reads the
# member_org_risk index in order.
TABLE_ORDER = {
    "risk": (
        "CASE WHEN p.success_band = 'at_risk' THEN 0 WHEN p.success_band = 'watch' THEN 1"
        " WHEN p.success_band = 'on_track' THEN 2 WHEN p.success_band = 'no_outcome' THEN 3"
        " ELSE 4 END ASC, p.success_gap_step DESC, p.success_gap DESC, p.name ASC, p.id ASC"
    ),
    "name": "p.name ASC, p.id ASC",
    "renewal": "p.renewal_on ASC NULLS LAST, p.name ASC, p.id ASC",
    "gap": "p.success_gap DESC NULLS LAST, p.name ASC, p.id ASC",
}
SEARCH_COLUMNS = ("name", "email", "external_id")

TABLE_COUNT = "SELECT COUNT(*) FROM members_member p WHERE {where}"
# The page is picked first (the derived table), so only its rows get the snapshot subquery and
# the owner's user.
TABLE_PAGE = """
    SELECT p.id, p.name, p.external_id, p.success_band, p.success_gap,
           ({previous_gap}),
           p.tier, p.status, p.renewal_on, p.owner_id, u.full_name, u.email
      FROM (SELECT p.id, p.name, p.external_id, p.success_band, p.success_gap,
                   p.success_gap_step, p.tier, p.status, p.renewal_on, p.owner_id
              FROM members_member p
             WHERE {where}
             ORDER BY {order}
             LIMIT %(limit)s OFFSET %(offset)s) p
      LEFT JOIN tenancy_seat seat ON seat.id = p.owner_id
      LEFT JOIN tenancy_user u ON u.id = seat.user_id
     ORDER BY {order}
"""


# Each row's previous gap: its member's second-newest snapshot (newest first by moment, then id).
PREVIOUS_GAP = """SELECT s.gap FROM outcomes_successgapsnapshot s
             WHERE s.organization_id = %(org)s AND s.member_id = p.id
             ORDER BY s.computed_at DESC, s.id DESC LIMIT 1 OFFSET 1"""
# The same on PostgreSQL, where the snapshots are partitioned by week (outcomes/partitions.py):
# the two newest by moment (with any tied with the second), then the tie broken by id. Ordered by
# the moment alone, each week's index gives the order as it is, and planning the read costs
# 2 ms with a year of weeks instead of 11 (with the id in the order, the planner weighs a sort
# for every week).
PREVIOUS_GAP_PARTITIONED = """SELECT t.gap FROM (
               SELECT s.gap, s.computed_at, s.id FROM outcomes_successgapsnapshot s
                WHERE s.organization_id = %(org)s AND s.member_id = p.id
                ORDER BY s.computed_at DESC FETCH FIRST 2 ROWS WITH TIES) t
             ORDER BY t.computed_at DESC, t.id DESC LIMIT 1 OFFSET 1"""


def _icontains(column: str) -> str:
    """``column__icontains=%(search)s`` as the ORM writes it on this database (``UPPER(…)
    LIKE UPPER(…)`` on PostgreSQL, ``LIKE … ESCAPE`` on SQLite), so the search finds exactly
    the members ``members_matching`` finds, through the same indexes."""
    lhs = connection.ops.lookup_cast("icontains", "CharField") % column
    return f"{lhs} {connection.operators['icontains'] % '%(search)s'}"


@functools.cache
def _table_sql(
    vendor: str, sort: str, *, owner: bool, band: bool, tier: bool, renewal: bool, search: bool
) -> tuple[str, str]:
    """The count's and the page's SQL for one combination of filters on one database vendor
    (kept per process: SQL text only, never data)."""
    where = ["p.organization_id = %(org)s"]
    if owner:
        where.append("p.owner_id = %(owner)s")
    if band:
        where.append("p.success_band = %(band)s")
    if tier:
        where.append("p.tier = %(tier)s")
    if renewal:
        where.append("p.renewal_on >= %(renews_from)s AND p.renewal_on <= %(renews_until)s")
    if search:
        where.append(f"({' OR '.join(_icontains(f'p.{column}') for column in SEARCH_COLUMNS)})")
    conditions = " AND ".join(where)
    return (
        TABLE_COUNT.format(where=conditions),
        TABLE_PAGE.format(
            where=conditions,
            order=TABLE_ORDER[sort],
            previous_gap=PREVIOUS_GAP_PARTITIONED if vendor == "postgresql" else PREVIOUS_GAP,
        ),
    )


# What the members table shows of each row (``members.table_rows``), owner's name included.
MEMBER_TABLE_FIELDS = (
    "pk",
    "name",
    "external_id",
    "success_band",
    "success_gap",
    "previous_gap",
    "tier",
    "status",
    "renewal_on",
    "owner_id",
    "owner__user__full_name",
    "owner__user__email",
)


def member_table_page(
    *,
    organization: Organization,
    owner: Seat | None = None,
    number: str | None = None,
    per_page: int = 25,
    band: str = "",
    tier: str = "",
    renewal_within_days: int | None = None,
    search: str = "",
    sort: str = "risk",
    today: dt.date | None = None,
) -> Page:
    """Page ``number`` (``Paginator.get_page``'s rules) of ``members_for_list`` with these
    filters, as ``MEMBER_TABLE_FIELDS`` rows (dicts): the members table of My book (``owner``)
    and of the member list. Two queries, the count and the page; one when nothing matches."""
    require_same_organization(organization, owner=owner)
    search = search.strip()
    sort = sort if sort in TABLE_ORDER else "risk"
    params: dict[str, Any] = {"org": organization.pk}
    if owner is not None:
        params["owner"] = owner.pk
    if band:
        params["band"] = band
    if tier:
        params["tier"] = tier
    if renewal_within_days is not None:
        today = today or organization_today(organization)
        params["renews_from"] = today
        params["renews_until"] = today + dt.timedelta(days=renewal_within_days)
    if search:
        params["search"] = f"%{connection.ops.prep_for_like_query(search)}%"
    count_sql, page_sql = _table_sql(
        connection.vendor,
        sort,
        owner=owner is not None,
        band=bool(band),
        tier=bool(tier),
        renewal=renewal_within_days is not None,
        search=bool(search),
    )
    with connection.cursor() as cursor:
        cursor.execute(count_sql, params)
        (count,) = cursor.fetchone()

    def read(offset: int, limit: int) -> list[dict[str, Any]]:
        with connection.cursor() as cursor:
            cursor.execute(page_sql, {**params, "offset": offset, "limit": limit})
            return [dict(zip(MEMBER_TABLE_FIELDS, row, strict=True)) for row in cursor.fetchall()]

    return page_of(read, count=count, number=number, per_page=per_page)


# On PostgreSQL, the tiers are read by hopping through the (organization, tier) index, one
# probe per distinct tier (a "loose index scan"), instead of a DISTINCT over every member: a
# handful of index probes instead of reading 10,000 entries, on every book and list page.
TIERS_SKIP_SCAN = """
    WITH RECURSIVE tiers(tier) AS (
        (SELECT tier FROM members_member
          WHERE organization_id = %(org)s AND tier > '' ORDER BY tier LIMIT 1)
        UNION ALL
        SELECT (SELECT m.tier FROM members_member m
                 WHERE m.organization_id = %(org)s AND m.tier > tiers.tier
                 ORDER BY m.tier LIMIT 1)
          FROM tiers WHERE tiers.tier IS NOT NULL
    )
    SELECT tier FROM tiers WHERE tier IS NOT NULL
"""


def member_tiers(*, organization: Organization) -> list[str]:
    """The tiers in use, in order, for the filter's choices (never stale: read each time)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(TIERS_SKIP_SCAN, {"org": organization.pk})
            return [tier for (tier,) in cursor.fetchall()]
    return list(
        Member.objects.for_org(organization)
        .exclude(tier="")
        .order_by("tier")
        .values_list("tier", flat=True)
        .distinct()
    )


# ---------------------------------------------------------------------------------------------
# Results by band: does a small gap go with renewal and expansion?

# Best band first; "" is a member the engine has not scored yet.
BAND_ORDER = ("on_track", "watch", "at_risk", "no_outcome", "")


class BandResults(TypedDict):
    band: str
    members: int
    average_gap: float | None
    renewals_due: int
    renewals_done: int
    renewal_rate: Decimal | None
    expanded_members: int
    expansion_rate: Decimal | None
    expansion_amount: Decimal


def results_by_band(
    *, organization: Organization, today: dt.date | None = None
) -> list[BandResults]:
    """``portfolio_results``' renewal and expansion figures, grouped by each member's band.

    Same window and definitions as ``portfolio_results`` (renewals due and done, members who
    upgraded and the sum of their upgrades, over the 365 days ending ``today``), so the rows
    add up to its totals. **Expansion rate** = members who upgraded / members in the band.
    The band is the member's band *now* (``Member.success_band``): the table shows whether a
    small gap goes with renewing and buying more, not what the band was when the renewal fell
    due. Every band has a row, best first (``BAND_ORDER``), with zeros and None rates where it
    has no member. Two queries whatever the number of members.
    """
    today = today or organization_today(organization=organization)
    start = today - dt.timedelta(days=WINDOW_DAYS - 1)
    figures = {
        row["success_band"]: row
        for row in Member.objects.for_org(organization)
        .order_by()
        .values("success_band")
        .annotate(
            members=Count("pk"),
            average_gap=Avg("success_gap"),
            **_renewal_aggregates(organization, start, today),
        )
    }
    amounts = dict(
        MembershipEvent.objects.for_org(organization)
        .filter(kind=Kind.UPGRADE, occurred_on__gte=start, occurred_on__lte=today)
        .order_by()
        .values("member__success_band")
        .annotate(amount=Sum("amount"))
        .values_list("member__success_band", "amount")
    )
    bands = [*BAND_ORDER, *sorted(set(figures) - set(BAND_ORDER))]
    empty = {"members": 0, "average_gap": None, "renewals_due": 0, "renewals_done": 0}
    results = []
    for band in bands:
        row = {**empty, "expanded_members": 0, **figures.get(band, {})}
        results.append(
            BandResults(
                band=band,
                members=row["members"],
                average_gap=row["average_gap"],
                renewals_due=row["renewals_due"],
                renewals_done=row["renewals_done"],
                renewal_rate=_percent(row["renewals_done"], row["renewals_due"]),
                expanded_members=row["expanded_members"],
                expansion_rate=_percent(row["expanded_members"], row["members"]),
                expansion_amount=_money(amounts.get(band)),
            )
        )
    return results
