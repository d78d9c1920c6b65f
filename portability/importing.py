"""Loading an export into an empty organization, in one transaction.

Users are matched by email (created when missing, with an unusable password: they set one
through the set-password link an admin gets from Settings → Seats). Models are loaded in
dependency order (``registry.load_order``) by ``bulk_create`` per chunk; every primary key is
new and every foreign key is remapped through the ids given to the rows it points to. A
foreign key to a row not loaded yet (a later row of the same model, or a nullable cycle) is
left empty and filled in a second pass. Auto timestamps (``auto_now``, ``auto_now_add``) are
put back to the exported values after each chunk's insert.

Ids held outside foreign keys are remapped where the registry knows them
(``DomainEvent.subject_id`` by kind, the id keys of ``DomainEvent.payload``, the cursors'
watermarks, ``WebhookDelivery.domain_event_id``). Others, notably the payloads of webhook
deliveries (a record of what was sent), keep the source's ids.
"""

from __future__ import annotations

import bisect
import json
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.hashers import make_password
from django.db import models, transaction

from audit.services import audit_record
from portability import registry
from tenancy.models import Organization, TenantModel, User
from tenancy.scope import organization_scope

CHUNK = 2_000


class ImportRefused(Exception):
    """The export cannot be loaded as asked (non-empty target, unreadable file…)."""


