"""The milestones API: milestone definitions, progress milestones and commitments.

Thin adapters over ``milestones.services`` and ``milestones.selectors``, so the rules of the
settings page and of Member 360 (a strategic milestone needs a goal, an achievement is marked
once, a seat owns only our side of a plan…) answer here as a 400, field by field.

Milestones and commitments are the member's record: they are achieved or kept, and reopened
when marked by mistake, never edited or deleted. A definition can be deleted only while
nothing was planned from it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_view
from rest_framework import mixins, permissions, serializers, status
from rest_framework.response import Response

from milestones.api.docs import COMMITMENT_DOCS, DEFINITION_DOCS, MILESTONE_DOCS
from milestones.api.filters import (
    CommitmentFilter,
    MilestoneDefinitionFilter,
    ProgressMilestoneFilter,
)
from milestones.api.serializers import (
    CommitmentCreateSerializer,
    CommitmentSerializer,
    CommitmentUpdateSerializer,
    MilestoneDefinitionSerializer,
    MilestoneDefinitionWriteSerializer,
    ProgressMilestoneCreateSerializer,
    ProgressMilestoneSerializer,
    ProgressMilestoneUpdateSerializer,
)
from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone
from milestones.selectors import commitments, milestone_definitions, progress_milestones
from milestones.services import (
    commitment_add,
    commitment_complete,
    commitment_reopen,
    milestone_achieve,
    milestone_definition_create,
    milestone_definition_delete,
    milestone_definition_update,
    milestone_record,
    milestone_reopen,
)
from outcomes.recompute import member_score_changed
from tenancy.api.permissions import HasApiScope
from tenancy.api.views import TenantViewSet
from tenancy.models import Seat
from tenancy.selectors import organization_today


class AdminSeatForWrites(permissions.BasePermission):
    """Milestone definitions are admin configuration (the settings page is admin-only): a
    person's session writes them only from an admin seat. A key with the write scope was
    made by an admin for the organization's systems, so it may."""

    message = "Only an organization admin (or an API key with the write scope) may do that."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        seat = request.user.seat
        return seat is None or seat.has_role(Seat.Role.ADMIN)


class _MilestonesViewSet(TenantViewSet):
    """What the three resources share: today's date for statuses, a stable order for pages,
    and validation of a request body by a given serializer.

    Any id up to the next slash reaches the lookup, so one that is not a number (``0.5``,
    ``abc``) answers the API's JSON 404, not the site's HTML page."""

    lookup_value_regex = "[^/]+"

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["today"] = organization_today(self.organization)
        return context

    def filter_queryset(self, queryset):
        # Rows equal on the ordering field must keep one order, or pages repeat and skip them.
        queryset = super().filter_queryset(queryset)
        return queryset.order_by(*queryset.query.order_by, "pk")

    def valid_data(
        self, serializer_class: type[serializers.Serializer], **kwargs: Any
    ) -> dict[str, Any]:
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def answer(self, instance: Any, code: int = status.HTTP_200_OK) -> Response:
        data = self.get_serializer_class()(instance, context=self.get_serializer_context()).data
        return Response(data, status=code)


def _renamed(error: DjangoValidationError, old: str, new: str) -> DjangoValidationError:
    """A service's error about the whole row, put under the request field that caused it."""
    if not hasattr(error, "error_dict") or old not in error.error_dict:
        return error
    errors = error.message_dict
    errors[new] = errors.pop(old)
    return DjangoValidationError(errors)


