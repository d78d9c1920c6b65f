"""The members table's page read as the ORM writes it: the reference the fixed SQL of
``members.selectors.member_table_page`` is held to (tests/members/test_member_list_table.py)
and the rows the table writer is tested with (tests/members/test_table_rows.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from members.models import Member
from members.selectors import MEMBER_TABLE_FIELDS, SORTS
from outcomes.models import SuccessGapSnapshot
from tenancy.models import Organization


def member_table_values(
    *, organization: Organization, page: QuerySet[Member], sort: str = "risk"
) -> QuerySet[Member, dict[str, Any]]:
    """A page of ``members_for_list`` (a slice of it, sorted by ``sort``) as the columns the
    members table shows, with the previous snapshot's gap for the trend arrow: one query."""
    previous_gap = (
        SuccessGapSnapshot.objects.for_org(organization)
        .filter(member_id=OuterRef("pk"))
        .order_by("-computed_at", "-pk")
        .values("gap")[1:2]
    )
    return (
        Member.objects.for_org(organization)
        .filter(pk__in=page.values("pk"))
        .annotate(previous_gap=Subquery(previous_gap))
        .order_by(*SORTS.get(sort, SORTS["risk"]))
        .values(*MEMBER_TABLE_FIELDS)
    )
