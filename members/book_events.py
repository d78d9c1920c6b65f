"""My book's events panel, read with fixed SQL.

The panel lists what ``orchestration.selectors.events_to_announce_or_confirm`` selects (the
events of the seat's members to announce or confirm this week, soonest first, with their
announcement and reminder nudges), ten at a time. Through the ORM, building and compiling that
query (an OR of two conditions, the member joined, a window count for the first page) cost
about 2 ms of CPU on every book visit, however few events there were; the database answered
in a tenth of that. Here the statements are fixed text run with the visit's values, and the
rows are the few columns the panel shows. The tests hold the reads to the selector's answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page
from django.db import connection
from django.utils import timezone

from members.paging import first_page_counted
from orchestration.models import Nudge, OrchestratedEvent
from orchestration.selectors import EVENT_NUDGE_KINDS, TO_ANNOUNCE
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization


def _in(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(…)`` for ``IN`` with one named parameter per value (SQLite cannot bind a tuple)."""
    names = [f"{name}_{index}" for index in range(len(values))]
    return f"({', '.join(f'%({name})s' for name in names)})", dict(zip(names, values, strict=True))


_TO_ANNOUNCE, TO_ANNOUNCE_PARAMS = _in("to_announce", TO_ANNOUNCE)
_NUDGE_KINDS, NUDGE_KINDS_PARAMS = _in("kind", EVENT_NUDGE_KINDS)

EVENTS_WHERE = f"""
     WHERE e.organization_id = %(org)s AND m.owner_id = %(owner)s
       AND ((e.status IN {_TO_ANNOUNCE} AND e.scheduled_for >= %(now)s
             AND e.scheduled_for < %(until)s)
            OR (e.status = %(happened)s AND e.confirmed_at IS NULL))
"""
EVENTS_FROM = """
      FROM orchestration_orchestratedevent e
      JOIN members_member m ON m.organization_id = e.organization_id AND m.id = e.member_id
"""
# The first page carries the count of all the events (a window), so it is one query.
EVENTS_PAGE = f"""
    SELECT e.id, e.title, e.status, e.scheduled_for, e.confirmed_at, e.member_id, m.name,
           COUNT(*) OVER ()
    {EVENTS_FROM} {EVENTS_WHERE}
     ORDER BY e.scheduled_for, e.id
     LIMIT %(limit)s OFFSET %(offset)s
"""
EVENTS_COUNT = f"SELECT COUNT(*) {EVENTS_FROM} {EVENTS_WHERE}"
# Placeholders only are written into the text (one per event id).
NUDGES = f"""
    SELECT n.event_id, n.kind, n.status, n.scheduled_for
      FROM orchestration_nudge n
     WHERE n.organization_id = %(org)s AND n.event_id IN {{events}} AND n.kind IN {_NUDGE_KINDS}
     ORDER BY n.scheduled_for, n.id
"""  # noqa: S608


@dataclass
class EventNudge:
    """What the panel shows of an announcement or reminder of an event."""

    kind_label: str
    status_label: str
    scheduled_for: dt.datetime


@dataclass
class BookEvent:
    """What the panel shows of an event (the attributes the template reads)."""

    pk: int
    title: str
    status: str
    scheduled_for: dt.datetime
    confirmed_at: dt.datetime | None
    member_id: int
    member_name: str
    event_nudges: list[EventNudge] = field(default_factory=list)


def _datetime(value: Any) -> dt.datetime | None:
    """A datetime column as the ORM hands it over (SQLite returns naive UTC text)."""
    expression = OrchestratedEvent._meta.get_field("scheduled_for").cached_col
    for converter in connection.ops.get_db_converters(expression):
        value = converter(value, expression, connection)
    return value


def _nudges(organization: Organization, events: list[BookEvent]) -> None:
    """Each event's announcement and reminder nudges, soonest first (one query)."""
    if not events:
        return
    by_event = {event.pk: event for event in events}
    ids, id_params = _in("event", list(by_event))
    kinds, statuses = dict(Nudge.Kind.choices), dict(Nudge.Status.choices)
    with connection.cursor() as cursor:
        cursor.execute(
            NUDGES.format(events=ids),
            {"org": organization.pk, **id_params, **NUDGE_KINDS_PARAMS},
        )
        for event_id, kind, status, scheduled_for in cursor.fetchall():
            by_event[event_id].event_nudges.append(
                EventNudge(
                    kind_label=str(kinds.get(kind, kind)),
                    status_label=str(statuses.get(status, status)),
                    scheduled_for=_datetime(scheduled_for),
                )
            )


def _events(rows: Iterable[tuple]) -> list[BookEvent]:
    return [
        BookEvent(
            pk=pk,
            title=title,
            status=status,
            scheduled_for=_datetime(scheduled_for),
            confirmed_at=_datetime(confirmed_at),
            member_id=member_id,
            member_name=member_name,
        )
        for pk, title, status, scheduled_for, confirmed_at, member_id, member_name, _ in rows
    ]


def book_events_page(
    *,
    organization: Organization,
    owner: Seat,
    number: str | None,
    per_page: int,
    now: dt.datetime | None = None,
    days: int = 7,
) -> Page:
    """Page ``number`` (``Paginator.get_page``'s rules) of the events of ``owner``'s members
    to announce or confirm in the ``days`` from ``now``, as ``BookEvent`` rows with their
    nudges: the rows and their count in one query on the first page, then the nudges."""
    require_same_organization(organization, owner=owner)
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "org": organization.pk,
        "owner": owner.pk,
        **TO_ANNOUNCE_PARAMS,
        "happened": OrchestratedEvent.Status.HAPPENED,
        "now": adapt(now),
        "until": adapt(now + dt.timedelta(days=days)),
    }

    def read(offset: int, limit: int) -> tuple[list[BookEvent], int]:
        with connection.cursor() as cursor:
            cursor.execute(EVENTS_PAGE, {**params, "offset": offset, "limit": limit})
            rows = cursor.fetchall()
        events = _events(rows)
        _nudges(organization, events)
        return events, rows[0][-1] if rows else 0

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(EVENTS_COUNT, params)
            return cursor.fetchone()[0]

    return first_page_counted(read, count, number=number, per_page=per_page)
