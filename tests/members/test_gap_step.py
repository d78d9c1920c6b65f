"""The gap in whole points (``Member.success_gap_step``) stands in for the gap in the member
table's indexes, so that the nightly scoring's small moves touch no index (heap-only updates on
PostgreSQL). Held here: the database keeps it, the risk order is still the gap's order, and no
index of the member table reads the gap itself."""

from __future__ import annotations

import re

from django.db import connection

from members.models import Member
from members.selectors import SORTS, member_table_page, members_for_list
from tests.factories import MemberFactory

# Around whole points, where rounding (PostgreSQL) and truncating (SQLite) part ways.
GAPS = [41.9, 42.0, 42.4, 42.5, 42.6, 42.99, 43.0, 0.0, 0.4, 0.6, 99.6, 100.0]


def _riskiest_first(members: list[Member]) -> list[int]:
    rank = {"at_risk": 0, "watch": 1, "on_track": 2, "no_outcome": 3}
    return [
        m.pk
        for m in sorted(
            members,
            key=lambda m: (rank.get(m.success_band, 4), -(m.success_gap or 0), m.name, m.pk),
        )
    ]


def _scored(organization, gaps, band="at_risk") -> list[Member]:
    members = [
        MemberFactory(organization=organization, name=f"Member {index % 3}") for index in gaps
    ]
    for member, gap in zip(members, gaps, strict=True):
        Member.objects.for_org(organization).filter(pk=member.pk).update(
            success_gap=gap, success_band=band
        )
    return list(Member.objects.for_org(organization).filter(pk__in=[m.pk for m in members]))


def test_the_database_keeps_the_whole_points_of_the_gap(tenant_a):
    members = _scored(tenant_a.organization, GAPS)
    for member in members:
        assert abs(member.success_gap_step - member.success_gap) < 1, member.success_gap
    Member.objects.for_org(tenant_a.organization).filter(pk=members[0].pk).update(
        success_gap=None, success_band=""
    )
    members[0].refresh_from_db()
    assert members[0].success_gap_step is None


def test_the_risk_order_is_still_the_gaps_order(tenant_a):
    organization = tenant_a.organization
    members = _scored(organization, GAPS) + _scored(organization, [10.5, 10.2, 60.7], "watch")
    expected = _riskiest_first(members)

    listed = members_for_list(organization=organization).order_by(*SORTS["risk"])
    assert [m.pk for m in listed] == expected
    page = member_table_page(organization=organization, per_page=100, sort="risk")
    assert [row["pk"] for row in page.object_list] == expected


def _member_index_definitions() -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'members_member'")
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'members_member' AND sql IS NOT NULL"
            )
        return [row[0] for row in cursor.fetchall()]


def test_no_index_of_the_member_table_reads_what_the_nightly_run_moves(db):
    definitions = _member_index_definitions()
    assert any("success_gap_step" in text for text in definitions)
    moved = re.compile(r"\b(success_gap|success_computed_at)\b")
    assert not [text for text in definitions if moved.search(text)]


def test_the_step_is_neither_exported_nor_audited():
    """The database computes it from the gap, which both carry; an import computes it anew."""
    from audit.capture import _fields
    from portability.registry import exported_fields

    assert "success_gap" in [field.name for field in exported_fields(Member)]
    assert "success_gap_step" not in [field.name for field in exported_fields(Member)]
    assert "success_gap" in [field.name for field in _fields(Member)]
    assert "success_gap_step" not in [field.name for field in _fields(Member)]
