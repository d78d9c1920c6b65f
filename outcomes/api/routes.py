"""API routes of the outcomes app: (prefix, viewset, basename) for the v1 router, and the
member's explained success gap under the member."""

from django.urls import path

from outcomes.api.views import (
    AppropriateExperienceViewSet,
    ConditionViewSet,
    DesiredOutcomeViewSet,
    GoalViewSet,
)
from outcomes.api.views_gap import MemberSuccessGapView, SuccessGapSnapshotViewSet

ROUTES: list = [
    ("desired-outcomes", DesiredOutcomeViewSet, "desired-outcomes"),
    ("goals", GoalViewSet, "goals"),
    ("conditions", ConditionViewSet, "conditions"),
    ("appropriate-experiences", AppropriateExperienceViewSet, "appropriate-experiences"),
    ("success-gap-snapshots", SuccessGapSnapshotViewSet, "success-gap-snapshots"),
]
API_PATHS = [
    path(
        "members/<int:member_id>/success-gap",
        MemberSuccessGapView.as_view(),
        name="member-success-gap",
    ),
]
