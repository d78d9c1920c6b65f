"""Importing members from a CSV file: the file is checked whole when it is uploaded, the worker
validates it row by row, and then every row goes in together — or none does.

Nothing is half-imported: if any row is refused, no member is created and the import's report
lists every refused row, the column at fault and why. Rows follow the rules of
``members.services.member_create`` (the model's field rules and the external id that must be
unique in the organization), checked set-based: cheap checks in Python, one query per
``CHECK_STEP`` rows for the external ids already taken, one ``bulk_create`` at the end.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from members.models import Member, MemberImport
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 5 * 1024 * 1024
# Every valid row is held in memory until the all-or-nothing insert: a cap keeps one import
# from exhausting the worker.
MAX_IMPORT_ROWS = 50_000
# Rows validated between two progress updates (and one external-id query per step).
CHECK_STEP = 500
INSERT_BATCH = 1000
# A file where everything is wrong would report hundreds of thousands of problems; the report
# keeps the first ones and the message says how many rows were refused in all.
MAX_REPORTED_PROBLEMS = 10_000

COLUMNS = (
    "name",
    "email",
    "external_id",
    "tier",
    "status",
    "region",
    "joined_on",
    "renewal_on",
    "kind",
)
REQUIRED_COLUMNS = ("name",)
DATE_COLUMNS = ("joined_on", "renewal_on")
EXTERNAL_ID_TAKEN = "Another member of this organization has this external id."

Problem = dict[str, Any]  # {"row": int, "field": str, "message": str}


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# ---------------------------------------------------------------------------------------------
# Reading the file


def _decode(content: bytes) -> str:
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationError(
            {
                "file": f"This file is {_megabytes(len(content))}; the largest file we import "
                f"is {_megabytes(MAX_IMPORT_BYTES)}. Split it and import the parts one by one."
            }
        )
    try:
        text = content.decode("utf-8-sig")  # a byte-order mark from a spreadsheet is dropped
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:  # NUL: a binary file (and PostgreSQL refuses it)
        raise ValidationError(
            {"file": "This file is not UTF-8 text. Save it from your spreadsheet as CSV UTF-8."}
        )
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with its row number as a spreadsheet shows it (the header is row 1)."""
    return enumerate(csv.reader(io.StringIO(text, newline="")), start=1)


