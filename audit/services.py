"""Writing the audit trail.

Two ways in, both inside the transaction of the change they describe (an entry never outlives
a rolled-back change, and a committed change always has its entry):

* ``audit.capture`` records every ``save()``/``delete()`` of an audited tenant model through
  Django's signals, with no code in the services.
* ``audit_record`` is called by the services that write with a guarded ``QuerySet.update()``
  (which sends no signal): one line beside the UPDATE, e.g.
  ``audit_record(organization=org, action="goal.abandon", instance=goal, changes=...)``.
  Set-based system work (scoring, nudge planning, bulk ingest, sweeps) records ONE summary entry
  per run (``object_id`` None, ``changes`` like ``{"stored": n}``), never one per row.
* ``audit_summaries`` is that summary for a run that crosses organizations (the nudge
  dispatcher and its lease sweeper): one entry per organization touched, all in one INSERT.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from audit.context import current_actor
from audit.models import AuditEntry
from tenancy.models import Organization

# Never copied into the trail: secrets, and bulky uploads (the import's CSV text).
REDACTED_FIELDS = frozenset({"key_hash", "secret", "content", "password"})
REDACTED = "(hidden)"
# Fields that name a row, read from the instance without a query (``str()`` may follow a
# foreign key and cost one).
_LABEL_FIELDS = ("name", "title", "objective", "description", "file_name", "url", "email")


def object_label(instance: models.Model) -> str:
    """A short, query-free label of ``instance``: its name-like field, else ``Model #id``."""
    for name in _LABEL_FIELDS:
        value = instance.__dict__.get(name)
        if value:
            return str(value)[:200]
    return f"{instance._meta.verbose_name} #{instance.pk}"[:200]


def _plain(value: Any) -> Any:
    """A value as the trail keeps it: rows as their id."""
    if isinstance(value, models.Model):
        return value.pk
    return value


def audit_changes(instance: models.Model, **after: Any) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for the fields whose new value differs from ``instance``'s
    (which must still hold the values before the UPDATE). Foreign keys go by their id."""
    changes: dict[str, list[Any]] = {}
    for name, new in after.items():
        field = instance._meta.get_field(name)
        old = getattr(instance, field.attname)
        new = _plain(new)
        if old != new:
            changes[name] = [REDACTED, REDACTED] if name in REDACTED_FIELDS else [old, new]
    return changes


def audit_snapshot(instance: models.Model, *fields: str) -> dict[str, Any]:
    """The values of ``fields`` now (ids for foreign keys), to pass as ``before=`` to
    ``audit_record`` once the row has changed."""
    return {name: getattr(instance, instance._meta.get_field(name).attname) for name in fields}


def audit_record(
    *,
    organization: Organization | int,
    action: str,
    instance: models.Model | None = None,
    model: type[models.Model] | str | None = None,
    object_id: int | None = None,
    label: str = "",
    changes: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    using: str = "default",
) -> AuditEntry:
    """Append one entry for the current actor (``audit.context``) and request.

    Give ``instance`` for a change to one row, or ``model`` (and no id) for a summary of a
    set-based run. ``before`` (from ``audit_snapshot``) adds ``[before, after]`` for each of
    its fields that differs from ``instance`` now. Call it inside the service's transaction,
    after the write succeeded.
    """
    organization_id = organization if isinstance(organization, int) else organization.pk
    if instance is not None:
        model = model or type(instance)
        object_id = instance.pk if object_id is None else object_id
        label = label or object_label(instance)
    if model is None:
        raise ValueError("audit_record needs an instance or a model.")
    changes = dict(changes or {})
    if before is not None and instance is not None:
        for name, old in before.items():
            new = getattr(instance, instance._meta.get_field(name).attname)
            if old != new:
                changes[name] = [REDACTED, REDACTED] if name in REDACTED_FIELDS else [old, new]
    entry = _entry(
        organization_id=organization_id,
        action=action,
        model=model,
        object_id=object_id,
        label=label,
        changes=changes,
        removed_seat=_removed_seat(instance, action),
    )
    entry.save(using=using)
    return entry


def audit_summaries(
    *,
    action: str,
    model: type[models.Model] | str,
    changes_by_organization: Mapping[int, Mapping[str, Any]],
    using: str = "default",
) -> list[AuditEntry]:
    """One summary entry per organization of a run that crosses organizations (the nudge
    dispatcher, the lease sweeper), all written by ONE INSERT: ``{organization id: changes}``.

    Each organization's entry holds only its own counts, so no trail tells of another
    organization's work. Call it inside the transaction of the writes it sums up when there is
    one; organizations with empty ``changes`` get no entry.
    """
    entries = [
        _entry(organization_id=organization_id, action=action, model=model, changes=changes)
        for organization_id, changes in sorted(changes_by_organization.items())
        if changes
    ]
    if entries:
        AuditEntry.objects.unscoped().using(using).bulk_create(entries)
    return entries


def _entry(
    *,
    organization_id: int,
    action: str,
    model: type[models.Model] | str,
    object_id: int | None = None,
    label: str = "",
    changes: Mapping[str, Any],
    removed_seat: int | None = None,
) -> AuditEntry:
    """An unsaved entry for the current actor and request."""
    from ops.logging import current_request_context

    model_label = model if isinstance(model, str) else model._meta.label
    actor = current_actor()
    seat, api_key = actor.seat, actor.api_key
    # An actor's row is linked only within its own organization (and never to a row that is
    # going away in this very change); the label keeps who it was either way.
    if seat is not None and (seat.organization_id != organization_id or seat.pk == removed_seat):
        seat = None
    if api_key is not None and api_key.organization_id != organization_id:
        api_key = None
    context = current_request_context()
    return AuditEntry(
        organization_id=organization_id,
        actor_kind=actor.kind,
        seat=seat,
        api_key=api_key,
        actor_label=actor.label[:200],
        action=action[:60],
        model_label=model_label[:100],
        object_id=object_id,
        object_label=label[:200],
        changes=dict(changes),
        request_id=context.request_id if context is not None else "",
    )


def _removed_seat(instance: models.Model | None, action: str) -> int | None:
    from tenancy.models import Seat

    if isinstance(instance, Seat) and action == AuditEntry.Action.DELETE:
        return instance.pk
    return None
