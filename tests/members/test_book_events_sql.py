"""My book's events panel read with fixed SQL (``events_to_announce_or_confirm_page``) shows
what the ORM reference ``events_to_announce_or_confirm`` selects, paged as ``counted_page``
paged it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.paging import counted_page
from orchestration.models import Nudge, OrchestratedEvent
from orchestration.selectors import events_to_announce_or_confirm_page
from tests.factories import MemberFactory, NudgeFactory, OrchestratedEventFactory
from tests.members.book_events_reference import events_to_announce_or_confirm

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=123456)
Status = OrchestratedEvent.Status


@pytest.fixture
def events(tenant_a, tenant_b):
    """Events in and out of the panel: to announce this week (at its very edges too), told,
    happened with and without the member's confirmation, someone else's, another
    organization's; nudges of every kind on some of them."""
    organization, seat = tenant_a.organization, tenant_a.msm
    mine = [
        MemberFactory(organization=organization, owner=seat, name=name)
        for name in ("Ann <b>", "Bo & Co")
    ]
    theirs = MemberFactory(organization=organization, owner=tenant_a.admin)
    cases = [
        (Status.PLANNED, dt.timedelta(days=1), None),
        (Status.PLANNED, dt.timedelta(0), None),  # exactly now: in
        (Status.PLANNED, dt.timedelta(days=7), None),  # exactly a week on: out
        (Status.PLANNED, dt.timedelta(days=7, microseconds=-1), None),
        (Status.PLANNED, -dt.timedelta(microseconds=1), None),  # a moment ago: out
        (Status.ANNOUNCED, dt.timedelta(days=3), NOW),
        (Status.ANNOUNCED, dt.timedelta(days=9), None),
        (Status.HAPPENED, -dt.timedelta(days=20), None),
        (Status.HAPPENED, -dt.timedelta(days=2), NOW),
        (Status.MISSED, dt.timedelta(days=1), None),
    ]
    for index, (status, offset, confirmed_at) in enumerate(cases * 2):
        event = OrchestratedEventFactory(
            member=mine[index % 2],
            title=f"Event <{index:02d}>",
            status=status,
            scheduled_for=NOW + offset + dt.timedelta(minutes=index // len(cases)),
            confirmed_at=confirmed_at,
        )
        for kind in list(Nudge.Kind)[: index % 4]:
            NudgeFactory(
                member=event.member,
                event=event,
                kind=kind,
                status=Nudge.Status.SENT if index % 3 else Nudge.Status.SCHEDULED,
                scheduled_for=NOW - dt.timedelta(days=index),
            )
    OrchestratedEventFactory(member=theirs, status=Status.PLANNED, scheduled_for=NOW)
    other = MemberFactory(organization=tenant_b.organization, owner=tenant_b.msm)
    OrchestratedEventFactory(member=other, status=Status.PLANNED, scheduled_for=NOW)
    return tenant_a


def _shown(event) -> tuple:
    """What the panel shows of an event, from a model instance or a ``BookEvent``."""
    name = event.member_name if hasattr(event, "member_name") else event.member.name
    nudges = [
        (
            getattr(nudge, "kind_label", None) or nudge.get_kind_display(),
            getattr(nudge, "status_label", None) or nudge.get_status_display(),
            nudge.scheduled_for,
        )
        for nudge in event.event_nudges
    ]
    return (
        event.pk,
        event.title,
        event.status,
        event.scheduled_for,
        event.confirmed_at,
        event.member_id,
        name,
        nudges,
    )


@pytest.mark.parametrize("number", [None, "1", "2", "3", "99", "0", "x"])
def test_the_panel_shows_what_the_selector_selects(events, number):
    selected = events_to_announce_or_confirm(
        organization=events.organization, owner=events.msm, now=NOW
    )
    expected = counted_page(selected, number, 4)
    page = events_to_announce_or_confirm_page(
        organization=events.organization, owner=events.msm, number=number, per_page=4, now=NOW
    )
    assert expected.paginator.count == 10  # the fixture's events in the panel
    assert page.paginator.count == expected.paginator.count
    assert page.number == expected.number
    assert [_shown(event) for event in page] == [_shown(event) for event in expected]


def test_the_first_page_is_one_query_and_its_nudges_another(events, tenant_b):
    with CaptureQueriesContext(connection) as queries:
        events_to_announce_or_confirm_page(
            organization=events.organization, owner=events.msm, number=None, per_page=4
        )
    assert len(queries) == 2
    with CaptureQueriesContext(connection) as queries:
        page = events_to_announce_or_confirm_page(
            organization=events.organization, owner=events.admin, number="1", per_page=4
        )
        assert list(page) == [] and page.paginator.count == 0
    assert len(queries) == 1
    with pytest.raises(ValidationError):
        events_to_announce_or_confirm_page(
            organization=events.organization, owner=tenant_b.msm, number=None, per_page=4
        )
