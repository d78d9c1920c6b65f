"""Direction mix: how engagement splits between reacting and reaching out, per seat, per
member, for the organization and seat by seat."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from engagement.models import Engagement
from engagement.selectors import (
    direction_mix,
    direction_mix_by_seat,
    member_engagements,
    organization_today,
)
from tests.engagement.helpers import days_ago
from tests.factories import (
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    SeatFactory,
)

INBOUND = Engagement.Direction.INBOUND_REACTIVE
REACTIVE = Engagement.Direction.OUTBOUND_REACTIVE
PROACTIVE = Engagement.Direction.OUTBOUND_PROACTIVE


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def today(org):
    return organization_today(org)


@pytest.fixture
def book(tenant_a, tenant_b, org, today):
    """The MSM: 2 inbound (30 min and no duration), 1 outbound-reactive (15), 1 proactive
    (45). The admin: 1 proactive (60). Automated: 1 inbound. Outside the period and in the
    other organization: rows that must not count."""
    alice, bob = MemberFactory.create_batch(2, organization=org)

    def add(member, seat, direction, days, minutes=None):
        return EngagementFactory(
            member=member,
            seat=seat,
            direction=direction,
            occurred_at=days_ago(org, today, days),
            duration_minutes=minutes,
        )

    add(alice, tenant_a.msm, INBOUND, 1, 30)
    add(bob, tenant_a.msm, INBOUND, 2)
    add(alice, tenant_a.msm, REACTIVE, 3, 15)
    add(alice, tenant_a.msm, PROACTIVE, 4, 45)
    add(bob, tenant_a.admin, PROACTIVE, 5, 60)
    add(bob, None, INBOUND, 6)
    add(alice, tenant_a.msm, INBOUND, 40, 90)  # before the period
    foreign = MemberFactory(organization=tenant_b.organization)
    add(foreign, tenant_b.msm, INBOUND, 1, 500)
    return alice, bob


def period(today):
    return {"since": today - dt.timedelta(days=29), "until": today}


def counts(mix):
    return {d: v["count"] for d, v in mix["directions"].items()}


def test_mix_for_one_seat(tenant_a, org, today, book):
    mix = direction_mix(organization=org, seat=tenant_a.msm, **period(today))
    assert mix["total"] == 4 and mix["minutes"] == 90
    assert counts(mix) == {INBOUND: 2, REACTIVE: 1, PROACTIVE: 1}
    assert mix["directions"][INBOUND]["share"] == 0.5
    assert mix["directions"][PROACTIVE]["share"] == 0.25
    assert mix["directions"][INBOUND]["minutes"] == 30
    assert mix["directions"][PROACTIVE]["minutes_share"] == 0.5
    assert mix["directions"][REACTIVE]["label"] == "Outbound, reactive"


def test_mix_for_one_member(org, today, book):
    _alice, bob = book
    mix = direction_mix(organization=org, member=bob, **period(today))
    assert counts(mix) == {INBOUND: 2, REACTIVE: 0, PROACTIVE: 1}
    assert mix["minutes"] == 60


def test_mix_for_the_organization_includes_automated(org, today, book):
    mix = direction_mix(organization=org, **period(today))
    assert counts(mix) == {INBOUND: 3, REACTIVE: 1, PROACTIVE: 2}
    assert mix["total"] == 6 and mix["minutes"] == 150
    assert sum(v["share"] for v in mix["directions"].values()) == pytest.approx(1)


def test_mix_for_a_seat_and_a_member(tenant_a, org, today, book):
    alice, _bob = book
    mix = direction_mix(organization=org, seat=tenant_a.msm, member=alice, **period(today))
    assert counts(mix) == {INBOUND: 1, REACTIVE: 1, PROACTIVE: 1}


def test_datetime_bounds_are_half_open(tenant_a, org, today, book):
    since = days_ago(org, today, 4)
    until = days_ago(org, today, 1)  # the 30-minute inbound at exactly this moment is out
    mix = direction_mix(organization=org, seat=tenant_a.msm, since=since, until=until)
    assert counts(mix) == {INBOUND: 1, REACTIVE: 1, PROACTIVE: 1}


def test_empty_period_has_zero_shares(tenant_a, org, today, book):
    long_ago = today - dt.timedelta(days=400)
    mix = direction_mix(organization=org, seat=tenant_a.msm, since=long_ago, until=long_ago)
    assert mix["total"] == 0 and mix["minutes"] == 0
    assert {v["share"] for v in mix["directions"].values()} == {0.0}


def test_period_ending_before_it_starts_is_refused(org, today):
    with pytest.raises(ValidationError) as excinfo:
        direction_mix(organization=org, since=today, until=today - dt.timedelta(days=1))
    assert set(excinfo.value.message_dict) == {"until"}


def test_mix_by_seat_lists_every_seat_and_matches_the_single_mix(
    tenant_a, tenant_b, org, today, book
):
    rows = direction_mix_by_seat(organization=org, **period(today))
    assert {row["seat"] for row in rows} == {tenant_a.admin, tenant_a.msm, tenant_a.viewer}
    for row in rows:
        single = direction_mix(organization=org, seat=row["seat"], **period(today))
        assert {k: row[k] for k in ("total", "minutes", "directions")} == {
            k: single[k] for k in ("total", "minutes", "directions")
        }
    viewer = next(row for row in rows if row["seat"] == tenant_a.viewer)
    assert viewer["total"] == 0


def test_mix_queries_are_constant_at_5_and_50_rows(tenant_a, org, today, count_queries):
    member = MemberFactory(organization=org)

    def add_rows(n):
        for i in range(n):
            seat = SeatFactory(organization=org)
            EngagementFactory(
                member=member,
                seat=seat,
                direction=Engagement.Direction.values[i % 3],
                occurred_at=days_ago(org, today, i % 20),
                duration_minutes=i,
            )

    def read():
        direction_mix(organization=org, **period(today))
        direction_mix(organization=org, seat=tenant_a.msm, **period(today))
        for row in direction_mix_by_seat(organization=org, **period(today)):
            assert row["seat"].user.email

    add_rows(5)
    small = count_queries(read)
    add_rows(45)
    assert count_queries(read) == small == 3


def test_member_engagements_newest_first_with_seat_and_goal(
    tenant_a, tenant_b, org, today, count_queries
):
    member = MemberFactory(organization=org)
    goal = GoalFactory(desired_outcome__member=member)

    def add_rows(n, start):
        for i in range(start, start + n):
            EngagementFactory(
                member=member,
                seat=tenant_a.msm,
                goal=goal if i % 2 else None,
                occurred_at=days_ago(org, today, i),
            )

    def read():
        rows = list(member_engagements(organization=org, member=member, limit=100))
        for row in rows:
            assert row.seat.user.email
            assert row.goal is None or row.goal.objective
        return rows

    add_rows(5, 0)
    EngagementFactory(member=MemberFactory(organization=org))  # someone else's
    small = count_queries(read)
    add_rows(45, 5)
    assert count_queries(read) == small == 1
    rows = read()
    assert len(rows) == 50
    assert [r.occurred_at for r in rows] == sorted((r.occurred_at for r in rows), reverse=True)
    assert len(member_engagements(organization=org, member=member)) == 50
    assert len(member_engagements(organization=org, member=member, limit=10)) == 10
    assert not member_engagements(organization=tenant_b.organization, member=member)
