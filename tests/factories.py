"""Factories for every model. Children take their parent's organization, so a tree built
from one member stays inside one organization."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from engagement.choices import Channel, EngagementType
from engagement.models import ContextEvent, Engagement
from members.models import Advocacy, Member, MembershipEvent, OwnershipChange
from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone
from orchestration.models import (
    CoverageModel,
    CoveragePoolSeat,
    Enrollment,
    Nudge,
    OrchestratedEvent,
    Playbook,
    PlaybookStep,
    Task,
)
from outcomes.models import (
    AppropriateExperience,
    Condition,
    DesiredOutcome,
    Goal,
    GoalMetricReading,
)
from tenancy.models import Organization, Seat, User

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password(TEST_PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Association {n}")
    slug = factory.Sequence(lambda n: f"association-{n}")
    time_zone = "Europe/Paris"


class SeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seat

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Seat.Role.MSM


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"member{n}@example.test")
    tier = "Professional"
    status = Member.Status.ACTIVE
    joined_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=400))
    renewal_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=90))
    region = "North"


class OwnershipChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OwnershipChange

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    changed_at = factory.LazyFunction(timezone.now)
    note = "Hand-off"


class MembershipEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MembershipEvent

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    kind = MembershipEvent.Kind.RENEW
    occurred_on = factory.LazyFunction(timezone.localdate)
    amount = Decimal("250.00")


class AdvocacyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Advocacy

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    kind = Advocacy.Kind.NPS
    occurred_on = factory.LazyFunction(timezone.localdate)
    score = 9


class DesiredOutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DesiredOutcome

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    title = "Earn the chartered credential"


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    desired_outcome = factory.SubFactory(DesiredOutcomeFactory)
    member = factory.SelfAttribute("desired_outcome.member")
    organization = factory.SelfAttribute("desired_outcome.organization")
    objective = "Complete 40 continuing-education credits"
    metric_name = "credits"
    metric_unit = "credits"
    baseline = Decimal("0")
    target = Decimal("40")
    current_value = Decimal("10")
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=90))
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=270))


class GoalMetricReadingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoalMetricReading

    goal = factory.SubFactory(GoalFactory)
    organization = factory.SelfAttribute("goal.organization")
    value = Decimal("10")
    recorded_at = factory.LazyFunction(timezone.now)


class ConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Condition

    goal = factory.SubFactory(GoalFactory)
    organization = factory.SelfAttribute("goal.organization")
    description = "Feels confident presenting to the board"
    kind = Condition.Kind.CONFIRMED


class AppropriateExperienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppropriateExperience

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    description = "Quarterly 1:1 strategy session"
    engagement_type = EngagementType.MEETING_1_1
    cadence_days = 90
    channel = Channel.VIDEO
    required = True


class EngagementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Engagement

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    direction = Engagement.Direction.OUTBOUND_PROACTIVE
    type = EngagementType.CALL
    occurred_at = factory.LazyFunction(timezone.now)
    summary = "Checked in on the certification plan"


class ContextEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContextEvent

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    kind = ContextEvent.Kind.USAGE
    name = "course_completed"
    value = Decimal("1")
    occurred_at = factory.LazyFunction(timezone.now)


class MilestoneDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MilestoneDefinition

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Milestone {n}")
    type = MilestoneDefinition.Type.FUNCTIONAL
    expected_after_days = 30


class ProgressMilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgressMilestone

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    name = "Completed the orientation course"
    type = ProgressMilestone.Type.FUNCTIONAL
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))


class CommitmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commitment

    goal = factory.SubFactory(GoalFactory)
    member = factory.SelfAttribute("goal.member")
    organization = factory.SelfAttribute("goal.organization")
    party = Commitment.Party.MEMBER_OUTSIDE
    description = "Block two evenings a week for study"
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30))


class CoverageModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoverageModel

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    priority = 100
    criteria = factory.LazyFunction(list)


class CoveragePoolSeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoveragePoolSeat

    coverage_model = factory.SubFactory(CoverageModelFactory)
    organization = factory.SelfAttribute("coverage_model.organization")
    seat = factory.SubFactory(SeatFactory, organization=factory.SelfAttribute("..organization"))


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Playbook {n}")
    trigger = Playbook.Trigger.MANUAL


class PlaybookStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookStep

    playbook = factory.SubFactory(PlaybookFactory)
    organization = factory.SelfAttribute("playbook.organization")
    position = factory.Sequence(lambda n: n + 1)
    offset_days = 0
    action = PlaybookStep.Action.TASK
    title = "Call the member"


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    playbook = factory.SubFactory(PlaybookFactory)
    organization = factory.SelfAttribute("playbook.organization")
    member = factory.SubFactory(MemberFactory, organization=factory.SelfAttribute("..organization"))
    enrolled_at = factory.LazyFunction(timezone.now)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    title = "Follow up on the certification plan"
    due_on = factory.LazyFunction(timezone.localdate)


class OrchestratedEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrchestratedEvent

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    title = "Annual membership review"
    scheduled_for = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=21))
    lead_days = factory.LazyFunction(lambda: [14, 2])


class NudgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Nudge

    member = factory.SubFactory(MemberFactory)
    organization = factory.SelfAttribute("member.organization")
    to_email = factory.SelfAttribute("member.email")
    subject = "Your review is coming up"
    body = "We will review your plan together in two weeks."
    scheduled_for = factory.LazyFunction(timezone.now)
    idempotency_key = factory.Sequence(lambda n: f"test-nudge-{n}")
