"""Request examples for the outcomes API's documentation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

OUTCOME_CREATE = OpenApiExample(
    "A member's desired outcome",
    value={
        "member": 42,
        "title": "Earn the chartered credential",
        "description": "Needed for the promotion she is aiming at next year.",
    },
    request_only=True,
)
OUTCOME_UPDATE = OpenApiExample("Set it aside", value={"is_active": False}, request_only=True)
GOAL_CREATE = OpenApiExample(
    "A measurable goal with a condition",
    value={
        "desired_outcome": 7,
        "objective": "Complete 40 continuing-education credits",
        "starts_on": "2025-01-01",
        "due_on": "2025-12-31",
        "metric_name": "credits",
        "metric_unit": "credits",
        "baseline": 0,
        "target": 40,
        "current_value": 6,
        "conditions": [
            {"description": "Feels confident presenting to the board", "kind": "confirmed"},
            {
                "description": "At least 10 credits in leadership",
                "kind": "measurable",
                "metric_name": "leadership credits",
                "comparison": "gte",
                "threshold": 10,
            },
        ],
    },
    request_only=True,
)
GOAL_PROGRESS = OpenApiExample(
    "Record progress",
    value={"current_value": 18, "recorded_at": "2025-06-01T09:30:00Z"},
    request_only=True,
)
GOAL_ABANDON = OpenApiExample(
    "Abandon",
    value={"status": "abandoned", "reason": "Changed careers; the credential no longer matters."},
    request_only=True,
)
GOAL_PIVOT = OpenApiExample(
    "Pivot to a new goal",
    value={
        "objective": "Complete the 12-credit fast-track module",
        "starts_on": "2025-06-01",
        "due_on": "2025-09-30",
        "reason": "The board accepted the fast track instead of 40 credits.",
        "conditions": [{"description": "Keeps her evenings free", "kind": "confirmed"}],
    },
    request_only=True,
)
CONDITION_CREATE = OpenApiExample(
    "A condition the member confirms",
    value={"goal": 12, "description": "Feels confident presenting to the board"},
    request_only=True,
)
CONDITION_UPDATE = OpenApiExample(
    "Raise a threshold",
    value={"kind": "measurable", "comparison": "gte", "threshold": 12},
    request_only=True,
)
CONDITION_ASSESS = OpenApiExample(
    "The member confirms it",
    value={"state": "met", "evidence": "Said so at the quarterly review."},
    request_only=True,
)
EXPERIENCE_CREATE = OpenApiExample(
    "A quarterly strategy session",
    value={
        "member": 42,
        "desired_outcome": 7,
        "description": "Quarterly 1:1 strategy session",
        "engagement_type": "meeting_1_1",
        "cadence_days": 90,
        "channel": "video",
        "required": True,
    },
    request_only=True,
)
EXPERIENCE_UPDATE = OpenApiExample(
    "Every two months instead", value={"cadence_days": 60}, request_only=True
)
