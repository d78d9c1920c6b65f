"""Appropriate experience fulfilment: is each required element delivered at its cadence?"""

from __future__ import annotations

import datetime as dt

import pytest

from engagement.choices import EngagementType
from engagement.selectors import (
    experience_fulfilment,
    experience_fulfilment_summary,
    organization_today,
)
from outcomes.models import AppropriateExperience
from tests.engagement.helpers import days_ago
from tests.factories import AppropriateExperienceFactory, EngagementFactory, MemberFactory


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def today(org):
    return organization_today(org)


@pytest.fixture
def member(org):
    return MemberFactory(organization=org)


def element(member, today, *, type, cadence, set_days_ago, **extra):
    item = AppropriateExperienceFactory(
        member=member, engagement_type=type, cadence_days=cadence, **extra
    )
    AppropriateExperience.objects.unscoped().filter(pk=item.pk).update(
        created_at=days_ago(member.organization, today, set_days_ago)
    )
    return item


def engaged(member, today, type, days):
    return EngagementFactory(
        member=member, type=type, occurred_at=days_ago(member.organization, today, days)
    )


def by_element(items):
    return {item.element.pk: item for item in items}


def test_fulfilled_overdue_and_not_yet_due(org, today, member):
    meeting = element(member, today, type=EngagementType.MEETING_1_1, cadence=90, set_days_ago=200)
    chat = element(member, today, type=EngagementType.CHAT, cadence=7, set_days_ago=100)
    video = element(member, today, type=EngagementType.ASYNC_VIDEO_1_1, cadence=30, set_days_ago=50)
    email = element(member, today, type=EngagementType.EMAIL, cadence=30, set_days_ago=10)
    engaged(member, today, EngagementType.MEETING_1_1, 120)
    last_meeting = engaged(member, today, EngagementType.MEETING_1_1, 30)
    engaged(member, today, EngagementType.CHAT, 20)

    items = by_element(experience_fulfilment(organization=org, member=member, today=today))

    assert items[meeting.pk].fulfilled and items[meeting.pk].days_overdue == 0
    assert items[meeting.pk].last_engaged_at == last_meeting.occurred_at
    assert items[meeting.pk].due_on == today + dt.timedelta(days=60)
    # Last chat 20 days ago, every 7 days: due 13 days ago.
    assert items[chat.pk].overdue and items[chat.pk].days_overdue == 13
    assert items[chat.pk].due_on == today - dt.timedelta(days=13)
    # Never delivered, set 50 days ago, every 30 days: overdue since day 30, by 20 days.
    assert items[video.pk].overdue and items[video.pk].days_overdue == 20
    assert items[video.pk].last_engaged_at is None
    # Set 10 days ago, every 30 days: still inside its first cadence.
    assert items[email.pk].status == "not yet due"
    assert not items[email.pk].fulfilled and not items[email.pk].overdue

    summary = experience_fulfilment_summary(organization=org, member=member, today=today)
    assert (summary.required, summary.fulfilled, summary.overdue) == (4, 1, 2)
    assert summary.share == 0.25
    assert summary.most_days_overdue == 20


def test_cadence_boundary(org, today, member):
    on_time = element(member, today, type=EngagementType.CALL, cadence=14, set_days_ago=60)
    late = element(member, today, type=EngagementType.EVENT, cadence=14, set_days_ago=60)
    engaged(member, today, EngagementType.CALL, 14)
    engaged(member, today, EngagementType.EVENT, 15)
    items = by_element(experience_fulfilment(organization=org, member=member, today=today))
    assert items[on_time.pk].fulfilled
    assert items[late.pk].overdue and items[late.pk].days_overdue == 1


def test_only_active_required_elements_and_this_members_engagements_count(
    org, today, member, tenant_b
):
    required = element(member, today, type=EngagementType.CHAT, cadence=7, set_days_ago=30)
    element(member, today, type=EngagementType.EMAIL, cadence=7, set_days_ago=30, required=False)
    element(member, today, type=EngagementType.CALL, cadence=7, set_days_ago=30, is_active=False)
    someone_else = MemberFactory(organization=org)
    element(someone_else, today, type=EngagementType.CHAT, cadence=7, set_days_ago=30)
    engaged(someone_else, today, EngagementType.CHAT, 1)  # not our member's chat
    engaged(member, today, EngagementType.EMAIL, 1)  # a different type

    items = experience_fulfilment(organization=org, member=member, today=today)
    assert [item.element.pk for item in items] == [required.pk]
    assert items[0].overdue and items[0].days_overdue == 23


def test_engagement_after_today_does_not_count(org, today, member):
    chat = element(member, today, type=EngagementType.CHAT, cadence=7, set_days_ago=60)
    engaged(member, today, EngagementType.CHAT, 0)
    earlier = today - dt.timedelta(days=20)
    items = by_element(experience_fulfilment(organization=org, member=member, today=earlier))
    # Seen from 20 days ago, today's chat has not happened: set 60 days ago, due 53 days ago,
    # so 33 days overdue on that day.
    assert items[chat.pk].last_engaged_at is None
    assert items[chat.pk].overdue and items[chat.pk].days_overdue == 33


def test_no_required_element_has_no_share(org, today, member):
    element(member, today, type=EngagementType.EMAIL, cadence=7, set_days_ago=30, required=False)
    summary = experience_fulfilment_summary(organization=org, member=member, today=today)
    assert summary.share is None and summary.required == 0 and summary.elements == []


def test_constant_queries_at_5_and_50_elements(org, today, member, count_queries):
    types = list(EngagementType.values)

    def add_rows(n):
        for i in range(n):
            kind = types[i % len(types)]
            element(member, today, type=kind, cadence=7 + i, set_days_ago=100)
            engaged(member, today, kind, i % 40)

    def read():
        summary = experience_fulfilment_summary(organization=org, member=member, today=today)
        for item in summary.elements:
            assert item.element.description

    add_rows(5)
    small = count_queries(read)
    add_rows(45)
    assert count_queries(read) == small == 2
