"""The anticipation rate: of the events that happened, the share whose announcement was sent at
least its lead time before (with an hour of grace for the dispatcher) — per organization, per
seat and per playbook, each in one query."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import Member
from orchestration.events import (
    orchestrated_event_announce,
    orchestrated_event_create,
    orchestrated_event_mark_happened,
)
from orchestration.models import Nudge, OrchestratedEvent
from orchestration.selectors import (
    ANNOUNCEMENT_GRACE,
    anticipation_rate,
    anticipation_rate_by_playbook,
    anticipation_rate_by_seat,
)
from tests.factories import (
    EnrollmentFactory,
    MemberFactory,
    NudgeFactory,
    OrchestratedEventFactory,
    PlaybookFactory,
    SeatFactory,
)

Status = OrchestratedEvent.Status
UTC = dt.UTC
# Every event of the worked example: 20 March 2025 at 10:00 UTC, lead days [14, 2].
AT = dt.datetime(2025, 3, 20, 10, 0, tzinfo=UTC)
LEAD = dt.timedelta(days=14)
DUE = AT - LEAD  # the announcement is due on 6 March at 10:00; counted if sent by 11:00


def _event(organization, status=Status.HAPPENED, *, member=None, enrollment=None, at=AT, **fields):
    member = member or MemberFactory(organization=organization)
    fields.setdefault("lead_days", [14, 2])
    return OrchestratedEventFactory(
        organization=organization,
        member=member,
        status=status,
        scheduled_for=at,
        announced_at=at - dt.timedelta(days=20),
        happened_at=at if status in (Status.HAPPENED, Status.CONFIRMED) else None,
        enrollment=enrollment,
        **fields,
    )


def _nudge(event, *, kind=Nudge.Kind.ANNOUNCEMENT, sent_at=None, status=Nudge.Status.SENT):
    days = 14 if kind == Nudge.Kind.ANNOUNCEMENT else 2
    return NudgeFactory(
        organization=event.organization,
        member=event.member,
        event=event,
        kind=kind,
        idempotency_key=f"event:{event.pk}:lead:{days}",
        scheduled_for=event.scheduled_for - dt.timedelta(days=days),
        status=status,
        sent_at=sent_at if status == Nudge.Status.SENT else None,
    )


def _worked_example(organization, *, owner=None, enrollment=None):
    """Four events that happened: two announced in time, one late, one never announced.
    Anticipation rate: 2 of 4 = 50%. Plus events that did not happen, which do not count."""
    at = AT

    def member():
        return MemberFactory(organization=organization, owner=owner)

    on_time = _event(organization, member=member(), enrollment=enrollment, at=at)
    _nudge(on_time, sent_at=at - LEAD + dt.timedelta(seconds=30))
    _nudge(on_time, kind=Nudge.Kind.REMINDER, sent_at=at - dt.timedelta(days=2))

    within_grace = _event(
        organization, Status.CONFIRMED, member=member(), enrollment=enrollment, at=at
    )
    _nudge(within_grace, sent_at=at - LEAD + dt.timedelta(minutes=59))

    late = _event(organization, member=member(), enrollment=enrollment, at=at)
    _nudge(late, sent_at=at - dt.timedelta(days=5))  # nine days late

    never = _event(organization, member=member(), enrollment=enrollment, at=at)
    _nudge(never, status=Nudge.Status.FAILED)  # the announcement never went out…
    _nudge(never, kind=Nudge.Kind.REMINDER, sent_at=at - dt.timedelta(days=20))  # …a reminder did

    # Not happened: announced in time, but they are not in the rate at all.
    for status in (Status.ANNOUNCED, Status.MISSED, Status.CANCELLED):
        other = _event(organization, status, member=member(), enrollment=enrollment, at=at)
        _nudge(other, sent_at=at - LEAD)
    return on_time, within_grace, late, never


def test_the_worked_example_is_fifty_percent(tenant_a, tenant_b):
    _worked_example(tenant_a.organization)
    # Another organization's perfect record does not leak in.
    theirs = _event(tenant_b.organization)
    _nudge(theirs, sent_at=DUE)
    assert anticipation_rate(organization=tenant_a.organization) == {
        "events": 4,
        "anticipated": 2,
        "rate": 0.5,
    }
    assert anticipation_rate(organization=tenant_b.organization) == {
        "events": 1,
        "anticipated": 1,
        "rate": 1.0,
    }


@pytest.mark.parametrize(
    ("sent_after_due", "anticipated"),
    [
        (-dt.timedelta(days=3), True),  # earlier than needed
        (dt.timedelta(0), True),
        (ANNOUNCEMENT_GRACE, True),  # the last second of grace
        (ANNOUNCEMENT_GRACE + dt.timedelta(seconds=1), False),
        (dt.timedelta(days=13), False),
    ],
)
def test_the_deadline_is_the_lead_time_before_plus_an_hour(tenant_a, sent_after_due, anticipated):
    event = _event(tenant_a.organization)
    _nudge(event, sent_at=DUE + sent_after_due)
    assert anticipation_rate(organization=tenant_a.organization)["anticipated"] == int(anticipated)


def test_the_lead_is_the_events_own_first_lead_day(tenant_a):
    """Sent 10 days before: in time for a 7-day lead, late for a 14-day one."""
    org = tenant_a.organization
    short = _event(org, lead_days=[7, 1])
    long = _event(org, lead_days=[14, 1])
    for event in (short, long):
        _nudge(event, sent_at=AT - dt.timedelta(days=10))
    assert anticipation_rate(organization=org) == {"events": 2, "anticipated": 1, "rate": 0.5}


def test_an_announcement_still_scheduled_or_sending_does_not_count(tenant_a):
    org = tenant_a.organization
    for status in (Nudge.Status.SCHEDULED, Nudge.Status.SENDING, Nudge.Status.CANCELLED):
        _nudge(_event(org), status=status)
    assert anticipation_rate(organization=org) == {"events": 3, "anticipated": 0, "rate": 0.0}


def test_no_event_happened_gives_no_rate(tenant_a):
    _event(tenant_a.organization, Status.ANNOUNCED)
    assert anticipation_rate(organization=tenant_a.organization) == {
        "events": 0,
        "anticipated": 0,
        "rate": None,
    }


def test_the_period_is_by_when_the_event_was_scheduled(tenant_a):
    org = tenant_a.organization
    march = _event(org)
    _nudge(march, sent_at=DUE)
    april = _event(org, at=AT + dt.timedelta(days=30))
    _nudge(april, sent_at=AT + dt.timedelta(days=25))  # late
    in_march = anticipation_rate(
        organization=org,
        since=dt.datetime(2025, 3, 1, tzinfo=UTC),
        until=dt.datetime(2025, 4, 1, tzinfo=UTC),
    )
    assert in_march == {"events": 1, "anticipated": 1, "rate": 1.0}
    from_april = anticipation_rate(organization=org, since=dt.datetime(2025, 4, 1, tzinfo=UTC))
    assert from_april == {"events": 1, "anticipated": 0, "rate": 0.0}
    assert anticipation_rate(organization=org, until=AT)["events"] == 0  # until is exclusive


def test_through_the_services_an_event_created_inside_its_lead_window_is_not_anticipated(
    tenant_a,
):
    """Both with a 14-day lead, announced on the same day: the one 20 days ahead is announced
    in time; the one 3 days ahead is announced at once, 11 days short of its lead."""
    org = tenant_a.organization
    announced_on = timezone.now() - dt.timedelta(days=30)
    events = []
    for days_ahead in (20, 3):
        event = orchestrated_event_create(
            organization=org,
            member=MemberFactory(organization=org),
            title="Renewal call",
            scheduled_for=announced_on + dt.timedelta(days=days_ahead),
            lead_days=[14],
            announce=False,
        )
        orchestrated_event_announce(organization=org, event=event, now=announced_on)
        events.append(event)
    # The dispatcher sends each announcement twenty seconds after it is due.
    for nudge in Nudge.objects.for_org(org).filter(kind=Nudge.Kind.ANNOUNCEMENT):
        Nudge.objects.for_org(org).filter(pk=nudge.pk).update(
            status=Nudge.Status.SENT, sent_at=nudge.scheduled_for + dt.timedelta(seconds=20)
        )
    for event in events:
        orchestrated_event_mark_happened(organization=org, event=event, at=event.scheduled_for)
    assert anticipation_rate(organization=org) == {"events": 2, "anticipated": 1, "rate": 0.5}


# --- per seat and per playbook -------------------------------------------------------------


def test_by_seat_groups_by_the_members_owner_now(tenant_a):
    org = tenant_a.organization
    ada = SeatFactory(organization=org, user__full_name="Ada Byron")
    bob = SeatFactory(organization=org, user__full_name="Bob Stone")
    _worked_example(org, owner=ada)  # 2 of 4
    bobs = _event(org, member=MemberFactory(organization=org, owner=bob))
    _nudge(bobs, sent_at=DUE)  # 1 of 1
    unowned = _event(org, member=MemberFactory(organization=org, owner=None))  # 0 of 1
    _nudge(unowned, sent_at=AT)

    assert anticipation_rate_by_seat(organization=org) == [
        {"seat_id": ada.pk, "seat_name": "Ada Byron", "events": 4, "anticipated": 2, "rate": 0.5},
        {"seat_id": bob.pk, "seat_name": "Bob Stone", "events": 1, "anticipated": 1, "rate": 1.0},
        {"seat_id": None, "seat_name": "", "events": 1, "anticipated": 0, "rate": 0.0},
    ]

    # Bob takes over the unowned member: the row follows the owner at the time of reading.
    Member.objects.for_org(org).filter(pk=unowned.member_id).update(owner=bob)
    rows = anticipation_rate_by_seat(organization=org)
    assert [(r["seat_id"], r["events"], r["anticipated"]) for r in rows] == [
        (ada.pk, 4, 2),
        (bob.pk, 2, 1),
    ]


def test_by_playbook_groups_by_the_enrolments_playbook(tenant_a):
    org = tenant_a.organization
    onboarding = PlaybookFactory(organization=org, name="Onboarding")
    renewal = PlaybookFactory(organization=org, name="Renewal")
    _worked_example(org, enrollment=EnrollmentFactory(playbook=onboarding, organization=org))
    renewing = MemberFactory(organization=org)
    by_renewal = _event(
        org,
        member=renewing,
        enrollment=EnrollmentFactory(playbook=renewal, organization=org, member=renewing),
    )
    _nudge(by_renewal, sent_at=DUE)
    by_hand = _event(org)
    _nudge(by_hand, sent_at=DUE + dt.timedelta(days=1))

    assert anticipation_rate_by_playbook(organization=org) == [
        {
            "playbook_id": onboarding.pk,
            "playbook_name": "Onboarding",
            "events": 4,
            "anticipated": 2,
            "rate": 0.5,
        },
        {
            "playbook_id": renewal.pk,
            "playbook_name": "Renewal",
            "events": 1,
            "anticipated": 1,
            "rate": 1.0,
        },
        {"playbook_id": None, "playbook_name": "", "events": 1, "anticipated": 0, "rate": 0.0},
    ]


def test_grouped_rates_leave_other_organizations_out(tenant_a, tenant_b):
    theirs = _event(
        tenant_b.organization,
        member=MemberFactory(organization=tenant_b.organization, owner=tenant_b.msm),
    )
    _nudge(theirs, sent_at=DUE)
    assert anticipation_rate_by_seat(organization=tenant_a.organization) == []
    assert anticipation_rate_by_playbook(organization=tenant_a.organization) == []


# --- query counts --------------------------------------------------------------------------------


SELECTORS = [anticipation_rate, anticipation_rate_by_seat, anticipation_rate_by_playbook]


def _queries(selector, organization) -> int:
    with CaptureQueriesContext(connection) as context:
        selector(organization=organization)
    return len(context.captured_queries)


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.__name__)
def test_each_rate_is_one_query_for_5_or_50_events(tenant_a, selector):
    org = tenant_a.organization
    seats = [SeatFactory(organization=org) for _ in range(3)]
    playbooks = [PlaybookFactory(organization=org) for _ in range(3)]

    def add(count: int, offset: int) -> None:
        for i in range(offset, offset + count):
            playbook = playbooks[i % 3]
            member = MemberFactory(organization=org, owner=seats[i % 3])
            enrollment = EnrollmentFactory(playbook=playbook, organization=org, member=member)
            event = _event(org, member=member, enrollment=enrollment, at=AT + dt.timedelta(i))
            _nudge(event, sent_at=event.scheduled_for - dt.timedelta(days=14 - i % 2))

    add(5, 0)
    small = _queries(selector, org)
    add(45, 5)
    assert anticipation_rate(organization=org)["events"] == 50
    assert _queries(selector, org) == small == 1
