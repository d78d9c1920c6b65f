"""Triggers: which members each active playbook enrols, found set-based, hourly.

For each active playbook with an automatic trigger, one query over the domain tables finds the
members it applies to today (in the organization's calendar); each is then enrolled through
``enrollment_start``'s rules (one active enrolment per member and playbook). What each trigger
finds:

- ``on_join``: live members whose ``joined_on`` is in the last 7 days (today − 7 … today), or,
  when the playbook is newer than that, on or after the day it was created — a new playbook
  does not sweep up the week before it existed.
- ``band_entered``: live members with a ``member.band_changed`` domain event *to* the band since
  the last evaluation and whose band is still that band. A cursor per playbook (consumer
  ``playbook:<id>``) is moved in the same transaction, so each event is consumed once.
- ``milestone_overdue``: live members with a pending progress milestone due before
  today − N (N = ``trigger_days``, default 0: overdue at all).
- ``renewal_within``: active or grace members renewing between today and today + N.
- ``goal_due_within``: live members with an active or hollow goal due between today and
  today + N.
- ``ax_overdue``: live members with a required, active experience element with no engagement of
  its type within its cadence (+ N days of grace, default 0) — the rule of
  ``engagement.selectors.experience_fulfilment`` (never delivered: counted from the day the
  element was set). One query for the distinct cadences, one for the members.
- ``no_engagement_for``: active members with no engagement since today − N who have been members
  for at least N days (a member who joined yesterday is not "silent").
- ``manual``: never automatic.

"Live" is active or grace: prospects, lapsed and cancelled members are not enrolled
automatically. A member is never enrolled while actively enrolled in the playbook. Completing
or cancelling an enrolment does not make the same situation enrol the member again at once:
a member enrolled (in any status) within the trigger's window is left out — since the window's
start for ``on_join``, in the last N days for renewal, goal and silence triggers, since the
milestone's due date for ``milestone_overdue``, within the element's cadence for
``ax_overdue``. A new situation (a new band event, a later milestone, a silence that goes on
past another N days) enrols again.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Final

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from engagement.models import Engagement
from members.models import Member
from milestones.models import ProgressMilestone
from orchestration.models import DomainEventCursor, Enrollment, Playbook

# _enroll is enrollment_start without re-checking what the evaluation already knows (the
# playbook is active) and without re-reading the steps for every member.
from orchestration.playbooks import _enroll, band_cursor_consumer, playbook_steps
from outcomes.models import AppropriateExperience, Goal
from tenancy.models import DomainEvent, Organization
from tenancy.selectors import organization_today

ON_JOIN_WINDOW_DAYS: Final = 7
LIVE: Final = (Member.Status.ACTIVE, Member.Status.GRACE)
GOAL_OPEN: Final = (Goal.Status.ACTIVE, Goal.Status.HOLLOW)

Trigger = Playbook.Trigger


def _start_of(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


class _Evaluation:
    """One playbook's evaluation: its organization, today, and the queries it builds."""

    def __init__(self, organization: Organization, playbook: Playbook, today: dt.date) -> None:
        self.organization = organization
        self.playbook = playbook
        self.today = today
        self.zone = organization.zone
        self.days = playbook.trigger_days or 0

    def start(self, day: dt.date) -> dt.datetime:
        return _start_of(day, self.zone)

    @property
    def members(self) -> QuerySet[Member]:
        return Member.objects.for_org(self.organization)

    def enrolled(self, since: dt.datetime | None = None) -> Exists:
        """An enrolment of the member in this playbook that is active, or began since ``since``."""
        recent = Q(status=Enrollment.Status.ACTIVE)
        if since is not None:
            recent |= Q(enrolled_at__gte=since)
        return Exists(
            Enrollment.objects.for_org(self.organization).filter(
                recent, playbook_id=self.playbook.pk, member_id=OuterRef("pk")
            )
        )

    # --- finders: each returns one queryset of members (one query when read) -------------

    def on_join(self) -> QuerySet[Member] | None:
        created_on = timezone.localtime(self.playbook.created_at, self.zone).date()
        since = max(self.today - dt.timedelta(days=ON_JOIN_WINDOW_DAYS), created_on)
        return self.members.filter(
            ~self.enrolled(self.start(since)),
            status__in=LIVE,
            joined_on__gte=since,
            joined_on__lte=self.today,
        )

    def renewal_within(self) -> QuerySet[Member] | None:
        return self.members.filter(
            ~self.enrolled(self.start(self.today - dt.timedelta(days=self.days))),
            status__in=LIVE,
            renewal_on__gte=self.today,
            renewal_on__lte=self.today + dt.timedelta(days=self.days),
        )

    def goal_due_within(self) -> QuerySet[Member] | None:
        goals = Goal.objects.for_org(self.organization).filter(
            member_id=OuterRef("pk"),
            status__in=GOAL_OPEN,
            due_on__gte=self.today,
            due_on__lte=self.today + dt.timedelta(days=self.days),
        )
        return self.members.filter(
            Exists(goals),
            ~self.enrolled(self.start(self.today - dt.timedelta(days=self.days))),
            status__in=LIVE,
        )

    def milestone_overdue(self) -> QuerySet[Member] | None:
        # Per milestone: not enrolled in this playbook since it fell due (that enrolment was
        # about it, or about an earlier one still open).
        enrolled_since_due = (
            Enrollment.objects.for_org(self.organization)
            .annotate(enrolled_on=TruncDate("enrolled_at", tzinfo=self.zone))
            .filter(
                playbook_id=self.playbook.pk,
                member_id=OuterRef("member_id"),
                enrolled_on__gte=OuterRef("due_on"),
            )
        )
        overdue = ProgressMilestone.objects.for_org(self.organization).filter(
            ~Exists(enrolled_since_due),
            member_id=OuterRef("pk"),
            achieved_at__isnull=True,
            due_on__lt=self.today - dt.timedelta(days=self.days),
        )
        return self.members.filter(Exists(overdue), ~self.enrolled(), status__in=LIVE)

    def ax_overdue(self) -> QuerySet[Member] | None:
        elements = AppropriateExperience.objects.for_org(self.organization).filter(
            required=True, is_active=True
        )
        cadences = sorted(
            set(elements.order_by().values_list("cadence_days", flat=True).distinct())
        )
        if not cadences:
            return None
        end_of_today = self.start(self.today + dt.timedelta(days=1))
        engagements = Engagement.objects.for_org(self.organization).filter(
            member_id=OuterRef("member_id"),
            type=OuterRef("engagement_type"),
            occurred_at__lt=end_of_today,
        )
        any_overdue = Q()
        for cadence in cadences:
            # Overdue by more than N days: last delivery (or, never delivered, the day the
            # element was set) before today − cadence − N.
            cutoff = self.start(self.today - dt.timedelta(days=cadence + self.days))
            overdue = elements.filter(
                ~Exists(engagements.filter(occurred_at__gte=cutoff)),
                Q(created_at__lt=cutoff) | Exists(engagements.filter(occurred_at__lt=cutoff)),
                member_id=OuterRef("pk"),
                cadence_days=cadence,
            )
            recently = self.enrolled(self.start(self.today - dt.timedelta(days=cadence)))
            any_overdue |= Q(Exists(overdue), ~recently)
        return self.members.filter(any_overdue, ~self.enrolled(), status__in=LIVE)

    def no_engagement_for(self) -> QuerySet[Member] | None:
        since = self.today - dt.timedelta(days=self.days)
        engaged = Engagement.objects.for_org(self.organization).filter(
            member_id=OuterRef("pk"), occurred_at__gte=self.start(since)
        )
        return self.members.filter(
            ~Exists(engaged),
            ~self.enrolled(self.start(since)),
            Q(joined_on__isnull=True) | Q(joined_on__lte=since),
            status=Member.Status.ACTIVE,
        )

    def band_entered(self, low: int, high: int) -> QuerySet[Member]:
        entered = DomainEvent.objects.for_org(self.organization).filter(
            kind=DomainEvent.Kind.BAND_CHANGED,
            subject_id=OuterRef("pk"),
            pk__gt=low,
            pk__lte=high,
            payload__to=self.playbook.trigger_band,
        )
        return self.members.filter(
            Exists(entered),
            ~self.enrolled(),
            status__in=LIVE,
            success_band=self.playbook.trigger_band,
        )


