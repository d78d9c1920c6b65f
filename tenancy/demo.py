"""A believable association for demos and benchmarks, built set-based and deterministically.

``build_demo`` creates the two demo organizations, their logins, and a portfolio of members with
everything the domain knows about them: membership history, advocacy, desired outcomes with goals,
conditions and experience elements, milestones of all four types, joint-accountability plans,
and a year of engagement and context. Rows are made in Python with a seeded ``random.Random`` and
written with ``bulk_create`` in batches, so 10k members and a million activity rows take minutes.

It is idempotent: an organization is only topped up to the requested number of members, so a
second run with the same arguments writes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from engagement.choices import Channel, EngagementType
from engagement.models import ContextEvent, Engagement
from members.models import Advocacy, Member, MembershipEvent, OwnershipChange
from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone
from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
)
from tenancy.models import Organization, Seat
from tenancy.services import organization_ensure, seat_ensure, user_ensure

DEMO_PASSWORD = "tandem-demo"  # noqa: S105 - a published demo login, not a secret
BATCH = 5000


@dataclass(frozen=True)
class DemoOrganization:
    slug: str
    name: str
    time_zone: str
    members: int
    tiers: tuple[str, ...]
    specialties: tuple[str, ...]


DEMO_ORGANIZATIONS = (
    DemoOrganization(
        "riverbend",
        "Riverbend Guild of Makers",
        "America/Chicago",
        300,
        ("Student", "Associate", "Professional", "Fellow", "Studio"),
        ("woodworking", "ceramics", "metalwork", "textiles", "electronics", "glass"),
    ),
    DemoOrganization(
        "northshore",
        "Northshore Nurses Association",
        "America/New_York",
        150,
        ("Student", "Registered", "Advanced Practice", "Institutional"),
        ("pediatrics", "critical care", "oncology", "community health", "surgery"),
    ),
)

# (email, name, {organization slug: role}) — printed by seed_demo.
DEMO_LOGINS = (
    ("admin@tandem.demo", "Ada Admin", {"riverbend": "admin", "northshore": "admin"}),
    ("msm@tandem.demo", "Morgan Manager", {"riverbend": "msm"}),
    ("viewer@tandem.demo", "Vic Viewer", {"riverbend": "viewer"}),
)
# More MSMs so books of accounts are spread across a team.
TEAM = (
    ("priya.msm@tandem.demo", "Priya Natarajan", "msm"),
    ("diego.msm@tandem.demo", "Diego Alvarez", "msm"),
    ("hana.msm@tandem.demo", "Hana Sato", "msm"),
)

FIRST = (
    "Avery",
    "Blake",
    "Carmen",
    "Dana",
    "Eli",
    "Farah",
    "Gus",
    "Hollis",
    "Ines",
    "Jonah",
    "Kemi",
    "Lior",
    "Mara",
    "Nico",
    "Odette",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sami",
    "Tova",
    "Umar",
    "Vera",
    "Wes",
    "Ximena",
    "Yusuf",
    "Zara",
)
LAST = (
    "Abbott",
    "Brennan",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Garcia",
    "Haddad",
    "Ibarra",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rahman",
    "Silva",
    "Tanaka",
    "Urquhart",
    "Vasquez",
    "Whitfield",
    "Young",
)
REGIONS = ("North", "South", "East", "West", "Central")

# (title, objective, metric, unit, baseline, target, conditions)
OUTCOME_TEMPLATES = (
    (
        "Earn the next credential",
        "Complete the continuing-education credits for recertification",
        "credits",
        "credits",
        0,
        40,
        ("Feels the courses apply to daily practice", "Finishes without weekend study"),
    ),
    (
        "Grow a practice",
        "Win new clients through the member directory",
        "new clients",
        "clients",
        0,
        12,
        ("Clients match the specialty", "Referral fees stay below 10%"),
    ),
    (
        "Build a peer network",
        "Attend chapter meetups and meet peers in the specialty",
        "meetups attended",
        "meetups",
        0,
        6,
        ("Has at least two peers to call for advice",),
    ),
    (
        "Lead in the community",
        "Present a session at the annual conference",
        "",
        "",
        None,
        None,
        ("Feels confident presenting", "Session is rated useful by attendees"),
    ),
    (
        "Cut supply costs",
        "Lower yearly material spend through member discounts",
        "material spend",
        "USD",
        12000,
        9000,
        ("Quality of materials stays the same",),
    ),
)
AX_TEMPLATES = (
    ("Quarterly 1:1 strategy session", EngagementType.MEETING_1_1, 90, Channel.VIDEO),
    ("Async video updates on progress", EngagementType.ASYNC_VIDEO_1_1, 30, Channel.EMAIL),
    ("Chat answered within a day", EngagementType.CHAT, 14, Channel.CHAT),
    ("Introductions to peers in the specialty", EngagementType.EVENT, 60, Channel.COMMUNITY),
    ("Monthly member briefing", EngagementType.BROADCAST_VIDEO, 30, Channel.VIDEO),
)
# (name, type, days, anchor, matching event name, minimum value)
MILESTONE_DEFINITIONS = (
    ("Profile completed", "functional", 7, "joined", "profile_completed", None),
    ("First course finished", "functional", 30, "joined", "course_completed", None),
    ("Joined a chapter", "operational", 45, "joined", "chapter_joined", None),
    ("Listed in the directory", "operational", 60, "joined", "directory_listed", None),
    ("First client from the directory", "opportune", 120, "joined", "directory_lead", 1),
    ("Spoke at a chapter meetup", "opportune", 180, "joined", "meetup_talk", None),
    ("Goal objective reached", "strategic", 180, "goal_start", "", None),
)
CONTEXT_NAMES = (
    (ContextEvent.Kind.USAGE, "portal_login"),
    (ContextEvent.Kind.USAGE, "course_completed"),
    (ContextEvent.Kind.USAGE, "resource_downloaded"),
    (ContextEvent.Kind.ACTIVITY, "meetup_attended"),
    (ContextEvent.Kind.ACTIVITY, "forum_post"),
    (ContextEvent.Kind.ACTIVITY, "directory_lead"),
    (ContextEvent.Kind.TEAM_CHANGE, "new_manager"),
    (ContextEvent.Kind.COMPANY_CHANGE, "employer_changed"),
)
SUMMARIES = (
    "Reviewed progress on the plan",
    "Answered a question about renewal",
    "Walked through the course catalogue",
    "Introduced to a peer mentor",
    "Followed up after the chapter meetup",
    "Shared the conference call for speakers",
)


def bulk(model: type[models.Model], organization: Organization, rows: list) -> list:
    """Insert rows in batches; returns them with primary keys set."""
    return model.objects.for_org(organization).bulk_create(rows, batch_size=BATCH)


def ensure_logins(organizations: dict[str, Organization]) -> None:
    password_hash = make_password(DEMO_PASSWORD)
    for email, full_name, roles in DEMO_LOGINS:
        user = user_ensure(email=email, password_hash=password_hash, full_name=full_name)
        for slug, role in roles.items():
            seat_ensure(organization=organizations[slug], user=user, role=Seat.Role(role))
    for email, full_name, role in TEAM:
        user = user_ensure(email=email, password_hash=password_hash, full_name=full_name)
        for organization in organizations.values():
            seat_ensure(organization=organization, user=user, role=Seat.Role(role))


def build_demo(
    *,
    members: int | None = None,
    other_members: int | None = None,
    activity: int = 60,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Create or top up the demo organizations; returns how many members each gained.

    ``members`` overrides the size of the first (benchmark) organization and ``other_members``
    that of the others; ``activity`` is the number of engagement plus context rows per new member.
    """
    say = progress or (lambda message: None)
    with transaction.atomic():
        organizations = {
            spec.slug: organization_ensure(slug=spec.slug, name=spec.name, time_zone=spec.time_zone)
            for spec in DEMO_ORGANIZATIONS
        }
        ensure_logins(organizations)
    created = {}
    for index, spec in enumerate(DEMO_ORGANIZATIONS):
        override = members if index == 0 else other_members
        wanted = spec.members if override is None else override
        organization = organizations[spec.slug]
        have = Member.objects.for_org(organization).count()
        if have >= wanted:
            created[spec.slug] = 0
            continue
        rng = random.Random(f"{seed}:{spec.slug}:{have}")
        with transaction.atomic():
            PortfolioBuilder(organization, spec, rng, activity, say).build(have, wanted - have)
        created[spec.slug] = wanted - have
    return created


