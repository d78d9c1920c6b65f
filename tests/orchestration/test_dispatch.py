"""Claiming and sending nudges: only due ones, oldest first, never the same one twice, failed
sends retried with backoff then failed with their error, every organization with its own data."""

from __future__ import annotations

import datetime as dt
import email
import socket
import socketserver
import threading
from concurrent.futures import ThreadPoolExecutor
from email import policy
from pathlib import Path

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orchestration.dispatch import (
    LEASE_EXPIRED,
    Outcome,
    _deliver,
    nudge_message_id,
    nudge_send,
    nudges_claim,
    nudges_dispatch,
    nudges_due_count,
    nudges_release_stale,
)
from orchestration.email import OutboxEmailBackend
from orchestration.models import Nudge
from orchestration.nudges import NudgeSpec, nudges_cancel, nudges_plan, nudges_requeue_failed
from orchestration.tasks import dispatch_nudges
from tests.factories import (
    MemberFactory,
    OrchestratedEventFactory,
    OrganizationFactory,
)

NOW = timezone.now().replace(microsecond=0)
OUTBOX = "orchestration.email.OutboxEmailBackend"
HERE = "tests.orchestration.test_dispatch"


@pytest.fixture
def outbox(settings, tmp_path) -> Path:
    """Email goes to the outbox backend in a folder of this test's own."""
    settings.EMAIL_BACKEND = OUTBOX
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")
    return tmp_path / "outbox"


