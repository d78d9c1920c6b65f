"""API routes of the orchestration app: (prefix, viewset, basename) for the v1 router."""

from orchestration.api.views import NudgeViewSet, OrchestratedEventViewSet, TaskViewSet

ROUTES: list = [
    ("orchestrated-events", OrchestratedEventViewSet, "orchestrated-events"),
    ("tasks", TaskViewSet, "tasks"),
    ("nudges", NudgeViewSet, "nudges"),
]
