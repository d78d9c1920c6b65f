"""The export page: admins only, constant queries, downloads only of one's own exports."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portability import registry
from portability.models import DataExport
from portability.tasks import export_organization
from tenancy.models import TenantModel
from tests.factories import SeatFactory


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.TANDEM_EXPORT_DIR = str(tmp_path / "exports")
    return tmp_path / "exports"


def _url(organization) -> str:
    return reverse("portability:export", kwargs={"org_slug": organization.slug})


def test_every_tenant_model_is_exported_or_excluded_with_a_reason():
    exported = {model._meta.label for model in registry.exported_models()}
    tenant = {model._meta.label for model in registry.tenant_models()}
    assert exported | set(registry.EXCLUDED) == tenant
    assert not exported & set(registry.EXCLUDED)
    assert all(reason.strip() for reason in registry.EXCLUDED.values())
    problems = [
        p for model in registry.exported_models() for p in registry.unsupported_relations(model)
    ]
    assert not problems
    assert all(issubclass(model, TenantModel) for model in registry.exported_models())


def test_load_order_puts_every_model_after_what_it_points_to():
    order = [model._meta.label for model in registry.exported_models()]
    for model in registry.exported_models():
        for field in registry.tenant_relations(model):
            target = field.related_model._meta.label
            if target != model._meta.label and target in order and not field.null:
                assert order.index(target) < order.index(model._meta.label)


@pytest.mark.parametrize("role", ["msm", "viewer"])
def test_only_admins_see_or_start_exports(role, tenant_a, login):
    client = login(tenant_a.seat(role))
    assert client.get(_url(tenant_a.organization)).status_code == 403
    assert client.post(_url(tenant_a.organization)).status_code == 403
    assert not DataExport.objects.for_org(tenant_a.organization).exists()


def test_admin_starts_an_export_and_downloads_it(tenant_a, login, export_dir):
    client = login(tenant_a.admin)
    response = client.post(_url(tenant_a.organization))
    assert response.status_code == 302
    export = DataExport.objects.for_org(tenant_a.organization).get()
    assert export.status == "queued" and export.requested_by == tenant_a.admin
    # A second click while one is queued does not start another.
    client.post(_url(tenant_a.organization))
    assert DataExport.objects.for_org(tenant_a.organization).count() == 1

    page = client.get(_url(tenant_a.organization), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in page and "Refresh" in page

    export_organization(export_id=export.pk, organization_id=tenant_a.organization.pk)
    page = client.get(_url(tenant_a.organization)).content.decode()
    download = reverse(
        "portability:export_download",
        kwargs={"org_slug": tenant_a.organization.slug, "export_id": export.pk},
    )
    assert download in page and "every 2s" not in page
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content)[:2] == b"PK"


def test_a_failed_export_says_so(tenant_a, login, export_dir, monkeypatch):
    from portability import exporting

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(exporting, "write_export_file", broken)
    export = DataExport.objects.for_org(tenant_a.organization).create(
        organization=tenant_a.organization
    )
    with pytest.raises(OSError, match="disk full"):
        export_organization(export_id=export.pk, organization_id=tenant_a.organization.pk)
    export.refresh_from_db()
    assert export.status == "failed" and "could not finish" in export.error


def test_another_organizations_export_is_a_404(tenant_a, tenant_b, login, export_dir):
    export = DataExport.objects.for_org(tenant_b.organization).create(
        organization=tenant_b.organization
    )
    export_organization(export_id=export.pk, organization_id=tenant_b.organization.pk)
    client = login(tenant_a.admin)
    for slug in (tenant_a.organization.slug, tenant_b.organization.slug):
        url = reverse(
            "portability:export_download", kwargs={"org_slug": slug, "export_id": export.pk}
        )
        assert client.get(url).status_code == 404
    assert (
        tenant_b.organization.name not in client.get(_url(tenant_a.organization)).content.decode()
    )


def _queries(client, organization) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(_url(organization)).status_code == 200
    return len(captured)


def test_the_page_reads_in_constant_queries(tenant_a, login):
    client = login(tenant_a.admin)

    def add(count: int) -> None:
        for _ in range(count):
            DataExport.objects.for_org(tenant_a.organization).create(
                organization=tenant_a.organization,
                requested_by=SeatFactory(organization=tenant_a.organization, role="admin"),
                status="done",
                file_name="x.zip",
            )

    add(2)
    few = _queries(client, tenant_a.organization)
    add(8)
    assert _queries(client, tenant_a.organization) == few


def _finished_export(organization, export_dir, *, days_ago: int) -> DataExport:
    export = DataExport.objects.for_org(organization).create(organization=organization)
    export_organization(export_id=export.pk, organization_id=organization.pk)
    export.refresh_from_db()
    DataExport.objects.for_org(organization).filter(pk=export.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=days_ago)
    )
    return export


def test_old_export_files_are_removed_and_the_page_says_expired(
    tenant_a, tenant_b, login, export_dir, settings
):
    from audit.models import AuditEntry
    from portability.exporting import export_path
    from portability.tasks import expire_exports

    settings.TANDEM_EXPORT_KEEP_DAYS = 7
    old = _finished_export(tenant_a.organization, export_dir, days_ago=8)
    recent = _finished_export(tenant_a.organization, export_dir, days_ago=6)
    theirs = _finished_export(tenant_b.organization, export_dir, days_ago=30)
    old_file, recent_file, their_file = (export_path(e) for e in (old, recent, theirs))
    assert old_file.is_file() and recent_file.is_file() and their_file.is_file()

    assert expire_exports() == 2
    assert expire_exports() == 0  # nothing left to expire: a second run changes nothing

    for export in (old, recent, theirs):
        export.refresh_from_db()
    assert (old.status, old.file_name, old.file_size) == ("expired", "", 0)
    assert recent.status == "done" and recent_file.is_file()
    assert theirs.status == "expired" and not their_file.exists() and not old_file.exists()
    # Each organization's trail tells of its own exports only.
    mine = AuditEntry.objects.for_org(tenant_a.organization).get(action="data_exports.expire")
    assert mine.changes == {"expired": 1, "ids": [old.pk]} and mine.actor_kind == "system"
    their_entry = AuditEntry.objects.for_org(tenant_b.organization).get(
        action="data_exports.expire"
    )
    assert their_entry.changes["ids"] == [theirs.pk]

    client = login(tenant_a.admin)
    page = client.get(_url(tenant_a.organization)).content.decode()
    assert "Expired (file removed)" in page
    download = reverse(
        "portability:export_download",
        kwargs={"org_slug": tenant_a.organization.slug, "export_id": old.pk},
    )
    assert download not in page
    assert client.get(download).status_code == 404


def test_the_expiry_sweep_runs_nightly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["portability-expire-exports-nightly"]
    assert entry["task"] == "portability.expire_exports"