def emails(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def plan(organization, member, count: int, *, start=NOW, step_minutes=-1, prefix="n", **extra):
    """Plan ``count`` nudges for the member, the first at ``start``, then every ``step_minutes``;
    returns their ids in planning order."""
    specs = [
        NudgeSpec(
            idempotency_key=f"{prefix}-{i}",
            subject=f"{prefix} subject {i}",
            body=f"Hello {member.name}, this is nudge {i} of {organization.name}.",
            scheduled_for=start + dt.timedelta(minutes=step_minutes * i),
            member_id=member.pk,
            to_email=member.email,
            **extra,
        )
        for i in range(count)
    ]
    nudges_plan(organization=organization, specs=specs)
    keys = [spec.idempotency_key for spec in specs]
    by_key = dict(
        Nudge.objects.for_org(organization)
        .filter(idempotency_key__in=keys)
        .values_list("idempotency_key", "pk")
    )
    return [by_key[key] for key in keys]


def statuses(ids) -> dict[int, str]:
    return dict(Nudge.objects.unscoped().filter(pk__in=ids).values_list("pk", "status"))


@pytest.fixture
def member(tenant_a):
    return MemberFactory(organization=tenant_a.organization, email="ada@alpha.test")


# Claiming ---------------------------------------------------------------------------------------


def test_claim_takes_only_due_scheduled_nudges(tenant_a, member):
    due = plan(tenant_a.organization, member, 2, prefix="due")
    soon = NOW + dt.timedelta(seconds=1)
    future = plan(tenant_a.organization, member, 2, prefix="future", start=soon, step_minutes=1)
    others = plan(tenant_a.organization, member, 4, prefix="other")
    states = ["sending", "sent", "failed", "cancelled"]
    for pk, status in zip(others, states, strict=True):
        Nudge.objects.for_org(tenant_a.organization).filter(pk=pk).update(status=status)

    _, ids = nudges_claim(batch_size=100, now=NOW)

    assert sorted(ids) == sorted(due)
    assert statuses(future) == dict.fromkeys(future, "scheduled")
    assert statuses(others) == dict(zip(others, states, strict=True))
    assert nudges_claim(batch_size=100, now=NOW)[1] == []


def test_claim_is_oldest_first_in_batches_and_stamps_the_claim(tenant_a, member):
    ids = plan(tenant_a.organization, member, 5)  # each planned one minute before the previous
    oldest_first = list(reversed(ids))

    token, first = nudges_claim(batch_size=3, now=NOW)
    other_token, second = nudges_claim(batch_size=3, now=NOW)

    assert first == oldest_first[:3]
    assert second == oldest_first[3:]
    assert token != other_token and len(token) == 36
    rows = Nudge.objects.for_org(tenant_a.organization).filter(pk__in=first)
    assert {(n.status, n.claim_token, n.claimed_at, n.attempts) for n in rows} == {
        ("sending", token, NOW, 1)
    }
    assert nudges_claim(batch_size=3, now=NOW)[1] == []


def test_claim_refuses_an_empty_batch(db):
    with pytest.raises(ValueError, match="batch_size"):
        nudges_claim(batch_size=0)


def test_claims_span_organizations(tenant_a, tenant_b, member):
    other = MemberFactory(organization=tenant_b.organization)
    a = plan(tenant_a.organization, member, 2, prefix="a")
    b = plan(tenant_b.organization, other, 2, prefix="b", start=NOW - dt.timedelta(hours=1))

    _, ids = nudges_claim(batch_size=10, now=NOW)

    assert ids == [*reversed(b), *reversed(a)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_never_get_the_same_nudge():
    """On PostgreSQL four threads claim at once (SKIP LOCKED); SQLite serialises writers, so
    there the claimers take turns — either way every nudge is claimed exactly once."""
    organization = OrganizationFactory()
    member = MemberFactory(organization=organization)
    planned = plan(organization, member, 120)
    claimers = 4 if connection.vendor == "postgresql" else 1
    start = threading.Barrier(claimers)

    def claim_until_empty() -> list[int]:
        taken = []
        try:
            start.wait()
            while ids := nudges_claim(batch_size=7, now=NOW)[1]:
                taken.extend(ids)
        finally:
            if claimers > 1:
                connections.close_all()
        return taken

    if claimers > 1:
        with ThreadPoolExecutor(max_workers=claimers) as pool:
            results = list(pool.map(lambda _: claim_until_empty(), range(claimers)))
    else:
        results = [claim_until_empty(), claim_until_empty()]
    every = [pk for taken in results for pk in taken]
    assert len(every) == len(set(every)) == len(planned)
    assert set(every) == set(planned)
    assert set(statuses(planned).values()) == {"sending"}


# Sending ----------------------------------------------------------------------------------------


def test_an_email_nudge_lands_in_the_outbox_once(outbox, tenant_a, member):
    [pk] = plan(tenant_a.organization, member, 1, prefix="welcome")
    token, _ = nudges_claim(batch_size=1, now=NOW)

    assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.SENT
    assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.SKIPPED

    [message] = emails(outbox)
    assert message["To"] == "ada@alpha.test"
    assert message["Subject"] == "welcome subject 0"
    assert message["From"] == "Tandem <nudges@tandem.localhost>"
    assert message["Message-ID"] == nudge_message_id(
        organization_id=tenant_a.organization.pk, idempotency_key="welcome-0"
    )
    assert f"Hello {member.name}, this is nudge 0" in message.get_content()
    nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
    assert (nudge.status, nudge.attempts, nudge.last_error) == ("sent", 1, "")
    assert nudge.sent_at is not None


@pytest.mark.parametrize("channel", [Nudge.Channel.IN_APP, Nudge.Channel.TASK])
def test_in_app_and_task_nudges_are_delivered_by_being_marked_sent(outbox, tenant_a, channel):
    specs = [
        NudgeSpec(
            idempotency_key="owner-heads-up",
            subject="Renewal call due",
            body="Call Ada before her renewal.",
            scheduled_for=NOW,
            seat_id=tenant_a.msm.pk,
            channel=channel,
        )
    ]
    nudges_plan(organization=tenant_a.organization, specs=specs)
    token, [pk] = nudges_claim(batch_size=5, now=NOW)

    assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.SENT
    assert statuses([pk]) == {pk: "sent"}
    assert emails(outbox) == []


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server said no")


def test_a_failed_send_is_retried_with_backoff_then_failed_with_its_error(
    settings, tenant_a, member
):
    settings.EMAIL_BACKEND = f"{HERE}.RefusingBackend"
    settings.NUDGE_MAX_ATTEMPTS = 5
    [pk] = plan(tenant_a.organization, member, 1)
    backoffs = []
    for attempt in range(1, 5):
        token, [claimed] = nudges_claim(batch_size=1, now=dt.datetime.max.replace(tzinfo=dt.UTC))
        assert claimed == pk
        before = timezone.now()
        assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.RETRY
        nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
        assert (nudge.status, nudge.attempts, nudge.claim_token) == ("scheduled", attempt, "")
        assert nudge.last_error == "ConnectionRefusedError: mail server said no"
        backoffs.append(round((nudge.scheduled_for - before).total_seconds() / 60))
    assert backoffs == [2, 4, 8, 16]

    token, _ = nudges_claim(batch_size=1, now=dt.datetime.max.replace(tzinfo=dt.UTC))
    assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.FAILED
    nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
    assert (nudge.status, nudge.attempts) == ("failed", 5)
    assert nudge.last_error == "ConnectionRefusedError: mail server said no"
    assert nudges_claim(batch_size=1, now=dt.datetime.max.replace(tzinfo=dt.UTC))[1] == []


def test_a_retry_waits_for_its_backoff(settings, tenant_a, member):
    settings.EMAIL_BACKEND = f"{HERE}.RefusingBackend"
    [pk] = plan(tenant_a.organization, member, 1)
    token, _ = nudges_claim(batch_size=1, now=NOW)
    nudge_send(nudge_id=pk, claim_token=token)

    assert nudges_claim(batch_size=1)[1] == []
    assert nudges_claim(batch_size=1, now=timezone.now() + dt.timedelta(minutes=3))[1] == [pk]


def test_an_email_nudge_without_an_address_fails_at_once(outbox, tenant_a, member):
    specs = [NudgeSpec("no-address", "Hello", "Body", NOW, member_id=member.pk, to_email="")]
    nudges_plan(organization=tenant_a.organization, specs=specs)
    token, [pk] = nudges_claim(batch_size=1, now=NOW)

    assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.FAILED
    nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
    assert nudge.status == "failed"
    assert "no email address" in nudge.last_error
    assert emails(outbox) == []


def test_a_failed_nudge_can_be_put_back_in_the_queue(settings, tenant_a, tenant_b, member):
    settings.EMAIL_BACKEND = f"{HERE}.RefusingBackend"
    settings.NUDGE_MAX_ATTEMPTS = 1
    [pk] = plan(tenant_a.organization, member, 1)
    token, _ = nudges_claim(batch_size=1, now=NOW)
    assert nudge_send(nudge_id=pk, claim_token=token) == Outcome.FAILED

    assert nudges_requeue_failed(organization=tenant_b.organization, nudge_ids=[pk]) == 0
    assert nudges_requeue_failed(organization=tenant_a.organization, nudge_ids=[pk], at=NOW) == 1
    nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
    assert (nudge.status, nudge.attempts, nudge.scheduled_for) == ("scheduled", 0, NOW)
    assert nudges_claim(batch_size=1, now=NOW)[1] == [pk]


# Exactly once -----------------------------------------------------------------------------------


def test_a_nudge_delivered_before_its_worker_died_is_not_delivered_again(outbox, tenant_a, member):
    """The worker hands the message over and dies before recording it: the lease runs out, the
    nudge is claimed again, and the second delivery is recognised by its Message-ID."""
    [pk] = plan(tenant_a.organization, member, 1)
    nudges_claim(batch_size=1, now=NOW)
    _deliver(Nudge.objects.for_org(tenant_a.organization).get(pk=pk), None)  # …then it dies

    assert nudges_release_stale(lease_seconds=300, now=NOW + dt.timedelta(seconds=301)) == 1
    token, [again] = nudges_claim(batch_size=1, now=NOW + dt.timedelta(seconds=302))
    assert nudge_send(nudge_id=again, claim_token=token) == Outcome.SENT

    assert len(emails(outbox)) == 1
    nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
    assert (nudge.status, nudge.attempts) == ("sent", 2)


def test_an_old_claim_cannot_send_after_the_nudge_was_handed_over(outbox, tenant_a, member):
    [pk] = plan(tenant_a.organization, member, 1)
    stale, _ = nudges_claim(batch_size=1, now=NOW)
    nudges_release_stale(lease_seconds=0, now=NOW)
    fresh, _ = nudges_claim(batch_size=1, now=NOW)

    assert nudge_send(nudge_id=pk, claim_token=stale) == Outcome.SKIPPED
    assert emails(outbox) == []
    assert nudge_send(nudge_id=pk, claim_token=fresh) == Outcome.SENT
    assert len(emails(outbox)) == 1


class AnotherWorkerTakesOverBackend(OutboxEmailBackend):
    """Delivers, and while the SMTP call is still 'in flight' the lease runs out and another
    worker claims the same nudge."""

    taken: list[tuple[str, list[int]]] = []

    def send_messages(self, email_messages):
        delivered = super().send_messages(email_messages)
        nudges_release_stale(lease_seconds=0)
        type(self).taken.append(nudges_claim(batch_size=10))
        return delivered


def test_a_send_overtaken_by_another_worker_is_recorded_once(settings, outbox, tenant_a, member):
    settings.EMAIL_BACKEND = f"{HERE}.AnotherWorkerTakesOverBackend"
    AnotherWorkerTakesOverBackend.taken = []
    [pk] = plan(tenant_a.organization, member, 1)
    slow, _ = nudges_claim(batch_size=1, now=NOW)

    assert nudge_send(nudge_id=pk, claim_token=slow) == Outcome.SUPERSEDED
    [(fresh, ids)] = AnotherWorkerTakesOverBackend.taken
    assert ids == [pk] and statuses([pk]) == {pk: "sending"}

    settings.EMAIL_BACKEND = OUTBOX
    assert nudge_send(nudge_id=pk, claim_token=fresh) == Outcome.SENT
    assert len(emails(outbox)) == 1


def test_stale_claims_are_released_after_the_lease(tenant_a, member):
    old = plan(tenant_a.organization, member, 2, prefix="old")
    nudges_claim(batch_size=2, now=NOW)
    recent = plan(tenant_a.organization, member, 1, prefix="recent")
    nudges_claim(batch_size=1, now=NOW + dt.timedelta(seconds=200))

    assert nudges_release_stale(lease_seconds=300, now=NOW + dt.timedelta(seconds=299)) == 0
    assert nudges_release_stale(lease_seconds=300, now=NOW + dt.timedelta(seconds=300)) == 2

    rows = Nudge.objects.for_org(tenant_a.organization)
    assert {
        (n.status, n.claim_token, n.claimed_at, n.attempts) for n in rows.filter(pk__in=old)
    } == {("scheduled", "", None, 1)}
    assert statuses(recent) == {recent[0]: "sending"}


def test_a_nudge_whose_workers_keep_dying_fails_once_its_attempts_are_used(
    settings, tenant_a, member
):
    settings.NUDGE_MAX_ATTEMPTS = 2
    [pk] = plan(tenant_a.organization, member, 1)
    for _ in range(2):
        nudges_claim(batch_size=1, now=NOW)
        nudges_release_stale(lease_seconds=0, now=NOW)

    nudge = Nudge.objects.for_org(tenant_a.organization).get(pk=pk)
    assert (nudge.status, nudge.attempts, nudge.last_error) == ("failed", 2, LEASE_EXPIRED)


def test_cancelled_nudges_are_never_sent(outbox, tenant_a, member):
    event = OrchestratedEventFactory(member=member)
    kept = plan(tenant_a.organization, member, 1, prefix="kept")
    cancelled = plan(tenant_a.organization, member, 2, prefix="event", event_id=event.pk)
    nudges_cancel(organization=tenant_a.organization, event_id=event.pk)

    report = nudges_dispatch(budget_seconds=30)

    assert (report.claimed, report.sent) == (1, 1)
    assert statuses(cancelled) == dict.fromkeys(cancelled, "cancelled")
    assert statuses(kept) == {kept[0]: "sent"}
    assert [m["Subject"] for m in emails(outbox)] == ["kept subject 0"]


def test_each_organizations_nudges_go_out_with_their_own_data(outbox, tenant_a, tenant_b):
    """Both organizations use the same key: two different nudges, two different emails."""
    ada = MemberFactory(organization=tenant_a.organization, name="Ada", email="ada@alpha.test")
    bea = MemberFactory(organization=tenant_b.organization, name="Bea", email="bea@beta.test")
    plan(tenant_a.organization, ada, 1, prefix="welcome")
    plan(tenant_b.organization, bea, 1, prefix="welcome")

    report = nudges_dispatch(budget_seconds=30)

    assert report.sent == 2
    sent = {m["To"]: m for m in emails(outbox)}
    assert set(sent) == {"ada@alpha.test", "bea@beta.test"}
    assert "Hello Ada" in sent["ada@alpha.test"].get_content()
    assert "Alpha Guild" in sent["ada@alpha.test"].get_content()
    assert "Hello Bea" in sent["bea@beta.test"].get_content()
    assert "Beta Society" in sent["bea@beta.test"].get_content()
    assert sent["ada@alpha.test"]["Message-ID"] != sent["bea@beta.test"]["Message-ID"]


# The dispatcher and its task --------------------------------------------------------------------


def test_the_dispatcher_releases_stale_claims_and_sends_every_due_nudge(outbox, tenant_a, member):
    ids = plan(tenant_a.organization, member, 7)
    nudges_claim(batch_size=2, now=NOW)  # a worker that died before sending them
    plan(tenant_a.organization, member, 1, prefix="later", start=NOW + dt.timedelta(days=1))

    report = nudges_dispatch(batch_size=3, budget_seconds=30, lease_seconds=0)

    assert report.as_dict() == {
        "released": 2,
        "batches": 3,
        "claimed": 7,
        "sent": 7,
        "retried": 0,
        "failed": 0,
        "skipped": 0,
        "superseded": 0,
    }
    assert statuses(ids) == dict.fromkeys(ids, "sent")
    assert len(emails(outbox)) == 7
    assert nudges_due_count(limit=100) == 0


def test_the_dispatcher_stops_claiming_when_its_budget_is_used(outbox, tenant_a, member):
    plan(tenant_a.organization, member, 3)
    assert nudges_dispatch(budget_seconds=0).claimed == 0
    assert nudges_due_count(limit=100) == 3
    assert nudges_due_count(limit=2) == 2


def test_the_dispatcher_records_each_nudge_in_one_statement(outbox, tenant_a, member):
    counts = {}
    for size in (5, 50):
        plan(tenant_a.organization, member, size, prefix=f"q{size}")
        with CaptureQueriesContext(connection) as queries:
            assert nudges_dispatch(batch_size=100, budget_seconds=30).sent == size
        counts[size] = len(queries)
    # The same release, claims and batch load (one query per organization) either way, then
    # one statement per nudge: recording it as sent.
    assert counts[50] - counts[5] == 45


def test_the_dispatch_task_runs_the_dispatcher(outbox, tenant_a, member):
    plan(tenant_a.organization, member, 2)
    result = dispatch_nudges.apply(kwargs={"helpers": 0}).get()
    assert (result["claimed"], result["sent"]) == (2, 2)
    assert dispatch_nudges.acks_late and dispatch_nudges.max_retries == 3
    assert dispatch_nudges.expires == 90


def test_a_dispatch_run_asks_a_helper_only_when_more_than_a_batch_is_due(
    settings, outbox, tenant_a, member, monkeypatch
):
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)  # the helper runs inline, first
    settings.NUDGE_DISPATCH_BATCH = 2
    plan(tenant_a.organization, member, 2, prefix="few")
    alone = dispatch_nudges.apply(kwargs={"helpers": 1}).get()
    assert alone["claimed"] == 2  # one batch: no helper asked

    ids = plan(tenant_a.organization, member, 5, prefix="many")
    helped = dispatch_nudges.apply(kwargs={"helpers": 1}).get()
    assert helped["claimed"] == 0  # the helper, run first here, sent them all
    assert statuses(ids) == dict.fromkeys(ids, "sent")
    assert len(emails(outbox)) == 7


def test_beat_runs_the_dispatcher_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["orchestration-dispatch-nudges"]
    assert entry["task"] == "orchestration.dispatch_nudges"
    assert entry["schedule"] == 60.0 and entry["options"]["expires"] == 90


# The outbox -------------------------------------------------------------------------------------


def test_the_outbox_writes_one_file_per_message_id(tmp_path):
    from django.core.mail import EmailMessage

    backend = OutboxEmailBackend(file_path=tmp_path)

    def message(message_id: str, body: str) -> EmailMessage:
        return EmailMessage(
            "Hi", body, "a@x.test", ["b@x.test"], headers={"Message-ID": message_id}
        )

    assert backend.send_messages([message("<one@x.test>", "first")]) == 1
    assert backend.send_messages([message("<one@x.test>", "second copy")]) == 1
    assert backend.send_messages([message("<two@x.test>", "other")]) == 1

    assert backend.duplicates == 1
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".eml", ".eml"]  # no temporary left
    bodies = {m.get_content().strip() for m in emails(tmp_path)}
    assert bodies == {"first", "other"}


