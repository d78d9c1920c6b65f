"""Desired outcomes, goals with their conditions, and Appropriate Experience over the API.

Thin adapters: bodies are checked for shape by the serializers, then every write goes through
``outcomes.services`` — the functions the pages call — so the domain's rules (no time frame, no
goal; hollow success; pivots keep history) hold identically and answer 400 field by field.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from outcomes import selectors, services
from outcomes.api import examples
from outcomes.api.filters import ConditionFilter, DesiredOutcomeFilter, ExperienceFilter, GoalFilter
from outcomes.api.serializers import (
    GOAL_CONDITIONS_ATTR,
    AppropriateExperienceSerializer,
    ConditionAssessSerializer,
    ConditionCreateSerializer,
    ConditionInputSerializer,
    ConditionSerializer,
    DesiredOutcomeCreateSerializer,
    DesiredOutcomeSerializer,
    DesiredOutcomeUpdateSerializer,
    ExperienceCreateSerializer,
    ExperienceFieldsSerializer,
    GoalCreateSerializer,
    GoalPivotSerializer,
    GoalSerializer,
    GoalUpdateSerializer,
)
from outcomes.models import AppropriateExperience, Condition, DesiredOutcome, Goal
from tenancy.api.filters import API_FILTER_BACKENDS
from tenancy.api.views import TenantViewSet
from tenancy.models import Organization


def _valid(
    serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class _ReadableViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """List and retrieve; writes are defined by each resource over its services."""

    filter_backends = API_FILTER_BACKENDS

    def _answer(self, row: Any, code: int = status.HTTP_200_OK) -> Response:
        """The row as read back through the list's queryset (with what it prefetches)."""
        fresh = self.get_tenant_queryset().get(pk=row.pk)
        return Response(self.get_serializer(fresh).data, status=code)


