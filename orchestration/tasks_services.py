"""MSM tasks: to-dos about a member, from a playbook step or made by hand — writes and reads.

A task belongs to a seat that works accounts (an MSM or an admin; a viewer cannot be given
work). Days are the organization's calendar days, so "overdue" and "today" are the MSM's.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DateField, F, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone

from audit.services import audit_record
from members.models import Member
from ops.prepared import PreparedRead
from orchestration.models import Task
from tenancy.models import Organization, Seat
from tenancy.rules import require_same_organization
from tenancy.selectors import organization_today

OWNER_ROLES: Final = (Seat.Role.MSM, Seat.Role.ADMIN)
MAX_TITLE: Final = Task._meta.get_field("title").max_length
UPCOMING_DAYS: Final = 14


def task_owner_error(owner: Seat | None) -> str | None:
    if owner is not None and owner.role not in OWNER_ROLES:
        return "Give the task to an MSM or an admin: a viewer does not work accounts."
    return None


def _title_error(title: str) -> str | None:
    if not title:
        return "Say what is to be done."
    if len(title) > MAX_TITLE:
        return f"Keep the title to {MAX_TITLE} characters."
    return None


def _due_error(due_on: object) -> str | None:
    # A datetime is a date too: refuse it, a task is due on a calendar day.
    if not isinstance(due_on, dt.date) or isinstance(due_on, dt.datetime):
        return "Give the day it is due."
    return None


@transaction.atomic
def task_create(
    *,
    organization: Organization,
    member: Member,
    title: str,
    due_on: dt.date,
    owner: Seat | None = None,
    notes: str = "",
) -> Task:
    """Give someone a task about a member. Without an owner, the task goes to the member's
    owner when that seat works accounts, and is left unassigned otherwise."""
    require_same_organization(organization, member=member, owner=owner)
    title = title.strip() if isinstance(title, str) else ""
    if owner is None and member.owner_id is not None:
        member_owner = Seat.objects.for_org(organization).filter(pk=member.owner_id).first()
        owner = member_owner if task_owner_error(member_owner) is None else None
    errors = {
        field: message
        for field, message in {
            "title": _title_error(title),
            "due_on": _due_error(due_on),
            "owner": task_owner_error(owner),
        }.items()
        if message
    }
    if errors:
        raise ValidationError(errors)
    return Task.objects.create(
        organization=organization,
        member=member,
        owner=owner,
        title=title,
        notes=(notes or "").strip(),
        due_on=due_on,
    )


def _locked(organization: Organization, task: Task) -> Task:
    return Task.objects.for_org(organization).select_for_update().get(pk=task.pk)


@transaction.atomic
def task_complete(*, organization: Organization, task: Task, at: dt.datetime | None = None) -> Task:
    """Mark a task done (now, or at the aware time given, not in the future). Completing a
    done task keeps its first completion time."""
    require_same_organization(organization, task=task)
    now = timezone.now()
    if at is not None and (not isinstance(at, dt.datetime) or timezone.is_naive(at) or at > now):
        raise ValidationError({"at": "Give a date and time with its time zone, not in the future."})
    locked = _locked(organization, task)
    if locked.done_at is None:
        locked.done_at = at or now
        locked.save(update_fields=["done_at", "updated_at"])  # auto_now sets updated_at
    task.done_at, task.updated_at = locked.done_at, locked.updated_at
    return task


@transaction.atomic
def task_reopen(*, organization: Organization, task: Task) -> Task:
    """Put a done task back on the list. Reopening an open task changes nothing."""
    require_same_organization(organization, task=task)
    # Guarded on being done, so reopening an open task does not move its updated_at either.
    now = timezone.now()
    if (
        Task.objects.for_org(organization)
        .filter(pk=task.pk, done_at__isnull=False)
        .update(done_at=None, updated_at=now)
    ):
        task.updated_at = now
        audit_record(
            organization=organization,
            action="task.reopen",
            instance=task,
            changes={"done_at": [task.done_at, None]},
        )
    task.done_at = None
    return task


@transaction.atomic
def task_reassign(*, organization: Organization, task: Task, owner: Seat | None) -> Task:
    """Hand a task to another MSM or admin of the organization, or leave it unassigned (None)."""
    require_same_organization(organization, task=task, owner=owner)
    error = task_owner_error(owner)
    if error:
        raise ValidationError({"owner": error})
    now = timezone.now()
    Task.objects.for_org(organization).filter(pk=task.pk).update(owner=owner, updated_at=now)
    audit_record(
        organization=organization,
        action="task.reassign",
        instance=task,
        changes={"owner": [task.owner_id, owner.pk if owner else None]},
    )
    task.owner, task.updated_at = owner, now
    return task


# --- reads ---------------------------------------------------------------------------------


def _open_tasks_due_by(*, organization_id: int, owner_id: int, until: str) -> QuerySet[Task]:
    """A seat's open tasks due on or before ``until`` (an ISO date, cast to a date in SQL so
    ``PreparedRead`` can bind it as a string), soonest first, with their members."""
    return (
        Task.objects.for_org(organization_id)
        .filter(
            owner_id=owner_id,
            done_at__isnull=True,
            due_on__lte=Cast(Value(until), DateField()),
        )
        .select_related("member")
        .order_by("due_on", "pk")
    )


# Compiled once per connection: My book lists the seat's tasks on every visit.
_OPEN_TASKS_DUE_BY = PreparedRead(_open_tasks_due_by, organization_id=int, owner_id=int, until=str)


def tasks_for_seat(
    *,
    organization: Organization,
    seat: Seat,
    today: dt.date | None = None,
    upcoming_days: int = UPCOMING_DAYS,
) -> dict[str, list[Task]]:
    """A seat's open tasks: ``overdue`` (oldest first), due ``today``, and ``upcoming`` in the
    next ``upcoming_days`` days. Each task comes with its member. One query."""
    require_same_organization(organization, seat=seat)
    today = today or organization_today(organization)
    tasks = _OPEN_TASKS_DUE_BY.rows(
        organization_id=organization.pk,
        owner_id=seat.pk,
        until=(today + dt.timedelta(days=upcoming_days)).isoformat(),
    )
    grouped: dict[str, list[Task]] = {"overdue": [], "today": [], "upcoming": []}
    for task in tasks:
        if task.due_on < today:
            grouped["overdue"].append(task)
        elif task.due_on == today:
            grouped["today"].append(task)
        else:
            grouped["upcoming"].append(task)
    return grouped


def member_tasks(*, organization: Organization, member: Member) -> QuerySet[Task]:
    """A member's tasks: open ones first by due day, then done ones, latest done first; each
    with its owner's user loaded."""
    require_same_organization(organization, member=member)
    return (
        Task.objects.for_org(organization)
        .filter(member_id=member.pk)
        .select_related("owner__user")
        .order_by(F("done_at").desc(nulls_first=True), "due_on", "pk")
    )