def _header(record: list[str]) -> list[str]:
    """The column names, trimmed and lower-cased, with every problem of the header at once."""
    columns = [name.strip().lower() for name in record]
    problems = []
    unknown = [name or "(a column without a name)" for name in columns if name not in COLUMNS]
    if unknown:
        problems.append(
            f"Unknown columns: {', '.join(unknown)}. The columns we import are: "
            f"{', '.join(COLUMNS)}."
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        problems.append(f"These columns appear more than once: {', '.join(repeated)}.")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append(f"The file needs a column named {', '.join(missing)}.")
    if problems:
        raise ValidationError({"file": " ".join(problems)})
    return columns


def _data_rows(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and an iterator over the non-blank data rows."""
    records = _records(text)
    header = next(records, None)
    if header is None or not any(value.strip() for value in header[1]):
        raise ValidationError(
            {"file": "This file is empty; its first row must name the columns (name, …)."}
        )
    columns = _header(header[1])
    rows = ((n, r) for n, r in records if any(value.strip() for value in r))
    return columns, rows


def _count_rows(text: str) -> int:
    try:
        _, rows = _data_rows(text)
        count = sum(1 for _ in rows)
    except csv.Error as exc:
        raise ValidationError({"file": f"This file cannot be read as CSV: {exc}."}) from None
    if count == 0:
        raise ValidationError({"file": "This file has a header but no rows of members."})
    if count > MAX_IMPORT_ROWS:
        raise ValidationError(
            {
                "file": f"This file has {count:,} rows; we import at most {MAX_IMPORT_ROWS:,} "
                "at a time. Split it and import the parts one by one."
            }
        )
    return count


# ---------------------------------------------------------------------------------------------
# Uploading


def _send(*, import_id: int, organization_id: int) -> None:
    """Queue the committed upload for the worker. When the broker cannot be reached, the import
    would wait "queued" for ever (no worker will hear of it): it is marked failed instead, with
    a message asking for the file again, and the failure is logged; the page still answers."""
    from members.tasks import import_members

    try:
        import_members.apply_async(
            kwargs={"import_id": import_id, "organization_id": organization_id}
        )
    except Exception:
        logger.exception(
            "could not queue member import %s of organization %s", import_id, organization_id
        )
        MemberImport.objects.for_org(organization_id).filter(
            pk=import_id, status=MemberImport.Status.QUEUED
        ).update(
            status=MemberImport.Status.FAILED,
            error="The import could not be handed to the worker, so nothing of it was imported. "
            "Upload the file again in a moment.",
            finished_at=timezone.now(),
        )


@transaction.atomic
def member_import_create(
    *,
    organization: Organization,
    created_by: Seat | None,
    file_name: str,
    content: bytes,
) -> MemberImport:
    """Accept a CSV file for import and queue it for the worker (after this commits).

    Refused at once, with a ``file`` error and nothing stored: a file over 5 MB, text that is
    not UTF-8 or not CSV, an empty file, unknown or repeated columns, no ``name`` column, no
    data rows, or more than ``MAX_IMPORT_ROWS`` rows. Rows themselves are checked by the worker.
    """
    require_same_organization(organization, created_by=created_by)
    text = _decode(content)
    total = _count_rows(text)
    member_import = MemberImport.objects.create(
        organization=organization,
        created_by=created_by,
        file_name=(file_name or "members.csv")[:255],
        content=text,
        total_rows=total,
    )
    transaction.on_commit(
        lambda: _send(import_id=member_import.pk, organization_id=organization.pk)
    )
    return member_import


# ---------------------------------------------------------------------------------------------
# Validating rows


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(errors: dict[str, list[str]], field: str, raw: str) -> dt.date | None:
    """YYYY-MM-DD only: a spreadsheet's 03/04/2025 means different days in different places."""
    if not raw:
        return None
    try:
        if ISO_DATE.fullmatch(raw):
            return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    errors.setdefault(field, []).append(f"{raw!r} is not a date; write it as YYYY-MM-DD.")
    return None


def _choice(errors: dict[str, list[str]], field: str, raw: str, choices: type, default: str) -> str:
    value = raw.lower() or default
    if value not in choices.values:
        errors.setdefault(field, []).append(
            f"{raw!r} is not a {field}; use one of: {', '.join(choices.values)}."
        )
        return default
    return value


# Foreign keys are not in the file; leaving them out of full_clean also keeps it query-free.
NOT_FROM_THE_FILE = ["organization", "owner", "coverage_model", "attributes"]


def _row_member(
    organization: Organization, values: dict[str, str]
) -> tuple[Member, dict[str, list[str]]]:
    """A member from one row, and its errors by field (the model's rules, as in
    ``member_create``; the external id's uniqueness is checked set-based by the caller)."""
    errors: dict[str, list[str]] = {}
    member = Member(
        organization=organization,
        name=values.get("name", ""),
        email=values.get("email", ""),
        external_id=values.get("external_id", ""),
        tier=values.get("tier", ""),
        region=values.get("region", ""),
        status=_choice(
            errors, "status", values.get("status", ""), Member.Status, Member.Status.PROSPECT
        ),
        kind=_choice(errors, "kind", values.get("kind", ""), Member.Kind, Member.Kind.PERSON),
        joined_on=_parse_date(errors, "joined_on", values.get("joined_on", "")),
        renewal_on=_parse_date(errors, "renewal_on", values.get("renewal_on", "")),
        attributes={},
    )
    try:
        member.full_clean(
            exclude=[*NOT_FROM_THE_FILE, *errors],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    return member, errors


class _Validation:
    """The state of one pass over the rows: the members to create and every problem."""

    def __init__(self, organization: Organization, member_import: MemberImport) -> None:
        self.organization = organization
        self.member_import = member_import
        self.members: list[Member] = []
        self.problems: list[Problem] = []
        self.refused_rows: set[int] = set()
        self.first_row_of: dict[str, int] = {}  # external id → the first row that has it
        self.pending: dict[str, int] = {}  # external ids not yet checked against the database
        self.checked = 0

    def refuse(self, row: int, field: str, message: str) -> None:
        self.refused_rows.add(row)
        self.members.clear()  # nothing will be imported: stop holding rows
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append({"row": row, "field": field, "message": message})

    def add(self, row: int, values: dict[str, str]) -> None:
        member, errors = _row_member(self.organization, values)
        for field, messages in errors.items():
            for message in messages:
                self.refuse(row, field, message)
        external_id = member.external_id
        if external_id and "external_id" not in errors:
            first = self.first_row_of.setdefault(external_id, row)
            if first != row:
                self.refuse(row, "external_id", f"Row {first} has this external id too.")
            else:
                self.pending[external_id] = row
        if not self.refused_rows:
            self.members.append(member)
        self.checked += 1
        if self.checked % CHECK_STEP == 0:
            self.step()

    def step(self) -> None:
        """Check the pending external ids against the database, and report progress."""
        if self.pending:
            taken = (
                Member.objects.for_org(self.organization)
                .filter(external_id__in=list(self.pending))
                .values_list("external_id", flat=True)
            )
            for external_id in sorted(taken, key=self.pending.__getitem__):
                self.refuse(self.pending[external_id], "external_id", EXTERNAL_ID_TAKEN)
            self.pending = {}
        MemberImport.objects.for_org(self.organization).filter(
            pk=self.member_import.pk, status=MemberImport.Status.RUNNING
        ).update(processed_rows=self.checked)


def _validate(organization: Organization, member_import: MemberImport) -> _Validation:
    validation = _Validation(organization, member_import)
    columns, rows = _data_rows(member_import.content)
    for row, record in rows:
        if len(record) > len(columns):
            validation.refuse(
                row,
                "row",
                f"This row has {len(record)} values but the header names {len(columns)} columns.",
            )
        values = {name: value.strip() for name, value in zip(columns, record, strict=False)}
        validation.add(row, values)
    validation.step()
    validation.problems.sort(key=lambda problem: problem["row"])
    return validation


# ---------------------------------------------------------------------------------------------
# Running an import (the worker's part)


def _finish(organization: Organization, member_import: MemberImport, **fields: Any) -> bool:
    """Move a running import to its end state, once: False when another run finished it."""
    fields.setdefault("finished_at", timezone.now())
    return bool(
        MemberImport.objects.for_org(organization)
        .filter(pk=member_import.pk, status=MemberImport.Status.RUNNING)
        .update(**fields)
    )


def _after_import(organization: Organization, member_ids: list[int]) -> None:
    """What ``member_create`` sets off through signals, which a bulk insert does not send:
    coverage (owner assignment) and a first score, each as one task."""
    from orchestration.coverage import coverage_apply_later
    from outcomes.recompute import member_score_changed, recompute_batch

    coverage_apply_later(organization_id=organization.pk, member_ids=member_ids)
    with recompute_batch():
        for member_id in member_ids:
            member_score_changed(organization_id=organization.pk, member_id=member_id)


def member_import_run(*, organization: Organization, member_import: MemberImport) -> MemberImport:
    """Validate every row, then create every member in one transaction — or none.

    Safe to run twice (a redelivered task): a finished import is left as it is, and the
    insert happens only in the transaction that moves the import from running to done, so two
    runs at once cannot both insert. Deliberately not one transaction as a whole: each progress
    update commits on its own so the status page can show it while the rows are checked.
    """
    require_same_organization(organization, member_import=member_import)
    imports = MemberImport.objects.for_org(organization).filter(pk=member_import.pk)
    claimed = imports.filter(
        status__in=[MemberImport.Status.QUEUED, MemberImport.Status.RUNNING]
    ).update(status=MemberImport.Status.RUNNING, processed_rows=0, refused=[], error="")
    if claimed:
        member_import.status = MemberImport.Status.RUNNING
        _run(organization, member_import)
    member_import.refresh_from_db()
    return member_import


def _run(organization: Organization, member_import: MemberImport) -> None:
    validation = _validate(organization, member_import)
    total = validation.checked
    if validation.refused_rows:
        refused = len(validation.refused_rows)
        listed = (
            ""
            if len(validation.problems) < MAX_REPORTED_PROBLEMS
            else (f" The first {MAX_REPORTED_PROBLEMS:,} problems are listed.")
        )
        _finish(
            organization,
            member_import,
            status=MemberImport.Status.FAILED,
            processed_rows=total,
            refused=validation.problems,
            error=f"{refused:,} of {total:,} rows were refused, so nothing was imported. "
            f"Correct them and upload the file again.{listed}",
        )
        return
    with transaction.atomic():
        if not _finish(
            organization,
            member_import,
            status=MemberImport.Status.DONE,
            processed_rows=total,
            created_count=total,
        ):
            return
        created = Member.objects.for_org(organization).bulk_create(
            validation.members, batch_size=INSERT_BATCH
        )
        # bulk_create sends no signal: one summary for the import, not one entry per member.
        audit_record(
            organization=organization,
            action="members.import",
            model=Member,
            changes={"created": len(created), "import": member_import.pk},
        )
    _after_import(organization, [member.pk for member in created])


def member_import_fail(
    *, organization: Organization, member_import: MemberImport, error: str
) -> None:
    """Mark an import the worker could not finish as failed (nothing of it was committed)."""
    require_same_organization(organization, member_import=member_import)
    MemberImport.objects.for_org(organization).filter(
        pk=member_import.pk,
        status__in=[MemberImport.Status.QUEUED, MemberImport.Status.RUNNING],
    ).update(status=MemberImport.Status.FAILED, error=error, finished_at=timezone.now())
