"""The API's read serializers answer through a plan built once per class
(``tenancy.api.representation``): their output must be DRF's own, byte for byte, whatever the
row (empty owner, nulls, decimals, nested conditions) and whatever the organization's zone."""

from __future__ import annotations

import datetime as dt
import inspect
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from drf_spectacular.plumbing import get_doc
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from engagement.api.serializers import ContextEventSerializer, EngagementSerializer
from members.api.serializers import AdvocacySerializer, MemberSerializer, MembershipEventSerializer
from members.models import Member
from outcomes.api.serializers import (
    AppropriateExperienceSerializer,
    ConditionSerializer,
    DesiredOutcomeSerializer,
    GoalSerializer,
    SuccessGapSnapshotSerializer,
)
from outcomes.models import Band, Condition, Goal, SuccessGapRun, SuccessGapSnapshot
from outcomes.selectors import goals_with_conditions
from tenancy.api.representation import FastRepresentation
from tenancy.scope import organization_scope
from tests.factories import (
    AdvocacyFactory,
    AppropriateExperienceFactory,
    ConditionFactory,
    ContextEventFactory,
    DesiredOutcomeFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    MembershipEventFactory,
)

pytestmark = pytest.mark.django_db

READ_SERIALIZERS = (
    MemberSerializer,
    MembershipEventSerializer,
    AdvocacySerializer,
    EngagementSerializer,
    ContextEventSerializer,
    DesiredOutcomeSerializer,
    ConditionSerializer,
    GoalSerializer,
    AppropriateExperienceSerializer,
    SuccessGapSnapshotSerializer,
)
ZONES = ["UTC", "America/Chicago", "Asia/Kathmandu", "Pacific/Chatham"]
LISTS = [
    "/api/v1/members?page_size=20",
    "/api/v1/members?ordering=-success_gap",
    "/api/v1/engagements?page_size=20",
    "/api/v1/context-events?page_size=20",
    "/api/v1/goals?page_size=20",
    "/api/v1/conditions",
    "/api/v1/desired-outcomes",
    "/api/v1/appropriate-experiences",
    "/api/v1/membership-events",
    "/api/v1/advocacy",
    "/api/v1/success-gap-snapshots",
]


def _drf_representation(serializer, instance):
    """What DRF itself answers, field by field (the behaviour the plan replaces)."""
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.fixture
def rows(tenant_a):
    """Rows of every kind the plan serializes, with the awkward values: nulls, empty strings,
    an owner and none, decimals with and without fractions, microseconds, a pivoted goal."""
    org = tenant_a.organization
    owned = MemberFactory(
        organization=org,
        owner=tenant_a.msm,
        attributes={"plan": "gold", "seats": 3, "nested": {"a": [1, None]}},
        success_gap=0.4375,
        success_band=Band.WATCH,
        success_computed_at=dt.datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=dt.UTC),
        external_id="crm-1",
    )
    bare = MemberFactory(organization=org, email="", joined_on=None, renewal_on=None, tier="")
    outcome = DesiredOutcomeFactory(member=owned, organization=org, description="")
    first = GoalFactory(desired_outcome=outcome, current_value=Decimal("10.1250"))
    GoalFactory(
        desired_outcome=outcome,
        supersedes=first,
        baseline=None,
        target=None,
        current_value=None,
        metric_name="",
        metric_unit="",
        objective_reached_on=dt.date(2026, 1, 2),
        status=Goal.Status.ACHIEVED,
        status_changed_at=timezone.now(),
    )
    ConditionFactory(goal=first)
    ConditionFactory(
        goal=first,
        kind=Condition.Kind.MEASURABLE,
        metric_name="score",
        comparison=Condition.Comparison.GTE,
        threshold=Decimal("7.5000"),
        observed_value=Decimal("8"),
        state=Condition.State.MET,
        assessed_on=dt.date(2026, 2, 3),
        evidence="exam",
    )
    EngagementFactory(member=owned, organization=org, seat=tenant_a.msm, goal=first)
    EngagementFactory(
        member=bare,
        organization=org,
        occurred_at=dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC),
        duration_minutes=25,
    )
    ContextEventFactory(member=owned, organization=org, payload={"course": "A", "n": 2})
    ContextEventFactory(member=bare, organization=org, value=None, external_id="lms-9")
    MembershipEventFactory(member=owned, organization=org, renewal_on=dt.date(2027, 1, 1))
    AdvocacyFactory(member=owned, organization=org)
    AdvocacyFactory(
        member=bare, organization=org, score=None, referred_member=owned, kind="referral"
    )
    AppropriateExperienceFactory(member=owned, organization=org, desired_outcome=outcome)
    AppropriateExperienceFactory(member=bare, organization=org, required=False)
    run = SuccessGapRun.objects.create(
        organization=org,
        computed_at=timezone.now(),
        as_of=timezone.localdate(),
        configuration={"milestones_weight": 3.0, "pace_weight": 2, "label": "x", "on": True},
    )
    SuccessGapSnapshot.objects.create(
        organization=org,
        run=run,
        member=owned,
        computed_at=timezone.now(),
        functional=0.8,
        outcome=0.6,
        gap=20.0,
        pace=None,
        band=Band.WATCH,
        milestones_due=4,
        milestones_done=3,
    )
    return org


@pytest.mark.parametrize("zone", ZONES)
def test_every_list_answers_the_same_bytes_as_drf(api, tenant_a, rows, zone, monkeypatch):
    tenant_a.organization.time_zone = zone
    tenant_a.organization.save()
    client = api(tenant_a)
    fast = {url: client.get(url) for url in LISTS}
    monkeypatch.setattr(FastRepresentation, "to_representation", _drf_representation)
    for url in LISTS:
        reference = client.get(url)
        assert reference.status_code == 200, reference.content
        assert json.loads(reference.content)["results"], url  # the comparison saw rows
        assert fast[url].content == reference.content, url


def test_rows_read_in_a_zone_with_odd_minutes_render_like_drf(rows):
    with organization_scope(rows), timezone.override("Asia/Kathmandu"):
        members = Member.objects.for_org(rows).select_related("owner__user")
        pairs = [(MemberSerializer, m) for m in members] + [
            (GoalSerializer, g) for g in goals_with_conditions(organization=rows)
        ]
        for serializer_class, instance in pairs:
            serializer = serializer_class(instance)
            fast = JSONRenderer().render(serializer.data)
            reference = JSONRenderer().render(_drf_representation(serializer, instance))
            assert fast == reference
            assert b"+05:45" in fast


def test_the_mixin_adds_nothing_to_the_schema():
    """drf-spectacular describes a schema component by the first docstring of its class's MRO:
    the mixin must not lend its own to serializers that have none."""
    for serializer_class in READ_SERIALIZERS:
        own = serializer_class.__dict__.get("__doc__") or ""
        assert get_doc(serializer_class) == (inspect.cleandoc(own) if own else ""), serializer_class


def test_a_plan_is_made_for_each_read_serializer():
    """Every read serializer the lists use goes through a plan (a class dropped from this list
    would silently fall back to DRF's slower path)."""
    for serializer_class in READ_SERIALIZERS:
        assert issubclass(serializer_class, FastRepresentation), serializer_class