class PortfolioBuilder:
    """Builds one organization's members and everything hanging off them."""

    def __init__(
        self,
        organization: Organization,
        spec: DemoOrganization,
        rng: random.Random,
        activity: int,
        say: Callable[[str], None],
    ) -> None:
        self.organization = organization
        self.spec = spec
        self.rng = rng
        self.activity = activity
        self.say = say
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.owners = list(
            Seat.objects.for_org(organization).filter(role__in=["msm", "admin"]).order_by("pk")
        )

    def build(self, start: int, count: int) -> None:
        definitions = self.ensure_definitions()
        members = self.make_members(start, count)
        self.say(f"{self.organization.slug}: {len(members)} members")
        self.make_ownership(members)
        self.make_membership_history(members)
        self.make_advocacy(members)
        goals = self.make_outcomes(members)
        self.say(f"{self.organization.slug}: {len(goals)} goals with conditions and plans")
        self.make_milestones(members, goals, definitions)
        self.make_activity(members, goals)

    def ensure_definitions(self) -> list[MilestoneDefinition]:
        existing = {d.name: d for d in MilestoneDefinition.objects.for_org(self.organization)}
        missing = [
            MilestoneDefinition(
                organization=self.organization,
                name=name,
                type=kind,
                expected_after_days=days,
                anchor=anchor,
                match_event_name=event,
                match_min_value=minimum,
            )
            for name, kind, days, anchor, event, minimum in MILESTONE_DEFINITIONS
            if name not in existing
        ]
        bulk(MilestoneDefinition, self.organization, missing)
        return list(MilestoneDefinition.objects.for_org(self.organization).order_by("pk"))

    def make_members(self, start: int, count: int) -> list[Member]:
        rng, rows = self.rng, []
        prefix = self.spec.slug[:2].upper()
        for number in range(start, start + count):
            joined = self.today - dt.timedelta(days=rng.randint(20, 5 * 365))
            renewal = joined + dt.timedelta(days=365)
            while renewal < self.today - dt.timedelta(days=60):
                renewal += dt.timedelta(days=365)
            status = rng.choices(
                [
                    Member.Status.ACTIVE,
                    Member.Status.GRACE,
                    Member.Status.LAPSED,
                    Member.Status.CANCELLED,
                    Member.Status.PROSPECT,
                ],
                weights=[78, 7, 8, 4, 3],
            )[0]
            if renewal < self.today and status == Member.Status.ACTIVE:
                status = Member.Status.GRACE
            is_org = rng.random() < 0.1
            name = (
                f"{rng.choice(LAST)} {rng.choice(('Studio', 'Works', 'Clinic', 'Group'))}"
                if is_org
                else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            )
            rows.append(
                Member(
                    organization=self.organization,
                    kind=Member.Kind.ORGANIZATION if is_org else Member.Kind.PERSON,
                    name=name,
                    email=f"member{number}@{self.spec.slug}.example",
                    external_id=f"{prefix}-{number:06d}",
                    tier=rng.choice(self.spec.tiers),
                    status=status,
                    joined_on=None if status == Member.Status.PROSPECT else joined,
                    renewal_on=None if status == Member.Status.PROSPECT else renewal,
                    region=rng.choice(REGIONS),
                    attributes={
                        "specialty": rng.choice(self.spec.specialties),
                        "chapter": f"{rng.choice(REGIONS)} chapter",
                        "newsletter": rng.random() < 0.7,
                    },
                    owner=self.owners[number % len(self.owners)] if self.owners else None,
                )
            )
        return bulk(Member, self.organization, rows)

    def make_ownership(self, members: list[Member]) -> None:
        rows = [
            OwnershipChange(
                organization=self.organization,
                member=m,
                to_seat=m.owner,
                changed_at=self.now,
                note="Assigned when the demo portfolio was built.",
            )
            for m in members
            if m.owner is not None
        ]
        bulk(OwnershipChange, self.organization, rows)

    def make_membership_history(self, members: list[Member]) -> None:
        rng, rows = self.rng, []
        for m in members:
            if m.joined_on is None:
                continue
            fee = Decimal(rng.choice((120, 180, 250, 400)))
            rows.append(
                MembershipEvent(
                    organization=self.organization,
                    member=m,
                    kind="join",
                    occurred_on=m.joined_on,
                    amount=fee,
                    tier=m.tier,
                    renewal_on=m.joined_on + dt.timedelta(days=365),
                )
            )
            anniversary = m.joined_on + dt.timedelta(days=365)
            while anniversary <= min(self.today, m.renewal_on - dt.timedelta(days=1)):
                rows.append(
                    MembershipEvent(
                        organization=self.organization,
                        member=m,
                        kind="renew",
                        occurred_on=anniversary,
                        amount=fee,
                        tier=m.tier,
                        renewal_on=anniversary + dt.timedelta(days=365),
                    )
                )
                if rng.random() < 0.15:
                    rows.append(
                        MembershipEvent(
                            organization=self.organization,
                            member=m,
                            kind="upgrade",
                            occurred_on=anniversary + dt.timedelta(days=rng.randint(1, 60)),
                            amount=Decimal(rng.choice((60, 100, 150))),
                            tier=m.tier,
                        )
                    )
                anniversary += dt.timedelta(days=365)
            if m.status in (Member.Status.LAPSED, Member.Status.CANCELLED):
                rows.append(
                    MembershipEvent(
                        organization=self.organization,
                        member=m,
                        kind="lapse" if m.status == Member.Status.LAPSED else "cancel",
                        occurred_on=min(self.today, m.renewal_on),
                        amount=Decimal(0),
                    )
                )
        bulk(MembershipEvent, self.organization, rows)

    def make_advocacy(self, members: list[Member]) -> None:
        rng, rows = self.rng, []
        for m in members:
            if m.joined_on is None:
                continue
            if rng.random() < 0.5:
                rows.append(
                    Advocacy(
                        organization=self.organization,
                        member=m,
                        kind="nps",
                        occurred_on=self.recent(120),
                        score=rng.choice(range(3, 11)),
                    )
                )
            if rng.random() < 0.12:
                rows.append(
                    Advocacy(
                        organization=self.organization,
                        member=m,
                        kind="referral",
                        occurred_on=self.recent(365),
                    )
                )
            if rng.random() < 0.06:
                rows.append(
                    Advocacy(
                        organization=self.organization,
                        member=m,
                        kind=rng.choice(("testimonial", "review")),
                        occurred_on=self.recent(365),
                        note="Would recommend the guild to any peer.",
                    )
                )
        bulk(Advocacy, self.organization, rows)

    def recent(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(0, days))

    def make_outcomes(self, members: list[Member]) -> list[Goal]:
        rng = self.rng
        active = [m for m in members if m.joined_on is not None]
        outcomes, templates = [], []
        for m in active:
            for template in rng.sample(OUTCOME_TEMPLATES, rng.choice((1, 1, 2))):
                outcomes.append(
                    DesiredOutcome(organization=self.organization, member=m, title=template[0])
                )
                templates.append(template)
        outcomes = bulk(DesiredOutcome, self.organization, outcomes)
        goals, goal_templates = [], []
        for outcome, template in zip(outcomes, templates, strict=True):
            _, objective, metric, unit, baseline, target, _conditions = template
            starts = self.today - dt.timedelta(days=rng.randint(10, 300))
            due = starts + dt.timedelta(days=rng.choice((180, 270, 365)))
            share = rng.random()
            current = None
            if target is not None:
                current = Decimal(baseline + (target - baseline) * min(1.0, share * 1.2)).quantize(
                    Decimal("0.01")
                )
            reached = share > 0.85
            status = Goal.Status.ACTIVE
            if due < self.today and not reached:
                status = Goal.Status.MISSED
            goals.append(
                Goal(
                    organization=self.organization,
                    desired_outcome=outcome,
                    member=outcome.member,
                    objective=objective,
                    metric_name=metric,
                    metric_unit=unit,
                    baseline=None if baseline is None else Decimal(baseline),
                    target=None if target is None else Decimal(target),
                    current_value=current,
                    starts_on=starts,
                    due_on=due,
                    status=status,
                    objective_reached_on=min(self.today, due) if reached else None,
                )
            )
            goal_templates.append(template)
        goals = bulk(Goal, self.organization, goals)
        self.make_goal_details(goals, goal_templates)
        self.make_experience(active, outcomes)
        return goals

    def make_goal_details(self, goals: list[Goal], templates: list[tuple]) -> None:
        rng = self.rng
        readings, conditions, commitments = [], [], []
        for goal, template in zip(goals, templates, strict=True):
            if goal.current_value is not None:
                readings.append(
                    GoalMetricReading(
                        organization=self.organization,
                        goal=goal,
                        value=goal.current_value,
                        recorded_at=self.now - dt.timedelta(days=rng.randint(0, 30)),
                        source="import",
                    )
                )
            all_met = True
            for description in template[6]:
                state = rng.choices(["met", "not_met", "unknown"], weights=[45, 20, 35])[0]
                all_met &= state == "met"
                conditions.append(
                    Condition(
                        organization=self.organization,
                        goal=goal,
                        description=description,
                        state=state,
                        assessed_on=None if state == "unknown" else self.recent(60),
                        evidence="" if state == "unknown" else "Said so at the last check-in.",
                    )
                )
            if goal.objective_reached_on is not None:
                goal.status = Goal.Status.ACHIEVED if all_met else Goal.Status.HOLLOW
            parties = list(Commitment.Party)
            if rng.random() < 0.3:  # the usual blind spot: nothing asked of the member outside
                parties.remove(Commitment.Party.MEMBER_OUTSIDE)
            for party in parties:
                ours = party in Commitment.OUR_SIDE
                commitments.append(
                    Commitment(
                        organization=self.organization,
                        goal=goal,
                        member=goal.member,
                        party=party,
                        description=self.commitment_text(party),
                        owner_seat=goal.member.owner if ours else None,
                        owner_name="" if ours else goal.member.name,
                        due_on=goal.starts_on + dt.timedelta(days=rng.randint(14, 150)),
                        done_at=self.now if rng.random() < 0.5 else None,
                    )
                )
        Goal.objects.for_org(self.organization).bulk_update(goals, ["status"], batch_size=BATCH)
        bulk(GoalMetricReading, self.organization, readings)
        bulk(Condition, self.organization, conditions)
        bulk(Commitment, self.organization, commitments)

    @staticmethod
    def commitment_text(party: str) -> str:
        return {
            "member_outside": "Set aside two evenings a week for it",
            "member_inside": "Finish the matching course track in the portal",
            "together": "Review progress together every quarter",
            "us_behind_scenes": "Line up a mentor from the specialty network",
        }[party]

    def make_experience(self, members: list[Member], outcomes: list[DesiredOutcome]) -> None:
        rng, rows = self.rng, []
        first_outcome = {}
        for outcome in outcomes:
            first_outcome.setdefault(outcome.member_id, outcome)
        for m in members:
            for description, kind, cadence, channel in rng.sample(AX_TEMPLATES, rng.randint(1, 3)):
                rows.append(
                    AppropriateExperience(
                        organization=self.organization,
                        member=m,
                        desired_outcome=first_outcome.get(m.pk),
                        description=description,
                        engagement_type=kind,
                        cadence_days=cadence,
                        channel=channel,
                        required=rng.random() < 0.8,
                    )
                )
        bulk(AppropriateExperience, self.organization, rows)

    def make_milestones(
        self, members: list[Member], goals: list[Goal], definitions: list[MilestoneDefinition]
    ) -> None:
        rng, rows = self.rng, []
        for m in members:
            if m.joined_on is None:
                continue
            for definition in definitions:
                if definition.anchor != "joined":
                    continue
                due = m.joined_on + dt.timedelta(days=definition.expected_after_days)
                achieved = due <= self.today and rng.random() < 0.7
                rows.append(self.milestone(m, definition, None, due, achieved))
        strategic = [d for d in definitions if d.type == "strategic"]
        for goal in goals:
            for definition in strategic:
                due = goal.starts_on + dt.timedelta(days=definition.expected_after_days)
                achieved = goal.status in (Goal.Status.ACHIEVED, Goal.Status.HOLLOW)
                rows.append(self.milestone(goal.member, definition, goal, due, achieved))
        bulk(ProgressMilestone, self.organization, rows)

    def milestone(self, member, definition, goal, due, achieved) -> ProgressMilestone:
        return ProgressMilestone(
            organization=self.organization,
            member=member,
            definition=definition,
            goal=goal,
            name=definition.name,
            type=definition.type,
            due_on=due,
            achieved_at=self.now - dt.timedelta(days=self.rng.randint(0, 60)) if achieved else None,
            achieved_via="rule" if achieved else "",
        )

    def make_activity(self, members: list[Member], goals: list[Goal]) -> None:
        goals_by_member: dict[int, list[Goal]] = {}
        for goal in goals:
            goals_by_member.setdefault(goal.member_id, []).append(goal)
        engagements, events, written = [], [], 0
        for m in members:
            engagements += self.member_engagements(m, goals_by_member.get(m.pk, []))
            events += self.member_context(m)
            if len(engagements) + len(events) >= 4 * BATCH:
                written += self.flush(engagements, events)
                engagements, events = [], []
        written += self.flush(engagements, events)
        self.say(f"{self.organization.slug}: {written} engagement and context rows")

    def flush(self, engagements: list[Engagement], events: list[ContextEvent]) -> int:
        bulk(Engagement, self.organization, engagements)
        bulk(ContextEvent, self.organization, events)
        return len(engagements) + len(events)

    def when(self, member: Member) -> dt.datetime:
        start = member.joined_on or self.today - dt.timedelta(days=60)
        days = max(1, min(365, (self.today - start).days))
        return self.now - dt.timedelta(
            days=self.rng.randint(0, days), minutes=self.rng.randint(0, 900)
        )

    def member_engagements(self, member: Member, goals: list[Goal]) -> Iterable[Engagement]:
        rng = self.rng
        # Some members are engaged a lot, some hardly at all: the spectrum needs both ends.
        count = int(self.activity / 2 * rng.choice((0.1, 0.5, 1.0, 1.0, 1.5)))
        directions = list(Engagement.Direction)
        weights = rng.choice(((6, 2, 2), (3, 3, 4), (1, 2, 7)))
        return [
            Engagement(
                organization=self.organization,
                member=member,
                seat=member.owner,
                direction=rng.choices(directions, weights=weights)[0],
                type=rng.choice(list(EngagementType)),
                occurred_at=self.when(member),
                summary=rng.choice(SUMMARIES),
                goal=rng.choice(goals) if goals and rng.random() < 0.4 else None,
                duration_minutes=rng.choice((5, 15, 30, 45, 60)),
            )
            for _ in range(count)
        ]

    def member_context(self, member: Member) -> Iterable[ContextEvent]:
        rng = self.rng
        count = self.activity - int(self.activity / 2)
        count = int(count * rng.choice((0.1, 0.5, 1.0, 1.0, 1.5)))
        rows = []
        for _ in range(count):
            kind, name = rng.choices(CONTEXT_NAMES, weights=(30, 10, 12, 6, 8, 2, 1, 1))[0]
            rows.append(
                ContextEvent(
                    organization=self.organization,
                    member=member,
                    kind=kind,
                    name=name,
                    value=Decimal(rng.randint(1, 5)),
                    occurred_at=self.when(member),
                    source=ContextEvent.Source.IMPORT,
                    payload={"channel": rng.choice(("web", "app"))},
                    external_id=f"demo-{uuid.UUID(int=rng.getrandbits(128))}",
                )
            )
        return rows