FINDERS: Final[dict[str, Callable[[_Evaluation], QuerySet[Member] | None]]] = {
    Trigger.ON_JOIN: _Evaluation.on_join,
    Trigger.RENEWAL_WITHIN: _Evaluation.renewal_within,
    Trigger.GOAL_DUE_WITHIN: _Evaluation.goal_due_within,
    Trigger.MILESTONE_OVERDUE: _Evaluation.milestone_overdue,
    Trigger.AX_OVERDUE: _Evaluation.ax_overdue,
    Trigger.NO_ENGAGEMENT_FOR: _Evaluation.no_engagement_for,
}


def trigger_reason(playbook: Playbook) -> str:
    """Why a trigger enrolled a member, for the enrolment's record."""
    days = playbook.trigger_days or 0
    reasons = {
        Trigger.ON_JOIN: "Joined recently",
        Trigger.BAND_ENTERED: f"Entered the {playbook.trigger_band.replace('_', ' ')} band",
        Trigger.MILESTONE_OVERDUE: f"A milestone is overdue by more than {days} days",
        Trigger.RENEWAL_WITHIN: f"Renewal within {days} days",
        Trigger.GOAL_DUE_WITHIN: f"A goal is due within {days} days",
        Trigger.AX_OVERDUE: "An experience element is overdue",
        Trigger.NO_ENGAGEMENT_FOR: f"No engagement for {days} days",
    }
    return reasons.get(playbook.trigger, playbook.get_trigger_display())


