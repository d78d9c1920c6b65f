"""Everything the Member 360 page shows, gathered from each app's selectors.

One function per section keeps the view thin and lets an htmx action re-render just the part
it changed.
"""

from __future__ import annotations

from typing import Any

from engagement.models import ContextEvent
from engagement.selectors import experience_fulfilment_summary, member_engagements, relationship
from members.models import Member
from members.selectors import member_ownership_history, member_results
from milestones.models import Commitment
from milestones.selectors import member_accountability_boards, milestone_timeline
from outcomes.explain import gap_explanation, member_gap_trend
from outcomes.selectors import goal_pace, member_desired_outcomes
from tenancy.models import Organization
from tenancy.selectors import organization_today


def header_context(*, organization: Organization, member: Member) -> dict[str, Any]:
    return {
        "member": member,
        "results": member_results(organization=organization, member=member),
        "explanation": gap_explanation(organization=organization, member=member),
        "trend": [gap for _, gap in member_gap_trend(organization=organization, member=member)],
    }


def outcomes_context(*, organization: Organization, member: Member) -> dict[str, Any]:
    today = organization_today(organization)
    outcomes = list(member_desired_outcomes(organization=organization, member=member))
    for outcome in outcomes:
        for goal in outcome.goals.all():
            goal.pace = goal_pace(goal=goal, today=today)
    return {
        "outcomes": outcomes,
        "experience": experience_fulfilment_summary(organization=organization, member=member),
    }


def timeline_context(*, organization: Organization, member: Member) -> dict[str, Any]:
    return {
        "engagements": list(member_engagements(organization=organization, member=member, limit=20)),
        "context_events": list(
            ContextEvent.objects.for_org(organization)
            .filter(member_id=member.pk)
            .order_by("-occurred_at", "-pk")[:20]
        ),
    }


def member_page_context(*, organization: Organization, member: Member) -> dict[str, Any]:
    return {
        **header_context(organization=organization, member=member),
        **outcomes_context(organization=organization, member=member),
        **timeline_context(organization=organization, member=member),
        "relationship": relationship(organization=organization, member=member),
        "milestones": milestone_timeline(organization=organization, member=member),
        "boards": member_accountability_boards(organization=organization, member=member),
        "party_labels": dict(Commitment.Party.choices),
        "ownership": list(member_ownership_history(organization=organization, member=member)[:5]),
    }
