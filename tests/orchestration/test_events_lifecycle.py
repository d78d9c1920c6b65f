"""Orchestrated events: creating, announcing (the nudges it plans), and every status change —
allowed ones do what they say, illegal ones are refused on ``status`` and change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from orchestration.events import (
    TRANSITIONS,
    orchestrated_event_announce,
    orchestrated_event_cancel,
    orchestrated_event_confirm,
    orchestrated_event_create,
    orchestrated_event_mark_happened,
    orchestrated_event_mark_missed,
    orchestrated_events_mark_missed,
)
from orchestration.models import Nudge, OrchestratedEvent
from orchestration.tasks import mark_missed_events
from tests.factories import (
    EnrollmentFactory,
    MemberFactory,
    NudgeFactory,
    OrchestratedEventFactory,
    PlaybookStepFactory,
)

Status = OrchestratedEvent.Status
UTC = dt.UTC
# A fixed "now" for planning: 1 March 2025, 09:00 UTC (10:00 in Paris, the factories' zone).
NOW = dt.datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
EVENT_AT = dt.datetime(2025, 3, 20, 9, 0, tzinfo=UTC)  # Thursday 20 March, 10:00 in Paris


def _counts() -> tuple[int, int]:
    return OrchestratedEvent.objects.unscoped().count(), Nudge.objects.unscoped().count()


def _nudges(event: OrchestratedEvent) -> list[Nudge]:
    return list(Nudge.objects.unscoped().filter(event=event).order_by("scheduled_for"))


def _create(organization, **overrides) -> OrchestratedEvent:
    arguments = {
        "organization": organization,
        "member": overrides.pop("member", None) or MemberFactory(organization=organization),
        "title": "Annual membership review",
        "scheduled_for": timezone.now() + dt.timedelta(days=21),
        "lead_days": [14, 2],
    }
    arguments.update(overrides)
    return orchestrated_event_create(**arguments)


def _event(organization, status: str, **fields) -> OrchestratedEvent:
    """An event already in ``status``, with the timestamps that status implies."""
    now = timezone.now()
    stamps = {
        Status.PLANNED: {},
        Status.ANNOUNCED: {"announced_at": now},
        Status.HAPPENED: {"announced_at": now, "happened_at": now},
        Status.CONFIRMED: {"announced_at": now, "happened_at": now, "confirmed_at": now},
        Status.MISSED: {"announced_at": now, "closed_at": now},
        Status.CANCELLED: {"closed_at": now},
    }[status]
    fields.setdefault("scheduled_for", now - dt.timedelta(days=1))
    return OrchestratedEventFactory(
        member__organization=organization, status=status, **stamps, **fields
    )


def _row(event: OrchestratedEvent) -> dict:
    return (
        OrchestratedEvent.objects.unscoped()
        .filter(pk=event.pk)
        .values("status", "announced_at", "happened_at", "confirmed_at", "closed_at")
        .get()
    )


# --- creating and announcing ------------------------------------------------------------------


def test_create_announces_at_once_with_one_nudge_per_lead_day(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org, name="Ada Byron", email="ada@example.test")
    event = orchestrated_event_create(
        organization=org,
        member=member,
        title="Annual membership review",
        description="We look at your plan together.",
        scheduled_for=timezone.now() + dt.timedelta(days=21),
        lead_days=[2, 14, 7, 14],
        created_by=tenant_a.msm,
    )
    assert event.status == Status.ANNOUNCED and event.announced_at is not None
    assert event.lead_days == [14, 7, 2]  # distinct, largest first: the first announces
    assert event.created_by == tenant_a.msm
    nudges = _nudges(event)
    assert [(n.idempotency_key, n.kind) for n in nudges] == [
        (f"event:{event.pk}:lead:14", Nudge.Kind.ANNOUNCEMENT),
        (f"event:{event.pk}:lead:7", Nudge.Kind.REMINDER),
        (f"event:{event.pk}:lead:2", Nudge.Kind.REMINDER),
    ]
    for nudge, days in zip(nudges, [14, 7, 2], strict=True):
        assert nudge.scheduled_for == event.scheduled_for - dt.timedelta(days=days)
        assert nudge.channel == Nudge.Channel.EMAIL
        assert nudge.to_email == "ada@example.test" and nudge.member_id == member.pk
        assert nudge.status == Nudge.Status.SCHEDULED
        assert "Annual membership review" in nudge.subject
        assert "We look at your plan together." in nudge.body
        assert "Hello Ada Byron" in nudge.body
        assert f"{settings.TANDEM_BASE_URL}/e/confirm/" in nudge.body


def test_messages_say_what_and_when_on_the_organizations_clock(tenant_a):
    org = tenant_a.organization
    assert org.time_zone == "Europe/Paris"
    event = _create(org, scheduled_for=EVENT_AT, announce=False)
    orchestrated_event_announce(organization=org, event=event, now=NOW)
    announcement, reminder = _nudges(event)
    when = "Thursday 20 March 2025 at 10:00 (Europe/Paris time)"
    assert announcement.subject == f"Coming up: Annual membership review on {when}"
    assert reminder.subject == f"Reminder: Annual membership review on {when}"
    assert f"When: {when}" in announcement.body
    assert "What: Annual membership review" in announcement.body


def test_announcing_plans_at_lead_times_and_is_idempotent(tenant_a):
    org = tenant_a.organization
    event = _create(org, scheduled_for=EVENT_AT, announce=False)
    assert event.status == Status.PLANNED and _nudges(event) == []

    assert orchestrated_event_announce(organization=org, event=event, now=NOW) == 2
    event.refresh_from_db()
    assert event.status == Status.ANNOUNCED and event.announced_at == NOW
    first = [(n.idempotency_key, n.scheduled_for) for n in _nudges(event)]
    assert first == [
        (f"event:{event.pk}:lead:14", dt.datetime(2025, 3, 6, 9, 0, tzinfo=UTC)),
        (f"event:{event.pk}:lead:2", dt.datetime(2025, 3, 18, 9, 0, tzinfo=UTC)),
    ]

    # Again, later: nothing new, nothing moved, announced_at kept.
    later = NOW + dt.timedelta(days=3)
    assert orchestrated_event_announce(organization=org, event=event, now=later) == 0
    event.refresh_from_db()
    assert event.announced_at == NOW
    assert [(n.idempotency_key, n.scheduled_for) for n in _nudges(event)] == first


def test_announcing_inside_the_lead_window_announces_now_and_skips_pointless_reminders(tenant_a):
    org = tenant_a.organization
    # Three days ahead, leads 14 and 2: announce now, remind two days before.
    soon = _create(org, scheduled_for=NOW + dt.timedelta(days=3), announce=False)
    orchestrated_event_announce(organization=org, event=soon, now=NOW)
    assert [(n.kind, n.scheduled_for) for n in _nudges(soon)] == [
        (Nudge.Kind.ANNOUNCEMENT, NOW),
        (Nudge.Kind.REMINDER, NOW + dt.timedelta(days=1)),
    ]
    # One day ahead: the reminder would go out before the announcement, so there is none.
    sooner = _create(org, scheduled_for=NOW + dt.timedelta(days=1), announce=False)
    orchestrated_event_announce(organization=org, event=sooner, now=NOW)
    assert [(n.kind, n.scheduled_for) for n in _nudges(sooner)] == [(Nudge.Kind.ANNOUNCEMENT, NOW)]


def test_a_member_without_email_has_an_event_but_no_email_nudges(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org, email="")
    event = _create(org, member=member)
    assert event.status == Status.ANNOUNCED
    assert _nudges(event) == []


def test_create_from_a_playbook_step_links_the_enrolment(tenant_a):
    org = tenant_a.organization
    enrollment = EnrollmentFactory(playbook__organization=org)
    step = PlaybookStepFactory(playbook=enrollment.playbook, action="event")
    event = _create(org, member=enrollment.member, enrollment=enrollment, step=step)
    assert (event.enrollment, event.step) == (enrollment, step)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"scheduled_for": dt.datetime(2025, 3, 20, 10, 0)}, "scheduled_for"),  # naive
        ({"scheduled_for": dt.date(2025, 3, 20)}, "scheduled_for"),
        ({"scheduled_for": None}, "scheduled_for"),
        ({"lead_days": []}, "lead_days"),
        ({"lead_days": [14, 0]}, "lead_days"),
        ({"lead_days": [-3]}, "lead_days"),
        ({"lead_days": [366]}, "lead_days"),
        ({"lead_days": [True]}, "lead_days"),
        ({"lead_days": ["14"]}, "lead_days"),
        ({"lead_days": [2.5]}, "lead_days"),
        ({"lead_days": 14}, "lead_days"),
        ({"lead_days": None}, "lead_days"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_written(tenant_a, overrides, field):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _create(org, member=member, **overrides)
    assert field in error.value.message_dict
    assert _counts() == before


def test_every_bad_field_is_reported_together(tenant_a):
    org = tenant_a.organization
    with pytest.raises(ValidationError) as error:
        _create(org, title="", scheduled_for=None, lead_days=[])
    assert set(error.value.message_dict) == {"title", "scheduled_for", "lead_days"}


@pytest.mark.parametrize("field", ["member", "created_by", "enrollment", "step"])
def test_rows_of_another_organization_are_refused(tenant_a, tenant_b, field):
    org_a, org_b = tenant_a.organization, tenant_b.organization
    foreign = {
        "member": lambda: MemberFactory(organization=org_b),
        "created_by": lambda: tenant_b.msm,
        "enrollment": lambda: EnrollmentFactory(playbook__organization=org_b),
        "step": lambda: PlaybookStepFactory(playbook__organization=org_b),
    }[field]()
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _create(org_a, **{field: foreign})
    assert field in error.value.message_dict
    assert _counts() == before


def test_an_enrolment_of_another_member_or_a_step_of_another_playbook_is_refused(tenant_a):
    org = tenant_a.organization
    enrollment = EnrollmentFactory(playbook__organization=org)
    other_step = PlaybookStepFactory(playbook__organization=org)
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _create(org, member=MemberFactory(organization=org), enrollment=enrollment)
    assert "enrollment" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        _create(org, member=enrollment.member, enrollment=enrollment, step=other_step)
    assert "step" in error.value.message_dict
    assert _counts() == before


def test_a_step_makes_one_event_per_enrolment(tenant_a):
    org = tenant_a.organization
    enrollment = EnrollmentFactory(playbook__organization=org)
    step = PlaybookStepFactory(playbook=enrollment.playbook, action="event")
    _create(org, member=enrollment.member, enrollment=enrollment, step=step)
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _create(org, member=enrollment.member, enrollment=enrollment, step=step)
    assert "step" in error.value.message_dict
    assert _counts() == before


# --- status changes -----------------------------------------------------------------------------


def _announce(org, event):
    return orchestrated_event_announce(organization=org, event=event)


def _happened(org, event):
    return orchestrated_event_mark_happened(organization=org, event=event)


def _confirm(org, event):
    return orchestrated_event_confirm(organization=org, event=event)


def _missed(org, event):
    return orchestrated_event_mark_missed(organization=org, event=event)


def _cancel(org, event):
    return orchestrated_event_cancel(organization=org, event=event, reason="Member asked")


ACTIONS = {
    "announce": _announce,
    "mark_happened": _happened,
    "confirm": _confirm,
    "mark_missed": _missed,
    "cancel": _cancel,
}
# (action, from status) → status after, or None when refused. Confirming an announced event
# records the acknowledgement and keeps it announced; confirming again is not an error.
EXPECTED = {
    ("announce", Status.PLANNED): Status.ANNOUNCED,
    ("announce", Status.ANNOUNCED): Status.ANNOUNCED,  # idempotent, plans nothing new
    ("mark_happened", Status.ANNOUNCED): Status.HAPPENED,
    ("confirm", Status.ANNOUNCED): Status.ANNOUNCED,
    ("confirm", Status.HAPPENED): Status.CONFIRMED,
    ("confirm", Status.CONFIRMED): Status.CONFIRMED,  # "already confirmed", nothing changes
    ("mark_missed", Status.ANNOUNCED): Status.MISSED,
    ("cancel", Status.PLANNED): Status.CANCELLED,
    ("cancel", Status.ANNOUNCED): Status.CANCELLED,
}
CASES = [(action, status) for action in ACTIONS for status in Status.values]


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-{s}" for a, s in CASES])
def test_every_action_from_every_status(tenant_a, action, status):
    org = tenant_a.organization
    event = _event(org, status)
    before = _row(event)
    expected = EXPECTED.get((action, status))
    if expected is None:
        with pytest.raises(ValidationError) as error:
            ACTIONS[action](org, event)
        assert list(error.value.message_dict) == ["status"]
        assert _row(event) == before, "a refused change must leave the event as it was"
    else:
        ACTIONS[action](org, event)
        assert _row(event)["status"] == expected


def test_the_transition_table_is_the_documented_one():
    assert {source: set(targets) for source, targets in TRANSITIONS.items()} == {
        Status.PLANNED: {Status.ANNOUNCED, Status.CANCELLED},
        Status.ANNOUNCED: {Status.HAPPENED, Status.CONFIRMED, Status.MISSED, Status.CANCELLED},
        Status.HAPPENED: {Status.CONFIRMED},
        Status.CONFIRMED: set(),
        Status.MISSED: set(),
        Status.CANCELLED: set(),
    }


def test_refusals_say_why_in_plain_words(tenant_a):
    org = tenant_a.organization
    event = _event(org, Status.CANCELLED)
    with pytest.raises(ValidationError) as error:
        _happened(org, event)
    assert error.value.message_dict["status"] == [
        "This event is cancelled, so it cannot be marked as happened."
    ]


def test_confirmed_means_it_happened_and_the_member_confirmed(tenant_a):
    """Acknowledged before: stays announced; marked happened later: confirmed, both recorded."""
    org = tenant_a.organization
    event = _event(org, Status.ANNOUNCED)
    acknowledged_at = timezone.now() - dt.timedelta(hours=5)
    result = orchestrated_event_confirm(organization=org, event=event, at=acknowledged_at)
    assert result.recorded
    assert result.event.status == Status.ANNOUNCED
    assert result.event.confirmed_at == acknowledged_at and result.event.happened_at is None

    happened = orchestrated_event_mark_happened(organization=org, event=event)
    assert happened.status == Status.CONFIRMED
    assert happened.happened_at is not None and happened.confirmed_at == acknowledged_at


def test_confirming_after_it_happened_moves_it_to_confirmed(tenant_a):
    org = tenant_a.organization
    event = _event(org, Status.ANNOUNCED)
    assert _happened(org, event).status == Status.HAPPENED
    result = _confirm(org, event)
    assert result.recorded and result.event.status == Status.CONFIRMED
    assert result.event.happened_at is not None and result.event.confirmed_at is not None


def test_a_second_confirmation_changes_nothing_and_says_so(tenant_a):
    org = tenant_a.organization
    event = _event(org, Status.HAPPENED)
    first = _confirm(org, event)
    before = _row(event)
    second = orchestrated_event_confirm(
        organization=org, event=event, at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert first.recorded and not second.recorded
    assert _row(event) == before
    # Also when the first one was an acknowledgement of the announcement.
    acknowledged = _event(org, Status.ANNOUNCED)
    assert _confirm(org, acknowledged).recorded
    before = _row(acknowledged)
    assert not _confirm(org, acknowledged).recorded
    assert _row(acknowledged) == before


def test_a_stale_copy_cannot_move_an_event_twice(tenant_a):
    """Two workers holding the same announced event: the guard is on the row, not the copy."""
    org = tenant_a.organization
    event = _event(org, Status.ANNOUNCED)
    stale = OrchestratedEvent.objects.for_org(org).get(pk=event.pk)
    _cancel(org, event)
    assert stale.status == Status.ANNOUNCED  # what the second worker believes
    with pytest.raises(ValidationError) as error:
        _happened(org, stale)
    assert "cancelled" in error.value.message_dict["status"][0]
    assert _row(event)["status"] == Status.CANCELLED and _row(event)["happened_at"] is None


def test_an_event_cannot_be_missed_before_its_time(tenant_a):
    org = tenant_a.organization
    event = _event(org, Status.ANNOUNCED, scheduled_for=timezone.now() + dt.timedelta(hours=2))
    before = _row(event)
    with pytest.raises(ValidationError) as error:
        _missed(org, event)
    assert "still to come" in error.value.message_dict["status"][0]
    assert _row(event) == before


@pytest.mark.parametrize(
    "action", ["mark_happened", "confirm", "mark_missed", "cancel", "announce"]
)
def test_an_event_of_another_organization_is_refused(tenant_a, tenant_b, action):
    event = _event(tenant_b.organization, Status.ANNOUNCED)
    before = _row(event)
    with pytest.raises(ValidationError) as error:
        ACTIONS[action](tenant_a.organization, event)
    assert "event" in error.value.message_dict
    assert _row(event) == before


@pytest.mark.parametrize(
    ("service", "field"),
    [
        (orchestrated_event_mark_happened, "at"),
        (orchestrated_event_confirm, "at"),
        (orchestrated_event_mark_missed, "at"),
    ],
)
def test_moments_must_be_aware_and_not_in_the_future(tenant_a, service, field):
    org = tenant_a.organization
    event = _event(org, Status.ANNOUNCED)
    before = _row(event)
    for bad in (timezone.now() + dt.timedelta(hours=1), dt.datetime(2025, 1, 1, 10, 0)):
        with pytest.raises(ValidationError) as error:
            service(organization=org, event=event, **{field: bad})
        assert field in error.value.message_dict
    assert _row(event) == before


def test_an_event_deleted_meanwhile_is_refused_on_event(tenant_a):
    org = tenant_a.organization
    event = _event(org, Status.ANNOUNCED)
    OrchestratedEvent.objects.for_org(org).filter(pk=event.pk).delete()
    with pytest.raises(ValidationError) as error:
        _happened(org, event)
    assert "event" in error.value.message_dict


# --- nudges follow the event ------------------------------------------------------------------


def _statuses(event) -> dict[str, str]:
    return {n.idempotency_key: n.status for n in _nudges(event)}


@pytest.mark.parametrize("action", ["cancel", "mark_happened", "mark_missed"])
def test_leaving_announced_cancels_pending_nudges_and_keeps_sent_ones(tenant_a, action):
    org = tenant_a.organization
    event = _create(org, scheduled_for=timezone.now() + dt.timedelta(days=21))
    announcement_key = f"event:{event.pk}:lead:14"
    Nudge.objects.for_org(org).filter(idempotency_key=announcement_key).update(
        status=Nudge.Status.SENT, sent_at=timezone.now()
    )
    other = _create(org)  # another event's nudges are not touched
    if action == "mark_missed":  # its time has to have passed
        OrchestratedEvent.objects.for_org(org).filter(pk=event.pk).update(
            scheduled_for=timezone.now() - dt.timedelta(hours=1)
        )
    ACTIONS[action](org, event)
    assert _statuses(event) == {
        announcement_key: Nudge.Status.SENT,
        f"event:{event.pk}:lead:2": Nudge.Status.CANCELLED,
    }
    assert set(_statuses(other).values()) == {Nudge.Status.SCHEDULED}


def test_cancelling_a_planned_event_plans_nothing_later(tenant_a):
    org = tenant_a.organization
    event = _create(org, announce=False)
    _cancel(org, event)
    with pytest.raises(ValidationError):
        _announce(org, event)
    assert _nudges(event) == []


# --- the nightly sweep ----------------------------------------------------------------------------


def test_the_sweep_marks_missed_only_announced_events_two_days_past(tenant_a, tenant_b):
    org = tenant_a.organization
    now = timezone.now()
    overdue = _event(org, Status.ANNOUNCED, scheduled_for=now - dt.timedelta(days=2, minutes=1))
    recent = _event(org, Status.ANNOUNCED, scheduled_for=now - dt.timedelta(days=1))
    happened = _event(org, Status.HAPPENED, scheduled_for=now - dt.timedelta(days=5))
    planned = _event(org, Status.PLANNED, scheduled_for=now - dt.timedelta(days=5))
    elsewhere = _event(
        tenant_b.organization, Status.ANNOUNCED, scheduled_for=now - dt.timedelta(days=5)
    )

    assert orchestrated_events_mark_missed(organization=org, now=now) == 1
    assert _row(overdue)["status"] == Status.MISSED and _row(overdue)["closed_at"] == now
    assert _row(recent)["status"] == Status.ANNOUNCED
    assert _row(happened)["status"] == Status.HAPPENED
    assert _row(planned)["status"] == Status.PLANNED
    assert _row(elsewhere)["status"] == Status.ANNOUNCED
    assert orchestrated_events_mark_missed(organization=org, now=now) == 0  # a re-run: nothing


def test_the_sweep_cancels_the_pending_nudges_of_missed_events(tenant_a):
    org = tenant_a.organization
    now = timezone.now()
    overdue = _event(org, Status.ANNOUNCED, scheduled_for=now - dt.timedelta(days=3))
    recent = _event(org, Status.ANNOUNCED, scheduled_for=now - dt.timedelta(days=1))
    pending = NudgeFactory(member=overdue.member, event=overdue, scheduled_for=now)
    sent = NudgeFactory(member=overdue.member, event=overdue, status="sent", sent_at=now)
    other = NudgeFactory(member=recent.member, event=recent, scheduled_for=now)

    assert orchestrated_events_mark_missed(organization=org, now=now) == 1
    statuses = dict(
        Nudge.objects.for_org(org)
        .filter(pk__in=[pending.pk, sent.pk, other.pk])
        .values_list("pk", "status")
    )
    assert statuses == {pending.pk: "cancelled", sent.pk: "sent", other.pk: "scheduled"}


def test_the_nightly_task_sweeps_every_organization(tenant_a, tenant_b):
    past = timezone.now() - dt.timedelta(days=3)
    events = [
        _event(t.organization, Status.ANNOUNCED, scheduled_for=past) for t in (tenant_a, tenant_b)
    ]
    assert mark_missed_events() == 2
    assert {_row(e)["status"] for e in events} == {Status.MISSED}
    assert mark_missed_events() == 0


def test_the_sweep_is_on_the_nightly_beat_with_an_expiry():
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "orchestration.mark_missed_events"
    ]
    assert len(entries) == 1
    assert entries[0]["options"]["expires"] > 0


def test_nudges_of_an_event_are_its_own(tenant_a):
    """A nudge made outside the event (e.g. a playbook message) is not cancelled with it."""
    org = tenant_a.organization
    event = _create(org)
    unrelated = NudgeFactory(member=event.member, organization=org)
    _cancel(org, event)
    unrelated.refresh_from_db()
    assert unrelated.status == Nudge.Status.SCHEDULED
