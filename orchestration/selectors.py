"""Reads about orchestrated events: the anticipation rate.

**Definition.** Among the events that happened (status *happened* or *confirmed*) and were
scheduled in ``[since, until)``, an event is *anticipated* when its announcement nudge (kind
*announcement*) was sent (status *sent*) at or before

    scheduled_for − lead + ANNOUNCEMENT_GRACE

where ``lead`` is the announcement's lead time, ``lead_days[0]`` days (the services store lead
days largest first, and the first one announces), and ``ANNOUNCEMENT_GRACE`` (one hour) absorbs
the dispatcher's latency: a nudge due at 10:00 that leaves at 10:00:40 was sent on time. An
announcement planned late (the event was created inside its lead window, so the announcement
went out "now"), sent late, never sent, or an event whose member has no email address is not
anticipated. The rate is anticipated / events, or None when no event happened.

Worked example: an event at 20 March 10:00 with lead days [14, 2] must have had its
announcement sent by 6 March 11:00 (10:00 + the hour of grace); sent at 6 March 10:00:30 it
counts, sent on 6 March 11:01 or 15 March it does not.

Each selector is one aggregate query: the condition is an ``EXISTS`` over the nudges, with the
deadline computed in SQL from the event's own columns.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

from django.core.paginator import Page
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from members.models import Member
from members.paging import first_page_counted
from ops.sql_values import datetime_from_sql
from orchestration.models import Nudge, OrchestratedEvent, Task
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization

ANNOUNCEMENT_GRACE: Final = dt.timedelta(hours=1)
HAPPENED: Final = (OrchestratedEvent.Status.HAPPENED, OrchestratedEvent.Status.CONFIRMED)


class AnticipationRate(TypedDict):
    events: int
    anticipated: int
    rate: float | None


def _rate(events: int, anticipated: int) -> AnticipationRate:
    return {
        "events": events,
        "anticipated": anticipated,
        "rate": anticipated / events if events else None,
    }


def _happened_with_anticipation(
    organization: Organization, since: dt.datetime | None, until: dt.datetime | None
) -> QuerySet[OrchestratedEvent]:
    """The events that happened in the period, each annotated ``anticipated`` (a boolean)."""
    events = OrchestratedEvent.objects.for_org(organization).filter(status__in=HAPPENED)
    if since is not None:
        events = events.filter(scheduled_for__gte=since)
    if until is not None:
        events = events.filter(scheduled_for__lt=until)
    lead_days = Cast(KT("lead_days__0"), IntegerField())
    # lead × one day, as a duration (an interval on PostgreSQL, microseconds on SQLite). The
    # deadline is (scheduled_for − lead) + grace: datetime ± duration, one step at a time, which
    # both backends compute (SQLite cannot nest a duration − duration inside datetime arithmetic).
    lead = ExpressionWrapper(lead_days * Value(dt.timedelta(days=1)), output_field=DurationField())
    deadline = ExpressionWrapper(
        ExpressionWrapper(F("scheduled_for") - lead, output_field=DateTimeField())
        + Value(ANNOUNCEMENT_GRACE),
        output_field=DateTimeField(),
    )
    sent_in_time = Nudge.objects.for_org(organization).filter(
        event=OuterRef("pk"),
        kind=Nudge.Kind.ANNOUNCEMENT,
        status=Nudge.Status.SENT,
        sent_at__lte=OuterRef("announce_by"),
    )
    return events.annotate(
        announce_by=deadline,
        anticipated=Exists(sent_in_time),
    )


def _counts() -> dict[str, Any]:
    return {"events": Count("pk"), "anticipated_count": Count("pk", filter=Q(anticipated=True))}


def anticipation_rate(
    *,
    organization: Organization,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> AnticipationRate:
    """The organization's anticipation rate over events scheduled in ``[since, until)``."""
    totals = _happened_with_anticipation(organization, since, until).aggregate(**_counts())
    return _rate(totals["events"], totals["anticipated_count"])