@dataclass
class ImportReport:
    organization: Organization
    rows: dict[str, int] = field(default_factory=dict)
    users_created: int = 0
    users_matched: int = 0
    dangling: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class ExportArchive:
    """An export as a zip file or as the folder it unzips to."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self.zip = None
        elif zipfile.is_zipfile(self.path):
            self.zip = zipfile.ZipFile(self.path)
        else:
            raise ImportRefused(f"{path} is neither an export zip nor an export folder.")

    def names(self) -> set[str]:
        if self.zip is not None:
            return set(self.zip.namelist())
        return {p.name for p in self.path.iterdir()}

    def open(self, name: str) -> IO[bytes]:
        if self.zip is not None:
            return self.zip.open(name)
        return (self.path / name).open("rb")

    def manifest(self) -> dict[str, Any]:
        if registry.MANIFEST_FILE not in self.names():
            raise ImportRefused("The export has no manifest.json.")
        with self.open(registry.MANIFEST_FILE) as raw:
            manifest = json.load(raw)
        if manifest.get("format") != registry.FORMAT:
            raise ImportRefused("manifest.json does not describe a Tandem organization export.")
        if manifest.get("version") != registry.VERSION:
            raise ImportRefused(
                f"Export version {manifest.get('version')} is not supported "
                f"(this Tandem reads version {registry.VERSION})."
            )
        return manifest

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        if name not in self.names():
            return
        with self.open(name) as raw:
            for number, line in enumerate(raw, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ImportRefused(f"{name} line {number} is not JSON: {exc}") from exc

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def organization_is_empty(organization: Organization) -> bool:
    return not any(
        model.objects.for_org(organization).exists() for model in registry.tenant_models()
    )


class Loader:
    """Holds the id maps (source id → new id, per model) while one import runs."""

    def __init__(self, archive: ExportArchive, organization: Organization) -> None:
        self.archive = archive
        self.organization = organization
        self.ids: dict[str, dict[int, int]] = defaultdict(dict)
        self.users: dict[int, int] = {}
        self.loaded: set[str] = set()
        # (model label, column attname) → [(new pk, source id it must point to)]
        self.deferred: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        self.report = ImportReport(organization=organization)
        self._sorted: dict[str, list[int]] = {}

    # -- users ---------------------------------------------------------------------------------

    def load_users(self) -> None:
        for chunk in _chunks(self.archive.rows(registry.USERS_FILE)):
            emails = {row["email"].strip().lower(): row for row in chunk}
            existing = {
                user.email.lower(): user.pk
                for user in User.objects.filter(email__in=list(emails)).only("pk", "email")
            }
            missing = [
                User(
                    email=email,
                    full_name=row.get("full_name") or "",
                    is_active=row.get("is_active", True),
                    password=make_password(None),
                )
                for email, row in emails.items()
                if email not in existing
            ]
            for user in User.objects.bulk_create(missing):
                existing[user.email] = user.pk
            self.report.users_created += len(missing)
            self.report.users_matched += len(emails) - len(missing)
            for row in chunk:
                self.users[int(row["id"])] = existing[row["email"].strip().lower()]

    # -- rows ----------------------------------------------------------------------------------

    def _target(self, label: str, source_id: Any) -> int | None:
        if source_id is None:
            return None
        return self.ids[label].get(int(source_id))

    def _remap_plain(self, label: str, source_id: Any) -> Any:
        """An id outside a foreign key: the new id when known, else the old one, as it was."""
        new = self._target(label, source_id)
        return source_id if new is None else new

    def _watermark(self, label: str, value: Any) -> Any:
        """The new id of the last exported row of ``label`` at or below ``value``."""
        if value is None:
            return None
        sources = self._sorted_sources(label)
        index = bisect.bisect_right(sources, int(value))
        return 0 if index == 0 else self.ids[label][sources[index - 1]]

    def _sorted_sources(self, label: str) -> list[int]:
        if label not in self._sorted:
            self._sorted[label] = sorted(self.ids[label])
        return self._sorted[label]

    def _build(
        self, model: type[TenantModel], row: dict[str, Any], pending: list[tuple[str, int]]
    ) -> models.Model:
        label = model._meta.label
        values: dict[str, Any] = {"organization_id": self.organization.pk}
        for fld in registry.exported_fields(model):
            if fld.primary_key or fld.attname not in row:
                continue
            raw = row[fld.attname]
            if fld.is_relation:
                values[fld.attname] = self._relation(model, fld, raw, pending)
            elif (label, fld.attname) in registry.GENERIC_IDS:
                values[fld.attname] = self._remap_plain(
                    registry.GENERIC_IDS[(label, fld.attname)], raw
                )
            elif (label, fld.attname) in registry.WATERMARKS:
                values[fld.attname] = self._watermark(
                    registry.WATERMARKS[(label, fld.attname)], raw
                )
            else:
                values[fld.attname] = fld.to_python(raw) if raw is not None else None
        for column, make in registry.SECRETS.get(label, {}).items():
            values[model._meta.get_field(column).attname] = make()
        if label == "tenancy.DomainEvent":
            self._domain_event(values)
        return model(**values)

    def _relation(
        self,
        model: type[TenantModel],
        fld: models.ForeignKey,
        raw: Any,
        pending: list[tuple[str, int]],
    ) -> int | None:
        if raw is None:
            return None
        target = fld.related_model
        if target is User:
            new = self.users.get(int(raw))
        elif target._meta.label in registry.EXCLUDED:
            return None  # e.g. a key that was not exported: only nullable ones (checked)
        elif target is model and int(raw) in self.ids[model._meta.label]:
            return self.ids[model._meta.label][int(raw)]  # an earlier row of the same model
        elif target._meta.label not in self.loaded:
            pending.append((fld.attname, int(raw)))  # later row or a cycle: second pass
            return None
        else:
            new = self._target(target._meta.label, raw)
        if new is None:
            self.report.dangling[f"{model._meta.label}.{fld.name}"] += 1
            if not fld.null:
                raise ImportRefused(
                    f"{model._meta.label}.{fld.name} points to {target._meta.label} #{raw}, "
                    "which is not in the export."
                )
        return new

    def _domain_event(self, values: dict[str, Any]) -> None:
        subject_model = registry.SUBJECT_BY_KIND.get(values.get("kind"))
        if subject_model:
            values["subject_id"] = self._remap_plain(subject_model, values.get("subject_id"))
        payload = values.get("payload")
        if isinstance(payload, dict):
            values["payload"] = {
                key: self._remap_plain(registry.PAYLOAD_IDS[key], value)
                if key in registry.PAYLOAD_IDS and isinstance(value, int)
                else value
                for key, value in payload.items()
            }

    def load_model(self, model: type[TenantModel]) -> None:
        """Insert the model's rows chunk by chunk, in the source's id order.

        A chunk is cut short before a row that points to a row of the same chunk (a replay of
        a delivery in the chunk, a goal superseding one just read): the pointed-to row then has
        its new id when the row pointing to it is built, which partial unique constraints
        (one original delivery per event) need.
        """
        label = model._meta.label
        self_refs = [
            f.attname
            for f in model._meta.concrete_fields
            if f.is_relation and f.related_model is model
        ]
        batch: list[dict[str, Any]] = []
        batch_ids: set[int] = set()
        count = 0
        for row in self.archive.rows(registry.file_name(model)):
            points_inside = any(
                row.get(attname) is not None and int(row[attname]) in batch_ids
                for attname in self_refs
            )
            if len(batch) >= CHUNK or points_inside:
                count += self._insert(model, batch)
                batch, batch_ids = [], set()
            batch.append(row)
            batch_ids.add(int(row["id"]))
        if batch:
            count += self._insert(model, batch)
        self.loaded.add(label)
        self.report.rows[label] = count

    def _insert(self, model: type[TenantModel], chunk: list[dict[str, Any]]) -> int:
        label = model._meta.label
        auto_fields = [
            f
            for f in model._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        pendings: list[list[tuple[str, int]]] = []
        objects = []
        for row in chunk:
            pending: list[tuple[str, int]] = []
            objects.append(self._build(model, row, pending))
            pendings.append(pending)
        originals = [{f.attname: getattr(obj, f.attname) for f in auto_fields} for obj in objects]
        model.objects.bulk_create(objects, batch_size=500)
        if auto_fields:
            # bulk_create stamped "now" over the exported moments; put them back.
            for obj, saved in zip(objects, originals, strict=True):
                for attname, value in saved.items():
                    if value is not None:
                        setattr(obj, attname, value)
            model.objects.bulk_update(objects, [f.name for f in auto_fields], batch_size=500)
        for row, obj, pending in zip(chunk, objects, pendings, strict=True):
            if obj.pk is None:
                raise ImportRefused("The database did not return the new rows' ids.")
            self.ids[label][int(row["id"])] = obj.pk
            for attname, source in pending:
                self.deferred[(label, attname)].append((obj.pk, source))
        return len(objects)

    def fill_deferred(self) -> None:
        """The second pass: foreign keys whose rows were loaded after the rows pointing to them."""
        for (label, attname), pairs in self.deferred.items():
            model = next(m for m in registry.tenant_models() if m._meta.label == label)
            fld = next(f for f in model._meta.concrete_fields if f.attname == attname)
            target = fld.related_model._meta.label
            updates = []
            for new_pk, source in pairs:
                new = self._target(target, source)
                if new is None:
                    self.report.dangling[f"{label}.{fld.name}"] += 1
                    if not fld.null:
                        raise ImportRefused(f"{label}.{fld.name} points to a missing row.")
                    continue
                obj = model(pk=new_pk, organization_id=self.organization.pk)
                setattr(obj, attname, new)
                updates.append(obj)
            for start in range(0, len(updates), CHUNK):
                model.objects.bulk_update(updates[start : start + CHUNK], [fld.name])


IMPORT_ACTION = "organization.import"


def organization_import(*, path: Path | str, slug: str, name: str | None = None) -> ImportReport:
    """Load the export at ``path`` into the organization ``slug`` (created when missing).

    All or nothing: one transaction, so a broken file leaves nothing behind (not even the
    organization or users it created). Refused when the organization already holds any row.
    """
    archive = ExportArchive(Path(path))
    try:
        manifest = archive.manifest()
        with transaction.atomic():
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                source = manifest.get("organization", {})
                organization = Organization(
                    slug=slug,
                    name=name or source.get("name") or slug,
                    time_zone=source.get("time_zone") or "UTC",
                )
                organization.full_clean()
                organization.save()
            elif not organization_is_empty(organization):
                raise ImportRefused(
                    f"Organization {slug!r} already holds data; import only into an empty one."
                )
            elif name:
                organization.name = name
                organization.save(update_fields=["name"])
            with organization_scope(organization):
                loader = Loader(archive, organization)
                loader.load_users()
                for model in registry.exported_models():
                    loader.load_model(model)
                loader.fill_deferred()
                # The copied trail tells the source's story; this entry tells of the import.
                audit_record(
                    organization=organization,
                    action=IMPORT_ACTION,
                    instance=organization,
                    changes={
                        "rows": sum(loader.report.rows.values()),
                        "users_created": loader.report.users_created,
                        "from": manifest.get("organization", {}).get("slug", ""),
                    },
                )
        return loader.report
    finally:
        archive.close()
