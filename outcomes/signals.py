"""Every saved or deleted row that a score reads marks its member's score as stale.

Signals are the one place that knows which models feed the score, so services do not each have
to remember. Bulk writes (imports, ingest) bypass signals and call member_score_changed
themselves.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from outcomes.recompute import member_score_changed


def _member_id(instance) -> int | None:
    member_id = getattr(instance, "member_id", None)
    if member_id is None and getattr(instance, "goal_id", None) is not None:
        member_id = instance.goal.member_id
    return member_id


def _changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loading fixtures
    member_id = _member_id(instance)
    if member_id is not None:
        member_score_changed(organization_id=instance.organization_id, member_id=member_id)


def connect() -> None:
    from engagement.models import ContextEvent, Engagement
    from milestones.models import Commitment, ProgressMilestone
    from outcomes.models import AppropriateExperience, Condition, Goal

    for model in (
        Engagement,
        ContextEvent,
        ProgressMilestone,
        Commitment,
        Goal,
        Condition,
        AppropriateExperience,
    ):
        post_save.connect(_changed, sender=model, dispatch_uid=f"score-{model.__name__}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"score-{model.__name__}-delete")
