"""Orchestrated events: something that will happen to a member, told to them before it happens.

The lifecycle, and what each status means:

- **planned**: recorded, nothing told yet.
- **announced**: the announcement and reminder nudges are planned (one per lead day). The member
  may acknowledge it from the link in those emails: that records ``confirmed_at`` and the event
  stays *announced* — it has not happened yet.
- **happened**: it took place (``happened_at``) and the member has not confirmed.
- **confirmed**: it took place **and** the member confirmed — both ``happened_at`` and
  ``confirmed_at`` are recorded. It is reached from *happened* when the member confirms
  afterwards, or straight from *announced* when an event the member already acknowledged is
  marked as happened.
- **missed**: its time passed and it did not happen (by hand, or nightly two days after).
- **cancelled**: called off before it happened.

``TRANSITIONS`` below is the whole table. Every move is one conditional UPDATE on the status it
expects (``… WHERE status IN (<allowed sources>)``), so two workers or two requests cannot both
move the same event: the second one updates nothing and is refused with
``ValidationError({"status": …})``. Once an event leaves *announced*, its still-pending nudges are
cancelled: nothing more is sent about something that happened, was missed or was called off.

A member without an email address can still have an event (the MSM can tell them by other
means), but gets no email nudges: announcing such an event plans nothing, and it can never count
as anticipated (see ``orchestration/selectors.py``).

The confirmation link is ``/e/confirm/<token>/``: a ``TimestampSigner`` signature over
``"<organization id>:<event id>"``. It works, without a login, until
``TANDEM_CONFIRM_LINK_DAYS_AFTER_EVENT`` days (default 30) after the event's time; operators may
also cap any link's age since signing with ``TANDEM_CONFIRM_LINK_MAX_AGE`` (seconds; unset by
default, because links are signed when the event is announced, which may be long before the
announcement is due to be sent).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record, audit_snapshot
from members.models import Member
from orchestration.models import Enrollment, Nudge, OrchestratedEvent, PlaybookStep
from orchestration.nudges import NudgeSpec, nudges_cancel, nudges_plan
from tenancy.models import DomainEvent, Organization, Seat
from tenancy.rules import require_same_organization

logger = logging.getLogger(__name__)

Status = OrchestratedEvent.Status

# The longest lead time we accept: a year ahead is already far for "telling them before".
MAX_LEAD_DAYS: Final = 365
# Announced events still without ``happened_at`` this long after their time become missed.
MISSED_AFTER: Final = dt.timedelta(days=2)
CONFIRM_SALT: Final = "orchestration.confirm"

# Every allowed status change, from → to. Confirming while *announced* is not a status change
# (it records ``confirmed_at`` only, see the module docstring); announced → confirmed happens when
# an event the member already acknowledged is marked as happened.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    Status.PLANNED: frozenset({Status.ANNOUNCED, Status.CANCELLED}),
    Status.ANNOUNCED: frozenset(
        {Status.HAPPENED, Status.CONFIRMED, Status.MISSED, Status.CANCELLED}
    ),
    Status.HAPPENED: frozenset({Status.CONFIRMED}),
    Status.CONFIRMED: frozenset(),
    Status.MISSED: frozenset(),
    Status.CANCELLED: frozenset(),
}
# Where the member's confirmation is accepted (and recorded once).
CONFIRMABLE: Final = frozenset({Status.ANNOUNCED, Status.HAPPENED})

# How the refusals describe the event's current status.
_STATE_WORDS: Final = {
    Status.PLANNED: "not announced yet",
    Status.ANNOUNCED: "announced and still to happen",
    Status.HAPPENED: "already marked as happened",
    Status.CONFIRMED: "already confirmed by the member",
    Status.MISSED: "marked as missed",
    Status.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class EventConfirmation:
    """What a confirmation did: ``recorded`` is False when the member had already confirmed."""

    event: OrchestratedEvent
    recorded: bool


# --- shared helpers --------------------------------------------------------------------------


def _events(organization: Organization | int):
    return OrchestratedEvent.objects.for_org(organization)


def _moment(value: Any, field: str, *, default: dt.datetime, not_after_now: bool) -> dt.datetime:
    """An aware moment (the default when None); optionally refused when it is in the future."""
    if value is None:
        return default
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ValidationError({field: "Give a date and time with its time zone."})
    if not_after_now and value > timezone.now():
        raise ValidationError({field: "This cannot be in the future."})
    return value


def _refuse(organization: Organization, event: OrchestratedEvent, action: str) -> None:
    """Explain why a guarded UPDATE changed nothing, from the event's status as it is now."""
    current = _events(organization).filter(pk=event.pk).values_list("status", flat=True).first()
    if current is None:
        raise ValidationError({"event": "This event no longer exists."})
    words = _STATE_WORDS.get(current, current)
    raise ValidationError({"status": f"This event is {words}, so it cannot {action}."})


