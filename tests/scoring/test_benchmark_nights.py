"""The success-gap benchmark scores the night after its latest run, as the schedule does, so each
run measures a night in which the goals' pace has moved (``--again``: a re-run of that day)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from benchmarks.success_gap import scoring_moment
from outcomes.scoring import success_gap_run_start


def test_with_no_run_stored_it_scores_now(tenant_a):
    before = timezone.now()
    moment = scoring_moment(tenant_a.organization, again=False)
    assert before <= moment <= timezone.now()


def test_each_run_scores_the_night_after_the_latest_one(tenant_a):
    organization = tenant_a.organization
    latest = timezone.now() + dt.timedelta(hours=3)
    success_gap_run_start(organization=organization, now=latest - dt.timedelta(days=1))
    success_gap_run_start(organization=organization, now=latest)
    assert scoring_moment(organization, again=False) == latest + dt.timedelta(days=1)
    assert scoring_moment(organization, again=True) == latest + dt.timedelta(seconds=1)


def test_a_run_long_past_gives_way_to_now(tenant_a):
    organization = tenant_a.organization
    success_gap_run_start(organization=organization, now=timezone.now() - dt.timedelta(days=5))
    before = timezone.now()
    assert before <= scoring_moment(organization, again=False) <= timezone.now()
