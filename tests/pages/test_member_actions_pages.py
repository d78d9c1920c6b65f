"""Member 360's work sections (tasks, orchestrated events, nudges, ownership) and My book's side
panels (today's and overdue tasks, events to announce or confirm this week): content,
pagination, htmx fragments, the selectors behind them, and constant query counts."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orchestration.models import Nudge, OrchestratedEvent
from orchestration.selectors import member_events, member_nudges
from outcomes.scoring import success_gaps_recompute
from tests.factories import (
    CommitmentFactory,
    ConditionFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    NudgeFactory,
    OrchestratedEventFactory,
    OwnershipChangeFactory,
    ProgressMilestoneFactory,
    TaskFactory,
)
from tests.members.book_events_reference import events_to_announce_or_confirm

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = OrchestratedEvent.Status


def url(name: str, tenant, **kwargs) -> str:
    return reverse(name, kwargs={"org_slug": tenant.organization.slug, **kwargs})


def today():
    return timezone.localdate()


def event_with_nudges(member, **fields) -> OrchestratedEvent:
    """An event with its announcement (sent) and a reminder (scheduled)."""
    event = OrchestratedEventFactory(member=member, **fields)
    NudgeFactory(
        member=member,
        event=event,
        kind=Nudge.Kind.ANNOUNCEMENT,
        status=Nudge.Status.SENT,
        scheduled_for=event.scheduled_for - dt.timedelta(days=14),
        subject=f"Coming up: {event.title}",
    )
    NudgeFactory(
        member=member,
        event=event,
        kind=Nudge.Kind.REMINDER,
        scheduled_for=event.scheduled_for - dt.timedelta(days=2),
        subject=f"Reminder: {event.title}",
    )
    return event


# --- Member 360 -----------------------------------------------------------------------------------


def test_member_360_shows_tasks_events_nudges_and_hand_offs(login, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    TaskFactory(member=member, owner=tenant_a.msm, title="Book the strategy session")
    TaskFactory(
        member=member,
        owner=tenant_a.msm,
        title="Send the welcome pack",
        due_on=today() - dt.timedelta(days=4),
    )
    event_with_nudges(member, title="Certification exam", status=Status.ANNOUNCED)
    NudgeFactory(member=member, subject="Your learning plan is ready", status=Nudge.Status.FAILED)
    OwnershipChangeFactory(
        member=member,
        from_seat=tenant_a.admin,
        to_seat=tenant_a.msm,
        changed_by=tenant_a.admin,
        note="Knows the chapter leads well",
    )
    body = (
        login(tenant_a.viewer)
        .get(url("members:detail", tenant_a, member_id=member.pk))
        .content.decode()
    )
    for text in (
        "Tasks",
        "Book the strategy session",
        "overdue, due",
        "Orchestrated events",
        "Certification exam",
        "Announced",
        "Announcement",
        "Reminder",
        "sent",
        "scheduled",
        "Nudges",
        "Your learning plan is ready",
        "failed",
        "Ownership",
        "Knows the chapter leads well",
        tenant_a.admin.user.display_name,
    ):
        assert text in body, text
    # Headings in order: one h1, then the sections' h2s.
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", body)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))


def test_member_360_sections_paginate_through_htmx(login, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    for n in range(12):
        TaskFactory(member=member, title=f"Task number {n:02d}", due_on=today() + dt.timedelta(n))
    client = login(tenant_a.msm)
    detail = url("members:detail", tenant_a, member_id=member.pk)
    page = client.get(detail).content.decode()
    assert "Task number 00" in page and "Task number 11" not in page
    assert 'href="?tasks_page=2#tasks"' in page  # works without JavaScript
    assert 'hx-get="?section=tasks&amp;tasks_page=2"' in page
    fragment = client.get(detail + "?section=tasks&tasks_page=2", **HTMX)
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="tasks"')
    assert "Task number 11" in body and "Task number 00" not in body
    assert "Page 2 of 2" in body
    # An unknown section answers the whole page, never an error.
    assert "<html" in client.get(detail + "?section=nope", **HTMX).content.decode()


def grow_member_360(tenant, anchor, n: int) -> None:
    """n more rows of every kind the Member 360 page shows, for the anchor member."""
    goal = GoalFactory(desired_outcome__member=anchor)
    for _ in range(n):
        ConditionFactory(goal=goal)
        CommitmentFactory(goal=goal, party="together")
        ProgressMilestoneFactory(member=anchor)
        TaskFactory(member=anchor, owner=tenant.msm)
        event_with_nudges(anchor)
        NudgeFactory(member=anchor)
        OwnershipChangeFactory(member=anchor, from_seat=tenant.admin, to_seat=tenant.msm)
        EngagementFactory(member=anchor, seat=tenant.msm)
    success_gaps_recompute(organization=tenant.organization)


@pytest.mark.parametrize("role", ["msm", "viewer"])
def test_member_360_uses_a_constant_number_of_queries(login, tenant_a, role):
    anchor = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    client = login(tenant_a.seat(role))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("members:detail", tenant_a, member_id=anchor.pk))
            assert response.status_code == 200
        return len(queries)

    grow_member_360(tenant_a, anchor, 5)
    small = count()
    grow_member_360(tenant_a, anchor, 45)
    assert count() == small


# --- My book ----------------------------------------------------------------------------------------


def test_my_book_lists_my_tasks_for_today_and_overdue(login, tenant_a):
    mine = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm, name="Mia Mine")
    TaskFactory(member=mine, owner=tenant_a.msm, title="Today's call")
    TaskFactory(
        member=mine,
        owner=tenant_a.msm,
        title="Late follow-up",
        due_on=today() - dt.timedelta(days=5),
    )
    TaskFactory(
        member=mine,
        owner=tenant_a.msm,
        title="Next week's prep",
        due_on=today() + dt.timedelta(days=7),
    )
    TaskFactory(member=mine, owner=tenant_a.msm, title="Already done", done_at=timezone.now())
    TaskFactory(member=mine, owner=tenant_a.admin, title="The admin's task")
    body = login(tenant_a.msm).get(url("members:book", tenant_a)).content.decode()
    panel = html.unescape(re.search(r'<section id="tasks-panel".*?</section>', body, re.S)[0])
    assert "Today and overdue" in panel
    assert "Today's call" in panel and "due today" in panel
    assert "Late follow-up" in panel and "overdue, due" in panel
    assert panel.index("Late follow-up") < panel.index("Today's call")  # oldest first
    assert "Mia Mine" in panel
    for absent in ("Next week's prep", "Already done", "The admin's task"):
        assert absent not in panel, absent
    assert "2 open tasks due today or overdue" in panel
    assert 'name="from" value="book"' in panel


def test_my_book_lists_events_to_announce_or_confirm_this_week(login, tenant_a):
    mine = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm, name="Ned Mine")
    other = MemberFactory(organization=tenant_a.organization, owner=tenant_a.admin)
    soon = timezone.now() + dt.timedelta(days=3)
    OrchestratedEventFactory(member=mine, title="Chapter welcome", scheduled_for=soon)
    event_with_nudges(mine, title="Board review", scheduled_for=soon, status=Status.ANNOUNCED)
    OrchestratedEventFactory(
        member=mine,
        title="Exam sitting",
        scheduled_for=timezone.now() - dt.timedelta(days=2),
        status=Status.HAPPENED,
        happened_at=timezone.now() - dt.timedelta(days=2),
    )
    OrchestratedEventFactory(member=mine, title="Far-off gala")  # in 21 days
    OrchestratedEventFactory(
        member=mine,
        title="Confirmed course",
        scheduled_for=timezone.now() - dt.timedelta(days=1),
        status=Status.CONFIRMED,
    )
    OrchestratedEventFactory(
        member=mine, title="Called-off visit", scheduled_for=soon, status=Status.CANCELLED
    )
    OrchestratedEventFactory(member=other, title="Not my member's", scheduled_for=soon)
    body = login(tenant_a.msm).get(url("members:book", tenant_a)).content.decode()
    panel = html.unescape(re.search(r'<section id="events-panel".*?</section>', body, re.S)[0])
    assert "Chapter welcome" in panel and "not announced yet" in panel
    assert "Board review" in panel and "Reminder" in panel
    assert "Exam sitting" in panel and "awaiting the member's confirmation" in panel
    assert "Ned Mine" in panel
    for absent in ("Far-off gala", "Confirmed course", "Called-off visit", "Not my member's"):
        assert absent not in panel, absent


def test_my_book_panels_paginate_through_htmx(login, tenant_a):
    mine = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    for n in range(12):
        TaskFactory(
            member=mine,
            owner=tenant_a.msm,
            title=f"Overdue {n:02d}",
            due_on=today() - dt.timedelta(days=20 - n),
        )
    client = login(tenant_a.msm)
    book = url("members:book", tenant_a)
    page = client.get(book + "?tier=Gold").content.decode()
    assert "Overdue 00" in page and "Overdue 11" not in page
    assert 'href="?tier=Gold&amp;tasks_page=2#tasks-panel"' in page  # filters kept
    fragment = client.get(book + "?tier=Gold&panel=tasks&tasks_page=2", **HTMX).content.decode()
    assert fragment.lstrip().startswith('<section id="tasks-panel"')
    assert "Overdue 11" in fragment and "Overdue 00" not in fragment
    events = client.get(book + "?panel=events", **HTMX).content.decode()
    assert events.lstrip().startswith('<section id="events-panel"')


def test_my_book_draws_the_direction_mix(login, tenant_a):
    mine = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    EngagementFactory(member=mine, seat=tenant_a.msm)
    body = login(tenant_a.msm).get(url("members:book", tenant_a)).content.decode()
    assert '<rect class="mix-outbound_proactive" x="0.00%" y="0" width="100.00%"' in body
    assert (
        'aria-label="Direction mix: Inbound, reactive 0%, Outbound, reactive 0%, Outbound, proactive 100%"'
        in body
    )


def grow_book(tenant, n: int) -> None:
    for _ in range(n):
        member = MemberFactory(organization=tenant.organization, owner=tenant.msm)
        TaskFactory(member=member, owner=tenant.msm)
        TaskFactory(member=member, owner=tenant.msm, due_on=today() - dt.timedelta(days=3))
        event_with_nudges(member, scheduled_for=timezone.now() + dt.timedelta(days=2))
        OrchestratedEventFactory(
            member=member,
            status=Status.HAPPENED,
            scheduled_for=timezone.now() - dt.timedelta(days=1),
        )
        EngagementFactory(member=member, seat=tenant.msm)
    success_gaps_recompute(organization=tenant.organization)


def test_my_book_uses_a_constant_number_of_queries(login, tenant_a):
    client = login(tenant_a.msm)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("members:book", tenant_a)).status_code == 200
        return len(queries)

    grow_book(tenant_a, 5)
    small = count()
    grow_book(tenant_a, 45)
    assert count() == small


# --- the selectors behind the sections -----------------------------------------------------------------


def test_member_events_come_with_their_nudges_in_two_queries(tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization)
    for days in (3, 10, 30):
        event_with_nudges(member, scheduled_for=timezone.now() + dt.timedelta(days=days))
    NudgeFactory(member=member, kind=Nudge.Kind.MESSAGE)  # not about an event
    event_with_nudges(MemberFactory(organization=tenant_a.organization))
    event_with_nudges(MemberFactory(organization=tenant_b.organization))
    with CaptureQueriesContext(connection) as queries:
        events = list(member_events(organization=tenant_a.organization, member=member))
        kinds = [[nudge.kind for nudge in event.event_nudges] for event in events]
    assert len(queries) == 2
    assert [e.scheduled_for for e in events] == sorted(
        (e.scheduled_for for e in events), reverse=True
    )
    assert kinds == [["announcement", "reminder"]] * 3


def test_member_nudges_are_the_members_latest_first(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    old = NudgeFactory(member=member, scheduled_for=timezone.now() - dt.timedelta(days=3))
    new = NudgeFactory(member=member)
    NudgeFactory(member=MemberFactory(organization=tenant_a.organization))
    with CaptureQueriesContext(connection) as queries:
        nudges = list(member_nudges(organization=tenant_a.organization, member=member))
        [nudge.event for nudge in nudges]
    assert len(queries) == 1
    assert nudges == [new, old]


def test_events_to_announce_or_confirm_is_the_week_of_one_owner(tenant_a):
    mine = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    now = timezone.now()
    wanted = [
        OrchestratedEventFactory(
            member=mine, scheduled_for=now + dt.timedelta(days=1), status=Status.PLANNED
        ),
        OrchestratedEventFactory(
            member=mine, scheduled_for=now + dt.timedelta(days=6), status=Status.ANNOUNCED
        ),
        OrchestratedEventFactory(
            member=mine, scheduled_for=now - dt.timedelta(days=20), status=Status.HAPPENED
        ),
    ]
    for fields in (
        {"scheduled_for": now + dt.timedelta(days=8)},
        {"scheduled_for": now - dt.timedelta(hours=1)},  # past and never marked: not "coming"
        {"scheduled_for": now + dt.timedelta(days=1), "status": Status.CANCELLED},
        {"scheduled_for": now - dt.timedelta(days=1), "status": Status.CONFIRMED},
        {"scheduled_for": now - dt.timedelta(days=1), "status": Status.MISSED},
    ):
        OrchestratedEventFactory(member=mine, **fields)
    OrchestratedEventFactory(
        member=MemberFactory(organization=tenant_a.organization, owner=tenant_a.admin),
        scheduled_for=now + dt.timedelta(days=1),
    )
    with CaptureQueriesContext(connection) as queries:
        events = list(
            events_to_announce_or_confirm(
                organization=tenant_a.organization, owner=tenant_a.msm, now=now
            )
        )
        [(event.member.name, event.event_nudges) for event in events]
    assert len(queries) == 2
    assert events == sorted(wanted, key=lambda e: e.scheduled_for)


def test_the_selectors_refuse_another_organizations_rows(tenant_a, tenant_b):
    from django.core.exceptions import ValidationError

    theirs = MemberFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as refused:
        member_events(organization=tenant_a.organization, member=theirs)
    assert "member" in refused.value.message_dict
    with pytest.raises(ValidationError):
        member_nudges(organization=tenant_a.organization, member=theirs)
    with pytest.raises(ValidationError) as refused:
        events_to_announce_or_confirm(organization=tenant_a.organization, owner=tenant_b.msm)
    assert "owner" in refused.value.message_dict
