"""Writes for milestones and joint accountability. Every function is atomic."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from engagement.models import ContextEvent
from milestones.models import ProgressMilestone
from tenancy.models import Organization


@transaction.atomic
def milestones_achieve_from_context_event(
    *, organization: Organization, event: ContextEvent
) -> list[ProgressMilestone]:
    """Achieve the member's pending milestones whose definition's rule this event matches.

    One conditional UPDATE (``achieved_at IS NULL``) so a milestone is achieved once, even when
    the same kind of event arrives twice or two workers race.
    """
    rule = Q(definition__match_event_name=event.name)
    if event.value is None:
        rule &= Q(definition__match_min_value__isnull=True)
    else:
        rule &= Q(definition__match_min_value__isnull=True) | Q(
            definition__match_min_value__lte=event.value
        )
    pending = ProgressMilestone.objects.for_org(organization).filter(
        rule, member_id=event.member_id, achieved_at__isnull=True
    )
    ids = list(pending.values_list("pk", flat=True))
    if not ids:
        return []
    ProgressMilestone.objects.for_org(organization).filter(
        pk__in=ids, achieved_at__isnull=True
    ).update(
        achieved_at=event.occurred_at, achieved_via=ProgressMilestone.Via.RULE, context_event=event
    )
    return list(ProgressMilestone.objects.for_org(organization).filter(pk__in=ids))
