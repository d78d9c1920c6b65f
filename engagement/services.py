"""Writes for engagement and context. Every function is atomic and checks organizations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from engagement.models import ContextEvent
from members.models import Member
from tenancy.models import Organization
from tenancy.rules import require_same_organization


@transaction.atomic
def context_event_record(
    *,
    organization: Organization,
    member: Member,
    kind: str,
    name: str,
    occurred_at: dt.datetime,
    value: Decimal | int | float | None = None,
    source: str = ContextEvent.Source.MANUAL,
    payload: dict[str, Any] | None = None,
    external_id: str = "",
) -> ContextEvent:
    """Record one context event, once: a re-sent external id returns the stored event.

    A new event achieves the member's pending milestones whose rule it matches.
    """
    from milestones.services import milestones_achieve_from_context_event

    require_same_organization(organization, member=member)
    if external_id:
        existing = (
            ContextEvent.objects.for_org(organization).filter(external_id=external_id).first()
        )
        if existing is not None:
            return existing
    event = ContextEvent(
        organization=organization,
        member=member,
        kind=kind,
        name=name,
        value=None if value is None else Decimal(str(value)),
        occurred_at=occurred_at,
        source=source,
        payload=payload or {},
        external_id=external_id,
    )
    event.full_clean()
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError as exc:
        # Another request stored the same external id between our check and our insert.
        existing = (
            ContextEvent.objects.for_org(organization).filter(external_id=external_id).first()
        )
        if external_id and existing is not None:
            return existing
        raise ValidationError({"external_id": "This external id is already used."}) from exc
    milestones_achieve_from_context_event(organization=organization, event=event)
    return event
