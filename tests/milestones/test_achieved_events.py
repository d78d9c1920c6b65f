"""Achieving a milestone writes one ``milestone.achieved`` domain event (what webhooks and
triggers read), however it is achieved, and never a second one for the same achievement."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from milestones.services import (
    milestone_achieve,
    milestones_achieve_from_context_event,
    milestones_achieve_from_context_events,
)
from tenancy.models import DomainEvent
from tests.factories import (
    ContextEventFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)

pytestmark = pytest.mark.django_db


def _achieved_events(organization) -> list[DomainEvent]:
    return list(
        DomainEvent.objects.for_org(organization).filter(kind=DomainEvent.Kind.MILESTONE_ACHIEVED)
    )


def test_a_manual_achievement_is_announced_once(tenant_a):
    milestone = ProgressMilestoneFactory(member=MemberFactory(organization=tenant_a.organization))
    milestone_achieve(organization=tenant_a.organization, milestone=milestone)
    with pytest.raises(ValidationError):
        milestone_achieve(organization=tenant_a.organization, milestone=milestone)
    [event] = _achieved_events(tenant_a.organization)
    assert event.subject_id == milestone.pk
    assert event.payload["member_id"] == milestone.member_id
    assert event.payload["via"] == "manual"


def _rule_milestones(organization, count: int):
    definition = MilestoneDefinitionFactory(
        organization=organization, match_event_name="course_completed"
    )
    member = MemberFactory(organization=organization)
    milestones = [
        ProgressMilestoneFactory(member=member, definition=definition) for _ in range(count)
    ]
    return member, milestones


def test_a_matching_context_event_announces_each_milestone_it_achieves(tenant_a):
    organization = tenant_a.organization
    member, milestones = _rule_milestones(organization, 2)
    event = ContextEventFactory(member=member)
    milestones_achieve_from_context_event(organization=organization, event=event)
    milestones_achieve_from_context_event(organization=organization, event=event)
    events = _achieved_events(organization)
    assert sorted(e.subject_id for e in events) == sorted(m.pk for m in milestones)
    assert {e.payload["context_event_id"] for e in events} == {event.pk}


def test_a_batch_announces_each_achievement_once_and_nothing_for_another_organization(
    tenant_a, tenant_b
):
    organization = tenant_a.organization
    member, milestones = _rule_milestones(organization, 3)
    _rule_milestones(tenant_b.organization, 1)
    batch = [ContextEventFactory(member=member) for _ in range(2)]
    assert milestones_achieve_from_context_events(organization=organization, events=batch) == 3
    assert milestones_achieve_from_context_events(organization=organization, events=batch) == 0
    assert sorted(e.subject_id for e in _achieved_events(organization)) == sorted(
        m.pk for m in milestones
    )
    assert _achieved_events(tenant_b.organization) == []
