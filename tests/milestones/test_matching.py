"""Context events achieve milestones: one event at a time, or a whole ingest batch at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from engagement.services import context_event_record
from milestones.models import ProgressMilestone
from milestones.services import (
    milestone_achieve,
    milestones_achieve_from_context_event,
    milestones_achieve_from_context_events,
)
from tests.factories import (
    ContextEventFactory,
    MemberFactory,
    MilestoneDefinitionFactory,
    ProgressMilestoneFactory,
)

BASE = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)


def _at(hours: int) -> dt.datetime:
    return BASE + dt.timedelta(hours=hours)


def _rule_milestone(member, *, event_name="course_completed", min_value=None, name="Course"):
    definition = MilestoneDefinitionFactory(
        organization=member.organization,
        name=f"{name} {member.pk}",
        match_event_name=event_name,
        match_min_value=min_value,
    )
    return ProgressMilestoneFactory(member=member, definition=definition, name=name)


# --- one event ---------------------------------------------------------------------------------


def test_a_matching_event_achieves_the_milestone(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    milestone = _rule_milestone(member)
    event = ContextEventFactory(member=member, occurred_at=_at(1))
    achieved = milestones_achieve_from_context_event(
        organization=tenant_a.organization, event=event
    )
    assert [m.pk for m in achieved] == [milestone.pk]
    milestone.refresh_from_db()
    assert (milestone.achieved_at, milestone.achieved_via) == (_at(1), "rule")
    assert milestone.context_event == event


def test_the_minimum_value_decides(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    milestone = _rule_milestone(member, event_name="credits", min_value=Decimal("10"))
    org = tenant_a.organization
    for value in (None, Decimal("9.9999")):
        event = ContextEventFactory(member=member, name="credits", value=value)
        assert milestones_achieve_from_context_event(organization=org, event=event) == []
    event = ContextEventFactory(member=member, name="credits", value=Decimal("10"))
    assert milestones_achieve_from_context_event(organization=org, event=event) != []
    milestone.refresh_from_db()
    assert milestone.context_event == event


def test_a_second_matching_event_does_not_achieve_it_again(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    milestone = _rule_milestone(member)
    first = ContextEventFactory(member=member, occurred_at=_at(1))
    second = ContextEventFactory(member=member, occurred_at=_at(2))
    org = tenant_a.organization
    milestones_achieve_from_context_event(organization=org, event=first)
    assert milestones_achieve_from_context_event(organization=org, event=second) == []
    milestone.refresh_from_db()
    assert (milestone.achieved_at, milestone.context_event) == (_at(1), first)


def test_other_members_and_hand_milestones_are_untouched(tenant_a):
    org = tenant_a.organization
    member, other = MemberFactory.create_batch(2, organization=org)
    others_milestone = _rule_milestone(other)
    ad_hoc = ProgressMilestoneFactory(member=member)
    event = ContextEventFactory(member=member)
    assert milestones_achieve_from_context_event(organization=org, event=event) == []
    assert not ProgressMilestone.objects.for_org(org).filter(
        pk__in=[others_milestone.pk, ad_hoc.pk], achieved_at__isnull=False
    )


def test_recording_an_event_through_the_engagement_service_achieves(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    milestone = _rule_milestone(member)
    event = context_event_record(
        organization=tenant_a.organization,
        member=member,
        kind="usage",
        name="course_completed",
        occurred_at=_at(3),
    )
    milestone.refresh_from_db()
    assert (milestone.context_event, milestone.achieved_via) == (event, "rule")


# --- a batch -----------------------------------------------------------------------------------


def _scenario(organization) -> list:
    """The same members, rules and events in any organization: events out of time order,
    repeats, a tie on time, values below, at and above minimums, events matching nothing, and
    a milestone already achieved by hand."""
    members = {
        label: MemberFactory(organization=organization, name=label) for label in ("m1", "m2", "m3")
    }
    definitions = {
        "login": MilestoneDefinitionFactory(
            organization=organization, name="Logged in", match_event_name="login"
        ),
        "ten": MilestoneDefinitionFactory(
            organization=organization,
            name="Ten credits",
            match_event_name="credits",
            match_min_value=Decimal("10"),
        ),
        "any": MilestoneDefinitionFactory(
            organization=organization, name="Any credits", match_event_name="credits"
        ),
        "none": MilestoneDefinitionFactory(organization=organization, name="By hand only"),
    }
    for member in members.values():
        for definition in definitions.values():
            ProgressMilestoneFactory(member=member, definition=definition, name=definition.name)
    hand = ProgressMilestone.objects.for_org(organization).get(
        member=members["m3"], definition=definitions["login"]
    )
    milestone_achieve(organization=organization, milestone=hand, achieved_at=_at(-10))
    specs = [
        ("m1", "login", None, 3),
        ("m1", "login", None, -5),
        ("m1", "credits", Decimal("4"), -4),
        ("m1", "credits", Decimal("12"), -2),
        ("m1", "credits", None, -6),
        ("m2", "credits", Decimal("10"), -1),
        ("m2", "page_view", None, -7),
        ("m2", "login", None, 0),
        ("m2", "login", None, 0),
        ("m3", "login", None, -1),
        ("m3", "credits", Decimal("25"), 2),
    ]
    return [
        ContextEventFactory(member=members[label], name=name, value=value, occurred_at=_at(hours))
        for label, name, value, hours in specs
    ]


def _outcome(organization) -> dict:
    """Each milestone's achievement, by member and milestone name, comparable across orgs."""
    rows = ProgressMilestone.objects.for_org(organization).select_related("member", "context_event")
    outcome = {}
    for m in rows:
        event = m.context_event
        outcome[(m.member.name, m.name)] = (
            m.achieved_at,
            m.achieved_via,
            None if event is None else (event.name, event.value, event.occurred_at),
        )
    return outcome


