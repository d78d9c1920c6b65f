"""API routes of the engagement app: (prefix, viewset, basename) for the v1 router, and the
bulk ingest, which comes before the router's URLs so ``bulk`` is never read as an id."""

from django.urls import re_path

from engagement.api.ingest import ContextEventBulkView
from engagement.api.views import ContextEventViewSet, EngagementViewSet

ROUTES: list = [
    ("engagements", EngagementViewSet, "engagements"),
    ("context-events", ContextEventViewSet, "context-events"),
]
API_PATHS = [
    re_path(r"^context-events/bulk/?$", ContextEventBulkView.as_view(), name="context-events-bulk"),
]
