"""API routes of the milestones app: (prefix, viewset, basename) for the v1 router."""

from milestones.api.views import (
    CommitmentViewSet,
    MilestoneDefinitionViewSet,
    ProgressMilestoneViewSet,
)

ROUTES: list = [
    ("milestone-definitions", MilestoneDefinitionViewSet, "milestone-definitions"),
    ("progress-milestones", ProgressMilestoneViewSet, "progress-milestones"),
    ("commitments", CommitmentViewSet, "commitments"),
]