def _event_positions(organization) -> dict:
    """Which of the scenario's events achieved each milestone, by creation order (tie-break)."""
    events = sorted(
        ProgressMilestone.objects.for_org(organization)
        .exclude(context_event=None)
        .values_list("member__name", "name", "context_event_id")
    )
    first_event = min(pk for _, _, pk in events)
    return {(member, name): pk - first_event for member, name, pk in events}


def test_the_batch_equals_the_single_matcher_event_by_event(tenant_a, tenant_b):
    events_a = _scenario(tenant_a.organization)
    events_b = _scenario(tenant_b.organization)

    achieved = milestones_achieve_from_context_events(
        organization=tenant_a.organization, events=events_a
    )
    for event in sorted(events_b, key=lambda e: (e.occurred_at, e.pk)):
        milestones_achieve_from_context_event(organization=tenant_b.organization, event=event)

    outcome = _outcome(tenant_a.organization)
    assert outcome == _outcome(tenant_b.organization)
    assert _event_positions(tenant_a.organization) == _event_positions(tenant_b.organization)
    assert achieved == sum(1 for _, via, _ in outcome.values() if via == "rule")
    # What the scenario means, spelled out.
    assert achieved == 8
    assert outcome[("m1", "Logged in")][0] == _at(-5)
    assert outcome[("m1", "Any credits")][0] == _at(-6)
    assert outcome[("m1", "Ten credits")][0] == _at(-2)
    assert outcome[("m2", "Ten credits")][0] == _at(-1)
    assert outcome[("m3", "Logged in")][:2] == (_at(-10), "manual")
    assert outcome[("m3", "Ten credits")][0] == _at(2)
    assert all(outcome[(m, "By hand only")][0] is None for m in ("m1", "m2", "m3"))
    # Two events at the same moment: the first stored wins, in both forms.
    tie = ProgressMilestone.objects.for_org(tenant_a.organization).get(
        member__name="m2", name="Logged in"
    )
    assert tie.context_event_id == events_a[7].pk


def test_duplicate_events_in_a_batch_achieve_once_by_the_earliest(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    milestone = _rule_milestone(member)
    late = ContextEventFactory(member=member, occurred_at=_at(5))
    early = ContextEventFactory(member=member, occurred_at=_at(1))
    batch = [late, early, late, early, late]
    assert milestones_achieve_from_context_events(organization=org, events=batch) == 1
    milestone.refresh_from_db()
    assert (milestone.achieved_at, milestone.context_event) == (_at(1), early)
    # Sending the batch again, or a later matching event, achieves nothing more.
    assert milestones_achieve_from_context_events(organization=org, events=batch) == 0
    later = ContextEventFactory(member=member, occurred_at=_at(9))
    assert milestones_achieve_from_context_events(organization=org, events=[later]) == 0
    assert milestones_achieve_from_context_event(organization=org, event=later) == []
    milestone.refresh_from_db()
    assert (milestone.achieved_at, milestone.context_event) == (_at(1), early)


def test_an_empty_batch_achieves_nothing(tenant_a, count_queries):
    assert (
        count_queries(
            lambda: milestones_achieve_from_context_events(
                organization=tenant_a.organization, events=[]
            )
        )
        <= 2
    )


def test_a_batch_with_another_organizations_event_is_refused(tenant_a, tenant_b, row_counts):
    ours = MemberFactory(organization=tenant_a.organization)
    _rule_milestone(ours)
    theirs = MemberFactory(organization=tenant_b.organization)
    _rule_milestone(theirs)
    events = [ContextEventFactory(member=ours), ContextEventFactory(member=theirs)]
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestones_achieve_from_context_events(organization=tenant_a.organization, events=events)
    assert "events" in excinfo.value.message_dict
    assert row_counts() == before


def test_a_batch_refuses_unsaved_events(tenant_a, row_counts):
    member = MemberFactory(organization=tenant_a.organization)
    _rule_milestone(member)
    unsaved = ContextEventFactory.build(member=member)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        milestones_achieve_from_context_events(organization=tenant_a.organization, events=[unsaved])
    assert "events" in excinfo.value.message_dict
    assert row_counts() == before


@pytest.mark.parametrize("size", [5, 50])
def test_a_batch_runs_in_constant_queries(tenant_a, count_queries, size):
    org = tenant_a.organization
    members = MemberFactory.create_batch(size, organization=org)
    for member in members:
        _rule_milestone(member)
        _rule_milestone(member, event_name="credits", min_value=Decimal("5"), name="Credits")
    events = [
        ContextEventFactory(member=member, occurred_at=_at(index % 7))
        for index, member in enumerate(members)
    ] + [
        ContextEventFactory(member=member, name="credits", value=Decimal(index % 10))
        for index, member in enumerate(members)
    ]
    results = []
    queries = count_queries(
        lambda: results.append(
            milestones_achieve_from_context_events(organization=org, events=events)
        )
    )
    assert results == [size + sum(1 for index in range(size) if index % 10 >= 5)]
    # savepoint + one read + one update + the milestone.achieved events (one read, one insert)
    # + the batch's one audit summary entry + release
    assert queries == 7
