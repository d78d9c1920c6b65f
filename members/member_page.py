"""Everything the Member 360 page shows, gathered from each app's selectors.

One function per section keeps the view thin and lets an htmx action re-render just the part
it changed. Every section function takes the same keywords:

- ``bound``: the forms of a failed action, keyed by what they are about (``"goal-<outcome id>"``,
  ``"condition-<id>"``, ``"milestone-<id>"`` …), so the form comes back in place with its errors
  while every other control is blank;
- ``params``: the query string, for the page number of the sections that paginate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django import forms
from django.core.paginator import Page
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.safestring import SafeString

from engagement.selectors import (
    ExperienceFulfilmentSummary,
    Relationship,
    experience_fulfilment_summary,
    member_timeline,
    relationship_and_experience,
)
from members.blank_forms import BlankForm, blank_form, blank_form_showing
from members.member_page_goals import GoalHtml
from members.member_page_rows import context_event_rows, engagement_rows, milestone_rows
from members.models import Member
from members.page_html import (
    action_errors_html,
    commitment_item_html,
    context_event_items_html,
    engagement_items_html,
    id_url,
    milestone_item_html,
    with_html,
)
from members.paging import counted_page, empty_page
from members.selectors import latest_ownership_changes, member_headline_results
from milestones.models import Commitment
from milestones.selectors import accountability_boards_for_goals, milestone_timeline
from orchestration.forms import OwnerReassignForm
from orchestration.selectors import member_events, member_nudges, member_work_present
from orchestration.tasks_services import member_tasks
from outcomes.explain import gap_explanation_and_trend
from outcomes.forms import ConditionAssessForm, DesiredOutcomeForm, GoalForm, GoalProgressForm
from outcomes.models import DesiredOutcome, Goal
from outcomes.selectors import OPEN_STATUSES, goal_pace, member_outcome_tree
from tenancy.models import Organization, Seat
from tenancy.selectors import organization_team_rows, organization_today

Bound = Mapping[str, forms.Form]
SECTION_PAGE_SIZE = 10


def _form(
    bound: Bound | None,
    key: str,
    form_class: type[forms.Form],
    **kwargs: Any,
):
    """The failed form for ``key`` when there is one, else a blank one with ids of its own (a
    page holds one such form per goal or condition, and ids must stay unique), its markup
    that of its kind's blank form, rendered once, with its ids."""
    if bound and key in bound:
        return with_html(bound[key])
    return blank_form(form_class, key, **kwargs)


def action_errors(bound: Bound | None, key: str) -> list[str]:
    """Every message of the failed button action about ``key`` (no fields to put them under)."""
    form = (bound or {}).get(key)
    if form is None:
        return []
    return [message for messages in form.errors.values() for message in messages]


def _page(rows: QuerySet, params: Mapping[str, str] | None, name: str) -> Page:
    """The page of ``rows`` the query string asks for (the first one in one query)."""
    return counted_page(rows, (params or {}).get(name), SECTION_PAGE_SIZE)


def _member_url(name: str, organization: Organization, member: Member) -> str:
    """The URL of the member's action ``name``, its pattern reversed once per process."""
    return id_url(name, organization, "member_id")(member.pk)


class MemberReads:
    """What several sections show, read once per page: the organization's today, and the
    desired outcomes with their goals (the outcomes section and the plan both show goals)."""

    def __init__(self, *, organization: Organization, member: Member) -> None:
        self.organization = organization
        self.member = member

    @cached_property
    def today(self):
        return organization_today(self.organization)

    @cached_property
    def outcomes(self) -> list[DesiredOutcome]:
        """The member's desired outcomes with their goals (``goal_list``) and the goals'
        conditions (``condition_list``)."""
        return member_outcome_tree(organization=self.organization, member=self.member)

    @cached_property
    def relationship_and_experience(self) -> tuple[Relationship, ExperienceFulfilmentSummary]:
        """The relationship (the page's) and the experience (the outcomes section's) share
        one read of the member's engagements (``engagement.selectors``)."""
        return relationship_and_experience(
            organization=self.organization, member=self.member, today=self.today
        )

    @property
    def experience(self) -> ExperienceFulfilmentSummary:
        """From the shared read when the page made it, else alone (a section re-rendered by
        itself needs no relationship)."""
        if "relationship_and_experience" in self.__dict__:
            return self.relationship_and_experience[1]
        return experience_fulfilment_summary(
            organization=self.organization, member=self.member, today=self.today
        )

    @cached_property
    def work_present(self) -> dict[str, bool]:
        """Whether the member has any task, event and nudge: the sections skip empty lists."""
        return member_work_present(organization=self.organization, member=self.member)

    @cached_property
    def open_goals(self) -> list[Goal]:
        """The member's open goals, soonest due first."""
        goals = [
            goal
            for outcome in self.outcomes
            for goal in outcome.goal_list
            if goal.member_id == self.member.pk and goal.status in OPEN_STATUSES
        ]
        return sorted(goals, key=lambda goal: (goal.due_on, goal.pk))


