"""Engagement and context writes: what is recorded, and every bad input refused with the
field named and nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagement.choices import EngagementType
from engagement.models import ContextEvent, Engagement
from engagement.services import (
    context_event_record,
    engagement_record,
    engagement_record_for_many,
)
from tenancy.scope import UnscopedQueryError, organization_scope
from tests.factories import GoalFactory, MemberFactory

INBOUND = Engagement.Direction.INBOUND_REACTIVE
PROACTIVE = Engagement.Direction.OUTBOUND_PROACTIVE


def engagements_count() -> int:
    return Engagement.objects.unscoped().count()


def events_count() -> int:
    return ContextEvent.objects.unscoped().count()


def refused(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(excinfo.value.message_dict)


@pytest.fixture
def member(tenant_a):
    return MemberFactory(organization=tenant_a.organization)


@pytest.fixture
def an_hour_ago():
    return timezone.now() - dt.timedelta(hours=1)


# --- engagement_record -------------------------------------------------------------------


def test_engagement_is_recorded_with_seat_goal_and_duration(tenant_a, member, an_hour_ago):
    goal = GoalFactory(desired_outcome__member=member)
    engagement = engagement_record(
        organization=tenant_a.organization,
        member=member,
        direction=PROACTIVE,
        type=EngagementType.MEETING_1_1,
        occurred_at=an_hour_ago,
        seat=tenant_a.msm,
        summary="  Planned the credential path  ",
        goal=goal,
        duration_minutes=45,
    )
    stored = Engagement.objects.for_org(tenant_a.organization).get(pk=engagement.pk)
    assert (stored.member, stored.seat, stored.goal) == (member, tenant_a.msm, goal)
    assert stored.direction == PROACTIVE and stored.type == EngagementType.MEETING_1_1
    assert stored.summary == "Planned the credential path"
    assert stored.duration_minutes == 45 and stored.occurred_at == an_hour_ago
    assert stored.group_key is None


def test_engagement_without_a_seat_is_automated(tenant_a, member, an_hour_ago):
    engagement = engagement_record(
        organization=tenant_a.organization,
        member=member,
        direction=PROACTIVE,
        type=EngagementType.EMAIL,
        occurred_at=an_hour_ago,
    )
    assert engagement.seat is None and engagement.pk is not None


def test_engagement_a_few_seconds_ahead_is_accepted(tenant_a, member):
    """Clock drift of less than a minute is not the future."""
    engagement_record(
        organization=tenant_a.organization,
        member=member,
        direction=INBOUND,
        type=EngagementType.CHAT,
        occurred_at=timezone.now() + dt.timedelta(seconds=30),
    )
    assert engagements_count() == 1


def _other_members_goal(tenant_a, tenant_b):
    return GoalFactory(desired_outcome__member=MemberFactory(organization=tenant_a.organization))


def _foreign_goal(tenant_a, tenant_b):
    return GoalFactory(desired_outcome__member=MemberFactory(organization=tenant_b.organization))


BAD_ENGAGEMENTS = [
    pytest.param("direction", lambda a, b: "sideways", "direction", id="unknown direction"),
    pytest.param("type", lambda a, b: "carrier_pigeon", "type", id="unknown type"),
    pytest.param("goal", _other_members_goal, "goal", id="goal of another member"),
    pytest.param("goal", _foreign_goal, "goal", id="goal of another organization"),
    pytest.param("seat", lambda a, b: b.msm, "seat", id="seat of another organization"),
    pytest.param(
        "member",
        lambda a, b: MemberFactory(organization=b.organization),
        "member",
        id="member of another organization",
    ),
    pytest.param(
        "occurred_at",
        lambda a, b: timezone.now() + dt.timedelta(minutes=5),
        "occurred_at",
        id="in the future",
    ),
    pytest.param(
        "occurred_at",
        lambda a, b: timezone.now().replace(tzinfo=None),
        "occurred_at",
        id="naive time",
    ),
    pytest.param(
        "occurred_at", lambda a, b: timezone.now().date(), "occurred_at", id="a date, not a time"
    ),
    pytest.param("duration_minutes", lambda a, b: -5, "duration_minutes", id="negative"),
    pytest.param("duration_minutes", lambda a, b: "an hour", "duration_minutes", id="text"),
]


@pytest.mark.parametrize(("argument", "make_value", "field"), BAD_ENGAGEMENTS)
def test_bad_engagement_is_refused_and_nothing_written(
    tenant_a, tenant_b, member, argument, make_value, field
):
    arguments = {
        "organization": tenant_a.organization,
        "member": member,
        "direction": INBOUND,
        "type": EngagementType.CHAT,
        "occurred_at": timezone.now() - dt.timedelta(hours=1),
        "seat": tenant_a.msm,
    }
    arguments[argument] = make_value(tenant_a, tenant_b)
    with pytest.raises(ValidationError) as excinfo:
        engagement_record(**arguments)
    assert field in refused(excinfo)
    assert engagements_count() == 0


def test_every_problem_is_named_at_once(tenant_a, tenant_b, member, an_hour_ago):
    with pytest.raises(ValidationError) as excinfo:
        engagement_record(
            organization=tenant_a.organization,
            member=member,
            direction="sideways",
            type="carrier_pigeon",
            occurred_at=an_hour_ago,
            seat=tenant_b.msm,
        )
    assert refused(excinfo) == {"direction", "type", "seat"}
    assert engagements_count() == 0


# --- engagement_record_for_many ----------------------------------------------------------


def test_one_to_many_engagement_is_one_insert_with_a_shared_group_key(tenant_a, an_hour_ago):
    members = MemberFactory.create_batch(3, organization=tenant_a.organization)
    with CaptureQueriesContext(connection) as captured:
        rows = engagement_record_for_many(
            organization=tenant_a.organization,
            members=[*members, members[0]],  # a member listed twice is engaged once
            direction=PROACTIVE,
            type=EngagementType.BROADCAST_VIDEO,
            occurred_at=an_hour_ago,
            seat=tenant_a.msm,
            summary="Quarterly update video",
        )
    inserts = [
        q
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith("INSERT")
        and "audit_auditentry" not in q["sql"]  # the one audit summary entry of the write
    ]
    assert len(inserts) == 1
    assert [row.member for row in rows] == members
    stored = list(Engagement.objects.for_org(tenant_a.organization))
    assert len(stored) == 3
    assert len({row.group_key for row in stored}) == 1 and stored[0].group_key is not None
    assert {row.member_id for row in stored} == {m.pk for m in members}
    assert {(r.type, r.direction, r.seat_id, r.summary) for r in stored} == {
        (EngagementType.BROADCAST_VIDEO, PROACTIVE, tenant_a.msm.pk, "Quarterly update video")
    }


def test_two_one_to_many_engagements_have_different_group_keys(tenant_a, an_hour_ago):
    members = MemberFactory.create_batch(2, organization=tenant_a.organization)
    arguments = {
        "organization": tenant_a.organization,
        "members": members,
        "direction": PROACTIVE,
        "type": EngagementType.EVENT,
        "occurred_at": an_hour_ago,
    }
    first = engagement_record_for_many(**arguments)
    second = engagement_record_for_many(**arguments)
    assert first[0].group_key != second[0].group_key


@pytest.mark.parametrize(
    "one_to_one", [EngagementType.MEETING_1_1, EngagementType.CALL, EngagementType.CHAT]
)
def test_one_to_one_type_for_many_members_is_refused(tenant_a, an_hour_ago, one_to_one):
    members = MemberFactory.create_batch(2, organization=tenant_a.organization)
    with pytest.raises(ValidationError) as excinfo:
        engagement_record_for_many(
            organization=tenant_a.organization,
            members=members,
            direction=PROACTIVE,
            type=one_to_one,
            occurred_at=an_hour_ago,
        )
    assert refused(excinfo) == {"type"}
    assert engagements_count() == 0


def test_a_foreign_member_in_the_list_writes_nothing(tenant_a, tenant_b, an_hour_ago):
    members = MemberFactory.create_batch(3, organization=tenant_a.organization)
    intruder = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as excinfo:
        engagement_record_for_many(
            organization=tenant_a.organization,
            members=[*members, intruder],
            direction=PROACTIVE,
            type=EngagementType.ASYNC_VIDEO_1_MANY,
            occurred_at=an_hour_ago,
        )
    assert refused(excinfo) == {"members"}
    assert engagements_count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"members": []}, "members"),
        ({"direction": "sideways"}, "direction"),
        ({"type": "carrier_pigeon"}, "type"),
        ({"occurred_at": "future"}, "occurred_at"),
        ({"seat": "foreign"}, "seat"),
    ],
)
def test_bad_one_to_many_input_is_refused(tenant_a, tenant_b, changes, field):
    members = MemberFactory.create_batch(2, organization=tenant_a.organization)
    arguments = {
        "organization": tenant_a.organization,
        "members": members,
        "direction": PROACTIVE,
        "type": EngagementType.EVENT,
        "occurred_at": timezone.now() - dt.timedelta(hours=1),
        **changes,
    }
    if arguments["occurred_at"] == "future":
        arguments["occurred_at"] = timezone.now() + dt.timedelta(days=1)
    if arguments.get("seat") == "foreign":
        arguments["seat"] = tenant_b.msm
    with pytest.raises(ValidationError) as excinfo:
        engagement_record_for_many(**arguments)
    assert field in refused(excinfo)
    assert engagements_count() == 0


def test_one_to_many_inside_another_organizations_scope_is_refused(tenant_a, tenant_b, an_hour_ago):
    """bulk_create skips the guarded save; the service applies the same guard itself."""
    members = MemberFactory.create_batch(2, organization=tenant_a.organization)
    with organization_scope(tenant_b.organization), pytest.raises(UnscopedQueryError):
        engagement_record_for_many(
            organization=tenant_a.organization,
            members=members,
            direction=PROACTIVE,
            type=EngagementType.EVENT,
            occurred_at=an_hour_ago,
        )
    assert engagements_count() == 0


# --- context_event_record ----------------------------------------------------------------


def record_event(organization, member, **changes):
    arguments = {
        "organization": organization,
        "member": member,
        "kind": ContextEvent.Kind.USAGE,
        "name": "course_completed",
        "occurred_at": timezone.now() - dt.timedelta(hours=1),
        "value": 3,
        **changes,
    }
    return context_event_record(**arguments)


def test_context_event_is_recorded_outside_any_scope(tenant_a, member):
    event = record_event(
        tenant_a.organization,
        member,
        value="12.5",
        payload={"course": "ethics-101"},
        source=ContextEvent.Source.API,
        external_id="lms-1",
    )
    stored = ContextEvent.objects.for_org(tenant_a.organization).get(pk=event.pk)
    assert stored.value == Decimal("12.5")
    assert stored.payload == {"course": "ethics-101"}
    assert (stored.source, stored.external_id, stored.name) == ("api", "lms-1", "course_completed")


def test_context_event_is_recorded_inside_its_organizations_scope(tenant_a, member):
    with organization_scope(tenant_a.organization):
        record_event(tenant_a.organization, member, external_id="lms-2")
    assert events_count() == 1


def test_context_event_value_keeps_four_decimal_places(tenant_a, member):
    event = record_event(tenant_a.organization, member, value=1 / 3)
    event.refresh_from_db()
    assert event.value == Decimal("0.3333")


def test_context_event_without_a_value(tenant_a, member):
    event = record_event(tenant_a.organization, member, value=None, name="team.lead-changed")
    assert event.value is None and event.payload == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"source": "rumour"}, "source"),
        ({"name": ""}, "name"),
        ({"name": "course completed!"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"value": "lots"}, "value"),
        ({"value": True}, "value"),
        ({"value": float("nan")}, "value"),
        ({"value": [1, 2]}, "value"),
        ({"value": Decimal("1e12")}, "value"),
        ({"payload": ["not", "a", "dict"]}, "payload"),
        ({"payload": "text"}, "payload"),
        ({"external_id": "x" * 121}, "external_id"),
        ({"occurred_at": "future"}, "occurred_at"),
        ({"member": "foreign"}, "member"),
    ],
)
def test_bad_context_event_is_refused_and_nothing_written(
    tenant_a, tenant_b, member, changes, field
):
    if changes.get("occurred_at") == "future":
        changes["occurred_at"] = timezone.now() + dt.timedelta(hours=1)
    if changes.get("member") == "foreign":
        changes["member"] = MemberFactory(organization=tenant_b.organization)
    arguments = {"member": member, **changes}
    with pytest.raises(ValidationError) as excinfo:
        record_event(tenant_a.organization, **arguments)
    assert field in refused(excinfo)
    assert events_count() == 0


def test_duplicate_external_id_is_stored_once_and_returns_the_first(tenant_a, member):
    first = record_event(tenant_a.organization, member, external_id="crm-42", value=1)
    again = record_event(tenant_a.organization, member, external_id="crm-42", value=99)
    assert again.pk == first.pk
    assert again.value == Decimal("1")
    assert ContextEvent.objects.for_org(tenant_a.organization).count() == 1


def test_same_external_id_in_two_organizations_is_two_events(tenant_a, tenant_b, member):
    member_b = MemberFactory(organization=tenant_b.organization)
    event_a = record_event(tenant_a.organization, member, external_id="crm-42")
    event_b = record_event(tenant_b.organization, member_b, external_id="crm-42")
    assert event_a.pk != event_b.pk
    assert event_b.organization == tenant_b.organization
    assert events_count() == 2


def test_events_without_external_id_are_never_merged(tenant_a, member):
    record_event(tenant_a.organization, member)
    record_event(tenant_a.organization, member)
    assert events_count() == 2
