"""Writes for exports: asking for one, running it in the worker, marking it failed, and
removing old files."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from portability import exporting
from portability.models import DataExport
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization

logger = logging.getLogger(__name__)


def _send(*, export_id: int, organization_id: int) -> None:
    """Queue the export; with the broker unreachable, mark it failed with a message saying to
    try again (a queued export nobody will run would block every later request)."""
    from portability.tasks import export_organization

    try:
        export_organization.apply_async(
            kwargs={"export_id": export_id, "organization_id": organization_id}
        )
    except Exception:
        logger.exception("could not queue export %s", export_id)
        DataExport.objects.for_org(organization_id).filter(
            pk=export_id, status=DataExport.Status.QUEUED
        ).update(
            status=DataExport.Status.FAILED,
            error="The export could not be queued (the worker is unreachable). Try again later.",
        )


@transaction.atomic
def data_export_request(*, organization: Organization, requested_by: Seat | None) -> DataExport:
    """Queue an export of the whole organization for the worker (sent once this commits).

    An export already queued or running is returned instead of starting a second one: two
    would only race for the same rows and the same disk.
    """
    require_same_organization(organization, requested_by=requested_by)
    pending = (
        DataExport.objects.for_org(organization)
        .select_for_update()
        .filter(status__in=[DataExport.Status.QUEUED, DataExport.Status.RUNNING])
        .first()
    )
    if pending is not None:
        return pending
    export = DataExport.objects.for_org(organization).create(
        organization=organization, requested_by=requested_by
    )
    transaction.on_commit(lambda: _send(export_id=export.pk, organization_id=organization.pk))
    return export


def data_export_run(*, organization: Organization, export: DataExport) -> DataExport:
    """Write the export file, saving progress as the worker goes.

    Not one transaction: the page must see progress while it runs. A run that is started again
    (the worker died and the task was redelivered) starts from zero and writes a new file.
    """
    rows = DataExport.objects.for_org(organization).filter(pk=export.pk)
    total = exporting.count_rows(organization)
    rows.update(
        status=DataExport.Status.RUNNING,
        total_rows=total,
        done_rows=0,
        started_at=timezone.now(),
        error="",
    )

    def on_progress(count: int) -> None:
        if count:
            rows.update(done_rows=F("done_rows") + count)

    name = exporting.write_export_file(
        organization=organization, export=export, on_progress=on_progress
    )
    path = exporting.export_root() / name
    rows.update(
        status=DataExport.Status.DONE,
        file_name=name,
        file_size=path.stat().st_size,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export


def data_export_fail(*, organization: Organization, export: DataExport, error: str) -> None:
    """Mark the export failed, with a message for the admin, so its page stops waiting."""
    DataExport.objects.for_org(organization).filter(pk=export.pk).update(
        status=DataExport.Status.FAILED, error=error, finished_at=timezone.now()
    )


def data_exports_expire(*, now: dt.datetime | None = None) -> int:
    """Remove the files of exports finished more than ``TANDEM_EXPORT_KEEP_DAYS`` days ago, in
    every organization (a nightly sweep); returns how many expired.

    A file holds the whole organization's data, so it should not outlive its download by long.
    Each organization's exports are marked expired in one transaction with one summary entry in
    its trail, and only then are the files removed: a file that cannot be removed stays on
    disk, but no page ever offers a link to a file that is gone.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.TANDEM_EXPORT_KEEP_DAYS)
    stale: dict[int, dict[int, str]] = defaultdict(dict)
    for pk, organization_id, file_name in (
        DataExport.objects.unscoped()
        .filter(status=DataExport.Status.DONE, finished_at__lt=cutoff)
        .values_list("pk", "organization_id", "file_name")
    ):
        stale[organization_id][pk] = file_name
    expired = 0
    for organization_id, files in sorted(stale.items()):
        expired += _expire(organization_id, files)
    return expired


def _expire(organization_id: int, files: dict[int, str]) -> int:
    with transaction.atomic():
        rows = DataExport.objects.for_org(organization_id).filter(
            pk__in=list(files), status=DataExport.Status.DONE
        )
        ids = sorted(rows.select_for_update().values_list("pk", flat=True))
        count = rows.filter(pk__in=ids).update(
            status=DataExport.Status.EXPIRED, file_name="", file_size=0
        )
        if count:
            audit_record(
                organization=organization_id,
                action="data_exports.expire",
                model=DataExport,
                changes={"expired": count, "ids": ids},
            )
    for pk in ids:
        if files[pk]:
            (exporting.export_root() / files[pk]).unlink(missing_ok=True)
    return count