def _reads(reads: MemberReads | None, organization: Organization, member: Member) -> MemberReads:
    return reads or MemberReads(organization=organization, member=member)


def header_context(
    *, organization: Organization, member: Member, reads: MemberReads | None = None, **_: Any
) -> dict[str, Any]:
    reads = _reads(reads, organization, member)
    explanation, trend = gap_explanation_and_trend(organization=organization, member=member)
    return {
        "member": member,
        "results": member_headline_results(
            organization=organization, member=member, today=reads.today
        ),
        "explanation": explanation,
        "trend": [gap for _, gap in trend],
    }


def outcomes_context(
    *,
    organization: Organization,
    member: Member,
    bound: Bound | None = None,
    reads: MemberReads | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Desired outcomes with their goals (pace, conditions), each with the forms acting on it."""
    reads = _reads(reads, organization, member)
    today = reads.today
    outcomes = reads.outcomes
    goal_url = id_url("members:goal_create", organization, "outcome_id")
    progress_url = id_url("members:goal_progress", organization, "goal_id")
    assess_url = id_url("members:condition_assess", organization, "condition_id")
    for outcome in outcomes:
        outcome.goal_url = goal_url(outcome.pk)
        outcome.goal_form = _form(
            bound, f"goal-{outcome.pk}", GoalForm, initial={"starts_on": today}
        )
        for goal in outcome.goal_list:
            goal.pace = goal_pace(goal=goal, today=today)
            goal.is_open = goal.status in OPEN_STATUSES
            goal.progress_url = progress_url(goal.pk)
            goal.progress_form = _form(bound, f"progress-{goal.pk}", GoalProgressForm)
            for condition in goal.condition_list:
                condition.assess_url = assess_url(condition.pk)
                condition.assess_form = _form(
                    bound, f"condition-{condition.pk}", ConditionAssessForm
                )
            goal.html = GoalHtml(goal)
    return {
        "outcomes": outcomes,
        "outcome_form": _form(bound, "outcome", DesiredOutcomeForm),
        "outcome_create_url": _member_url("members:outcome_create", organization, member),
        "experience": reads.experience,
    }


def milestones_context(
    *,
    organization: Organization,
    member: Member,
    bound: Bound | None = None,
    reads: MemberReads | None = None,
    **_: Any,
) -> dict[str, Any]:
    reads = _reads(reads, organization, member)
    timeline = milestone_timeline(organization=organization, member=member, today=reads.today)
    achieve_url = id_url("members:milestone_achieve", organization, "milestone_id")
    reopen_url = id_url("members:milestone_reopen", organization, "milestone_id")

    def action_url(milestone: Any) -> str:
        return (reopen_url if milestone.achieved_at else achieve_url)(milestone.pk)

    def errors_html(milestone: Any) -> SafeString:
        return action_errors_html(action_errors(bound, f"milestone-{milestone.pk}"))

    milestones = milestone_rows(timeline, action_url, errors_html)
    for rows in milestones.values():
        for row in rows:
            row["html"] = milestone_item_html(row)
    return {"milestones": milestones}


def plan_context(
    *,
    organization: Organization,
    member: Member,
    bound: Bound | None = None,
    reads: MemberReads | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The joint-accountability board of each open goal."""
    reads = _reads(reads, organization, member)
    boards = accountability_boards_for_goals(
        organization=organization, member=member, goals=reads.open_goals
    )
    complete_url = id_url("members:commitment_complete", organization, "commitment_id")
    reopen_url = id_url("members:commitment_reopen", organization, "commitment_id")
    for board in boards:
        for commitments in board["columns"].values():
            for commitment in commitments:
                done = bool(commitment.done_at)
                commitment.html = commitment_item_html(
                    pk=commitment.pk,
                    description=commitment.description,
                    done=done,
                    action_url=(reopen_url if done else complete_url)(commitment.pk),
                    errors_html=action_errors_html(
                        action_errors(bound, f"commitment-{commitment.pk}")
                    ),
                )
    return {"boards": boards, "party_labels": dict(Commitment.Party.choices)}


def timeline_context(*, organization: Organization, member: Member, **_: Any) -> dict[str, Any]:
    """The latest twenty engagements and context events (one read), their items written as
    the template's loops wrote them."""
    engagements, events = member_timeline(organization=organization, member=member)
    return {
        "engagements_html": engagement_items_html(engagement_rows(engagements)),
        "context_events_html": context_event_items_html(context_event_rows(events)),
        "log_url": _member_url("members:log_engagement", organization, member),
    }


def ownership_context(
    *, organization: Organization, member: Member, bound: Bound | None = None, **_: Any
) -> dict[str, Any]:
    """Who owned the account (the latest hand-offs) and the form to hand it over. The form
    offers the organization's seats, read with their users; the hand-offs take their seats
    from that list instead of joining three seats and three users per row."""
    team = {seat.pk: seat for seat in organization_team_rows(organization=organization)}
    failed = (bound or {}).get("owner")
    owner_form = (
        with_html(failed) if failed is not None else _blank_owner_form(team.values(), member)
    )
    ownership = latest_ownership_changes(organization=organization, member=member)
    for change in ownership:
        for field in ("from_seat", "to_seat", "changed_by"):
            seat = team.get(getattr(change, f"{field}_id"))
            if seat is not None:
                setattr(change, field, seat)
    return {
        "owner_form": owner_form,
        "owner_url": _member_url("members:owner_reassign", organization, member),
        "ownership": ownership,
    }


def _blank_owner_form(team: Iterable[Seat], member: Member) -> BlankForm:
    """The hand-over form offering ``team``, the member's owner chosen; its markup kept per
    the seats it offers (id, role, name) and that choice."""
    team = list(team)
    shown = (
        tuple((seat.pk, seat.role, seat.user.display_name) for seat in team),
        member.owner_id,
    )
    return blank_form_showing(
        OwnerReassignForm, shown, seats=team, initial={"to_seat": member.owner_id or ""}
    )


def _work_page(
    reads: MemberReads | None,
    kind: str,
    rows: Callable[[], QuerySet],
    params: Mapping[str, str] | None,
) -> Page:
    """The page of the tasks, events or nudges section: none read when the whole page's
    ``reads`` know the member has no such rows (one query tells it for the three)."""
    if reads is not None and not reads.work_present[kind]:
        return empty_page(SECTION_PAGE_SIZE)
    return _page(rows(), params, f"{kind}_page")


def tasks_context(
    *,
    organization: Organization,
    member: Member,
    bound: Bound | None = None,
    params: Mapping[str, str] | None = None,
    reads: MemberReads | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The member's tasks, open ones first, a page at a time."""
    page = _work_page(
        reads, "tasks", lambda: member_tasks(organization=organization, member=member), params
    )
    today = _reads(reads, organization, member).today
    if page.object_list:
        complete_url = id_url("members:task_complete", organization, "task_id")
        reopen_url = id_url("members:task_reopen", organization, "task_id")
    for task in page.object_list:
        task.action_url = (reopen_url if task.done_at else complete_url)(task.pk)
        task.action_errors_html = action_errors_html(action_errors(bound, f"task-{task.pk}"))
        task.overdue = task.done_at is None and task.due_on < today
    return {"tasks_page": page}


def events_context(
    *,
    organization: Organization,
    member: Member,
    params: Mapping[str, str] | None = None,
    reads: MemberReads | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Orchestrated events, the latest first, each with its announcement and reminders."""
    page = _work_page(
        reads, "events", lambda: member_events(organization=organization, member=member), params
    )
    return {"events_page": page}


def nudges_context(
    *,
    organization: Organization,
    member: Member,
    params: Mapping[str, str] | None = None,
    reads: MemberReads | None = None,
    **_: Any,
) -> dict[str, Any]:
    """What was planned or sent to the member, the latest first."""
    page = _work_page(
        reads, "nudges", lambda: member_nudges(organization=organization, member=member), params
    )
    return {"nudges_page": page}


# The sections an action or a page link can re-render alone, by partial name.
SECTIONS = {
    "header": header_context,
    "outcomes": outcomes_context,
    "milestones": milestones_context,
    "plan": plan_context,
    "timeline": timeline_context,
    "ownership": ownership_context,
    "tasks": tasks_context,
    "events": events_context,
    "nudges": nudges_context,
}
# The sections with their own page links (``?<section>_page=N``).
PAGED_SECTIONS = frozenset({"tasks", "events", "nudges"})


def section_context(
    section: str,
    *,
    organization: Organization,
    member: Member,
    bound: Bound | None = None,
    params: Mapping[str, str] | None = None,
    reads: MemberReads | None = None,
) -> dict[str, Any]:
    """The context of one section's partial (``reads``: what sections share, when several
    are built for one response)."""
    return {
        "member": member,
        **SECTIONS[section](
            organization=organization, member=member, bound=bound, params=params, reads=reads
        ),
    }


def member_page_context(
    *,
    organization: Organization,
    member: Member,
    bound: Bound | None = None,
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    reads = MemberReads(organization=organization, member=member)
    context: dict[str, Any] = {
        "relationship": reads.relationship_and_experience[0],
    }
    for section in SECTIONS:
        context.update(
            section_context(
                section,
                organization=organization,
                member=member,
                bound=bound,
                params=params,
                reads=reads,
            )
        )
    return context
