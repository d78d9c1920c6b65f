"""Snapshots of one member at the same moment: the fixed reads of a member's history (the
members table's previous gap, Member 360's explanation and trend) break the tie by id, newest
id first, exactly as the ORM's ``order_by("-computed_at", "-pk")`` does. On PostgreSQL those
reads order by the moment alone and break ties afterwards (members/selectors.py,
outcomes/explain.py), which this pins."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from members.selectors import member_table_page, members_for_list
from outcomes.explain import gap_explanation_and_trend
from tests.factories import MemberFactory
from tests.members import m360_reference as reference
from tests.members.table_reference import member_table_values
from tests.members.test_member_page_reads import _snapshot


def snapshots_at(member, at: dt.datetime, gaps: list[float]) -> None:
    """One run and snapshot per gap, all at the moment ``at``: the later the id, the newer."""
    for gap in gaps:
        _snapshot(member, at=at, gap=gap)


def test_the_previous_gap_breaks_a_tie_by_id(tenant_a):
    organization = tenant_a.organization
    now = timezone.now()
    tied_newest, tied_second, older = (MemberFactory(organization=organization) for _ in "abc")
    snapshots_at(tied_newest, now - dt.timedelta(days=3), [5.0])
    snapshots_at(tied_newest, now, [10.0, 20.0, 30.0])  # newest 30, previous 20
    snapshots_at(tied_second, now - dt.timedelta(days=2), [40.0, 50.0])  # previous 40
    snapshots_at(tied_second, now, [60.0])
    snapshots_at(older, now - dt.timedelta(days=1), [70.0])
    rows = member_table_page(organization=organization, sort="name").object_list
    expected = member_table_values(
        organization=organization, page=members_for_list(organization=organization)
    )
    previous = {row["pk"]: row["previous_gap"] for row in rows}
    assert previous == {row["pk"]: row["previous_gap"] for row in expected}
    assert previous == {tied_newest.pk: 20.0, tied_second.pk: 50.0, older.pk: None}


def test_the_explanation_and_trend_break_a_tie_by_id(tenant_a):
    organization = tenant_a.organization
    member = MemberFactory(organization=organization)
    now = timezone.now()
    snapshots_at(member, now - dt.timedelta(days=100), [1.0, 2.0])  # before the 90-day trend
    snapshots_at(member, now - dt.timedelta(days=40), [3.0, 4.0, 5.0])
    snapshots_at(member, now, [6.0, 7.0])
    for when in (now, now - dt.timedelta(days=35), now - dt.timedelta(days=95)):
        ours = gap_explanation_and_trend(organization=organization, member=member, now=when)
        assert ours == reference.gap_explanation_and_trend(
            organization=organization, member=member, now=when
        )
    explanation, _ = gap_explanation_and_trend(organization=organization, member=member, now=now)
    assert explanation.snapshot.gap == 7.0
    assert explanation.change_since_previous == 1.0  # 7 against 6
    assert explanation.change_since_30_days == 2.0  # 7 against 5


def test_a_tie_before_the_trends_window_is_broken_by_id_too(tenant_a):
    """With one snapshot in the 90 days, the previous gap and the one of 30 days ago both come
    from the latest snapshot before the window: of two at that moment, the newer id."""
    organization = tenant_a.organization
    member = MemberFactory(organization=organization)
    now = timezone.now()
    snapshots_at(member, now - dt.timedelta(days=100), [1.0, 2.0])
    snapshots_at(member, now, [7.0])
    ours = gap_explanation_and_trend(organization=organization, member=member, now=now)
    assert ours == reference.gap_explanation_and_trend(
        organization=organization, member=member, now=now
    )
    explanation, trend = ours
    assert (explanation.change_since_previous, explanation.change_since_30_days) == (5.0, 5.0)
    assert [gap for _, gap in trend] == [7.0]
