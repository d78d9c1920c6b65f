"""OpenAPI descriptions of the milestones API: a summary, a description and, for writes, an
example for every operation (kept here so the views stay short)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema

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

_DEFINITION_EXAMPLE = OpenApiExample(
    "Completed the orientation course",
    request_only=True,
    value={
        "name": "Completed the orientation course",
        "type": "functional",
        "description": "The member finished the online orientation.",
        "expected_after_days": 30,
        "anchor": "joined",
        "match_event_name": "course.completed",
        "match_min_value": None,
        "is_active": True,
    },
)

DEFINITION_DOCS = {
    "list": extend_schema(
        summary="List milestone definitions",
        description="The milestones the organization expects its members to reach, and when, "
        "in the order members meet them. Filter by type, anchor, is_active, "
        "match_event_name or updated_since.",
    ),
    "retrieve": extend_schema(
        summary="Get a milestone definition",
        description="One milestone definition of the organization.",
    ),
    "create": extend_schema(
        summary="Define a milestone",
        description="Admin configuration, so it needs a key with the write scope (or an admin's "
        "session). The rules of the settings page apply: a unique name, a strategic milestone "
        "counted from the goal's start, 0–3650 days, a minimum value only with an event name. "
        "Members are planned from it by the usual planning, not by this call.",
        request=MilestoneDefinitionWriteSerializer,
        responses={201: MilestoneDefinitionSerializer},
        examples=[_DEFINITION_EXAMPLE],
    ),
    "update": extend_schema(
        summary="Replace a milestone definition",
        description="Every field; omitted ones take their defaults. Applies to planning from "
        "now on: milestones already planned keep their name, type and due date. The anchor "
        "cannot change once milestones were planned from the definition.",
        request=MilestoneDefinitionWriteSerializer,
        responses={200: MilestoneDefinitionSerializer},
        examples=[_DEFINITION_EXAMPLE],
    ),
    "partial_update": extend_schema(
        summary="Change a milestone definition",
        description="Only the fields given, under the same rules as creating. "
        "`is_active: false` switches it off: no one new is planned it; planned milestones stay.",
        request=MilestoneDefinitionWriteSerializer,
        responses={200: MilestoneDefinitionSerializer},
        examples=[
            OpenApiExample("Switch it off", request_only=True, value={"is_active": False}),
        ],
    ),
    "destroy": extend_schema(
        summary="Delete an unused milestone definition",
        description="Only while no milestone was planned from it (400 otherwise, under "
        "`definition`): planned milestones are the members' record, so a used definition "
        "is switched off instead (`is_active: false`).",
        responses={204: OpenApiResponse(description="Deleted.")},
    ),
}

MILESTONE_DOCS = {
    "list": extend_schema(
        summary="List progress milestones",
        description="Every member's milestones, soonest due first. `status` is where each "
        "stands today on the organization's calendar (achieved, overdue, due_soon within 14 "
        "days, upcoming). Filter by member, definition, goal, type, achieved, status or "
        "updated_since (achieving and reopening count as changes).",
    ),
    "retrieve": extend_schema(
        summary="Get a progress milestone",
        description="One member's milestone, with its status today.",
    ),
    "create": extend_schema(
        summary="Record a milestone for a member",
        description="Ad hoc or from a definition (then an empty name, an omitted type and a "
        "null due date come from the definition). A strategic milestone needs one of the "
        "member's goals, as does a definition counted from a goal's start; a member has each "
        "definition once per goal. With `achieved_at`, it is recorded already achieved (by "
        "API).",
        request=ProgressMilestoneCreateSerializer,
        responses={201: ProgressMilestoneSerializer},
        examples=[
            OpenApiExample(
                "Achieved yesterday, from a definition",
                request_only=True,
                value={
                    "member": 42,
                    "definition": 7,
                    "achieved_at": "2026-03-02T15:30:00Z",
                },
            ),
            OpenApiExample(
                "Ad hoc, pending",
                request_only=True,
                value={
                    "member": 42,
                    "name": "Presented at the regional chapter",
                    "type": "opportune",
                    "due_on": "2026-06-30",
                },
            ),
        ],
    ),
    "partial_update": extend_schema(
        summary="Achieve or reopen a milestone",
        description="`achieved: true` marks it achieved by API, once: a milestone already "
        "achieved answers 400 under `achieved` and keeps its date. `achieved: false` takes "
        "back an achievement marked by mistake. Name, type and due date are the member's "
        "record and do not change.",
        request=ProgressMilestoneUpdateSerializer,
        responses={200: ProgressMilestoneSerializer},
        examples=[
            OpenApiExample(
                "Achieved this morning",
                request_only=True,
                value={"achieved": True, "achieved_at": "2026-03-03T09:00:00Z"},
            ),
            OpenApiExample("Reopen", request_only=True, value={"achieved": False}),
        ],
    ),
}

COMMITMENT_DOCS = {
    "list": extend_schema(
        summary="List commitments",
        description="The joint-accountability plans of every goal, soonest due first. "
        "`status` is done, overdue (open past its due date) or open. Filter by member, goal, "
        "owner_seat, party, status or updated_since (ticking and unticking count as changes).",
    ),
    "retrieve": extend_schema(
        summary="Get a commitment",
        description="One commitment of a goal's plan.",
    ),
    "create": extend_schema(
        summary="Add a commitment to a goal's plan",
        description="For the goal's member. A seat of ours owns only what is ours to do "
        "(together, us_behind_scenes); the member's own parts are named by `owner_name`. A "
        "plan with no member_outside commitment is the usual blind spot.",
        request=CommitmentCreateSerializer,
        responses={201: CommitmentSerializer},
        examples=[
            OpenApiExample(
                "The member's part, outside our offerings",
                request_only=True,
                value={
                    "goal": 12,
                    "party": "member_outside",
                    "description": "Block two evenings a week for study",
                    "owner_name": "Dana (the member)",
                    "due_on": "2026-04-30",
                },
            ),
        ],
    ),
    "partial_update": extend_schema(
        summary="Keep or reopen a commitment",
        description="`done: true` marks it kept, once (a commitment already done answers 400 "
        "under `done`); `done: false` reopens one ticked by mistake.",
        request=CommitmentUpdateSerializer,
        responses={200: CommitmentSerializer},
        examples=[
            OpenApiExample("Kept", request_only=True, value={"done": True}),
            OpenApiExample("Reopen", request_only=True, value={"done": False}),
        ],
    ),
}