def _sources(target: str) -> list[str]:
    """The statuses an event may move to ``target`` from, read off ``TRANSITIONS``."""
    return [source for source, targets in TRANSITIONS.items() if target in targets]


def _reload(organization: Organization, event: OrchestratedEvent) -> OrchestratedEvent:
    event.refresh_from_db(
        from_queryset=_events(organization).select_related("member", "organization")
    )
    return event


def _lead_days_or_error(lead_days: Any) -> list[int]:
    """Lead days as distinct positive whole days, largest first (the first one announces)."""
    message = (
        f"Give one or more whole numbers of days between 1 and {MAX_LEAD_DAYS}, e.g. [14, 2]: "
        "the first announces, the others remind."
    )
    if not isinstance(lead_days, list | tuple) or not lead_days:
        raise ValidationError({"lead_days": message})
    for days in lead_days:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LEAD_DAYS:
            raise ValidationError({"lead_days": message})
    return sorted(set(lead_days), reverse=True)


def when_words(moment: dt.datetime, organization: Organization) -> str:
    """A moment as people read it, on the organization's clock: 'Thursday 20 March 2025 at
    10:00 (Europe/Paris time)'."""
    local = timezone.localtime(moment, organization.zone)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({organization.time_zone} time)"


# --- the signed confirmation link --------------------------------------------------------------


class ConfirmationLinkError(Exception):
    """A confirmation link that cannot be used; ``status_code`` is the page's HTTP status."""

    status_code = 400


class ConfirmationLinkInvalid(ConfirmationLinkError):
    """Tampered with, truncated, or never ours."""


class ConfirmationLinkExpired(ConfirmationLinkError):
    """Genuine, but too old."""


class ConfirmationLinkUnknownEvent(ConfirmationLinkError):
    """Genuine, but the event is gone."""

    status_code = 404


def _signer() -> TimestampSigner:
    return TimestampSigner(salt=CONFIRM_SALT)


def confirmation_token(event: OrchestratedEvent) -> str:
    """The signed token of an event's confirmation link: it carries its own organization."""
    return _signer().sign(f"{event.organization_id}:{event.pk}")


def confirmation_url(event: OrchestratedEvent, *, base_url: str | None = None) -> str:
    """The absolute link put in emails (``TANDEM_BASE_URL`` unless a base is given)."""
    base = (base_url or settings.TANDEM_BASE_URL).rstrip("/")
    path = reverse("public:event_confirm", kwargs={"token": confirmation_token(event)})
    return f"{base}{path}"


def confirmation_link_expires_at(event: OrchestratedEvent) -> dt.datetime:
    """When the event's link stops working: a while after the event, so a member can still
    confirm once it has happened."""
    return event.scheduled_for + dt.timedelta(days=settings.TANDEM_CONFIRM_LINK_DAYS_AFTER_EVENT)


def event_for_confirmation_token(
    token: str, *, now: dt.datetime | None = None
) -> OrchestratedEvent:
    """The event a confirmation token names, read in the organization the token itself signs.

    Raises ``ConfirmationLinkInvalid`` (bad signature or payload), ``ConfirmationLinkExpired``
    (older than the optional cap, or past the event's window) or ``ConfirmationLinkUnknownEvent``
    (no such event in that organization). A token cannot point at another organization's event:
    the organization id is part of what is signed, and the event is read with ``for_org``.
    """
    try:
        payload = _signer().unsign(token, max_age=settings.TANDEM_CONFIRM_LINK_MAX_AGE)
    except SignatureExpired as error:
        raise ConfirmationLinkExpired from error
    except BadSignature as error:
        raise ConfirmationLinkInvalid from error
    organization_id, _, event_id = payload.partition(":")
    if not (organization_id.isdigit() and event_id.isdigit()):
        raise ConfirmationLinkInvalid
    event = (
        _events(int(organization_id))
        .select_related("organization", "member")
        .filter(pk=int(event_id))
        .first()
    )
    if event is None:
        raise ConfirmationLinkUnknownEvent
    if (now or timezone.now()) > confirmation_link_expires_at(event):
        raise ConfirmationLinkExpired
    return event


