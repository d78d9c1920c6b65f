"""A context event whose name matches a pending milestone's definition achieves it, once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from engagement.models import ContextEvent
from engagement.services import context_event_record
from milestones.models import ProgressMilestone
from tests.factories import MemberFactory, MilestoneDefinitionFactory, ProgressMilestoneFactory


@pytest.fixture
def member(tenant_a):
    return MemberFactory(organization=tenant_a.organization)


@pytest.fixture
def milestone(tenant_a, member):
    definition = MilestoneDefinitionFactory(
        organization=tenant_a.organization,
        match_event_name="credits_logged",
        match_min_value=Decimal("10"),
    )
    return ProgressMilestoneFactory(member=member, definition=definition)


def record(organization, member, *, value, hours_ago, name="credits_logged", external_id=""):
    return context_event_record(
        organization=organization,
        member=member,
        kind=ContextEvent.Kind.ACTIVITY,
        name=name,
        value=value,
        occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
        external_id=external_id,
    )


def fresh(milestone: ProgressMilestone) -> ProgressMilestone:
    return ProgressMilestone.objects.unscoped().get(pk=milestone.pk)


def test_matching_event_achieves_the_milestone_exactly_once(tenant_a, member, milestone):
    first = record(tenant_a.organization, member, value=12, hours_ago=5)
    achieved = fresh(milestone)
    assert achieved.achieved_at == first.occurred_at
    assert achieved.achieved_via == ProgressMilestone.Via.RULE
    assert achieved.context_event_id == first.pk

    record(tenant_a.organization, member, value=30, hours_ago=1)
    again = fresh(milestone)
    assert again.achieved_at == first.occurred_at
    assert again.context_event_id == first.pk


def test_value_below_the_minimum_does_not_achieve_it(tenant_a, member, milestone):
    record(tenant_a.organization, member, value=9, hours_ago=2)
    record(tenant_a.organization, member, value=None, hours_ago=1)
    assert fresh(milestone).achieved_at is None


def test_another_name_does_not_achieve_it(tenant_a, member, milestone):
    record(tenant_a.organization, member, value=50, hours_ago=1, name="credits_planned")
    assert fresh(milestone).achieved_at is None


def test_another_members_event_does_not_achieve_it(tenant_a, milestone):
    someone_else = MemberFactory(organization=tenant_a.organization)
    record(tenant_a.organization, someone_else, value=50, hours_ago=1)
    assert fresh(milestone).achieved_at is None


def test_a_resent_event_achieves_nothing_new(tenant_a, member, milestone):
    """The first send did not match; a re-send (same external id) returns the stored event
    and must not achieve anything with the new body."""
    record(tenant_a.organization, member, value=2, hours_ago=2, external_id="lms-7")
    record(tenant_a.organization, member, value=50, hours_ago=2, external_id="lms-7")
    assert fresh(milestone).achieved_at is None
    assert ContextEvent.objects.for_org(tenant_a.organization).count() == 1
