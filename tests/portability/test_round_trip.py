"""Export an organization with rows in every exported model, import it into a new one, and find
the same rows: same count per model, same content per row, foreign keys pointing to the same
rows (through the ids the import gave them)."""

from __future__ import annotations

import bisect
import datetime as dt
import shutil
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry
from orchestration.models import CoveragePlaybook, DomainEventCursor
from outcomes.models import Goal, ScoringConfiguration
from outcomes.scoring import success_gaps_recompute
from portability import registry
from portability.exporting import export_path
from portability.importing import IMPORT_ACTION, ImportRefused, organization_import
from portability.models import DataExport
from portability.tasks import export_organization
from tenancy.demo import build_demo
from tenancy.models import DomainEvent, Organization, Seat, TenantModel, User
from tenancy.scope import organization_scope
from tests.factories import (
    CoveragePoolSeatFactory,
    EnrollmentFactory,
    GoalFactory,
    MemberFactory,
    NudgeFactory,
    OrchestratedEventFactory,
    PlaybookStepFactory,
    TaskFactory,
)
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.TANDEM_EXPORT_DIR = str(tmp_path / "exports")
    return tmp_path / "exports"


def _fill(organization: Organization) -> None:
    """Rows the demo does not make, so every exported model holds some."""
    from members.models import MemberImport

    admin = Seat.objects.for_org(organization).filter(role="admin").first()
    with organization_scope(organization):
        member = MemberFactory(organization=organization, name="Ada Round-Trip")
        goal = GoalFactory(
            desired_outcome__member=member, desired_outcome__organization=organization
        )
        GoalFactory(
            desired_outcome=goal.desired_outcome,
            member=member,
            organization=organization,
            supersedes=goal,
            objective="Complete 60 credits instead",
        )
        step = PlaybookStepFactory(playbook__organization=organization)
        pool = CoveragePoolSeatFactory(coverage_model__organization=organization, seat=admin)
        CoveragePlaybook.objects.create(
            organization=organization, coverage_model=pool.coverage_model, playbook=step.playbook
        )
        enrollment = EnrollmentFactory(playbook=step.playbook, member=member)
        TaskFactory(member=member, owner=admin, enrollment=enrollment, step=step)
        event = OrchestratedEventFactory(
            member=member, enrollment=enrollment, step=step, created_by=admin
        )
        nudge = NudgeFactory(member=member, seat=admin, event=event, enrollment=enrollment)
        MemberImport.objects.create(
            organization=organization, created_by=admin, file_name="m.csv", content="name\nX\n"
        )
        ScoringConfiguration.objects.create(organization=organization, watch_gap=25.0)
        success_gaps_recompute(organization=organization)
        events = [
            DomainEvent.objects.create(
                organization=organization,
                kind=DomainEvent.Kind.EVENT_CONFIRMED,
                subject_id=event.pk,
                payload={"event_id": event.pk, "member_id": member.pk, "title": "Review"},
            ),
            DomainEvent.objects.create(
                organization=organization,
                kind=DomainEvent.Kind.NUDGE_FAILED,
                subject_id=nudge.pk,
                payload={"nudge_id": nudge.pk, "member_id": member.pk, "seat_id": admin.pk},
            ),
            DomainEvent.objects.create(
                organization=organization,
                kind=DomainEvent.Kind.GOAL_STATUS_CHANGED,
                subject_id=goal.pk,
                payload={"goal_id": goal.pk, "member_id": member.pk, "status": "missed"},
            ),
        ]
        DomainEventCursor.objects.create(
            organization=organization, consumer="playbook:1", last_event_id=events[1].pk
        )
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url="https://hooks.example.org/in",
            secret="whsec_source-secret",
            event_types=["event.confirmed"],
            created_by=admin,
        )
        original = WebhookDelivery.objects.create(
            organization=organization,
            endpoint=endpoint,
            domain_event_id=events[0].pk,
            event_kind="event.confirmed",
            payload={"data": {"event_id": event.pk}},
            status=WebhookDelivery.Status.FAILED,
        )
        WebhookDelivery.objects.create(
            organization=organization,
            endpoint=endpoint,
            domain_event_id=events[0].pk,
            event_kind="event.confirmed",
            payload={"data": {"event_id": event.pk}},
            replay_of=original,
        )
        WebhookCursor.objects.create(
            organization=organization,
            last_event_id=events[0].pk,
            horizon_event_id=events[2].pk + 1000,
            horizon_at=timezone.now(),
        )