@extend_schema_view(**DEFINITION_DOCS)
class MilestoneDefinitionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, _MilestonesViewSet
):
    queryset_model = MilestoneDefinition
    serializer_class = MilestoneDefinitionSerializer
    permission_classes = [HasApiScope, AdminSeatForWrites]
    lookup_url_kwarg = "definition_id"
    filterset_class = MilestoneDefinitionFilter
    ordering_fields = ["name", "expected_after_days", "updated_at", "id"]
    ordering = ["expected_after_days", "name", "id"]

    def get_tenant_queryset(self):
        return milestone_definitions(organization=self.organization)

    def create(self, request, *args, **kwargs) -> Response:
        data = self.valid_data(MilestoneDefinitionWriteSerializer)
        is_active = data.pop("is_active")
        definition = milestone_definition_create(organization=self.organization, **data)
        if not is_active:
            milestone_definition_update(
                organization=self.organization, definition=definition, is_active=False
            )
        return self.answer(definition, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs) -> Response:
        definition = self.get_object()
        data = self.valid_data(MilestoneDefinitionWriteSerializer, partial=kwargs.get("partial"))
        milestone_definition_update(organization=self.organization, definition=definition, **data)
        return self.answer(definition)

    def partial_update(self, request, *args, **kwargs) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs) -> Response:
        definition = self.get_object()
        milestone_definition_delete(organization=self.organization, definition=definition)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(**MILESTONE_DOCS)
class ProgressMilestoneViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, _MilestonesViewSet
):
    queryset_model = ProgressMilestone
    serializer_class = ProgressMilestoneSerializer
    lookup_url_kwarg = "milestone_id"
    filterset_class = ProgressMilestoneFilter
    ordering_fields = ["due_on", "achieved_at", "created_at", "updated_at", "name", "id"]
    ordering = ["due_on", "id"]

    def get_tenant_queryset(self):
        return progress_milestones(organization=self.organization)

    def create(self, request, *args, **kwargs) -> Response:
        data = self.valid_data(ProgressMilestoneCreateSerializer)
        definition = data["definition"]
        # An omitted type is the definition's; with no definition the service names the field.
        kind = data.pop("type", None) or (definition.type if definition is not None else "")
        milestone = milestone_record(organization=self.organization, type=kind, **data)
        return self.answer(milestone, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        milestone = self.get_object()
        data = self.valid_data(ProgressMilestoneUpdateSerializer)
        if "achieved" not in data:
            return self.answer(milestone)
        try:
            if data["achieved"]:
                milestone_achieve(
                    organization=self.organization,
                    milestone=milestone,
                    via=ProgressMilestone.Via.API,
                    achieved_at=data.get("achieved_at"),
                )
            else:
                milestone_reopen(organization=self.organization, milestone=milestone)
        except DjangoValidationError as error:
            raise _renamed(error, "milestone", "achieved") from error
        # The services write with a conditional UPDATE, which sends no signal: note it here.
        member_score_changed(organization_id=self.organization.pk, member_id=milestone.member_id)
        milestone.refresh_from_db(fields=["updated_at"])
        return self.answer(milestone)


@extend_schema_view(**COMMITMENT_DOCS)
class CommitmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _MilestonesViewSet):
    queryset_model = Commitment
    serializer_class = CommitmentSerializer
    lookup_url_kwarg = "commitment_id"
    filterset_class = CommitmentFilter
    ordering_fields = ["due_on", "done_at", "created_at", "updated_at", "id"]
    ordering = ["due_on", "id"]

    def get_tenant_queryset(self):
        return commitments(organization=self.organization)

    def create(self, request, *args, **kwargs) -> Response:
        data = self.valid_data(CommitmentCreateSerializer)
        commitment = commitment_add(organization=self.organization, **data)
        return self.answer(commitment, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        commitment = self.get_object()
        data = self.valid_data(CommitmentUpdateSerializer)
        if "done" not in data:
            return self.answer(commitment)
        try:
            if data["done"]:
                commitment_complete(
                    organization=self.organization,
                    commitment=commitment,
                    done_at=data.get("done_at"),
                )
            else:
                commitment_reopen(organization=self.organization, commitment=commitment)
        except DjangoValidationError as error:
            raise _renamed(error, "commitment", "done") from error
        member_score_changed(organization_id=self.organization.pk, member_id=commitment.member_id)
        commitment.refresh_from_db(fields=["updated_at"])
        return self.answer(commitment)
