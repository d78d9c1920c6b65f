"""Drill 1: the broker goes away while pages are served.

The broker this pass runs on (Redis in CI's PostgreSQL pass, the file-system transport in the
SQLite pass) is made unreachable for real: the app's broker is pointed at a closed port on
127.0.0.1 (Redis) or at a queue folder that does not exist (file broker), so every publish fails
as it would in production. While it is down:

- My book and Member 360 answer 200; an inline member action that schedules a success-gap
  recompute after commit (logging an engagement) answers 200 with its write kept and the member
  scored inline, the recompute it could not queue logged;
- creating a member through the API (which queues its coverage after commit) answers 201, and
  a CSV import upload answers with its status page, the import marked failed with a request to
  upload again instead of waiting "queued" for a worker that will never hear of it;
- ``/readyz`` answers 503 naming the broker.

Before this drill the engagement, the API call and the upload answered 500 (the publish raised
inside the after-commit callback, after the write had committed).

Then the broker comes back (Redis on a database of the drills' own, or a fresh queue folder) and
the recovery path runs: ``/readyz`` is 200 again, the nightly sweeps
(``outcomes.recompute_all_organizations``, ``orchestration.apply_coverage_all``) publish one
task per organization, and running what reached the broker scores every member, the new one
included — what could not be queued is not lost.

The test runs with real commits (``transactional_db``), so the after-commit sends happen exactly
as they do in a request in production.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from config.celery import app
from engagement.models import Engagement
from members.models import Member, MemberImport
from outcomes.models import SuccessGapSnapshot
from tests.conftest import make_tenant
from tests.factories import GoalFactory, MemberFactory

REDIS_DRILL_DB = 12  # the drills' own Redis database: flushed by this test
HTMX = {"HTTP_HX_REQUEST": "true"}
KIND = "redis" if django_settings.CELERY_BROKER_URL.startswith("redis://") else "filesystem"


def drop_connection_pools() -> None:
    """Close and forget every pooled broker connection (kombu keeps them per connection
    parameters, process-wide), so the next publish connects anew."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def point_broker(monkeypatch, settings, url: str, options: dict) -> None:
    """Point the whole process at another broker: Django settings (what ``/readyz`` reads), the
    environment (Celery lets CELERY_BROKER_URL win over its configuration) and the Celery app,
    whose connection and producer pools are dropped."""
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    settings.CELERY_BROKER_URL = url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    app.conf.broker_url = url
    app.conf.broker_transport_options = options
    drop_connection_pools()


def down_broker(tmp_path: Path) -> tuple[str, dict]:
    if KIND == "redis":
        # Port 9 (discard) is closed here: the connection is refused at once.
        return "redis://127.0.0.1:9/0", {}
    gone = str(tmp_path / "gone" / "queue")
    control = str(tmp_path / "gone" / "control")
    return "filesystem://", {
        "data_folder_in": gone,
        "data_folder_out": gone,
        "control_folder": control,
    }


def restored_broker(tmp_path: Path) -> tuple[str, dict]:
    if KIND == "redis":
        import redis

        url = f"redis://127.0.0.1:6379/{REDIS_DRILL_DB}"
        redis.Redis.from_url(url).flushdb()
        return url, {}
    folder, control = tmp_path / "queue", tmp_path / "control"
    folder.mkdir()
    control.mkdir()
    return "filesystem://", {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(control),
    }


@pytest.fixture
def broker(monkeypatch, settings, tmp_path):
    """Switches the process between a dead broker and a restored one. Afterwards pytest-django
    and monkeypatch put the settings and the environment back; the Celery app is put back here."""
    original = (app.conf.broker_url, app.conf.broker_transport_options)

    class Broker:
        def down(self) -> None:
            point_broker(monkeypatch, settings, *down_broker(tmp_path))

        def restore(self) -> None:
            point_broker(monkeypatch, settings, *restored_broker(tmp_path))

    yield Broker()
    app.conf.broker_url, app.conf.broker_transport_options = original
    drop_connection_pools()


def run_what_reached_the_broker(organization_ids: set[int], timeout: float = 10) -> list[str]:
    """Act as the worker: take each task message off the default queue and run it here (the
    tasks it publishes in turn are taken too), until the queue stays empty."""
    ran: list[str] = []
    deadline = time.monotonic() + timeout
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        try:
            while time.monotonic() < deadline:
                try:
                    message = queue.get(timeout=1)
                except queue.Empty:
                    break
                name = message.headers["task"]
                args, kwargs, _ = message.decode()
                message.ack()
                if kwargs.get("organization_id", next(iter(organization_ids))) in organization_ids:
                    app.tasks[name].apply(args=args, kwargs=kwargs, throw=True)
                    ran.append(name)
        finally:
            queue.close()
    return ran


