"""Reads for the export page."""

from __future__ import annotations

from portability.models import DataExport
from tenancy.models import Organization

RECENT = 10


def data_exports_recent(*, organization: Organization) -> list[DataExport]:
    """The latest exports, newest first, with who asked (one query)."""
    return list(
        DataExport.objects.for_org(organization).select_related("requested_by__user")[:RECENT]
    )


def data_export_for_download(*, organization: Organization, export_id: int) -> DataExport | None:
    return DataExport.objects.for_org(organization).filter(pk=export_id).first()


def exports_pending(exports: list[DataExport]) -> bool:
    return any(not export.is_finished for export in exports)