# --- announcing ----------------------------------------------------------------------------------


def _message(event: OrchestratedEvent, *, reminder: bool, link: str) -> tuple[str, str]:
    """Subject and body in plain words: what will happen, when, and how to say 'I know'."""
    organization = event.organization
    when = when_words(event.scheduled_for, organization)
    if reminder:
        subject = f"Reminder: {event.title} on {when}"
        opening = "A reminder of what is planned for you."
    else:
        subject = f"Coming up: {event.title} on {when}"
        opening = "We are letting you know ahead of time about something planned for you."
    lines = [f"Hello {event.member.name},", "", opening, "", f"What: {event.title}"]
    lines.append(f"When: {when}")
    if event.description:
        lines += ["", event.description]
    lines += [
        "",
        "Please let us know you have seen this (one click, no account needed):",
        link,
        "",
        organization.name,
    ]
    return subject, "\n".join(lines)


def announcement_specs(event: OrchestratedEvent, *, now: dt.datetime) -> list[NudgeSpec]:
    """The nudges that announce an event: one per lead day, keyed ``event:<id>:lead:<days>``.

    The first (largest) lead announces, at ``scheduled_for - days`` or ``now`` when that time has
    passed. The others remind, at ``scheduled_for - days``, and are left out when that would not
    come after the announcement (two emails at once tell nothing more). A member without an email
    address gets none.
    """
    member = event.member
    if not member.email or not event.lead_days:
        return []
    link = confirmation_url(event)
    leads = sorted(event.lead_days, reverse=True)
    announce_at = max(now, event.scheduled_for - dt.timedelta(days=leads[0]))
    specs = []
    for position, days in enumerate(leads):
        reminder = position > 0
        send_at = event.scheduled_for - dt.timedelta(days=days) if reminder else announce_at
        if reminder and send_at <= announce_at:
            continue
        subject, body = _message(event, reminder=reminder, link=link)
        specs.append(
            NudgeSpec(
                idempotency_key=f"event:{event.pk}:lead:{days}",
                subject=subject,
                body=body,
                scheduled_for=send_at,
                member_id=member.pk,
                to_email=member.email,
                channel=Nudge.Channel.EMAIL,
                kind=Nudge.Kind.REMINDER if reminder else Nudge.Kind.ANNOUNCEMENT,
                event_id=event.pk,
            )
        )
    return specs


@transaction.atomic
def orchestrated_event_announce(
    *, organization: Organization, event: OrchestratedEvent, now: dt.datetime | None = None
) -> int:
    """Move a planned event to announced and plan its nudges; returns how many were new.

    Idempotent: announcing an announced event again plans from its first ``announced_at``, so
    the same keys come out and nothing new is planned (a lost nudge would be planned again).
    """
    require_same_organization(organization, event=event)
    now = _moment(now, "now", default=timezone.now(), not_after_now=False)
    moved = (
        _events(organization)
        .filter(pk=event.pk, status__in=_sources(Status.ANNOUNCED))
        .update(status=Status.ANNOUNCED, announced_at=now, updated_at=timezone.now())
    )
    if not moved:
        current = (
            _events(organization).filter(pk=event.pk).values_list("status", "announced_at").first()
        )
        if current is None or current[0] != Status.ANNOUNCED:
            _refuse(organization, event, "be announced")
        now = current[1] or now
    before = audit_snapshot(event, "status", "announced_at")
    _reload(organization, event)
    if moved:
        audit_record(
            organization=organization, action="event.announce", instance=event, before=before
        )
    return nudges_plan(organization=organization, specs=announcement_specs(event, now=now))


# --- creating ------------------------------------------------------------------------------------


