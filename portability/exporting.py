"""Writing an organization's export: one JSON-lines file per model, in a zip, by the worker.

The file holds ``manifest.json`` (format, version, the organization, a row count per file),
``users.jsonl`` (the people behind the rows: id, email, name, active; never a password hash)
and ``<app>.<Model>.jsonl`` for every exported model. A line is one row as a JSON object keyed
by column name (``member_id`` for a foreign key), ``id`` included, the organization left out.

Rows are read page by page (keyset on the primary key) and each page streamed with
``.iterator(chunk_size=…)``, so no table is ever held in memory; progress is saved between
pages, when no cursor is open.

Models are written in the reverse of the import order (rows before the rows they point to), so
a row created while the export runs can only add to a table not yet written: whatever an
exported row points to existed when it was read and is still there when its own table is
written. The export is therefore consistent for rows added during it; a row deleted meanwhile
can leave a foreign key pointing nowhere, which the importer reports and clears.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.duration import duration_iso_string

from portability import registry
from portability.models import DataExport
from tenancy.models import Organization, TenantModel, User

PAGE_ROWS = 10_000  # rows between two progress saves
CHUNK_ROWS = 2_000  # rows fetched from the database at a time


def export_root() -> Path:
    """Where export files live: ``TANDEM_EXPORT_DIR``, else ``<var>/exports``."""
    configured = getattr(settings, "TANDEM_EXPORT_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "exports"


def export_path(export: DataExport) -> Path | None:
    """The finished file of an export, or None."""
    if not export.file_name:
        return None
    return export_root() / export.file_name


def encode(value: Any) -> Any:
    """JSON for the column values JSON does not know. Full precision: an import must read back
    exactly what was written (Django's own encoder drops microseconds)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration_iso_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"Cannot export a value of type {type(value).__name__}")


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, default=encode, ensure_ascii=False, separators=(",", ":")) + "\n"


def exported_users(organization: Organization) -> models.QuerySet[User]:
    """The people the rows name: every user any tenant row points to (seats, mostly)."""
    condition = models.Q(pk__in=[])
    for model in registry.exported_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                rows = model.objects.for_org(organization).filter(**{field.attname: OuterRef("pk")})
                condition |= Exists(rows)
    return User.objects.filter(condition).order_by("pk")


def _write_rows(
    archive: zipfile.ZipFile,
    name: str,
    queryset: models.QuerySet,
    columns: list[str],
    on_page: Any,
) -> int:
    """Stream ``queryset``'s ``columns`` into ``name``, page by page; returns the row count."""
    written = 0
    last_pk = None
    with archive.open(name, "w", force_zip64=True) as out:
        while True:
            page = queryset.order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            lines = []
            count = 0
            for values in page[:PAGE_ROWS].values_list(*columns).iterator(chunk_size=CHUNK_ROWS):
                lines.append(dumps(dict(zip(columns, values, strict=True))))
                last_pk = values[0]
                count += 1
                if len(lines) >= CHUNK_ROWS:
                    out.write("".join(lines).encode())
                    lines = []
            if lines:
                out.write("".join(lines).encode())
            written += count
            on_page(count)
            if count < PAGE_ROWS:
                return written


def _columns(model: type[TenantModel]) -> list[str]:
    fields = registry.exported_fields(model)
    pk = model._meta.pk.attname
    return [pk] + [field.attname for field in fields if field.attname != pk]


def export_write(
    *, organization: Organization, export: DataExport, destination: Path, on_progress: Any
) -> dict[str, int]:
    """Write the whole export of ``organization`` to ``destination``; returns rows per file."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for model in reversed(registry.exported_models()):
            name = registry.file_name(model)
            counts[name] = _write_rows(
                archive,
                name,
                model.objects.for_org(organization),
                _columns(model),
                on_progress,
            )
        counts[registry.USERS_FILE] = _write_rows(
            archive,
            registry.USERS_FILE,
            exported_users(organization),
            ["id", "email", "full_name", "is_active"],
            lambda count: None,
        )
        manifest = {
            "format": registry.FORMAT,
            "version": registry.VERSION,
            "exported_at": timezone.now().isoformat(),
            "export_id": export.pk,
            "organization": {
                "id": organization.pk,
                "name": organization.name,
                "slug": organization.slug,
                "time_zone": organization.time_zone,
            },
            "models": [
                {"label": model._meta.label, "file": registry.file_name(model)}
                for model in registry.exported_models()
            ],
            "rows": counts,
            "not_exported": registry.EXCLUDED,
            "secrets_left_out": {
                label: sorted(columns) for label, columns in registry.SECRETS.items()
            },
        }
        archive.writestr(registry.MANIFEST_FILE, json.dumps(manifest, indent=2))
    return counts


def count_rows(organization: Organization) -> int:
    return sum(model.objects.for_org(organization).count() for model in registry.exported_models())


def write_export_file(*, organization: Organization, export: DataExport, on_progress: Any) -> str:
    """Write to a partial file and move it into place when complete; returns its name."""
    folder = export_root() / str(organization.pk)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = f"{organization.slug}-export-{export.pk}-{stamp}.zip"
    partial = folder / f".{name}.partial"
    try:
        export_write(
            organization=organization, export=export, destination=partial, on_progress=on_progress
        )
        os.replace(partial, folder / name)
    finally:
        partial.unlink(missing_ok=True)
    return f"{organization.pk}/{name}"