@pytest.fixture
def source(db) -> Organization:
    build_demo(members=6, other_members=2, activity=6)
    organization = Organization.objects.get(slug="riverbend")
    _fill(organization)
    return organization


def _export(organization: Organization) -> DataExport:
    export = DataExport.objects.for_org(organization).create(organization=organization)
    assert export_organization(export_id=export.pk, organization_id=organization.pk) == "done"
    export.refresh_from_db()
    return export


def _copied(model: type[TenantModel], organization: Organization):
    """The model's rows, less the import's own entry in the trail (it was not copied)."""
    rows = model.objects.for_org(organization)
    return rows.exclude(action=IMPORT_ACTION) if model is AuditEntry else rows


def _rows(model: type[TenantModel], organization: Organization) -> list[dict]:
    columns = [f.attname for f in registry.exported_fields(model)]
    return list(_copied(model, organization).order_by("pk").values(*columns))


def _id_maps(source: Organization, target: Organization) -> dict[str, dict[int, int]]:
    """Source id → target id per model, by position: the import keeps the source's order, and
    every row's content is compared below, so a wrong pairing cannot pass."""
    maps = {}
    for model in registry.exported_models():
        old = list(_copied(model, source).order_by("pk").values_list("pk", flat=True))
        new = list(_copied(model, target).order_by("pk").values_list("pk", flat=True))
        assert len(old) == len(new), f"{model._meta.label}: {len(old)} rows became {len(new)}"
        maps[model._meta.label] = dict(zip(old, new, strict=True))
    return maps


def _expected(model, row: dict, maps: dict, users: dict) -> dict:
    """The source row as the target must hold it: every id through the maps."""
    label = model._meta.label
    out = dict(row)
    out.pop("id")
    for field in model._meta.concrete_fields:
        if field.attname not in out or out[field.attname] is None:
            continue
        value = out[field.attname]
        if field.is_relation and field.related_model is User:
            out[field.attname] = users[value]
        elif field.is_relation:
            out[field.attname] = maps[field.related_model._meta.label][value]
        elif (label, field.attname) in registry.GENERIC_IDS:
            out[field.attname] = maps[registry.GENERIC_IDS[(label, field.attname)]][value]
        elif (label, field.attname) in registry.WATERMARKS:
            ids = maps[registry.WATERMARKS[(label, field.attname)]]
            old = sorted(ids)
            index = bisect.bisect_right(old, value)
            out[field.attname] = 0 if index == 0 else ids[old[index - 1]]
    if label == "tenancy.DomainEvent":
        out["subject_id"] = maps[registry.SUBJECT_BY_KIND[row["kind"]]][row["subject_id"]]
        out["payload"] = {
            key: maps[registry.PAYLOAD_IDS[key]][value] if key in registry.PAYLOAD_IDS else value
            for key, value in row["payload"].items()
        }
    return out


def test_round_trip_keeps_every_row(source, export_dir):
    export = _export(source)
    assert export.status == "done" and export.done_rows == export.total_rows > 0
    with zipfile.ZipFile(export_path(export)) as archive:
        names = set(archive.namelist())
    for model in registry.exported_models():
        assert registry.file_name(model) in names
        assert model.objects.for_org(source).exists(), (
            f"the round trip has no {model._meta.label} row: add some to _fill()"
        )

    report = organization_import(path=export_path(export), slug="riverbend-copy", name="Copy")
    target = Organization.objects.get(slug="riverbend-copy")
    assert (target.name, target.time_zone) == ("Copy", source.time_zone)
    assert report.users_created == 0 and not report.dangling

    users = {user.pk: user.pk for user in User.objects.all()}  # matched by email: same rows
    maps = _id_maps(source, target)
    for model in registry.exported_models():
        label = model._meta.label
        old_rows = _rows(model, source)
        new_rows = _rows(model, target)
        assert report.rows[label] == len(old_rows)
        for old, new in zip(old_rows, new_rows, strict=True):
            new_id = new.pop("id")
            assert maps[label][old["id"]] == new_id
            assert new == _expected(model, old, maps, users), f"{label} #{old['id']}"

    # The import itself is in the target's trail, once, as the system's doing.
    entry = AuditEntry.objects.for_org(target).get(action=IMPORT_ACTION)
    assert entry.actor_kind == "system" and entry.object_id == target.pk
    assert entry.changes["rows"] == sum(report.rows.values()) > 0
    assert entry.changes["from"] == "riverbend"

    # Secrets are not carried: the endpoint got a fresh one.
    old_secret = WebhookEndpoint.objects.for_org(source).get().secret
    new_secret = WebhookEndpoint.objects.for_org(target).get().secret
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    # Self-references point inside the target.
    goal = Goal.objects.for_org(target).filter(supersedes__isnull=False).get()
    assert goal.supersedes.organization_id == target.pk


