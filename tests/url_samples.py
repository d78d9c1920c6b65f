"""Sample URL arguments for the leak matrix, by URL keyword.

The leak matrix calls every URL that takes an organization slug or an object id with another
organization's values. It knows how to make a value for each keyword listed here; a URL with a
keyword that is not listed fails the matrix until a maker is added. Makers receive the
organization the value must belong to, and return a slug or the id of a row they create in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenancy.models import Organization

SampleMaker = Callable[[Organization], Any]


def _member_id(organization: Organization) -> int:
    from tests.factories import MemberFactory

    return MemberFactory(organization=organization, name="Leaky Secret-Member").pk


def _outcome_id(organization: Organization) -> int:
    from tests.factories import DesiredOutcomeFactory

    return DesiredOutcomeFactory(member__organization=organization).pk


def _goal_id(organization: Organization) -> int:
    from tests.factories import GoalFactory

    return GoalFactory(desired_outcome__member__organization=organization).pk


def _condition_id(organization: Organization) -> int:
    from tests.factories import ConditionFactory

    return ConditionFactory(goal__desired_outcome__member__organization=organization).pk


def _milestone_id(organization: Organization) -> int:
    from tests.factories import ProgressMilestoneFactory

    return ProgressMilestoneFactory(member__organization=organization).pk


def _commitment_id(organization: Organization) -> int:
    from tests.factories import CommitmentFactory

    return CommitmentFactory(goal__desired_outcome__member__organization=organization).pk


def _task_id(organization: Organization) -> int:
    from tests.factories import TaskFactory

    return TaskFactory(member__organization=organization).pk


def _experience_id(organization: Organization) -> int:
    from tests.factories import AppropriateExperienceFactory

    return AppropriateExperienceFactory(member__organization=organization).pk


def _snapshot_id(organization: Organization) -> int:
    from django.utils import timezone

    from outcomes.models import Band, SuccessGapRun, SuccessGapSnapshot
    from tests.factories import MemberFactory

    now = timezone.now()
    run = SuccessGapRun.objects.create(
        organization=organization, computed_at=now, as_of=now.date(), members_scored=1
    )
    member = MemberFactory(organization=organization, name="Leaky Secret-Member")
    return SuccessGapSnapshot.objects.create(
        organization=organization, run=run, member=member, computed_at=now, band=Band.ON_TRACK
    ).pk


def _event_id(organization: Organization) -> int:
    from tests.factories import OrchestratedEventFactory

    return OrchestratedEventFactory(
        member__organization=organization, member__name="Leaky Secret-Member"
    ).pk


def _nudge_id(organization: Organization) -> int:
    from tests.factories import NudgeFactory

    return NudgeFactory(member__organization=organization, member__name="Leaky Secret-Member").pk


# Settings pages (tenancy/settings_views.py).


def _coverage_model_id(organization: Organization) -> int:
    from tests.factories import CoverageModelFactory

    return CoverageModelFactory(organization=organization).pk


def _playbook_id(organization: Organization) -> int:
    from tests.factories import PlaybookFactory

    return PlaybookFactory(organization=organization).pk


def _step_id(organization: Organization) -> int:
    from tests.factories import PlaybookStepFactory

    return PlaybookStepFactory(playbook__organization=organization).pk


def _definition_id(organization: Organization) -> int:
    from tests.factories import MilestoneDefinitionFactory

    return MilestoneDefinitionFactory(organization=organization).pk


def _seat_id(organization: Organization) -> int:
    from tests.factories import SeatFactory

    return SeatFactory(organization=organization).pk


def _key_id(organization: Organization) -> int:
    from tenancy.services import api_key_create

    return api_key_create(
        organization=organization, name="Leaky key", scopes=["read"], created_by=None
    )[0].pk


# CSV import of members (members/import_views.py).


def _import_id(organization: Organization) -> int:
    from members.models import MemberImport

    return MemberImport.objects.create(
        organization=organization,
        file_name="leaky-secret-members.csv",
        content="name\nLeaky Secret-Member\n",
        total_rows=1,
    ).pk


# The members API (members/api/views.py).


def _membership_event_id(organization: Organization) -> int:
    from tests.factories import MembershipEventFactory

    return MembershipEventFactory(
        member__organization=organization, member__name="Leaky Secret-Member"
    ).pk


def _advocacy_id(organization: Organization) -> int:
    from tests.factories import AdvocacyFactory

    return AdvocacyFactory(member__organization=organization, member__name="Leaky Secret-Member").pk


# Webhook settings pages (webhooks/views.py).


def _webhook_endpoint(organization: Organization):
    from webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.for_org(organization).create(
        organization=organization,
        url="https://hooks.example.org/leaky-secret",
        secret="whsec_leaky-secret",
        event_types=["member.band_changed"],
    )


def _endpoint_id(organization: Organization) -> int:
    return _webhook_endpoint(organization).pk


def _delivery_id(organization: Organization) -> int:
    from webhooks.models import WebhookDelivery

    return (
        WebhookDelivery.objects.for_org(organization)
        .create(
            organization=organization,
            endpoint=_webhook_endpoint(organization),
            domain_event_id=1,
            event_kind="member.band_changed",
            payload={"data": {"name": "Leaky Secret-Member"}},
            status=WebhookDelivery.Status.FAILED,
        )
        .pk
    )


def _engagement_id(organization: Organization) -> int:
    from tests.factories import EngagementFactory

    return EngagementFactory(
        member__organization=organization,
        member__name="Leaky Secret-Member",
        summary="Leaky Secret-Member engagement",
    ).pk


def _context_event_id(organization: Organization) -> int:
    from tests.factories import ContextEventFactory

    return ContextEventFactory(
        member__organization=organization,
        member__name="Leaky Secret-Member",
        external_id="leaky-secret-event",
    ).pk


# Export pages (portability/views.py).


def _export_id(organization: Organization) -> int:
    from portability.models import DataExport

    return (
        DataExport.objects.for_org(organization)
        .create(organization=organization, status="done", file_name="leaky-secret-export.zip")
        .pk
    )


URL_KWARG_SAMPLES: dict[str, SampleMaker] = {
    "export_id": _export_id,
    "engagement_id": _engagement_id,
    "context_event_id": _context_event_id,
    "org_slug": lambda organization: organization.slug,
    "endpoint_id": _endpoint_id,
    "delivery_id": _delivery_id,
    "member_id": _member_id,
    "outcome_id": _outcome_id,
    "goal_id": _goal_id,
    "condition_id": _condition_id,
    "milestone_id": _milestone_id,
    "commitment_id": _commitment_id,
    "task_id": _task_id,
    "experience_id": _experience_id,
    "snapshot_id": _snapshot_id,
    "event_id": _event_id,
    "nudge_id": _nudge_id,
    "coverage_model_id": _coverage_model_id,
    "playbook_id": _playbook_id,
    "step_id": _step_id,
    "definition_id": _definition_id,
    "seat_id": _seat_id,
    "key_id": _key_id,
    "import_id": _import_id,
    "membership_event_id": _membership_event_id,
    "advocacy_id": _advocacy_id,
}

# URL namespaces outside the matrix, each with the reason.
EXCLUDED_NAMESPACES = {
    "api": (
        "the API takes keys, not sessions, and offers more methods than GET and POST: its own "
        "matrix, tests/api/test_api_leak_matrix.py, calls every method with another "
        "organization's ids"
    ),
    "admin": "Django admin: staff only, deliberately unscoped; tenants' users are never staff.",
    "public": (
        "capability links: the signed token is the credential, not a session; tampering and "
        "expiry are tested in tests/orchestration/test_events*.py"
    ),
    "account": (
        "the set-password link: Django's password-reset token is the credential, not a "
        "session; tested in tests/pages/test_settings_seats.py"
    ),
}