@transaction.atomic
def task_edit(
    *,
    organization: Organization,
    task: Task,
    title: str | None = None,
    notes: str | None = None,
    due_on: dt.date | None = None,
) -> Task:
    """Change what a task says or when it is due (None leaves a field as it is), with the rules
    of ``task_create``: the API's PATCH needs it, the pages only complete, reopen and reassign."""
    require_same_organization(organization, task=task)
    changes: dict[str, object] = {}
    errors: dict[str, str] = {}
    if title is not None:
        title = title.strip() if isinstance(title, str) else ""
        errors["title"] = _title_error(title) or ""
        changes["title"] = title
    if due_on is not None:
        errors["due_on"] = _due_error(due_on) or ""
        changes["due_on"] = due_on
    if notes is not None:
        changes["notes"] = notes.strip() if isinstance(notes, str) else ""
    errors = {field: message for field, message in errors.items() if message}
    if errors:
        raise ValidationError(errors)
    if changes:
        changes["updated_at"] = timezone.now()
        Task.objects.for_org(organization).filter(pk=task.pk).update(**changes)
        before = {field: getattr(task, field) for field in changes if field != "updated_at"}
        audit_record(
            organization=organization,
            action="task.edit",
            instance=task,
            changes={f: [old, changes[f]] for f, old in before.items() if old != changes[f]},
        )
        for field, value in changes.items():
            setattr(task, field, value)
    return task


def organization_tasks(*, organization: Organization) -> QuerySet[Task]:
    """Every task of the organization, for the API's list and lookups (ids only for references;
    the view orders them)."""
    return Task.objects.for_org(organization)
