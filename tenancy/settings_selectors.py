"""Reads for the admin's settings pages, each in a constant number of queries.

Lists prefetch their related rows with explicit scoped querysets: related managers refuse to
run outside an organization scope, and a page must not query once per row.
"""

from __future__ import annotations

from typing import TypedDict

from django.db.models import Count, Prefetch, Q, QuerySet

from members.models import Member
from milestones.models import MilestoneDefinition
from orchestration.models import CoverageModel, CoveragePlaybook, CoveragePoolSeat, Playbook
from outcomes.models import ScoringConfiguration
from tenancy.models import ApiKey, Organization, Seat


class SettingsOverview(TypedDict):
    coverage_models: int
    coverage_models_active: int
    playbooks: int
    playbooks_active: int
    milestone_definitions: int
    seats: int
    admins: int
    api_keys_live: int
    scoring_customised: bool


def settings_overview(*, organization: Organization) -> SettingsOverview:
    """What each settings section holds, for the index (one query per section)."""
    coverage = CoverageModel.objects.for_org(organization).aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(is_active=True))
    )
    playbooks = Playbook.objects.for_org(organization).aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(is_active=True))
    )
    seats = Seat.objects.for_org(organization).aggregate(
        total=Count("pk"), admins=Count("pk", filter=Q(role=Seat.Role.ADMIN))
    )
    return {
        "coverage_models": coverage["total"],
        "coverage_models_active": coverage["active"],
        "playbooks": playbooks["total"],
        "playbooks_active": playbooks["active"],
        "milestone_definitions": MilestoneDefinition.objects.for_org(organization)
        .filter(is_active=True)
        .count(),
        "seats": seats["total"],
        "admins": seats["admins"],
        "api_keys_live": ApiKey.objects.for_org(organization)
        .filter(revoked_at__isnull=True)
        .count(),
        "scoring_customised": ScoringConfiguration.objects.for_org(organization).exists(),
    }


def coverage_models_for_list(*, organization: Organization) -> QuerySet[CoverageModel]:
    """Coverage models in the order they win a member (active first, then highest priority,
    then oldest), with their pool's people and their playbooks."""
    return (
        CoverageModel.objects.for_org(organization)
        .order_by("-is_active", "-priority", "pk")
        .prefetch_related(
            Prefetch(
                "pool",
                queryset=CoveragePoolSeat.objects.for_org(organization)
                .select_related("seat__user")
                .order_by("pk"),
            ),
            Prefetch(
                "playbook_links",
                queryset=CoveragePlaybook.objects.for_org(organization)
                .select_related("playbook")
                .order_by("playbook__name"),
            ),
        )
    )


def coverage_member_counts(*, organization: Organization, model_ids: list[int]) -> dict[int, int]:
    """How many members each model covers now (one grouped count)."""
    counts = dict.fromkeys(model_ids, 0)
    counts.update(
        Member.objects.for_org(organization)
        .filter(coverage_model_id__in=model_ids)
        .order_by()
        .values("coverage_model_id")
        .annotate(n=Count("pk"))
        .values_list("coverage_model_id", "n")
    )
    return counts


def coverage_model_links(
    *, organization: Organization, coverage_model: CoverageModel
) -> tuple[list[int], list[int]]:
    """The ids of a model's pool seats (in pool order) and of its playbooks, for its form."""
    pool = list(
        CoveragePoolSeat.objects.for_org(organization)
        .filter(coverage_model_id=coverage_model.pk)
        .order_by("pk")
        .values_list("seat_id", flat=True)
    )
    playbooks = list(
        CoveragePlaybook.objects.for_org(organization)
        .filter(coverage_model_id=coverage_model.pk)
        .values_list("playbook_id", flat=True)
    )
    return pool, playbooks


def playbooks_for_list(*, organization: Organization) -> QuerySet[Playbook]:
    """Playbooks, active first then by name, each with its number of steps."""
    return (
        Playbook.objects.for_org(organization)
        .annotate(step_count=Count("steps"))
        .order_by("-is_active", "name", "pk")
    )


def milestone_definitions_for_list(*, organization: Organization) -> QuerySet[MilestoneDefinition]:
    """Milestone definitions, active first, in the order members meet them."""
    return MilestoneDefinition.objects.for_org(organization).order_by(
        "-is_active", "expected_after_days", "name", "pk"
    )
