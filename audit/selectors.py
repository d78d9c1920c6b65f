"""Reading the audit trail."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from audit.models import AuditEntry
from tenancy.models import Organization


def audit_entries_for_list(
    *,
    organization: Organization,
    actor: str = "",
    model_label: str = "",
    action: str = "",
    object_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    """The organization's entries, newest first, filtered. ``actor`` matches the actor's kind
    (``seat``, ``api_key``, ``system``), ``seat:<id>``, ``key:<id>``, or else a part of the
    label (an email, a key's name). Dates are whole days on the organization's clock."""
    entries = AuditEntry.objects.for_org(organization)
    if actor:
        kind, _, number = actor.partition(":")
        if actor in AuditEntry.ActorKind.values:
            entries = entries.filter(actor_kind=actor)
        elif kind == "seat" and number.isdigit():
            entries = entries.filter(seat_id=int(number))
        elif kind == "key" and number.isdigit():
            entries = entries.filter(api_key_id=int(number))
        else:
            entries = entries.filter(actor_label__icontains=actor)
    if model_label:
        entries = entries.filter(model_label=model_label)
    if action:
        entries = entries.filter(action=action)
    if object_id is not None:
        entries = entries.filter(object_id=object_id)
    zone = organization.zone
    if since is not None:
        entries = entries.filter(at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=zone))
    if until is not None:
        next_day = until + dt.timedelta(days=1)
        entries = entries.filter(at__lt=dt.datetime.combine(next_day, dt.time.min, tzinfo=zone))
    return entries.order_by("-at", "-pk")


def audit_model_labels(*, organization: Organization) -> list[str]:
    """The model labels the organization's trail mentions, for the filter's choices."""
    return list(
        AuditEntry.objects.for_org(organization)
        .order_by("model_label")
        .values_list("model_label", flat=True)
        .distinct()
    )
