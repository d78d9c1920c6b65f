"""Settings · scoring: weights and thresholds saved through ``scoring_configuration_save``, and
the preview of band changes (``band_changes_preview``) checked against an actual recompute."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.models import Member
from outcomes.models import ScoringConfiguration, SuccessGapSnapshot
from outcomes.scoring import band_changes_preview, scoring_configuration, success_gaps_recompute
from outcomes.services import scoring_configuration_save
from tests.factories import ConditionFactory, GoalFactory, MemberFactory, ProgressMilestoneFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
PROPOSED = {
    "milestones_weight": 1.0,
    "commitments_weight": 1.0,
    "pace_weight": 1.0,
    "conditions_weight": 4.0,
    "strategic_weight": 1.0,
    "experience_weight": 1.0,
    "watch_gap": 10.0,
    "at_risk_gap": 30.0,
    "watch_pace": 0.9,
    "at_risk_pace": 0.3,
}


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def build_members(organization, n: int, today: dt.date) -> list[Member]:
    """Members spread over the bands: milestones done, goal progress and conditions met vary
    independently; every fifth member has no goal (no desired outcome recorded)."""
    members = []
    for i in range(n):
        member = MemberFactory(organization=organization)
        achieved = i % 4
        for index in range(3):
            ProgressMilestoneFactory(
                member=member,
                due_on=today - dt.timedelta(days=5),
                achieved_at=timezone.now() if index < achieved else None,
                achieved_via="manual" if index < achieved else "",
            )
        if i % 5 != 4:
            goal = GoalFactory(
                desired_outcome__member=member,
                baseline=Decimal(0),
                target=Decimal(40),
                current_value=Decimal([0, 5, 8, 20, 40][(i // 4) % 5]),
                starts_on=today - dt.timedelta(days=90),
                due_on=today + dt.timedelta(days=270),
            )
            for index in range(2):
                ConditionFactory(goal=goal, state="met" if index < (i // 2) % 3 else "not_met")
        members.append(member)
    return members


def bands(organization) -> dict[int, str]:
    return dict(Member.objects.for_org(organization).values_list("pk", "success_band"))


def moved(before: dict[int, str], after: dict[int, str]) -> dict[str, int]:
    counts = Counter(after[pk] for pk in after if after[pk] != before.get(pk))
    return {band: counts.get(band, 0) for band in ("on_track", "watch", "at_risk", "no_outcome")}


# --- the preview against reality -------------------------------------------------------------


def test_band_changes_preview_is_what_a_recompute_with_the_configuration_does(tenant_a, tenant_b):
    organization = tenant_a.organization
    build_members(organization, 30, NOW.date())
    build_members(tenant_b.organization, 5, NOW.date())
    success_gaps_recompute(organization=organization, now=NOW)
    before = bands(organization)
    snapshots = SuccessGapSnapshot.objects.for_org(organization).count()

    proposed = ScoringConfiguration(organization=organization, **PROPOSED)
    preview = band_changes_preview(organization=organization, configuration=proposed, now=NOW)
    assert SuccessGapSnapshot.objects.for_org(organization).count() == snapshots  # read only
    assert bands(organization) == before

    scoring_configuration_save(organization=organization, **PROPOSED)
    result = success_gaps_recompute(organization=organization, now=NOW)
    assert preview == moved(before, bands(organization))
    assert sum(preview.values()) == result.band_changes
    assert sum(1 for count in preview.values() if count) >= 2  # the data really moves bands


def test_the_preview_counts_unscored_members_as_moving(tenant_a):
    organization = tenant_a.organization
    build_members(organization, 5, NOW.date())
    preview = band_changes_preview(
        organization=organization,
        configuration=scoring_configuration(organization=organization),
        now=NOW,
    )
    assert sum(preview.values()) == 5
    result = success_gaps_recompute(organization=organization, now=NOW)
    assert result.band_changes == 5


def test_the_preview_with_the_current_configuration_moves_nobody(tenant_a):
    organization = tenant_a.organization
    build_members(organization, 10, NOW.date())
    success_gaps_recompute(organization=organization, now=NOW)
    current = scoring_configuration(organization=organization)
    assert not any(
        band_changes_preview(organization=organization, configuration=current, now=NOW).values()
    )


def test_the_preview_is_one_query_for_5_and_50_members(tenant_a):
    organization = tenant_a.organization
    proposed = ScoringConfiguration(organization=organization, **PROPOSED)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            band_changes_preview(organization=organization, configuration=proposed, now=NOW)
        return len(queries)

    build_members(organization, 5, NOW.date())
    assert count() == 1
    build_members(organization, 45, NOW.date())
    assert count() == 1


# --- the service -----------------------------------------------------------------------------


def test_the_first_save_creates_the_row_and_later_saves_change_it(
    tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    organization = tenant_a.organization
    with django_capture_on_commit_callbacks() as callbacks:
        first = scoring_configuration_save(organization=organization, pace_weight=5)
    assert len(callbacks) == 1  # every member is rescored once it commits
    second = scoring_configuration_save(organization=organization, watch_gap=15, at_risk_gap=35)
    assert first.pk == second.pk
    assert ScoringConfiguration.objects.for_org(organization).count() == 1
    assert ScoringConfiguration.objects.for_org(tenant_b.organization).count() == 0
    saved = scoring_configuration(organization=organization)
    assert (saved.pace_weight, saved.watch_gap, saved.at_risk_gap) == (5.0, 15.0, 35.0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"pace_weight": -1}, "pace_weight"),
        ({"milestones_weight": 0, "commitments_weight": 0}, "milestones_weight"),
        (
            {
                "pace_weight": 0,
                "conditions_weight": 0,
                "strategic_weight": 0,
                "experience_weight": 0,
            },
            "pace_weight",
        ),
        ({"watch_gap": 50}, "at_risk_gap"),
        ({"at_risk_gap": 120}, "at_risk_gap"),
        ({"watch_pace": 0.4}, "watch_pace"),
        ({"watch_gap": float("nan")}, "watch_gap"),
        ({"pace_weight": True}, "pace_weight"),
        ({"pace_weight": "3"}, "pace_weight"),
    ],
)
def test_bad_values_are_refused_with_a_field_error_and_nothing_written(
    tenant_a, fields, field, django_capture_on_commit_callbacks
):
    organization = tenant_a.organization
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(ValidationError) as caught,
    ):
        scoring_configuration_save(organization=organization, **fields)
    assert field in caught.value.message_dict
    assert ScoringConfiguration.objects.for_org(organization).count() == 0
    assert callbacks == []


def test_unknown_fields_are_a_programming_error(tenant_a):
    with pytest.raises(TypeError):
        scoring_configuration_save(organization=tenant_a.organization, updated_at=1)


# --- the page --------------------------------------------------------------------------------


def form(**fields) -> dict[str, str]:
    values = {
        name: str(value)
        for name, value in ScoringConfiguration(organization_id=1).as_dict().items()
    }
    values.update({name: str(value) for name, value in fields.items()})
    return values


IF_SAVED = re.compile(r"(\d+) members? moves? to <span class=\"band band-(\w+)\"")


def test_the_page_shows_the_current_configuration(login, tenant_a):
    scoring_configuration_save(organization=tenant_a.organization, pace_weight=4.5)
    body = login(tenant_a.admin).get(url("settings_scoring", tenant_a)).content.decode()
    assert 'name="pace_weight"' in body and 'value="4.5"' in body
    assert "What saving would do" in body and 'name="preview"' in body


def test_the_previews_on_the_page_match_a_recompute(login, tenant_a):
    organization = tenant_a.organization
    build_members(organization, 20, timezone.localdate(timezone=organization.zone))
    success_gaps_recompute(organization=organization)
    before = bands(organization)
    client = login(tenant_a.admin)

    live = client.post(
        url("settings_scoring_preview", tenant_a), form(**PROPOSED), HTTP_HX_REQUEST="true"
    )
    body = live.content.decode()
    assert live.status_code == 200 and "<html" not in body and "If saved:" in body
    shown = {band: int(count) for count, band in IF_SAVED.findall(body)}

    plain = client.post(url("settings_scoring", tenant_a), form(preview="1", **PROPOSED))
    assert plain.status_code == 200 and "<html" in plain.content.decode()
    assert {band: int(count) for count, band in IF_SAVED.findall(plain.content.decode())} == shown
    assert ScoringConfiguration.objects.for_org(organization).count() == 0  # previews save nothing

    assert client.post(url("settings_scoring", tenant_a), form(**PROPOSED)).status_code == 302
    success_gaps_recompute(organization=organization)
    assert shown == {
        band: count for band, count in moved(before, bands(organization)).items() if count
    }
    assert shown


def test_a_preview_of_the_current_values_says_nobody_moves(login, tenant_a):
    build_members(tenant_a.organization, 3, timezone.localdate(timezone=tenant_a.organization.zone))
    success_gaps_recompute(organization=tenant_a.organization)
    body = (
        login(tenant_a.admin)
        .post(url("settings_scoring_preview", tenant_a), form(), HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "If saved, no member changes band." in body


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"watch_gap": "50"}, "Thresholds must be ordered"),
        ({"pace_weight": "lots"}, "Enter a number."),
        (
            {"milestones_weight": "0", "commitments_weight": "0"},
            "Functional completion needs a weight",
        ),
    ],
)
def test_bad_values_on_the_page_are_shown_in_place_and_nothing_saved(
    login, tenant_a, fields, message
):
    client = login(tenant_a.admin)
    response = client.post(url("settings_scoring", tenant_a), form(**fields))
    assert response.status_code == 400 and message in response.content.decode()
    preview = client.post(url("settings_scoring", tenant_a), form(preview="1", **fields))
    assert preview.status_code == 400 and message in preview.content.decode()
    live = client.post(
        url("settings_scoring_preview", tenant_a), form(**fields), HTTP_HX_REQUEST="true"
    )
    assert live.status_code == 200 and "Fix the values" in live.content.decode()
    assert ScoringConfiguration.objects.for_org(tenant_a.organization).count() == 0


def test_the_page_takes_the_same_queries_for_5_and_50_members(login, tenant_a):
    client = login(tenant_a.admin)
    today = timezone.localdate(timezone=tenant_a.organization.zone)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.post(url("settings_scoring", tenant_a), form(preview="1", **PROPOSED))
        return len(queries)

    build_members(tenant_a.organization, 5, today)
    five = count()
    build_members(tenant_a.organization, 45, today)
    assert count() == five
