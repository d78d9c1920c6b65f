"""Celery task for exports: thin, scoped to one organization, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from portability.models import DataExport
from portability.services import data_export_fail, data_export_run, data_exports_expire
from tenancy.models import Organization
from tenancy.scope import scoped_task

logger = logging.getLogger(__name__)


@shared_task(name="portability.export_organization", acks_late=True)
@scoped_task
def export_organization(*, export_id: int, organization_id: int) -> str:
    """Write one export. Any error marks it failed (the page says so and stops waiting) and is
    raised for the worker's log; a redelivered run starts the file again from zero."""
    organization = Organization.objects.get(pk=organization_id)
    export = DataExport.objects.filter(pk=export_id).first()
    if export is None or export.status == DataExport.Status.DONE:
        return "missing" if export is None else export.status
    try:
        return data_export_run(organization=organization, export=export).status
    except Exception:
        logger.exception("Export %s of organization %s failed", export_id, organization_id)
        data_export_fail(
            organization=organization,
            export=export,
            error="The worker could not finish this export. Start another one; if it fails "
            "again, tell Tandem's operators.",
        )
        raise


@shared_task(name="portability.expire_exports")
def expire_exports() -> int:
    """Nightly: remove the files of old exports in every organization (each organization's
    writes run in its own scope inside the service)."""
    return data_exports_expire()