# Settings ---------------------------------------------------------------------------------------


def test_email_settings_come_from_email_url(monkeypatch):
    from config.settings.base import OUTBOX_EMAIL_BACKEND, SMTP_EMAIL_BACKEND, email_from_env

    assert email_from_env(default_backend=OUTBOX_EMAIL_BACKEND)["EMAIL_BACKEND"] == (
        OUTBOX_EMAIL_BACKEND
    )
    monkeypatch.setenv("EMAIL_URL", "smtp+tls://mailer:s3cret@smtp.example.org:587")
    config = email_from_env(default_backend=OUTBOX_EMAIL_BACKEND)
    assert config == {
        "EMAIL_BACKEND": SMTP_EMAIL_BACKEND,
        "EMAIL_HOST": "smtp.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }


def test_email_settings_come_from_separate_variables(monkeypatch):
    from config.settings.base import SMTP_EMAIL_BACKEND, email_from_env

    monkeypatch.setenv("EMAIL_HOST", "relay.example.org")
    monkeypatch.setenv("EMAIL_PORT", "2525")
    monkeypatch.setenv("EMAIL_USE_TLS", "true")
    config = email_from_env(default_backend=SMTP_EMAIL_BACKEND)
    assert (config["EMAIL_BACKEND"], config["EMAIL_HOST"], config["EMAIL_PORT"]) == (
        SMTP_EMAIL_BACKEND,
        "relay.example.org",
        2525,
    )
    assert config["EMAIL_USE_TLS"] is True


def test_a_bad_email_url_is_refused_without_showing_the_password(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.settings.base import OUTBOX_EMAIL_BACKEND, email_from_env

    monkeypatch.setenv("EMAIL_URL", "carrier-pigeon://mailer:s3cret@loft")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL") as raised:
        email_from_env(default_backend=OUTBOX_EMAIL_BACKEND)
    assert "s3cret" not in str(raised.value)


# Admin ------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(db):
    from django.test import Client

    from tenancy.models import User

    client = Client()
    client.force_login(User.objects.create_superuser(email="ops@tandem.test", password="x-pass-1"))
    return client


def test_the_admin_lists_every_organizations_nudges_and_requeues_failed_ones(
    staff_client, tenant_a, tenant_b, member
):
    from django.contrib import admin
    from django.urls import reverse

    other = MemberFactory(organization=tenant_b.organization)
    [a] = plan(tenant_a.organization, member, 1, prefix="alpha")
    [b] = plan(tenant_b.organization, other, 1, prefix="beta")
    Nudge.objects.unscoped().filter(pk__in=[a, b]).update(status="failed", attempts=5)

    changelist = reverse("admin:orchestration_nudge_changelist")
    body = staff_client.get(changelist, {"status__exact": "failed"}).content.decode()
    assert "alpha subject 0" in body and "beta subject 0" in body
    assert (
        staff_client.get(reverse("admin:orchestration_nudge_change", args=[a])).status_code == 200
    )

    response = staff_client.post(
        changelist, {"action": "requeue_failed", "_selected_action": [a, b]}, follow=True
    )
    assert "2 failed nudge(s) scheduled again." in response.content.decode()
    assert statuses([a, b]) == {a: "scheduled", b: "scheduled"}
    registered = admin.site._registry[Nudge]
    assert set(registered.raw_id_fields) == {"member", "seat", "event", "enrollment"}
    assert {"status", "attempts", "last_error", "sent_at", "claim_token"} <= set(
        registered.readonly_fields
    )


# Through SMTP -----------------------------------------------------------------------------------


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of an SMTP server for smtplib: accepts every message and keeps it."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.server.sessions += 1
        self.reply("220 test.smtp ready")
        accepted = 0
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith("MAIL") and accepted == self.server.messages_per_session:
                self.reply("421 Too many messages in one session, closing")
                return
            if command.startswith(("EHLO", "HELO")):
                self.reply("250-test.smtp")
                self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b"".join(iter(self.rfile.readline, b".\r\n"))
                self.server.messages.append(email.message_from_bytes(data, policy=policy.SMTP))
                accepted += 1
                self.reply("250 OK queued")
            elif command == "QUIT":
                self.reply("221 Bye")
                return
            else:  # MAIL FROM, RCPT TO, RSET, NOOP
                self.reply("250 OK")


@pytest.fixture
def smtp_server(settings):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.daemon_threads = True
    server.sessions, server.messages, server.messages_per_session = 0, [], None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield server
    server.shutdown()
    server.server_close()


def test_a_dispatch_run_sends_through_smtp_in_one_session(smtp_server, tenant_a, member):
    ids = plan(tenant_a.organization, member, 3, prefix="smtp")

    report = nudges_dispatch(batch_size=2, budget_seconds=30)

    assert (report.batches, report.sent) == (2, 3)
    assert statuses(ids) == dict.fromkeys(ids, "sent")
    assert smtp_server.sessions == 1
    assert sorted(m["Message-ID"] for m in smtp_server.messages) == sorted(
        nudge_message_id(organization_id=tenant_a.organization.pk, idempotency_key=f"smtp-{i}")
        for i in range(3)
    )
    assert {m["To"] for m in smtp_server.messages} == {"ada@alpha.test"}


def test_a_session_the_server_closes_is_replaced_and_only_that_send_is_retried(
    smtp_server, tenant_a, member
):
    smtp_server.messages_per_session = 1
    first, second, third = plan(tenant_a.organization, member, 3, prefix="smtp")

    report = nudges_dispatch(batch_size=10, budget_seconds=30)

    assert (report.sent, report.retried) == (2, 1)
    assert smtp_server.sessions == 2
    # Oldest first: the third planned is the oldest, sent in the first session; the second is
    # refused as the server closes; the first goes out in a fresh session.
    assert statuses([first, second, third]) == {first: "sent", second: "scheduled", third: "sent"}
    refused = Nudge.objects.for_org(tenant_a.organization).get(pk=second)
    assert refused.last_error.startswith("SMTPSenderRefused")


def test_an_unreachable_mail_server_ends_the_run_and_leaves_the_emails_to_retry(
    settings, tenant_a, member
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    emails_due = plan(tenant_a.organization, member, 3)  # due 0, 1 and 2 minutes ago
    between = NOW - dt.timedelta(seconds=90)  # the batch: 2 min ago, this one, 1 min ago
    in_app = NudgeSpec(
        "in-app", "Call Ada", "Body", between, seat_id=tenant_a.msm.pk, channel="in_app"
    )
    nudges_plan(organization=tenant_a.organization, specs=[in_app])

    report = nudges_dispatch(batch_size=3, budget_seconds=30)

    assert (report.batches, report.claimed, report.retried, report.sent) == (1, 3, 2, 1)
    rows = {n.pk: n for n in Nudge.objects.for_org(tenant_a.organization)}
    for pk in emails_due[1:]:
        assert (rows[pk].status, rows[pk].attempts) == ("scheduled", 1)
        assert rows[pk].last_error.startswith("ConnectionRefusedError")
        assert rows[pk].scheduled_for > timezone.now()
    # The run stopped instead of trying the server for every due email.
    assert (rows[emails_due[0]].status, rows[emails_due[0]].attempts) == ("scheduled", 0)
    assert {n.status for n in rows.values() if n.channel == "in_app"} == {"sent"}