def anticipation_rate_by_seat(
    *,
    organization: Organization,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rate per owner of the member as they are now (the seat answerable today), by name;
    members without an owner come last (``seat_id`` None)."""
    rows = (
        _happened_with_anticipation(organization, since, until)
        .values("member__owner_id", "member__owner__user__full_name", "member__owner__user__email")
        .annotate(**_counts())
        .order_by()
    )
    result = [
        {
            "seat_id": row["member__owner_id"],
            "seat_name": (
                row["member__owner__user__full_name"] or row["member__owner__user__email"] or ""
            ),
            **_rate(row["events"], row["anticipated_count"]),
        }
        for row in rows
    ]
    return sorted(result, key=lambda r: (r["seat_id"] is None, r["seat_name"].lower()))


def anticipation_rate_by_playbook(
    *,
    organization: Organization,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rate per playbook whose enrolment made the event, by name; events made by hand (no
    enrolment) come last (``playbook_id`` None)."""
    rows = (
        _happened_with_anticipation(organization, since, until)
        .values("enrollment__playbook_id", "enrollment__playbook__name")
        .annotate(**_counts())
        .order_by()
    )
    result = [
        {
            "playbook_id": row["enrollment__playbook_id"],
            "playbook_name": row["enrollment__playbook__name"] or "",
            **_rate(row["events"], row["anticipated_count"]),
        }
        for row in rows
    ]
    return sorted(result, key=lambda r: (r["playbook_id"] is None, r["playbook_name"].lower()))


# --- events and nudges on the pages --------------------------------------------------------------

# The nudges that tell a member about an event before it happens.
EVENT_NUDGE_KINDS: Final = (Nudge.Kind.ANNOUNCEMENT, Nudge.Kind.REMINDER)
# Events still to be told (planned) or being told (announced).
TO_ANNOUNCE: Final = (OrchestratedEvent.Status.PLANNED, OrchestratedEvent.Status.ANNOUNCED)


def _event_nudges(organization: Organization) -> Prefetch:
    return Prefetch(
        "nudges",
        queryset=Nudge.objects.for_org(organization)
        .filter(kind__in=EVENT_NUDGE_KINDS)
        .order_by("scheduled_for", "pk"),
        to_attr="event_nudges",
    )


def member_events(*, organization: Organization, member: Member) -> QuerySet[OrchestratedEvent]:
    """A member's orchestrated events, the latest scheduled first, each with its announcement
    and reminder nudges in ``event_nudges`` (two queries however many events and nudges)."""
    require_same_organization(organization, member=member)
    return (
        OrchestratedEvent.objects.for_org(organization)
        .filter(member_id=member.pk)
        .order_by("-scheduled_for", "-pk")
        .prefetch_related(_event_nudges(organization))
    )


def member_work_present(*, organization: Organization, member: Member) -> dict[str, bool]:
    """Whether the member has any task, orchestrated event and nudge (``{"tasks": …,
    "events": …, "nudges": …}``), in one query: a page showing the three lists skips the
    read of a list it knows is empty, as most are."""
    require_same_organization(organization, member=member)
    with connection.cursor() as cursor:
        cursor.execute(_work_present_sql(), [organization.pk, member.pk] * 3)
        row = cursor.fetchone()
    return {kind: bool(present) for kind, present in zip(_WORK_KINDS, row, strict=True)}


_WORK_KINDS: Final = ("tasks", "events", "nudges")


@functools.cache
def _work_present_sql() -> str:
    """``member_work_present``'s three ``EXISTS``, written once: building them with the ORM
    (three scoped querysets inside a fourth) cost ~1.5 ms of CPU on every Member 360, many
    times the query. Each is scoped to the organization as ``for_org`` scopes, and answered
    from the (organization, member, …) indexes."""
    exists = []
    for model in (Task, OrchestratedEvent, Nudge):
        table = connection.ops.quote_name(model._meta.db_table)
        exists.append(
            f"EXISTS(SELECT 1 FROM {table} WHERE organization_id = %s AND member_id = %s)"  # noqa: S608
        )
    # Only table names and placeholders go into the text.
    return f"SELECT {', '.join(exists)}"


def member_nudges(*, organization: Organization, member: Member) -> QuerySet[Nudge]:
    """Everything planned or sent to a member, the latest first, with the event it is about."""
    require_same_organization(organization, member=member)
    return (
        Nudge.objects.for_org(organization)
        .filter(member_id=member.pk)
        .select_related("event")
        .order_by("-scheduled_for", "-pk")
    )


# --- My book's events panel --------------------------------------------------------------------


def _in(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(…)`` for ``IN`` with one named parameter per value (SQLite cannot bind a tuple)."""
    names = [f"{name}_{index}" for index in range(len(values))]
    return f"({', '.join(f'%({name})s' for name in names)})", dict(zip(names, values, strict=True))


_TO_ANNOUNCE, _TO_ANNOUNCE_PARAMS = _in("to_announce", TO_ANNOUNCE)
_NUDGE_KINDS, _NUDGE_KINDS_PARAMS = _in("kind", EVENT_NUDGE_KINDS)

_EVENTS_WHERE = f"""
     WHERE e.organization_id = %(org)s AND m.owner_id = %(owner)s
       AND ((e.status IN {_TO_ANNOUNCE} AND e.scheduled_for >= %(now)s
             AND e.scheduled_for < %(until)s)
            OR (e.status = %(happened)s AND e.confirmed_at IS NULL))
"""
_EVENTS_FROM = """
      FROM orchestration_orchestratedevent e
      JOIN members_member m ON m.organization_id = e.organization_id AND m.id = e.member_id
"""
# The first page carries the count of all the events (a window), so it is one query.
_EVENTS_PAGE = f"""
    SELECT e.id, e.title, e.status, e.scheduled_for, e.confirmed_at, e.member_id, m.name,
           COUNT(*) OVER ()
    {_EVENTS_FROM} {_EVENTS_WHERE}
     ORDER BY e.scheduled_for, e.id
     LIMIT %(limit)s OFFSET %(offset)s
"""
_EVENTS_COUNT = f"SELECT COUNT(*) {_EVENTS_FROM} {_EVENTS_WHERE}"
# Placeholders only are written into the text (one per event id).
_EVENT_NUDGES_SQL = f"""
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


def _book_event_nudges(organization: Organization, events: list[BookEvent]) -> None:
    """Each event's announcement and reminder nudges, soonest first (one query)."""
    if not events:
        return
    by_event = {event.pk: event for event in events}
    ids, id_params = _in("event", list(by_event))
    kinds, statuses = dict(Nudge.Kind.choices), dict(Nudge.Status.choices)
    with connection.cursor() as cursor:
        cursor.execute(
            _EVENT_NUDGES_SQL.format(events=ids),
            {"org": organization.pk, **id_params, **_NUDGE_KINDS_PARAMS},
        )
        for event_id, kind, status, scheduled_for in cursor.fetchall():
            by_event[event_id].event_nudges.append(
                EventNudge(
                    kind_label=str(kinds.get(kind, kind)),
                    status_label=str(statuses.get(status, status)),
                    scheduled_for=datetime_from_sql(scheduled_for),
                )
            )


def _book_events(rows: Iterable[tuple]) -> list[BookEvent]:
    return [
        BookEvent(
            pk=pk,
            title=title,
            status=status,
            scheduled_for=datetime_from_sql(scheduled_for),
            confirmed_at=datetime_from_sql(confirmed_at),
            member_id=member_id,
            member_name=member_name,
        )
        for pk, title, status, scheduled_for, confirmed_at, member_id, member_name, _ in rows
    ]


def events_to_announce_or_confirm_page(
    *,
    organization: Organization,
    owner: Seat,
    number: str | None,
    per_page: int,
    now: dt.datetime | None = None,
    days: int = 7,
) -> Page:
    """Page ``number`` (``Paginator.get_page``'s rules) of the events of an owner's members
    that need them this week: planned or announced ones scheduled in the ``days`` from
    ``now`` (is the member told?), and the ones that happened but the member has not
    confirmed yet (ask them). Soonest first, as ``BookEvent`` rows with their announcement
    and reminder nudges: the rows and their count in one query on the first page, then the
    nudges.

    Through the ORM, building and compiling that query (an OR of two conditions, the member
    joined, a window count for the first page) cost about 2 ms of CPU on every My book
    visit, however few events there were; the database answered in a tenth of that. Here
    the statements are fixed text run with the visit's values, and the rows are the few
    columns the panel shows (tests/members/book_events_reference.py holds the queryset, and
    the tests hold this read to it)."""
    require_same_organization(organization, owner=owner)
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "org": organization.pk,
        "owner": owner.pk,
        **_TO_ANNOUNCE_PARAMS,
        "happened": OrchestratedEvent.Status.HAPPENED,
        "now": adapt(now),
        "until": adapt(now + dt.timedelta(days=days)),
    }

    def read(offset: int, limit: int) -> tuple[list[BookEvent], int]:
        with connection.cursor() as cursor:
            cursor.execute(_EVENTS_PAGE, {**params, "offset": offset, "limit": limit})
            rows = cursor.fetchall()
        events = _book_events(rows)
        _book_event_nudges(organization, events)
        return events, rows[0][-1] if rows else 0

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(_EVENTS_COUNT, params)
            return cursor.fetchone()[0]

    return first_page_counted(read, count, number=number, per_page=per_page)


# --- the integrator API's lists -----------------------------------------------------------------


def organization_events(*, organization: Organization) -> QuerySet[OrchestratedEvent]:
    """Every orchestrated event of the organization, for the API's list and lookups. The rows
    carry ids only for their references, so no join is needed; the view orders them."""
    return OrchestratedEvent.objects.for_org(organization)


def organization_nudges(*, organization: Organization) -> QuerySet[Nudge]:
    """Every nudge of the organization, planned or sent, for the API's list and lookups."""
    return Nudge.objects.for_org(organization)
