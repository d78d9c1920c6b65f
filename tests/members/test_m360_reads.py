"""Member 360's precompiled reads (members.m360_reads) answer as the selectors they stand for."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from engagement.choices import EngagementType
from engagement.models import ContextEvent, Engagement
from engagement.selectors import (
    member_timeline_context_events,
    member_timeline_engagements,
)
from engagement.selectors import (
    relationship_and_experience as selectors_relationship_and_experience,
)
from members import m360_reads
from tests.factories import (
    AppropriateExperienceFactory,
    ContextEventFactory,
    EngagementFactory,
    MemberFactory,
)

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
    ours = m360_reads.relationship_and_experience(organization=org, member=member)
    assert ours == selectors_relationship_and_experience(organization=org, member=member)
    assert ours[0].engagements_in_window == 3 and ours[0].proactive_in_window == 2
    assert set(ours[0].context_kinds_seen) == {"usage", "team_change"}
    assert ours[1].required == 2


def test_relationship_and_experience_of_a_member_with_nothing(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    ours = m360_reads.relationship_and_experience(organization=org, member=member)
    assert ours == selectors_relationship_and_experience(organization=org, member=member)
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
        engagements, events = m360_reads.member_timeline(
            organization=org, member=member, limit=limit
        )
        assert engagements == member_timeline_engagements(
            organization=org, member=member, limit=limit
        )
        assert events == member_timeline_context_events(
            organization=org, member=member, limit=limit
        )
        assert len(engagements) == min(limit, 8) and len(events) == min(limit, 8)


def test_the_reads_see_only_the_organization_they_are_given(tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization)
    _history(tenant_a, member)
    assert m360_reads.member_timeline(organization=tenant_b.organization, member=member) == (
        [],
        [],
    )
    found, experience = m360_reads.relationship_and_experience(
        organization=tenant_b.organization, member=member
    )
    assert not found.exists and experience.required == 0
