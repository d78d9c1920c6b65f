"""Planning nudges (``nudges_plan``): set-based, idempotent by key per organization, exact about
how many were new, and faithful to every character of the text on each insert path."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import orchestration.nudges as nudges
from orchestration.models import Nudge
from orchestration.nudges import NudgeSpec, nudges_cancel, nudges_plan
from tests.factories import MemberFactory, OrchestratedEventFactory

AT = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
AWKWARD = "Tabs\there, a new\nline, a \\ backslash, \\N, a\r\nCRLF, «unicode» — and 'quotes'"


# PostgreSQL plans small batches with multi-row VALUES and large ones with COPY: run the tests
# through both there (COPY from the first row); SQLite has a single path.
PATHS = ["values", "copy"] if connection.vendor == "postgresql" else ["values"]


@pytest.fixture(params=PATHS)
def insert_path(request, monkeypatch):
    if request.param == "copy":
        monkeypatch.setattr(nudges, "COPY_THRESHOLD", 1)
    return request.param


def specs_for(member, count: int, *, prefix: str = "k", **extra) -> list[NudgeSpec]:
    return [
        NudgeSpec(
            idempotency_key=f"{prefix}-{i}",
            subject=f"Subject {i}",
            body=f"Body {i}",
            scheduled_for=AT + dt.timedelta(minutes=i),
            member_id=member.pk,
            to_email=member.email,
            **extra,
        )
        for i in range(count)
    ]


def test_planning_inserts_new_keys_once_and_counts_them(tenant_a, insert_path):
    member = MemberFactory(organization=tenant_a.organization)
    org = tenant_a.organization

    assert nudges_plan(organization=org, specs=specs_for(member, 5)) == 5
    assert nudges_plan(organization=org, specs=specs_for(member, 5)) == 0
    assert nudges_plan(organization=org, specs=specs_for(member, 8)) == 3
    assert Nudge.objects.for_org(org).count() == 8


def test_the_same_key_in_another_organization_is_another_nudge(tenant_a, tenant_b, insert_path):
    a = MemberFactory(organization=tenant_a.organization)
    b = MemberFactory(organization=tenant_b.organization)
    assert nudges_plan(organization=tenant_a.organization, specs=specs_for(a, 3)) == 3
    assert nudges_plan(organization=tenant_b.organization, specs=specs_for(b, 3)) == 3
    assert Nudge.objects.for_org(tenant_b.organization).filter(member=b).count() == 3


def test_a_key_repeated_within_one_plan_is_planned_once(tenant_a, insert_path):
    member = MemberFactory(organization=tenant_a.organization)
    twice = specs_for(member, 2) + specs_for(member, 2)
    assert nudges_plan(organization=tenant_a.organization, specs=twice) == 2


def test_every_field_is_stored_as_given(tenant_a, insert_path):
    member = MemberFactory(organization=tenant_a.organization, email="ada@alpha.test")
    event = OrchestratedEventFactory(member=member)
    spec = NudgeSpec(
        idempotency_key=f"event:{event.pk}:lead:14",
        subject=AWKWARD[:60],
        body=AWKWARD,
        scheduled_for=AT,
        member_id=member.pk,
        seat_id=tenant_a.msm.pk,
        to_email="ada@alpha.test",
        channel=Nudge.Channel.EMAIL,
        kind=Nudge.Kind.ANNOUNCEMENT,
        event_id=event.pk,
    )
    before = timezone.now()
    nudges_plan(organization=tenant_a.organization, specs=[spec])

    nudge = Nudge.objects.for_org(tenant_a.organization).get()
    assert (nudge.subject, nudge.body, nudge.idempotency_key) == (
        AWKWARD[:60],
        AWKWARD,
        f"event:{event.pk}:lead:14",
    )
    assert (nudge.member_id, nudge.seat_id, nudge.event_id, nudge.enrollment_id) == (
        member.pk,
        tenant_a.msm.pk,
        event.pk,
        None,
    )
    assert (nudge.to_email, nudge.channel, nudge.kind, nudge.scheduled_for) == (
        "ada@alpha.test",
        "email",
        "announcement",
        AT,
    )
    assert (nudge.status, nudge.attempts, nudge.last_error, nudge.claim_token) == (
        "scheduled",
        0,
        "",
        "",
    )
    assert nudge.claimed_at is None and nudge.sent_at is None
    assert before - dt.timedelta(seconds=1) <= nudge.created_at <= timezone.now()


def test_a_long_subject_is_cut_to_the_column(tenant_a, insert_path):
    member = MemberFactory(organization=tenant_a.organization)
    spec = NudgeSpec("long", "x" * 300, "Body", AT, member_id=member.pk, to_email=member.email)
    nudges_plan(organization=tenant_a.organization, specs=[spec])
    assert len(Nudge.objects.for_org(tenant_a.organization).get().subject) == 200


def test_a_nudge_without_a_target_is_refused_and_nothing_is_planned(tenant_a, insert_path):
    member = MemberFactory(organization=tenant_a.organization)
    targetless = NudgeSpec("nobody", "Hello", "Body", AT)
    with pytest.raises(IntegrityError):
        nudges_plan(organization=tenant_a.organization, specs=[*specs_for(member, 2), targetless])
    assert Nudge.objects.for_org(tenant_a.organization).count() == 0


def test_an_empty_plan_plans_nothing(tenant_a):
    with CaptureQueriesContext(connection) as queries:
        assert nudges_plan(organization=tenant_a.organization, specs=[]) == 0
    assert not [q for q in queries if "INSERT" in q["sql"].upper()]


def test_planning_takes_a_constant_number_of_statements(tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    counts = []
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            nudges_plan(
                organization=tenant_a.organization, specs=specs_for(member, size, prefix=f"{size}")
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_cancelling_touches_only_the_events_scheduled_nudges(tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization)
    event = OrchestratedEventFactory(member=member)
    org = tenant_a.organization
    nudges_plan(organization=org, specs=specs_for(member, 3, prefix="event", event_id=event.pk))
    nudges_plan(organization=org, specs=specs_for(member, 2, prefix="other"))
    sent = Nudge.objects.for_org(org).get(idempotency_key="event-0")
    Nudge.objects.for_org(org).filter(pk=sent.pk).update(status="sent")

    assert nudges_cancel(organization=tenant_b.organization, event_id=event.pk) == 0
    assert nudges_cancel(organization=org, event_id=event.pk) == 2
    assert dict(Nudge.objects.for_org(org).values_list("idempotency_key", "status")) == {
        "event-0": "sent",
        "event-1": "cancelled",
        "event-2": "cancelled",
        "other-0": "scheduled",
        "other-1": "scheduled",
    }
    with pytest.raises(ValueError, match="which event"):
        nudges_cancel(organization=org)
