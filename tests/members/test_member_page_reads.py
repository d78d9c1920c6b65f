"""Member 360's combined reads agree with the reads they stand for."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from engagement.choices import EngagementType
from engagement.models import Engagement
from engagement.selectors import (
    experience_fulfilment_summary,
    member_timeline,
    relationship,
    relationship_and_experience,
)
from members.member_page_rows import context_event_rows, engagement_rows
from orchestration.selectors import member_work_present
from outcomes.explain import gap_explanation, gap_explanation_and_trend
from outcomes.models import SuccessGapRun, SuccessGapSnapshot
from tests.factories import (
    AppropriateExperienceFactory,
    ContextEventFactory,
    EngagementFactory,
    MemberFactory,
    NudgeFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


def _snapshot(
    member, *, days_ago: float = 0, gap: float, at: dt.datetime | None = None
) -> SuccessGapSnapshot:
    """A run and its snapshot of ``member`` with ``gap``, ``days_ago`` before now (or at
    ``at``)."""
    at = at or timezone.now() - dt.timedelta(days=days_ago)
    run = SuccessGapRun.objects.create(
        organization=member.organization, computed_at=at, as_of=at.date(), configuration={}
    )
    return SuccessGapSnapshot.objects.create(
        organization=member.organization,
        run=run,
        member=member,
        computed_at=at,
        functional=0.8,
        outcome=0.8 - gap / 100,
        gap=gap,
        band="watch",
    )


@pytest.mark.parametrize(
    "history",
    [(), (1,), (1, 3), (1, 45), (1, 3, 45), (1, 3, 120), (40, 120), (1, 2, 3, 100, 200)],
)
def test_the_page_explains_the_gap_as_gap_explanation_does(tenant_a, history):
    member = MemberFactory(organization=tenant_a.organization)
    for days in history:
        _snapshot(member, days_ago=days, gap=days)
    now = timezone.now()
    alone = gap_explanation(organization=tenant_a.organization, member=member, now=now)
    together, _trend = gap_explanation_and_trend(
        organization=tenant_a.organization, member=member, now=now
    )
    assert together == alone


def test_relationship_and_experience_read_together_equal_each_alone(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    AppropriateExperienceFactory(member=member, engagement_type=EngagementType.CALL, cadence_days=7)
    AppropriateExperienceFactory(member=member, engagement_type=EngagementType.MEETING_1_1)
    now = timezone.now()
    EngagementFactory(member=member, type=EngagementType.CALL, occurred_at=now - dt.timedelta(3))
    EngagementFactory(
        member=member,
        type=EngagementType.EMAIL,
        direction=Engagement.Direction.INBOUND_REACTIVE,
        occurred_at=now - dt.timedelta(days=200),
    )
    ContextEventFactory(member=member)
    found, experience = relationship_and_experience(organization=org, member=member)
    assert found == relationship(organization=org, member=member)
    assert experience == experience_fulfilment_summary(organization=org, member=member)


def test_which_work_lists_a_member_has(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    assert member_work_present(organization=org, member=member) == {
        "tasks": False,
        "events": False,
        "nudges": False,
    }
    TaskFactory(member=member, owner=tenant_a.msm)
    NudgeFactory(member=member)
    TaskFactory(member=MemberFactory(organization=org), owner=tenant_a.msm)
    assert member_work_present(organization=org, member=member) == {
        "tasks": True,
        "events": False,
        "nudges": True,
    }


def test_timeline_rows_write_what_the_template_filters_wrote(tenant_a, settings):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    at = dt.datetime(2024, 3, 5, 23, 7, tzinfo=dt.UTC)
    EngagementFactory(member=member, seat=tenant_a.msm, occurred_at=at)
    EngagementFactory(member=member, seat=None, occurred_at=at - dt.timedelta(days=40))
    ContextEventFactory(member=member, occurred_at=at, value=None)
    ContextEventFactory(member=member, occurred_at=at - dt.timedelta(days=1))
    template = Template(
        "{{ at|date:'c' }}|{{ at|date:'M j, Y H:i' }}|{{ at|date:'M j, Y' }}"
        "|{{ v|floatformat:'-2' }}"
    )
    with timezone.override("America/Los_Angeles"):
        engagement_values, event_values = member_timeline(organization=org, member=member)
        engagements, events = engagement_rows(engagement_values), context_event_rows(event_values)
        for model_row, shown in zip(
            Engagement.objects.for_org(org).filter(member=member).order_by("-occurred_at"),
            engagements,
            strict=True,
        ):
            iso, when, _day, _value = template.render(
                Context({"at": model_row.occurred_at, "v": None})
            ).split("|")
            assert (shown["iso"], shown["at"]) == (iso, when)
            assert shown["type"] == model_row.get_type_display()
            assert shown["direction"] == model_row.get_direction_display()
            assert shown["by"] == (model_row.seat.user.display_name if model_row.seat else None)
        assert events[0]["day"] == "Mar 5, 2024" and events[0]["value"] is None
        assert events[1]["value"] == "1"