# --- desired outcomes ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List desired outcomes",
        description="What members want to reach, active first. Filter by member, activity and "
        "`updated_since` for incremental sync.",
    ),
    retrieve=extend_schema(
        summary="Get a desired outcome", description="One desired outcome of a member."
    ),
    create=extend_schema(
        summary="Record a desired outcome",
        description="Open a desired outcome for a member; goals and experience elements are "
        "then attached to it.",
        request=DesiredOutcomeCreateSerializer,
        responses={201: DesiredOutcomeSerializer},
        examples=[examples.OUTCOME_CREATE],
    ),
    partial_update=extend_schema(
        summary="Change a desired outcome",
        description="Reword it, or set it aside with `is_active: false` when the member no "
        "longer pursues it (its goals keep their statuses and history).",
        request=DesiredOutcomeUpdateSerializer,
        responses={200: DesiredOutcomeSerializer},
        examples=[examples.OUTCOME_UPDATE],
    ),
    destroy=extend_schema(
        summary="Delete a desired outcome recorded by mistake",
        description="Only while no goal or experience element hangs from it (400 otherwise: "
        "set it inactive, so the history stays).",
    ),
)
class DesiredOutcomeViewSet(_ReadableViewSet):
    queryset_model = DesiredOutcome
    serializer_class = DesiredOutcomeSerializer
    lookup_url_kwarg = "outcome_id"
    filterset_class = DesiredOutcomeFilter
    ordering_fields = ["created_at", "updated_at", "title", "id"]
    ordering = ["-is_active", "created_at", "id"]

    def get_tenant_queryset(self):
        return selectors.desired_outcomes(organization=self.organization)

    def create(self, request: Request) -> Response:
        data = _valid(DesiredOutcomeCreateSerializer, request)
        outcome = services.desired_outcome_create(organization=self.organization, **data)
        return self._answer(outcome, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        outcome = self.get_object()
        data = _valid(DesiredOutcomeUpdateSerializer, request, partial=True)
        outcome = services.desired_outcome_update(
            organization=self.organization, outcome=outcome, **data
        )
        return self._answer(outcome)

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        services.desired_outcome_delete(organization=self.organization, outcome=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- goals -----------------------------------------------------------------------------------


def goals_listing_conditions(*, organization: Organization) -> QuerySet[Goal]:
    """Every goal with its conditions, two queries a page as ``selectors.goals_with_conditions``,
    the conditions left on each goal as a plain list (``GOAL_CONDITIONS_ATTR``, which
    ``GoalSerializer`` reads) rather than in a related manager's queryset built per goal."""
    conditions = selectors.conditions(organization=organization).order_by("pk")
    return Goal.objects.for_org(organization).prefetch_related(
        Prefetch("conditions", queryset=conditions, to_attr=GOAL_CONDITIONS_ATTR)
    )


@extend_schema_view(
    list=extend_schema(
        summary="List goals",
        description="Goals with their conditions, soonest due first. Filter by member, desired "
        "outcome, status (repeatable) and `updated_since` (status changes count as updates).",
    ),
    retrieve=extend_schema(
        summary="Get a goal", description="One goal: objective, time frame, status, conditions."
    ),
    create=extend_schema(
        summary="Set a goal",
        description="Objective + conditions + time frame, all or nothing. No time frame, no "
        "goal: `starts_on` and `due_on` are required. A measurable objective needs a baseline "
        "and a target that differ. The status follows the rule (a target already reached with "
        "a condition not met is a hollow success).",
        request=GoalCreateSerializer,
        responses={201: GoalSerializer},
        examples=[examples.GOAL_CREATE],
    ),
    partial_update=extend_schema(
        summary="Record a goal's progress, its objective reached, or abandon it",
        description="`current_value` appends a reading of a measurable goal's metric; "
        "`objective_reached_on` marks a qualitative objective reached; `status: abandoned` "
        "closes it (with `reason`). The rule then re-judges the status (achieved, hollow, "
        "missed). The objective, measure and time frame are not edited: pivot instead.",
        request=GoalUpdateSerializer,
        responses={200: GoalSerializer},
        examples=[examples.GOAL_PROGRESS, examples.GOAL_ABANDON],
    ),
    pivot=extend_schema(
        summary="Pivot a goal into a new one",
        description="The open goal is kept as it was, marked superseded, and the new goal "
        "(returned, 201) points back to it through `supersedes`.",
        request=GoalPivotSerializer,
        responses={201: GoalSerializer},
        examples=[examples.GOAL_PIVOT],
    ),
)
class GoalViewSet(_ReadableViewSet):
    queryset_model = Goal
    serializer_class = GoalSerializer
    lookup_url_kwarg = "goal_id"
    filterset_class = GoalFilter
    ordering_fields = ["due_on", "starts_on", "created_at", "updated_at", "status", "id"]
    ordering = ["due_on", "id"]

    def get_tenant_queryset(self):
        return goals_listing_conditions(organization=self.organization)

    def create(self, request: Request) -> Response:
        data = _valid(GoalCreateSerializer, request)
        goal = services.goal_create(organization=self.organization, **data)
        return self._answer(goal, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        goal = self.get_object()
        data = _valid(GoalUpdateSerializer, request, partial=True)
        goal = services.goal_update(organization=self.organization, goal=goal, **data)
        return self._answer(goal)

    @action(detail=True, methods=["post"])
    def pivot(self, request: Request, **kwargs: Any) -> Response:
        goal = self.get_object()
        data = _valid(GoalPivotSerializer, request)
        new = services.goal_pivot(organization=self.organization, goal=goal, **data)
        return self._answer(new, status.HTTP_201_CREATED)


# --- conditions ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List conditions",
        description="The conditions of goals: what members need for a goal to feel like "
        "success. Filter by goal, member, state and `updated_since`.",
    ),
    retrieve=extend_schema(summary="Get a condition", description="One condition of a goal."),
    create=extend_schema(
        summary="Add a condition to a goal",
        description="Only to an open goal (active or hollow); the goal is then re-judged.",
        request=ConditionCreateSerializer,
        responses={201: ConditionSerializer},
        examples=[examples.CONDITION_CREATE],
    ),
    partial_update=extend_schema(
        summary="Change what a condition asks for",
        description="On an open goal. Changing how it is judged (kind, comparison, threshold) "
        "clears its assessment; the goal is re-judged.",
        request=ConditionInputSerializer,
        responses={200: ConditionSerializer},
        examples=[examples.CONDITION_UPDATE],
    ),
    destroy=extend_schema(
        summary="Remove a condition",
        description="From an open goal only; the goal is re-judged on the others (a hollow "
        "success may become achieved).",
    ),
    assess=extend_schema(
        summary="Assess a condition",
        description="A measurable condition is decided by `observed_value` against its "
        "threshold; one the member confirms by `state`. The goal is then re-judged.",
        request=ConditionAssessSerializer,
        responses={200: ConditionSerializer},
        examples=[examples.CONDITION_ASSESS],
    ),
)
class ConditionViewSet(_ReadableViewSet):
    queryset_model = Condition
    serializer_class = ConditionSerializer
    lookup_url_kwarg = "condition_id"
    filterset_class = ConditionFilter
    ordering_fields = ["id", "updated_at", "assessed_on"]
    ordering = ["id"]

    def get_tenant_queryset(self):
        return selectors.conditions(organization=self.organization)

    def create(self, request: Request) -> Response:
        data = _valid(ConditionCreateSerializer, request)
        condition = services.condition_add(organization=self.organization, **data)
        return self._answer(condition, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        condition = self.get_object()
        data = _valid(ConditionInputSerializer, request, partial=True)
        condition = services.condition_update(
            organization=self.organization, condition=condition, **data
        )
        return self._answer(condition)

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        services.condition_remove(organization=self.organization, condition=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def assess(self, request: Request, **kwargs: Any) -> Response:
        condition = self.get_object()
        data = _valid(ConditionAssessSerializer, request)
        condition = services.condition_assess(
            organization=self.organization, condition=condition, **data
        )
        return self._answer(condition)


# --- Appropriate Experience ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List experience elements",
        description="The Appropriate Experience of members: what each needs, how and how often. "
        "Retired elements stay listed (`is_active: false`). Filter by member, desired outcome, "
        "activity, required and `updated_since`.",
    ),
    retrieve=extend_schema(
        summary="Get an experience element", description="One element of a member's experience."
    ),
    create=extend_schema(
        summary="Add an experience element",
        description="What the member needs (engagement type, channel) and how often (cadence "
        "in days), optionally tied to one of the member's desired outcomes.",
        request=ExperienceCreateSerializer,
        responses={201: AppropriateExperienceSerializer},
        examples=[examples.EXPERIENCE_CREATE],
    ),
    partial_update=extend_schema(
        summary="Change an experience element",
        description="Only an active element; `desired_outcome: null` detaches it.",
        request=ExperienceFieldsSerializer,
        responses={200: AppropriateExperienceSerializer},
        examples=[examples.EXPERIENCE_UPDATE],
    ),
    destroy=extend_schema(
        summary="Retire an experience element",
        description="It is no longer expected; it stays on record (`is_active: false`) for "
        "what was delivered under it.",
    ),
)
class AppropriateExperienceViewSet(_ReadableViewSet):
    queryset_model = AppropriateExperience
    serializer_class = AppropriateExperienceSerializer
    lookup_url_kwarg = "experience_id"
    filterset_class = ExperienceFilter
    ordering_fields = ["cadence_days", "created_at", "updated_at", "id"]
    ordering = ["-required", "cadence_days", "id"]

    def get_tenant_queryset(self):
        return selectors.experience_elements(organization=self.organization)

    def create(self, request: Request) -> Response:
        data = _valid(ExperienceCreateSerializer, request)
        element = services.experience_element_add(organization=self.organization, **data)
        return self._answer(element, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        element = self.get_object()
        data = _valid(ExperienceFieldsSerializer, request, partial=True)
        element = services.experience_element_update(
            organization=self.organization, element=element, **data
        )
        return self._answer(element)

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        element = self.get_object()
        services.experience_element_retire(organization=self.organization, element=element)
        return Response(status=status.HTTP_204_NO_CONTENT)