@pytest.mark.django_db(transaction=True)
def test_pages_keep_working_and_the_recompute_is_recovered_when_the_broker_is_down(
    broker, login, api, caplog
):
    tenant = make_tenant("drill-broker", "Drill Broker Society")
    organization = tenant.organization
    member = MemberFactory(organization=organization, owner=tenant.msm)
    GoalFactory(
        desired_outcome__member=member,
        desired_outcome__organization=organization,
        starts_on=timezone.localdate() - dt.timedelta(days=30),
        due_on=timezone.localdate() + dt.timedelta(days=30),
    )
    client = login(tenant.msm)
    slug = organization.slug
    pages = {
        "My book": reverse("members:book", kwargs={"org_slug": slug}),
        "Member 360": reverse("members:detail", kwargs={"org_slug": slug, "member_id": member.pk}),
    }
    engagements = Engagement.objects.unscoped().filter(member=member)
    before = engagements.count()

    broker.down()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["broker"]

    for name, url in pages.items():
        assert client.get(url).status_code == 200, name
    started = time.monotonic()
    # Logging an engagement changes the score: the request schedules a debounced recompute
    # (outcomes.recompute.RecomputeBatchMiddleware), published after the write commits.
    response = client.post(
        reverse("members:log_engagement", kwargs={"org_slug": slug, "member_id": member.pk}),
        {
            "direction": "outbound_proactive",
            "type": "meeting_1_1",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "summary": "Called while the broker was down",
        },
        **HTMX,
    )
    assert response.status_code == 200, response.content[:2000]
    assert "Called while the broker was down" in response.content.decode()
    assert time.monotonic() - started < 10, "the failed publish held the page up"
    # The write is kept, the member is scored (the page scores inline), and the recompute that
    # could not be queued is logged for the operator.
    assert engagements.count() == before + 1
    snapshots = SuccessGapSnapshot.objects.unscoped().filter(member=member)
    assert Member.objects.unscoped().get(pk=member.pk).success_computed_at is not None
    assert snapshots.count() == 1
    assert "could not queue the recompute" in caplog.text
    for name, url in pages.items():
        assert client.get(url).status_code == 200, f"{name} after the action"

    # A new member through the API: creating a member queues its coverage (owner assignment)
    # after commit; the member is kept and the nightly coverage run covers it.
    created = api(tenant).post(
        reverse("api:members-list"), {"name": "Ada Offline", "status": "active"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert "could not queue the coverage" in caplog.text

    # A CSV import is queued for the worker after its upload commits: the import cannot sit
    # "queued" for ever, so it says it failed and asks for the file again.
    upload = client.post(
        reverse("members_extra:import", kwargs={"org_slug": slug}),
        {"file": SimpleUploadedFile("m.csv", b"name\nGrace Offline\n", content_type="text/csv")},
    )
    assert upload.status_code == 302, upload.content[:2000]
    member_import = MemberImport.objects.unscoped().get(organization=organization)
    assert member_import.status == MemberImport.Status.FAILED
    assert "upload the file again" in member_import.error.lower()
    assert client.get(upload["Location"]).status_code == 200
    assert client.get("/readyz").status_code == 503

    broker.restore()
    assert client.get("/readyz").status_code == 200
    from orchestration.tasks import apply_coverage_all
    from outcomes.tasks import recompute_all_organizations

    # The nightly sweeps, as beat sends them, then what they published, as the worker runs it.
    assert recompute_all_organizations.apply(throw=True).get() >= 1
    assert apply_coverage_all.apply(throw=True).get() >= 1
    ran = run_what_reached_the_broker({organization.pk})
    assert sorted(ran) == ["orchestration.apply_coverage", "outcomes.recompute_organization"]
    assert snapshots.count() == 2
    latest = snapshots.order_by("-computed_at", "-pk").first()
    members = Member.objects.unscoped().filter(organization=organization)
    assert latest.run.finished_at is not None
    assert latest.run.members_scored == members.count() == 2  # the API's new member too
    assert not members.filter(success_computed_at=None).exists()


def test_saving_scoring_settings_and_asking_for_an_export_survive_a_dead_broker(
    transactional_db, broker
):
    """Two more after-commit senders: the scoring settings stay saved (the nightly recompute
    uses them), and an export that cannot be queued says so instead of waiting for ever."""
    from outcomes.models import ScoringConfiguration
    from outcomes.services import scoring_configuration_save
    from portability.models import DataExport
    from portability.services import data_export_request

    tenant = make_tenant("drill-senders", "Drill Senders")
    organization = tenant.organization
    broker.down()

    scoring_configuration_save(organization=organization)
    assert ScoringConfiguration.objects.for_org(organization).count() == 1

    export = data_export_request(organization=organization, requested_by=tenant.admin)
    export.refresh_from_db()
    assert export.status == DataExport.Status.FAILED
    assert "could not be queued" in export.error

    broker.restore()
    again = data_export_request(organization=organization, requested_by=tenant.admin)
    assert again.pk != export.pk
    again.refresh_from_db()
    assert again.status == DataExport.Status.QUEUED
