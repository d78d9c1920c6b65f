"""Member 360's reads of the gap's trend and the team, in fewer, precompiled
statements (the relationship, experience and timeline are ``engagement.selectors``', the
header's results ``members.selectors``').

Building and compiling querysets for them cost several times what PostgreSQL spends running
them. Here the trend is a fixed SQL text, written once per process, whose answers are those
of ``gap_explanation_and_trend`` (tests pin it); the team is read through
``PreparedRead`` for the same reason.

Every statement is scoped to the organization by a parameter, as ``for_org`` would scope it,
and another organization's member is refused before any is run.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from engagement.selectors import datetime_from_sql
from members.models import Member
from ops.prepared import PreparedRead
from outcomes.explain import GapExplanation, explanation_and_trend_from
from outcomes.models import SuccessGapSnapshot
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization


def _team(*, organization_id: int) -> QuerySet[Seat]:
    return (
        Seat.objects.for_org(organization_id).select_related("user").order_by("role", "user__email")
    )


_TEAM = PreparedRead(_team, organization_id=int)


def organization_team(*, organization: Organization) -> list[Seat]:
    """``tenancy.selectors.organization_team`` (the seats with their users, admins first),
    compiled once per connection: the ownership section offers every seat on every page."""
    return _TEAM.rows(organization_id=organization.pk)


_TREND_DAYS = 90  # the header's sparkline: gap_explanation_and_trend's default window


@functools.cache
def _trend_sql() -> str:
    """(id, computed at, gap) of the member's snapshots since a time and of the latest one
    before it, oldest first: the read of ``outcomes.explain._trend_with_one_before``, on
    PostgreSQL two range scans of the (organization, member, computed_at) index."""
    table = connection.ops.quote_name(SuccessGapSnapshot._meta.db_table)
    # Only the table name and placeholders go into the text.
    return (
        f"SELECT id, computed_at, gap FROM {table}"  # noqa: S608
        " WHERE organization_id = %s AND member_id = %s AND (computed_at >= %s OR id = ("
        f" SELECT id FROM {table}"
        " WHERE organization_id = %s AND member_id = %s AND computed_at < %s"
        " ORDER BY computed_at DESC, id DESC LIMIT 1))"
        " ORDER BY computed_at, id"
    )


def gap_explanation_and_trend(
    *, organization: Organization, member: Member, now: dt.datetime | None = None
) -> tuple[GapExplanation, list[tuple[dt.datetime, float | None]]]:
    """``outcomes.explain.gap_explanation_and_trend`` over its default 90 days, its trend read
    a fixed SQL text instead of a queryset (with a subquery) built and compiled per page; the
    latest snapshot with its run and the explanation come from ``outcomes.explain`` itself."""
    require_same_organization(organization, member=member)
    now = now or timezone.now()
    since = now - dt.timedelta(days=_TREND_DAYS)
    month_ago = now - dt.timedelta(days=30)
    ids = [organization.pk, member.pk, connection.ops.adapt_datetimefield_value(since)]
    with connection.cursor() as cursor:
        cursor.execute(_trend_sql(), ids * 2)
        rows = [(pk, datetime_from_sql(at), gap) for pk, at, gap in cursor.fetchall()]
    return explanation_and_trend_from(organization, rows, since=since, month_ago=month_ago)
