"""Orchestrated events, tasks and nudges for integrators: thin adapters over the services the
pages and the worker use, so an event created here is announced, and a cancelled one stops its
nudges, exactly as on the pages."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from orchestration import events, tasks_services
from orchestration.api import filters, serializers
from orchestration.models import Nudge, OrchestratedEvent, Task
from orchestration.nudges import NudgeNotCancellable, nudge_cancel
from orchestration.selectors import organization_events, organization_nudges
from tenancy.api.errors import Conflict
from tenancy.api.pagination import StreamCursorPagination
from tenancy.api.schema import ApiErrorSerializer
from tenancy.api.views import TenantViewSet

# Ids are digits: anything else is not a row of ours, answered by the router's 404.
ID_PATTERN = "[0-9]+"
MOMENT_EXAMPLE = OpenApiExample("At a given time", value={"at": "2026-03-20T10:30:00+01:00"})
STATUS_REFUSAL = (
    "Refused with 400 and `errors.status` when the event's status does not allow it (see the "
    "lifecycle in the list's description)."
)


def _event_action(summary: str, description: str, request: Any = None, **extra: Any):
    return extend_schema(
        summary=summary,
        description=f"{description} {STATUS_REFUSAL}",
        request=request,
        responses={200: serializers.OrchestratedEventSerializer},
        **extra,
    )


class _ValidatedBody:
    """``_body()``: the request body checked by the action's serializer (400 with field errors
    otherwise)."""

    def _body(self) -> dict[str, Any]:
        serializer = self.get_serializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@extend_schema_view(
    list=extend_schema(
        summary="List orchestrated events",
        description=(
            "Things that will happen to members, told to them before they happen. Lifecycle: "
            "planned → announced (its announcement and reminders are planned) → happened → "
            "confirmed (by the member), or missed / cancelled. Cursor-paginated, latest "
            "scheduled first by default."
        ),
    ),
    retrieve=extend_schema(
        summary="Get an orchestrated event", description="One event with its status and times."
    ),
    create=extend_schema(
        summary="Schedule an orchestrated event",
        description=(
            "Records an event for a member and, unless `announce` is false, announces it at "
            "once: one email nudge per lead day (the largest announces, the others remind). A "
            "member without an email address gets none."
        ),
        request=serializers.OrchestratedEventCreateSerializer,
        responses={201: serializers.OrchestratedEventSerializer},
        examples=[
            OpenApiExample(
                "Annual review in three weeks",
                value={
                    "member": 42,
                    "title": "Annual membership review",
                    "description": "We will go through your certification plan together.",
                    "scheduled_for": "2026-03-20T10:00:00+01:00",
                    "lead_days": [14, 2],
                    "announce": True,
                },
                request_only=True,
            )
        ],
    ),
    announce=_event_action(
        "Announce a planned event",
        "Moves a planned event to announced and plans its announcement and reminder nudges. "
        "Announcing an announced event again plans nothing new.",
    ),
    happened=_event_action(
        "Mark an event as happened",
        "Records that it took place (confirmed at once if the member had already acknowledged "
        "it); its pending reminders are cancelled.",
        request=serializers.EventMomentSerializer,
        examples=[MOMENT_EXAMPLE],
    ),
    confirm=_event_action(
        "Record the member's confirmation",
        "The member acknowledged the event (as from the link in their email): while announced "
        "it records `confirmed_at`; once happened the event becomes confirmed. Confirming again "
        "changes nothing.",
        request=serializers.EventMomentSerializer,
        examples=[MOMENT_EXAMPLE],
    ),
    miss=_event_action(
        "Mark an event as missed",
        "An announced event whose time passed without it happening; its pending nudges are "
        "cancelled.",
        request=serializers.EventMomentSerializer,
        examples=[MOMENT_EXAMPLE],
    ),
    cancel=_event_action(
        "Cancel an event",
        "Calls off a planned or announced event; its pending nudges are cancelled.",
        request=serializers.EventCancelSerializer,
        examples=[
            OpenApiExample("With a reason", value={"reason": "The member asked to skip it."})
        ],
    ),
)
class OrchestratedEventViewSet(
    _ValidatedBody,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    TenantViewSet,
):
    queryset_model = OrchestratedEvent
    lookup_url_kwarg = "event_id"
    lookup_value_regex = ID_PATTERN
    pagination_class = StreamCursorPagination
    filterset_class = filters.OrchestratedEventFilter
    ordering_fields = ["scheduled_for", "created_at", "updated_at", "pk"]
    ordering = ["-scheduled_for", "-pk"]

    def get_tenant_queryset(self) -> QuerySet[OrchestratedEvent]:
        return organization_events(organization=self.organization)

    def get_serializer_class(self):
        return {
            "create": serializers.OrchestratedEventCreateSerializer,
            "happened": serializers.EventMomentSerializer,
            "confirm": serializers.EventMomentSerializer,
            "miss": serializers.EventMomentSerializer,
            "cancel": serializers.EventCancelSerializer,
        }.get(self.action, serializers.OrchestratedEventSerializer)

    def _show(self, event: OrchestratedEvent, code: int = status.HTTP_200_OK) -> Response:
        return Response(serializers.OrchestratedEventSerializer(event).data, status=code)

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        body = self._body()
        event = events.orchestrated_event_create(
            organization=self.organization,
            member=body["member"],
            title=body["title"],
            description=body["description"],
            scheduled_for=body["scheduled_for"],
            lead_days=body["lead_days"],
            created_by=self.principal.seat,
            announce=body["announce"],
        )
        return self._show(event, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def announce(self, request, event_id: str) -> Response:
        event = self.get_object()
        events.orchestrated_event_announce(organization=self.organization, event=event)
        return self._show(event)

    @action(detail=True, methods=["post"])
    def happened(self, request, event_id: str) -> Response:
        event, at = self.get_object(), self._body().get("at")
        return self._show(
            events.orchestrated_event_mark_happened(
                organization=self.organization, event=event, at=at
            )
        )

    @action(detail=True, methods=["post"])
    def confirm(self, request, event_id: str) -> Response:
        event, at = self.get_object(), self._body().get("at")
        result = events.orchestrated_event_confirm(
            organization=self.organization, event=event, at=at
        )
        return self._show(result.event)

    @action(detail=True, methods=["post"])
    def miss(self, request, event_id: str) -> Response:
        event, at = self.get_object(), self._body().get("at")
        return self._show(
            events.orchestrated_event_mark_missed(
                organization=self.organization, event=event, at=at
            )
        )

    @action(detail=True, methods=["post"])
    def cancel(self, request, event_id: str) -> Response:
        event, reason = self.get_object(), self._body()["reason"]
        return self._show(
            events.orchestrated_event_cancel(
                organization=self.organization, event=event, reason=reason
            )
        )


@extend_schema_view(
    list=extend_schema(
        summary="List tasks",
        description=(
            "To-dos for MSMs about members, from playbook steps or made by hand. Filter by "
            "assignee (`owner`), member, status (open, overdue, done) and due day; soonest due "
            "first by default."
        ),
    ),
    retrieve=extend_schema(summary="Get a task", description="One task."),
    create=extend_schema(
        summary="Create a task",
        description=(
            "Gives someone a task about a member. Without `owner`, it goes to the member's owner "
            "when that seat works accounts (an MSM or an admin), and is left unassigned "
            "otherwise. A viewer cannot be given a task."
        ),
        request=serializers.TaskCreateSerializer,
        responses={201: serializers.TaskSerializer},
        examples=[
            OpenApiExample(
                "Call about the renewal",
                value={
                    "member": 42,
                    "title": "Call about the renewal",
                    "notes": "They asked about the student rate.",
                    "due_on": "2026-03-20",
                    "owner": 7,
                },
                request_only=True,
            )
        ],
    ),
    partial_update=extend_schema(
        summary="Change a task",
        description=(
            "Changes the title, notes, due day or assignee; only the fields given change. "
            "`owner: null` leaves it unassigned."
        ),
        request=serializers.TaskUpdateSerializer,
        responses={200: serializers.TaskSerializer},
        examples=[
            OpenApiExample(
                "Postpone and hand over",
                value={"due_on": "2026-03-27", "owner": 9},
                request_only=True,
            )
        ],
    ),
    complete=extend_schema(
        summary="Complete a task",
        description="Marks it done (now, or at `at`); completing a done task keeps its first "
        "completion time.",
        request=serializers.TaskCompleteSerializer,
        responses={200: serializers.TaskSerializer},
        examples=[OpenApiExample("Done this morning", value={"at": "2026-03-20T09:15:00+01:00"})],
    ),
    reopen=extend_schema(
        summary="Reopen a task",
        description="Puts a done task back on the list; reopening an open task changes nothing.",
        request=None,
        responses={200: serializers.TaskSerializer},
    ),
)
class TaskViewSet(
    _ValidatedBody,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    TenantViewSet,
):
    queryset_model = Task
    lookup_url_kwarg = "task_id"
    lookup_value_regex = ID_PATTERN
    filterset_class = filters.TaskFilter
    ordering_fields = ["due_on", "created_at", "updated_at", "done_at", "pk"]
    ordering = ["due_on", "pk"]

    def get_tenant_queryset(self) -> QuerySet[Task]:
        return tasks_services.organization_tasks(organization=self.organization)

    def get_serializer_class(self):
        return {
            "create": serializers.TaskCreateSerializer,
            "partial_update": serializers.TaskUpdateSerializer,
            "complete": serializers.TaskCompleteSerializer,
        }.get(self.action, serializers.TaskSerializer)

    def _show(self, task: Task, code: int = status.HTTP_200_OK) -> Response:
        return Response(serializers.TaskSerializer(task).data, status=code)

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        body = self._body()
        task = tasks_services.task_create(organization=self.organization, **body)
        return self._show(task, status.HTTP_201_CREATED)

    def partial_update(self, request, *args: Any, **kwargs: Any) -> Response:
        task, body = self.get_object(), self._body()
        organization = self.organization
        with transaction.atomic():  # a refused owner leaves the other changes unmade too
            self._edit(organization, task, body)
        return self._show(task)

    @staticmethod
    def _edit(organization, task: Task, body: dict[str, Any]) -> None:
        tasks_services.task_edit(
            organization=organization,
            task=task,
            title=body.get("title"),
            notes=body.get("notes"),
            due_on=body.get("due_on"),
        )
        if "owner" in body:
            tasks_services.task_reassign(organization=organization, task=task, owner=body["owner"])

    @action(detail=True, methods=["post"])
    def complete(self, request, task_id: str) -> Response:
        task, at = self.get_object(), self._body().get("at")
        return self._show(
            tasks_services.task_complete(organization=self.organization, task=task, at=at)
        )

    @action(detail=True, methods=["post"])
    def reopen(self, request, task_id: str) -> Response:
        task = self.get_object()
        return self._show(tasks_services.task_reopen(organization=self.organization, task=task))


@extend_schema_view(
    list=extend_schema(
        summary="List nudges",
        description=(
            "Every communication planned or sent: announcements and reminders of orchestrated "
            "events, playbook messages, in-app notes and tasks for owners. Sent by the worker "
            "exactly once. Cursor-paginated, latest due first by default."
        ),
    ),
    retrieve=extend_schema(summary="Get a nudge", description="One nudge with its delivery state."),
    cancel=extend_schema(
        summary="Cancel a nudge",
        description=(
            "Stops a scheduled (or failed) nudge from ever being sent. Cancelling a cancelled "
            "nudge changes nothing. A nudge already sent, or being sent right now, cannot be "
            "called back: 409."
        ),
        request=None,
        responses={
            200: serializers.NudgeSerializer,
            409: OpenApiResponse(
                ApiErrorSerializer, description="Already sent, or being sent right now."
            ),
        },
    ),
)
class NudgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset_model = Nudge
    lookup_url_kwarg = "nudge_id"
    lookup_value_regex = ID_PATTERN
    serializer_class = serializers.NudgeSerializer
    pagination_class = StreamCursorPagination
    filterset_class = filters.NudgeFilter
    ordering_fields = ["scheduled_for", "created_at", "updated_at", "pk"]
    ordering = ["-scheduled_for", "-pk"]

    def get_tenant_queryset(self) -> QuerySet[Nudge]:
        return organization_nudges(organization=self.organization)

    @action(detail=True, methods=["post"])
    def cancel(self, request, nudge_id: str) -> Response:
        nudge = self.get_object()
        try:
            nudge_cancel(organization=self.organization, nudge=nudge)
        except NudgeNotCancellable as refusal:
            raise Conflict(str(refusal)) from refusal
        return Response(serializers.NudgeSerializer(nudge).data)