def _create_errors(
    *,
    member: Member,
    title: str,
    scheduled_for: Any,
    enrollment: Enrollment | None,
    step: PlaybookStep | None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    max_title = OrchestratedEvent._meta.get_field("title").max_length
    if not title:
        errors["title"] = "Say what will happen, e.g. 'Annual membership review'."
    elif len(title) > max_title:
        errors["title"] = f"Keep it under {max_title} characters."
    if not isinstance(scheduled_for, dt.datetime) or timezone.is_naive(scheduled_for):
        errors["scheduled_for"] = "Give the date and time it will happen, with its time zone."
    if enrollment is not None and enrollment.member_id != member.pk:
        errors["enrollment"] = "This enrolment is another member's."
    if step is not None and enrollment is not None and step.playbook_id != enrollment.playbook_id:
        errors["step"] = "This step belongs to another playbook than the enrolment's."
    return errors


@transaction.atomic
def orchestrated_event_create(
    *,
    organization: Organization,
    member: Member,
    title: str,
    scheduled_for: dt.datetime,
    lead_days: Sequence[int],
    description: str = "",
    created_by: Seat | None = None,
    enrollment: Enrollment | None = None,
    step: PlaybookStep | None = None,
    announce: bool = True,
) -> OrchestratedEvent:
    """Record an event for a member and, by default, announce it at once.

    Lead days are stored distinct and largest first: the first announces, the others remind.
    A playbook step makes at most one event per enrolment (refused on ``step`` otherwise).
    """
    require_same_organization(
        organization, member=member, created_by=created_by, enrollment=enrollment, step=step
    )
    title = (title or "").strip()
    errors = _create_errors(
        member=member, title=title, scheduled_for=scheduled_for, enrollment=enrollment, step=step
    )
    try:
        leads = _lead_days_or_error(lead_days)
    except ValidationError as error:
        errors.update({field: messages[0] for field, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    duplicate = ValidationError({"step": "This step already made an event for this enrolment."})
    if (
        enrollment is not None
        and step is not None
        and _events(organization).filter(enrollment=enrollment, step=step).exists()
    ):
        raise duplicate
    try:
        with transaction.atomic():  # a savepoint: a racing duplicate leaves this one usable
            event = _events(organization).create(
                organization=organization,
                member=member,
                title=title,
                description=description or "",
                scheduled_for=scheduled_for,
                lead_days=leads,
                created_by=created_by,
                enrollment=enrollment,
                step=step,
            )
    except IntegrityError as error:
        raise duplicate from error
    if announce:
        orchestrated_event_announce(organization=organization, event=event)
    return _reload(organization, event)


# --- what happened next --------------------------------------------------------------------------


@transaction.atomic
def orchestrated_event_mark_happened(
    *, organization: Organization, event: OrchestratedEvent, at: dt.datetime | None = None
) -> OrchestratedEvent:
    """Record that the event took place: *happened*, or *confirmed* when the member had already
    acknowledged it. Pending reminders are cancelled."""
    require_same_organization(organization, event=event)
    at = _moment(at, "at", default=timezone.now(), not_after_now=True)
    moved = (
        _events(organization)
        .filter(pk=event.pk, status__in=_sources(Status.HAPPENED))
        .update(
            happened_at=at,
            status=Case(
                When(confirmed_at__isnull=False, then=Value(Status.CONFIRMED)),
                default=Value(Status.HAPPENED),
            ),
            updated_at=timezone.now(),
        )
    )
    if not moved:
        _refuse(organization, event, "be marked as happened")
    nudges_cancel(organization=organization, event_id=event.pk)
    before = audit_snapshot(event, "status", "happened_at")
    audit_record(
        organization=organization,
        action="event.mark_happened",
        instance=_reload(organization, event),
        before=before,
    )
    return event


@transaction.atomic
def orchestrated_event_confirm(
    *, organization: Organization, event: OrchestratedEvent, at: dt.datetime | None = None
) -> EventConfirmation:
    """Record the member's acknowledgement, once.

    While *announced* it records ``confirmed_at`` only (the event has not happened yet); once
    *happened* it also moves the event to *confirmed*. Confirming again changes nothing and says
    so (``recorded=False``); a planned, missed or cancelled event cannot be confirmed.
    """
    require_same_organization(organization, event=event)
    at = _moment(at, "at", default=timezone.now(), not_after_now=True)
    recorded = (
        _events(organization)
        .filter(pk=event.pk, status__in=CONFIRMABLE, confirmed_at__isnull=True)
        .update(
            confirmed_at=at,
            status=Case(
                When(status=Status.HAPPENED, then=Value(Status.CONFIRMED)), default=F("status")
            ),
            updated_at=timezone.now(),
        )
    )
    if not recorded:
        already = (
            _events(organization)
            .filter(pk=event.pk, confirmed_at__isnull=False)
            .values_list("pk", flat=True)
        )
        if not already.exists():
            _refuse(organization, event, "be confirmed")
        return EventConfirmation(event=_reload(organization, event), recorded=False)
    before = audit_snapshot(event, "status", "confirmed_at")
    confirmed = _reload(organization, event)
    audit_record(
        organization=organization, action="event.confirm", instance=confirmed, before=before
    )
    _confirmed_domain_event(organization, confirmed)
    return EventConfirmation(event=confirmed, recorded=True)


def _confirmed_domain_event(organization: Organization, event: OrchestratedEvent) -> None:
    """Tell the rest of the system (webhooks) that the member confirmed, in the same
    transaction as the confirmation, so it is announced exactly when it is recorded."""
    DomainEvent.objects.for_org(organization).create(
        organization=organization,
        kind=DomainEvent.Kind.EVENT_CONFIRMED,
        subject_id=event.pk,
        occurred_at=event.confirmed_at,
        payload={
            "event_id": event.pk,
            "member_id": event.member_id,
            "title": event.title,
            "status": event.status,
            "scheduled_for": event.scheduled_for.isoformat(),
            "happened_at": event.happened_at.isoformat() if event.happened_at else None,
            "confirmed_at": event.confirmed_at.isoformat(),
        },
    )


@transaction.atomic
def orchestrated_event_mark_missed(
    *, organization: Organization, event: OrchestratedEvent, at: dt.datetime | None = None
) -> OrchestratedEvent:
    """Record that an announced event's time passed without it happening."""
    require_same_organization(organization, event=event)
    at = _moment(at, "at", default=timezone.now(), not_after_now=True)
    moved = (
        _events(organization)
        .filter(pk=event.pk, status__in=_sources(Status.MISSED), scheduled_for__lte=at)
        .update(status=Status.MISSED, closed_at=at, updated_at=timezone.now())
    )
    if not moved:
        still_to_come = _events(organization).filter(
            pk=event.pk, status__in=_sources(Status.MISSED), scheduled_for__gt=at
        )
        if still_to_come.exists():
            raise ValidationError(
                {"status": "This event is still to come: mark it as missed once its time passed."}
            )
        _refuse(organization, event, "be marked as missed")
    nudges_cancel(organization=organization, event_id=event.pk)
    before = audit_snapshot(event, "status", "closed_at")
    audit_record(
        organization=organization,
        action="event.mark_missed",
        instance=_reload(organization, event),
        before=before,
    )
    return event


@transaction.atomic
def orchestrated_event_cancel(
    *, organization: Organization, event: OrchestratedEvent, reason: str = ""
) -> OrchestratedEvent:
    """Call off a planned or announced event and cancel its pending nudges.

    The model has no column for the reason: it is logged with the event's id.
    """
    require_same_organization(organization, event=event)
    now = timezone.now()
    moved = (
        _events(organization)
        .filter(pk=event.pk, status__in=_sources(Status.CANCELLED))
        .update(status=Status.CANCELLED, closed_at=now, updated_at=now)
    )
    if not moved:
        _refuse(organization, event, "be cancelled")
    cancelled = nudges_cancel(organization=organization, event_id=event.pk)
    logger.info(
        "Event %s of organization %s cancelled (%s pending nudges cancelled): %s",
        event.pk,
        organization.pk,
        cancelled,
        reason or "no reason given",
    )
    before = audit_snapshot(event, "status", "closed_at")
    audit_record(
        organization=organization,
        action="event.cancel",
        instance=_reload(organization, event),
        before=before,
        changes={"reason": reason} if reason else None,
    )
    return event


@transaction.atomic
def orchestrated_events_mark_missed(
    *, organization: Organization, now: dt.datetime | None = None
) -> int:
    """The nightly sweep: every event still announced ``MISSED_AFTER`` after its time, with no
    ``happened_at``, becomes missed — set-based UPDATEs, guarded on the status like the rest, its
    pending nudges cancelled. Returns how many events."""
    now = _moment(now, "now", default=timezone.now(), not_after_now=False)
    overdue = _events(organization).filter(
        status=Status.ANNOUNCED, happened_at__isnull=True, scheduled_for__lte=now - MISSED_AFTER
    )
    changed = timezone.now()
    with transaction.atomic():
        # Like the single-event move: leaving "announced" cancels what is still to be sent.
        cancelled = (
            Nudge.objects.for_org(organization)
            .filter(event__in=overdue.values("pk"), status=Nudge.Status.SCHEDULED)
            .update(status=Nudge.Status.CANCELLED, updated_at=changed)
        )
        missed = overdue.update(status=Status.MISSED, closed_at=now, updated_at=changed)
        if missed:  # one summary per sweep, with the nudges it called off
            audit_record(
                organization=organization,
                action="events.mark_missed",
                model=OrchestratedEvent,
                changes={"missed": missed, "nudges_cancelled": cancelled},
            )
        return missed