def test_import_creates_missing_users_without_passwords(source, export_dir):
    export = _export(source)
    emails = set(Seat.objects.for_org(source).values_list("user__email", flat=True))
    seat_users = list(User.objects.filter(email__in=emails))
    # The target lives in another installation: the people are not there yet.
    Seat.objects.unscoped().filter(user__in=seat_users).delete()
    User.objects.filter(pk__in=[u.pk for u in seat_users]).delete()

    report = organization_import(path=export_path(export), slug="elsewhere")
    assert report.users_created == len(emails)
    target = Organization.objects.get(slug="elsewhere")
    created = User.objects.filter(email__in=emails)
    assert created.count() == len(emails)
    assert not any(user.has_usable_password() for user in created)
    assert Seat.objects.for_org(target).count() == len(emails)


def test_export_file_holds_no_password_hash_nor_secret(source, export_dir):
    export = _export(source)
    with zipfile.ZipFile(export_path(export)) as archive:
        users = archive.read(registry.USERS_FILE).decode()
        everything = b"".join(archive.read(name) for name in archive.namelist()).decode()
    assert '"email"' in users and "password" not in users
    assert "md5$" not in everything and "whsec_source-secret" not in everything
    assert "tenancy.ApiKey.jsonl" not in everything


def test_import_refuses_a_non_empty_organization(source, export_dir, tenant_a):
    export = _export(source)
    before = Seat.objects.for_org(tenant_a.organization).count()
    with pytest.raises(CommandError, match="already holds data"):
        call_command(
            "import_organization", str(export_path(export)), slug=tenant_a.organization.slug
        )
    assert Seat.objects.for_org(tenant_a.organization).count() == before


def test_a_broken_file_leaves_nothing_behind(source, export_dir, tmp_path):
    export = _export(source)
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(export_path(export)) as archive:
        archive.extractall(folder)
    last = registry.exported_models()[-1]
    with (folder / registry.file_name(last)).open("a") as broken:
        broken.write("{not json\n")
    # A user the import would create, to prove the user rows roll back too.
    (folder / registry.USERS_FILE).write_text(
        (folder / registry.USERS_FILE).read_text()
        + '{"id": 999999, "email": "new-person@example.org", "full_name": "New", '
        '"is_active": true}\n'
    )
    users_before = User.objects.count()
    with pytest.raises(ImportRefused, match="not JSON"):
        organization_import(path=folder, slug="half-written")
    assert not Organization.objects.filter(slug="half-written").exists()
    assert User.objects.count() == users_before
    for model in registry.tenant_models():
        assert (
            model.objects.unscoped()
            .exclude(
                organization__in=Organization.objects.filter(slug__in=["riverbend", "northshore"])
            )
            .count()
            == 0
        ), model._meta.label
    shutil.rmtree(folder)


def test_import_refuses_what_is_not_an_export(tmp_path, db):
    junk = tmp_path / "junk.zip"
    junk.write_text("hello")
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_organization", str(junk), slug="nowhere")
    assert not Organization.objects.filter(slug="nowhere").exists()


def test_dates_keep_their_microseconds(source, export_dir):
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=dt.UTC)
    DomainEvent.objects.for_org(source).filter(
        pk=DomainEvent.objects.for_org(source).first().pk
    ).update(occurred_at=moment)
    export = _export(source)
    organization_import(path=export_path(export), slug="precise")
    target = Organization.objects.get(slug="precise")
    assert DomainEvent.objects.for_org(target).filter(occurred_at=moment).exists()