def _band_cursor(organization: Organization, playbook: Playbook) -> DomainEventCursor:
    """The playbook's cursor, locked until commit. A playbook configured around the services
    (no cursor yet) starts from the events that happened since it was created."""
    consumer = band_cursor_consumer(playbook)
    cursors = DomainEventCursor.objects.for_org(organization).select_for_update()
    cursor = cursors.filter(consumer=consumer).first()
    if cursor is not None:
        return cursor
    before = (
        DomainEvent.objects.for_org(organization)
        .filter(kind=DomainEvent.Kind.BAND_CHANGED, occurred_at__lt=playbook.created_at)
        .aggregate(last=Max("pk"))["last"]
    )
    DomainEventCursor.objects.for_org(organization).bulk_create(
        [
            DomainEventCursor(
                organization=organization, consumer=consumer, last_event_id=before or 0
            )
        ],
        ignore_conflicts=True,
    )
    return cursors.get(consumer=consumer)


def _enroll_all(
    organization: Organization, playbook: Playbook, members: QuerySet[Member], at: dt.datetime
) -> int:
    found = list(members.order_by("pk"))
    if not found:
        return 0
    steps = playbook_steps(organization=organization, playbook=playbook)
    reason = trigger_reason(playbook)
    enrolled = 0
    for member in found:
        enrollment = _enroll(
            organization=organization,
            playbook=playbook,
            member=member,
            reason=reason,
            at=at,
            steps=steps,
        )
        enrolled += enrollment is not None
    return enrolled


@transaction.atomic
def _evaluate(
    organization: Organization, playbook: Playbook, today: dt.date, at: dt.datetime
) -> int:
    """Find and enrol one playbook's members; the band cursor moves in the same transaction."""
    evaluation = _Evaluation(organization, playbook, today)
    if playbook.trigger != Trigger.BAND_ENTERED:
        members = FINDERS[playbook.trigger](evaluation)
        return 0 if members is None else _enroll_all(organization, playbook, members, at)
    cursor = _band_cursor(organization, playbook)
    high = (
        DomainEvent.objects.for_org(organization)
        .filter(kind=DomainEvent.Kind.BAND_CHANGED, pk__gt=cursor.last_event_id)
        .aggregate(high=Max("pk"))["high"]
    )
    if high is None:
        return 0
    members = evaluation.band_entered(cursor.last_event_id, high)
    enrolled = _enroll_all(organization, playbook, members, at)
    cursor.last_event_id = high
    cursor.save(update_fields=["last_event_id", "updated_at"])
    return enrolled


def triggers_evaluate(
    *, organization: Organization, today: dt.date | None = None
) -> dict[int, int]:
    """Evaluate every active playbook with an automatic trigger; returns, per playbook id, how
    many members it enrolled now.

    Finding the members takes a fixed number of queries per playbook whatever the number of
    members (see the module's notes for what each trigger finds); enrolling is per member.
    Each playbook is its own transaction, so one failing does not undo the others' work, and a
    retry enrols nobody twice.
    """
    today = today or organization_today(organization)
    at = timezone.now()
    playbooks = list(
        Playbook.objects.for_org(organization)
        .filter(is_active=True)
        .exclude(trigger=Trigger.MANUAL)
        .order_by("pk")
    )
    return {playbook.pk: _evaluate(organization, playbook, today, at) for playbook in playbooks}
