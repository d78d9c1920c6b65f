"""The relationship (engagement + context): the maths, the spectrum labels, and the set-based
read agreeing with the one-member read."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from engagement.models import ContextEvent, Engagement
from engagement.selectors import (
    CONTEXT_KINDS_THAT_MATTER,
    HEALTHY_ENGAGEMENT_INTERVAL_DAYS,
    organization_today,
    relationship,
    relationships_for_members,
)
from members.models import Member
from tests.engagement.helpers import days_ago
from tests.factories import ContextEventFactory, EngagementFactory, MemberFactory

Kind = ContextEvent.Kind
Direction = Engagement.Direction


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def today(org):
    return organization_today(org)


def engage(member, today, days, direction=Direction.INBOUND_REACTIVE):
    return EngagementFactory(
        member=member, occurred_at=days_ago(member.organization, today, days), direction=direction
    )


def learn(member, today, days, kind=Kind.USAGE):
    return ContextEventFactory(
        member=member, occurred_at=days_ago(member.organization, today, days), kind=kind
    )


def test_no_engagement_and_no_context_is_no_relationship_yet(org, today):
    member = MemberFactory(organization=org)
    result = relationship(organization=org, member=member, today=today)
    assert result.label == "no relationship yet" and not result.exists
    assert result.engagement_strength == 0 and result.context_richness == 0
    assert result.spectrum_position == 0
    assert result.last_engaged_at is None and result.days_since_last_engagement is None


def test_only_context_is_context_only(org, today):
    member = MemberFactory(organization=org)
    learn(member, today, 3, Kind.USAGE)
    learn(member, today, 20, Kind.MEMBERSHIP_CHANGE)
    result = relationship(organization=org, member=member, today=today)
    assert result.label == "context-only"
    assert result.spectrum_position == 1
    assert result.engagement_strength == 0
    assert result.context_richness == pytest.approx(2 / 6, abs=1e-4)


def test_only_engagement_is_engagement_only(org, today):
    member = MemberFactory(organization=org)
    engage(member, today, 1, Direction.OUTBOUND_PROACTIVE)
    engage(member, today, 8)
    learn(member, today, 5, Kind.OTHER)  # "other" says nothing specific: not counted
    result = relationship(organization=org, member=member, today=today)
    assert result.label == "engagement-only"
    assert result.spectrum_position == -1
    assert result.context_richness == 0 and result.engagement_strength > 0


def test_the_formula(org, today):
    """Every part of the documented formula, on numbers worked by hand."""
    member = MemberFactory(organization=org)
    engage(member, today, 10, Direction.OUTBOUND_PROACTIVE)
    engage(member, today, 40, Direction.INBOUND_REACTIVE)
    engage(member, today, 100, Direction.OUTBOUND_PROACTIVE)  # outside the 90-day window
    learn(member, today, 2, Kind.USAGE)
    learn(member, today, 30, Kind.USAGE)
    learn(member, today, 60, Kind.ACTIVITY)
    learn(member, today, 7, Kind.OTHER)
    learn(member, today, 120, Kind.TEAM_CHANGE)  # outside the window

    result = relationship(organization=org, member=member, today=today, window_days=90)

    recency = 1 - 10 / 90
    frequency = 2 * HEALTHY_ENGAGEMENT_INTERVAL_DAYS / 90
    proactive = 1 / 2
    strength = 0.4 * recency + 0.4 * frequency + 0.2 * proactive
    richness = 2 / len(CONTEXT_KINDS_THAT_MATTER)
    position = (richness - strength) / (richness + strength)
    assert result.days_since_last_engagement == 10
    assert result.engagements_in_window == 2 and result.proactive_in_window == 1
    assert result.recency == pytest.approx(recency, abs=1e-4)
    assert result.frequency == pytest.approx(frequency, abs=1e-4)
    assert result.proactive_share == pytest.approx(proactive, abs=1e-4)
    assert result.engagement_strength == pytest.approx(strength, abs=1e-4)
    assert result.context_kinds_seen == (Kind.USAGE, Kind.ACTIVITY)
    assert result.context_richness == pytest.approx(richness, abs=1e-4)
    assert result.spectrum_position == pytest.approx(position, abs=1e-4)
    assert result.label == "balanced"


def test_frequency_saturates_at_the_healthy_baseline(org, today):
    member = MemberFactory(organization=org)
    for day in range(0, 90, 5):
        engage(member, today, day, Direction.OUTBOUND_PROACTIVE)
    result = relationship(organization=org, member=member, today=today)
    assert result.frequency == 1 and result.recency == 1 and result.proactive_share == 1
    assert result.engagement_strength == 1


def test_old_engagement_gives_no_recency_but_is_remembered(org, today):
    member = MemberFactory(organization=org)
    engage(member, today, 200)
    learn(member, today, 1, Kind.GOAL_CHANGE)
    result = relationship(organization=org, member=member, today=today)
    assert result.days_since_last_engagement == 200
    assert result.recency == 0 and result.engagement_strength == 0
    assert result.label == "context-only"


def test_mostly_engagement_and_mostly_context(org, today):
    engaged = MemberFactory(organization=org)
    for day in (0, 7, 14, 21, 28, 35, 42):
        engage(engaged, today, day, Direction.OUTBOUND_PROACTIVE)
    learn(engaged, today, 3, Kind.USAGE)
    known = MemberFactory(organization=org)
    engage(known, today, 80)
    for kind in CONTEXT_KINDS_THAT_MATTER:
        learn(known, today, 4, kind)
    assert relationship(organization=org, member=engaged, today=today).label == (
        "mostly engagement"
    )
    assert relationship(organization=org, member=known, today=today).label == "mostly context"


def test_rows_after_today_and_of_other_organizations_are_ignored(org, today, tenant_b):
    member = MemberFactory(organization=org)
    engage(member, today, 0)
    earlier = today - dt.timedelta(days=30)
    result = relationship(organization=org, member=member, today=earlier)
    assert result.label == "no relationship yet"
    foreign = MemberFactory(organization=tenant_b.organization)
    engage(foreign, today, 1)
    assert relationship(organization=org, member=foreign, today=today).label == (
        "no relationship yet"
    )


def test_window_must_be_positive(org, today):
    member = MemberFactory(organization=org)
    with pytest.raises(ValueError, match="window_days"):
        relationship(organization=org, member=member, today=today, window_days=0)


def build_portfolio(org, today, size: int, seed: int = 20240601):
    """Members with a spread of engagement and context, some with nothing at all."""
    rng = random.Random(seed)  # seeded: the same portfolio every run
    members = MemberFactory.create_batch(size, organization=org)
    for member in members:
        for _ in range(rng.choice([0, 0, 1, 2, 4, 9])):
            engage(member, today, rng.randrange(0, 150), rng.choice(Direction.values))
        for _ in range(rng.choice([0, 1, 3, 6])):
            learn(member, today, rng.randrange(0, 120), rng.choice(Kind.values))
    return members


def test_set_based_equals_one_by_one(org, today, tenant_b):
    members = build_portfolio(org, today, 25)
    foreign = MemberFactory(organization=tenant_b.organization)
    engage(foreign, today, 1)
    ids = [m.pk for m in members] + [foreign.pk, 999_999]

    for window in (30, 90):
        many = relationships_for_members(
            organization=org, member_ids=ids, today=today, window_days=window
        )
        one_by_one = {
            m.pk: relationship(organization=org, member=m, today=today, window_days=window)
            for m in members
        }
        assert many == one_by_one
    labels = {r.label for r in many.values()}
    assert len(labels) >= 3, labels  # the portfolio really is varied


def test_set_based_accepts_a_queryset_of_ids(org, today):
    members = build_portfolio(org, today, 6)
    ids = Member.objects.for_org(org).values_list("pk", flat=True)
    assert set(relationships_for_members(organization=org, member_ids=ids, today=today)) == {
        m.pk for m in members
    }


@pytest.mark.parametrize("reader", ["one", "many"])
def test_constant_queries_at_5_and_50_rows(org, today, count_queries, reader):
    member = MemberFactory(organization=org)
    others = MemberFactory.create_batch(4, organization=org)

    def add_rows(n):
        for i in range(n):
            engage(member, today, i % 80, Direction.values[i % 3])
            learn(member, today, i % 80, Kind.values[i % len(Kind.values)])
            for other in others:
                engage(other, today, i % 60)

    def read():
        if reader == "one":
            relationship(organization=org, member=member, today=today)
        else:
            relationships_for_members(
                organization=org, member_ids=[member.pk, *(o.pk for o in others)], today=today
            )

    add_rows(5)
    small = count_queries(read)
    add_rows(45)
    assert count_queries(read) == small == (2 if reader == "one" else 3)
