"""Member 360's reads held to the ORM reads they stand for (tests/members/m360_reference.py)."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from engagement.choices import EngagementType
from engagement.models import ContextEvent, Engagement
from engagement.selectors import member_timeline, relationship_and_experience
from members.selectors import member_headline_results
from milestones.models import Commitment
from milestones.selectors import accountability_boards_for_goals
from outcomes.explain import gap_explanation_and_trend
from tenancy.selectors import organization_team, organization_team_rows
from tests.factories import (
    AppropriateExperienceFactory,
    CommitmentFactory,
    ContextEventFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    SeatFactory,
)
from tests.members import m360_reference as reference
from tests.members.test_member_page_reads import _snapshot
from tests.members.test_selectors import TODAY, answer, days_ago, event

pytestmark = pytest.mark.django_db


def _history(tenant, member) -> None:
    """Engagements in and out of the 90-day window, proactive or not, with and without a
    seat; context events of kinds that matter, of ``other``, old ones, with and without a
    value; required, optional and inactive experience elements."""
    now = timezone.now()
    AppropriateExperienceFactory(member=member, engagement_type=EngagementType.CALL, cadence_days=7)
    AppropriateExperienceFactory(member=member, engagement_type=EngagementType.MEETING_1_1)
    AppropriateExperienceFactory(
        member=member, engagement_type=EngagementType.EMAIL, required=False
    )
    AppropriateExperienceFactory(
        member=member, engagement_type=EngagementType.EMAIL, cadence_days=3, is_active=False
    )
    for days, kind, direction, seat in [
        (0.2, EngagementType.CALL, Engagement.Direction.OUTBOUND_PROACTIVE, tenant.msm),
        (3, EngagementType.CALL, Engagement.Direction.INBOUND_REACTIVE, None),
        (12.5, EngagementType.EMAIL, Engagement.Direction.OUTBOUND_PROACTIVE, None),
        (95, EngagementType.MEETING_1_1, Engagement.Direction.OUTBOUND_REACTIVE, tenant.msm),
        (400, EngagementType.EMAIL, Engagement.Direction.INBOUND_REACTIVE, tenant.msm),
    ]:
        EngagementFactory(
            member=member,
            type=kind,
            direction=direction,
            seat=seat,
            summary=f"<b>{kind}</b> & co",
            occurred_at=now - dt.timedelta(days=days),
        )
    for days, kind, value in [
        (1, ContextEvent.Kind.USAGE, Decimal("12.3456")),
        (2, ContextEvent.Kind.USAGE, None),
        (5, ContextEvent.Kind.TEAM_CHANGE, Decimal("-0.5")),
        (6, ContextEvent.Kind.OTHER, Decimal("3")),
        (120, ContextEvent.Kind.GOAL_CHANGE, Decimal("2.675")),
    ]:
        ContextEventFactory(
            member=member, kind=kind, value=value, occurred_at=now - dt.timedelta(days=days)
        )


def test_relationship_and_experience_as_the_selector_reads_them(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    _history(tenant_a, member)
    other = MemberFactory(organization=org)
    _history(tenant_a, other)
    ours = relationship_and_experience(organization=org, member=member)
    assert ours == reference.relationship_and_experience(organization=org, member=member)
    assert ours[0].engagements_in_window == 3 and ours[0].proactive_in_window == 2
    assert set(ours[0].context_kinds_seen) == {"usage", "team_change"}
    assert ours[1].required == 2


def test_relationship_and_experience_of_a_member_with_nothing(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    ours = relationship_and_experience(organization=org, member=member)
    assert ours == reference.relationship_and_experience(organization=org, member=member)
    assert not ours[0].exists and ours[1].required == 0


def test_timeline_as_the_selectors_read_it(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    _history(tenant_a, member)
    _history(tenant_a, MemberFactory(organization=org))
    at = timezone.now() - dt.timedelta(days=30)
    for _ in range(3):  # the same moment: the newest id first
        EngagementFactory(member=member, occurred_at=at)
        ContextEventFactory(member=member, occurred_at=at)
    for limit in (1, 2, 20):
        engagements, events = member_timeline(organization=org, member=member, limit=limit)
        assert engagements == reference.member_timeline_engagements(
            organization=org, member=member, limit=limit
        )
        assert events == reference.member_timeline_context_events(
            organization=org, member=member, limit=limit
        )
        assert len(engagements) == min(limit, 8) and len(events) == min(limit, 8)


@pytest.mark.parametrize(
    "read",
    [
        member_timeline,
        relationship_and_experience,
        functools.partial(accountability_boards_for_goals, goals=[]),
        gap_explanation_and_trend,
        functools.partial(member_headline_results, today=TODAY),
    ],
)
def test_the_reads_refuse_another_organizations_member(tenant_a, tenant_b, read):
    member = MemberFactory(organization=tenant_a.organization)
    _history(tenant_a, member)
    with pytest.raises(ValidationError):
        read(organization=tenant_b.organization, member=member)


@pytest.mark.parametrize("status", ["active", "lapsed", "cancelled", "prospect"])
def test_header_results_as_member_headline_results_counts_them(tenant_a, tenant_b, status):
    org = tenant_a.organization
    member = MemberFactory(organization=org, joined_on=days_ago(800), status=status)
    event(member, "renew", days_ago(435), "120.00")
    event(member, "renew", days_ago(70), "120.00")
    event(member, "upgrade", days_ago(60), "30.50")
    event(member, "downgrade", days_ago(50))
    event(member, "lapse", days_ago(300))
    event(member, "cancel", days_ago(40))
    event(member, "renew", days_ago(-1), "999.00")  # after "today": not counted
    event(member, "cancel", days_ago(-2))
    answer(member, "referral", days_ago(30))
    answer(member, "testimonial", days_ago(5))
    answer(member, "nps", days_ago(2), score=4)
    answer(member, "nps", days_ago(2), score=7)
    answer(member, "nps", days_ago(-1), score=1)
    neighbour = MemberFactory(organization=org)
    event(neighbour, "renew", days_ago(1))
    answer(neighbour, "referral", days_ago(1))
    answer(neighbour, "nps", days_ago(1), score=10)
    for someone in (member, neighbour, MemberFactory(organization=org, status=status)):
        for today in (TODAY, TODAY - dt.timedelta(days=45), TODAY - dt.timedelta(days=1000)):
            ours = member_headline_results(organization=org, member=someone, today=today)
            assert ours == reference.member_headline_results(
                organization=org, member=someone, today=today
            )
    ours = member_headline_results(organization=org, member=member, today=TODAY)
    assert (ours["renewals"], ours["upgrades"], ours["referrals"], ours["nps_latest"]) == (
        2,
        1,
        1,
        7,
    )


def test_the_team_as_organization_team_reads_it(tenant_a, tenant_b):
    SeatFactory(organization=tenant_a.organization, role="viewer")
    SeatFactory(organization=tenant_b.organization)
    for tenant in (tenant_a, tenant_b):
        org = tenant.organization
        ours = organization_team_rows(organization=org)
        assert ours == list(organization_team(organization=org))
        assert [seat.user.email for seat in ours] == [
            seat.user.email for seat in organization_team(organization=org)
        ]


def _shape(boards):
    return [
        (
            board["goal"].pk,
            board["blind_spot"],
            {party: [c.pk for c in commitments] for party, commitments in board["columns"].items()},
        )
        for board in boards
    ]


def test_boards_as_accountability_boards_for_goals_reads_them(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    first, second, third = (GoalFactory(desired_outcome__member=member) for _ in range(3))
    today = timezone.localdate()
    for goal, party, due in [
        (first, Commitment.Party.MEMBER_OUTSIDE, 9),
        (first, Commitment.Party.TOGETHER, None),
        (first, Commitment.Party.TOGETHER, 3),
        (second, Commitment.Party.MEMBER_INSIDE, 1),
        (third, Commitment.Party.MEMBER_OUTSIDE, 2),
    ]:
        CommitmentFactory(
            goal=goal, party=party, due_on=None if due is None else today + dt.timedelta(days=due)
        )
    CommitmentFactory(goal=GoalFactory(desired_outcome__member=MemberFactory(organization=org)))
    for goals in ([], [first], [second, first], [first, second, third]):
        ours = accountability_boards_for_goals(organization=org, member=member, goals=goals)
        assert _shape(ours) == _shape(
            reference.accountability_boards_for_goals(organization=org, goals=goals)
        )
    assert [board["blind_spot"] for board in ours] == [False, True, False]


@pytest.mark.parametrize(
    "history",
    [(), (1,), (1, 3), (1, 45), (1, 3, 45), (1, 3, 120), (40, 120), (1, 2, 3, 100, 200), (95,)],
)
def test_gap_explanation_and_trend_as_outcomes_explain_reads_them(tenant_a, history):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    for days in history:
        _snapshot(member, days_ago=days, gap=days)
    _snapshot(MemberFactory(organization=org), days_ago=2, gap=50)
    now = timezone.now()
    for when in (now, now - dt.timedelta(days=35)):
        ours = gap_explanation_and_trend(organization=org, member=member, now=when)
        assert ours == reference.gap_explanation_and_trend(
            organization=org, member=member, now=when
        )
        assert all(at.tzinfo is not None for at, _gap in ours[1])
