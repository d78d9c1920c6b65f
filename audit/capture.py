"""Generic capture: every ``save()`` and ``delete()`` of an audited tenant model leaves an entry.

``pre_save`` reads the row as the database has it (one SELECT of the saved fields), ``post_save``
records the fields that differ (``{field: [before, after]}``) or, for a new row, the values
written; ``post_delete`` records the values removed. Entries are written in the same
transaction as the change (our services are atomic).

Writes through ``QuerySet.update()``, ``bulk_create`` or raw SQL send no signal: services that
write that way call ``audit.services.audit_record`` themselves.

Receivers are connected per model, never for every sender: a model with a delete receiver loses
Django's fast (no fetch) cascade delete, which the high-volume models below must keep.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from audit.services import REDACTED, REDACTED_FIELDS, audit_record

# Tenant models not captured, and why.
EXCLUDED: dict[str, str] = {
    "audit.AuditEntry": "the trail itself",
    "tenancy.DomainEvent": "an outbox written beside a change that is itself audited",
    "tenancy.IdempotencyRecord": "a replay cache of API answers, not data",
    "engagement.IngestFollowUp": "the outbox of a bulk batch's follow-up (the batch is audited)",
    "orchestration.DomainEventCursor": "a consumer's bookmark, moved by every run",
    "webhooks.WebhookCursor": "a consumer's bookmark, moved by every run",
    "webhooks.WebhookDelivery": "the delivery log is its own trail (attempts, status, errors)",
    "outcomes.SuccessGapRun": "derived by scoring runs (recorded as one summary per run)",
    "outcomes.SuccessGapSnapshot": "derived by scoring, one row per member per run",
    "orchestration.Nudge": "planned set-based and moved by the dispatcher many times; "
    "a person's cancel is recorded by nudge_cancel",
    "members.OwnershipChange": "already a history row, written with the audited owner change",
    "members.MemberImport": "progress bookkeeping moved per chunk by the worker; the members it "
    "creates are audited",
}
# Moved by every write: not a change worth an entry by itself.
IGNORED_FIELDS = frozenset({"updated_at"})
_BEFORE = "_audit_before"


def audited_models() -> list[type[models.Model]]:
    from tenancy.models import TenantModel

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and model._meta.concrete_model._meta.label not in EXCLUDED
    ]


def connect() -> None:
    for model in audited_models():
        uid = f"audit:{model._meta.label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}:pre_save")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}:post_save")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}:post_delete")


def _fields(model: type[models.Model], names: Any = None) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key
        and not field.generated  # computed by the database from fields recorded here
        and field.name != "organization"
        and (names is None or field.name in names or field.attname in names)
    ]


def _value(field: models.Field, value: Any) -> Any:
    if field.name in REDACTED_FIELDS:
        return REDACTED
    try:
        return field.to_python(value)
    except Exception:  # an odd value the save itself will judge; keep it as it came
        return value


def _before_save(sender, instance, raw=False, using="default", update_fields=None, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        return
    # Only what this save writes: the named fields, else every field loaded (a deferred one
    # is not saved, and reading it here would cost a query).
    fields = _fields(sender, update_fields if update_fields is not None else instance.__dict__)
    row = (
        sender._base_manager.using(using)
        .filter(pk=instance.pk)
        .values(*(field.attname for field in fields))
        .first()
    )
    instance.__dict__[_BEFORE] = row


def _after_save(sender, instance, created=False, raw=False, using="default", **kwargs):
    if raw:
        return
    before = instance.__dict__.pop(_BEFORE, None)
    if created:
        changes = _snapshot(sender, instance)
        action = "create"
    else:
        if before is None:
            return
        changes = {}
        for field in _fields(sender, before.keys()):
            if field.name in IGNORED_FIELDS:
                continue
            old = _value(field, before[field.attname])
            new = _value(field, getattr(instance, field.attname))
            if old != new:
                changes[field.name] = [old, new]
        if not changes:
            return
        action = "update"
    audit_record(
        organization=instance.organization_id,
        action=action,
        instance=instance,
        model=sender._meta.concrete_model,
        changes=changes,
        using=using,
    )


def _after_delete(sender, instance, using="default", origin=None, **kwargs):
    from tenancy.models import Organization

    # An organization removed takes its trail with it: nothing to record, and nowhere to.
    if isinstance(origin, Organization) or getattr(origin, "model", None) is Organization:
        return
    audit_record(
        organization=instance.organization_id,
        action="delete",
        instance=instance,
        model=sender._meta.concrete_model,
        changes=_snapshot(sender, instance),
        using=using,
    )


def _snapshot(model: type[models.Model], instance: models.Model) -> dict[str, Any]:
    """The row's values (ids for foreign keys), leaving out the empty ones."""
    values = {}
    for field in _fields(model, instance.__dict__):
        value = _value(field, getattr(instance, field.attname))
        if value not in (None, "", [], {}):
            values[field.name] = value
    return values
