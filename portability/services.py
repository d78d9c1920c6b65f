"""Writes for exports: asking for one, running it in the worker, marking it failed."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

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
