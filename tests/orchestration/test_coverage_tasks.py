"""Coverage in the worker: the tasks, the nightly fan-out, the re-application when a member's
matched fields change (and only then), and the admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.db.models.signals import post_save
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.celery import app
from members.models import Member
from members.services import member_update, membership_event_record
from orchestration.coverage import coverage_apply
from orchestration.models import CoverageModel, CoveragePlaybook, CoveragePoolSeat
from orchestration.tasks import apply_coverage, apply_coverage_all
from tenancy.scope import UnscopedQueryError
from tests.factories import (
    CoverageModelFactory,
    MemberFactory,
    OrganizationFactory,
    PlaybookFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

GOLD = [{"field": "tier", "op": "eq", "value": "Gold"}]


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def eager():
    """Run tasks in-process when sent, so a test sees what the worker would do."""
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def model_of(member: Member) -> int | None:
    return Member.objects.for_org(member.organization_id).get(pk=member.pk).coverage_model_id


# --- tasks --------------------------------------------------------------------------------------


def test_the_task_applies_coverage_for_one_organization(org, tenant_b):
    model = CoverageModelFactory(organization=org, criteria=[])
    ours = MemberFactory(organization=org)
    theirs = MemberFactory(organization=tenant_b.organization)
    CoverageModelFactory(organization=tenant_b.organization, criteria=[])

    assert apply_coverage.run(organization_id=org.pk) == 1
    assert model_of(ours) == model.pk
    assert model_of(theirs) is None
    assert apply_coverage.run(organization_id=org.pk, member_ids=[ours.pk]) == 0  # idempotent


def test_the_task_refuses_to_run_unscoped_and_skips_a_deleted_organization(org):
    with pytest.raises(UnscopedQueryError):
        apply_coverage.run(member_ids=[1])
    gone = OrganizationFactory()
    gone_id = gone.pk
    gone.delete()
    assert apply_coverage.run(organization_id=gone_id) == 0


def test_the_task_is_late_acknowledged_and_retried_a_bounded_number_of_times():
    assert apply_coverage.acks_late is True
    assert apply_coverage.max_retries == 3
    assert apply_coverage.autoretry_for
    assert apply_coverage_all.acks_late is True


def test_the_nightly_run_fans_out_one_task_per_organization(org, tenant_b, eager):
    ours = MemberFactory(organization=org)
    theirs = MemberFactory(organization=tenant_b.organization)
    a = CoverageModelFactory(organization=org, criteria=[])
    b = CoverageModelFactory(organization=tenant_b.organization, criteria=[])
    assert apply_coverage_all.run() == 2
    assert (model_of(ours), model_of(theirs)) == (a.pk, b.pk)


def test_beat_runs_coverage_nightly_after_the_scoring_with_an_expiry():
    entry = settings.CELERY_BEAT_SCHEDULE["orchestration-apply-coverage-nightly"]
    assert entry["task"] == "orchestration.apply_coverage_all"
    assert entry["options"]["expires"] > 0
    scoring = settings.CELERY_BEAT_SCHEDULE["outcomes-recompute-success-gaps-nightly"]
    assert min(entry["schedule"].hour) > min(scoring["schedule"].hour)
    assert "orchestration.apply_coverage_all" in app.tasks
    assert "orchestration.apply_coverage" in app.tasks


# --- re-applying when a member changes ----------------------------------------------------------


@pytest.fixture
def gold(org, tenant_a):
    model = CoverageModelFactory(organization=org, name="Gold", criteria=GOLD)
    CoveragePoolSeat.objects.create(organization=org, coverage_model=model, seat=tenant_a.msm)
    return model


def test_a_new_member_is_matched_and_owned_once_it_commits(
    org, gold, tenant_a, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        member = MemberFactory(organization=org, tier="Gold")
    assert len(callbacks) == 1
    member.refresh_from_db()
    assert (member.coverage_model_id, member.owner_id) == (gold.pk, tenant_a.msm.pk)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tier", "Gold"),
        ("region", "West"),
        ("status", "grace"),
        ("kind", "organization"),
        ("attributes", {"chapter": "Paris"}),
        ("joined_on", dt.date(2020, 1, 1)),
        ("renewal_on", dt.date(2030, 1, 1)),
        ("success_band", "at_risk"),
    ],
)
def test_a_change_to_a_matched_field_schedules_that_member(
    org, field, value, django_capture_on_commit_callbacks
):
    member = MemberFactory(organization=org, tier="Silver")
    member = Member.objects.for_org(org).get(pk=member.pk)  # as loaded: the old values kept
    setattr(member, field, value)
    with django_capture_on_commit_callbacks() as callbacks:
        member.save()
    assert len(callbacks) == 1


def test_other_changes_schedule_nothing(org, django_capture_on_commit_callbacks):
    member = MemberFactory(organization=org, tier="Silver", attributes={"chapter": "Lyon"})
    member = Member.objects.for_org(org).get(pk=member.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        member.name = "Renamed"
        member.email = "renamed@example.test"
        member.save()
        member.save()  # nothing changed at all
        member.tier = "Gold"
        member.save(update_fields=["name"])  # the tier is not written, so it did not change
        member_update(organization=org, member=member, name="Again")
        coverage_apply(organization=org)  # coverage's own writes never loop back
        post_save.send(sender=Member, instance=member, created=True, raw=True)  # fixtures
    assert callbacks == []


def test_a_deferred_load_is_not_fetched_and_not_watched(
    org, django_assert_num_queries, django_capture_on_commit_callbacks
):
    MemberFactory(organization=org, tier="Silver")
    with django_assert_num_queries(1):
        member = Member.objects.for_org(org).only("pk", "organization_id", "name").get()
    member.name = "Renamed"
    with django_capture_on_commit_callbacks() as callbacks:
        member.save(update_fields=["name"])
    assert callbacks == []


def test_a_top_level_attribute_changed_in_place_is_seen(org, django_capture_on_commit_callbacks):
    MemberFactory(organization=org, attributes={"chapter": "Lyon"})
    member = Member.objects.for_org(org).get()
    member.attributes["chapter"] = "Paris"
    with django_capture_on_commit_callbacks() as callbacks:
        member.save()
    assert len(callbacks) == 1


def test_a_service_change_re_applies_coverage(
    org, gold, tenant_a, eager, django_capture_on_commit_callbacks
):
    member = MemberFactory(organization=org, tier="Silver")
    coverage_apply(organization=org)
    assert model_of(member) is None
    with django_capture_on_commit_callbacks(execute=True):
        member_update(organization=org, member=member, tier="Gold")
    assert model_of(member) == gold.pk

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        membership_event_record(
            organization=org,
            member=member,
            kind="downgrade",
            occurred_on=timezone.localdate(),
            amount=Decimal("0"),
            tier="Silver",
        )
    assert callbacks
    assert model_of(member) is None


def test_nothing_is_scheduled_for_a_change_that_never_commits(
    org, gold, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        MemberFactory(organization=org, tier="Gold")
    assert len(callbacks) == 1  # registered for the commit, never run: the member stays bare
    assert Member.objects.for_org(org).get().coverage_model_id is None


# --- admin --------------------------------------------------------------------------------------


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def configured(org, tenant_a, tenant_b):
    model = CoverageModelFactory(organization=org, name="Gold members", criteria=GOLD)
    CoveragePoolSeat.objects.create(organization=org, coverage_model=model, seat=tenant_a.msm)
    playbook = PlaybookFactory(organization=org, name="Gold onboarding")
    CoveragePlaybook.objects.create(organization=org, coverage_model=model, playbook=playbook)
    CoverageModelFactory(organization=tenant_b.organization, name="Beta segment")
    return model


@pytest.mark.parametrize("name", ["coveragemodel", "coveragepoolseat", "coverageplaybook"])
def test_the_admin_lists_every_organizations_rows_and_adds_none(staff, configured, name):
    response = staff.get(reverse(f"admin:orchestration_{name}_changelist"))
    assert response.status_code == 200
    assert "Gold members" in response.text
    if name == "coveragemodel":
        assert "Beta segment" in response.text
    assert staff.get(reverse(f"admin:orchestration_{name}_add")).status_code == 403


def test_the_admin_shows_the_pool_and_playbooks_of_a_model(staff, configured, tenant_a):
    response = staff.get(reverse("admin:orchestration_coveragemodel_change", args=[configured.pk]))
    assert response.status_code == 200
    assert tenant_a.msm.user.email in response.text
    assert "Gold onboarding" in response.text
    for name in ("coveragepoolseat", "coverageplaybook"):
        row = (CoveragePoolSeat if name == "coveragepoolseat" else CoveragePlaybook).objects
        pk = row.unscoped().filter(coverage_model=configured).get().pk
        assert (
            staff.get(reverse(f"admin:orchestration_{name}_change", args=[pk])).status_code == 200
        )


def post_model(staff, model, criteria: str):
    return staff.post(
        reverse("admin:orchestration_coveragemodel_change", args=[model.pk]),
        {
            "name": model.name,
            "description": "",
            "priority": "7",
            "criteria": criteria,
            "assignment_policy": "round_robin",
            "engagement_cadence_days": "",
            "is_active": "on",
            "pool-TOTAL_FORMS": "1",
            "pool-INITIAL_FORMS": "1",
            "playbook_links-TOTAL_FORMS": "1",
            "playbook_links-INITIAL_FORMS": "1",
        },
    )


def test_the_admin_checks_criteria_like_the_services(staff, configured):
    response = post_model(staff, configured, '[{"field": "colour", "op": "eq", "value": "red"}]')
    assert response.status_code == 200
    assert "Rule 1: unknown field &#x27;colour&#x27;" in response.text
    stored = CoverageModel.objects.unscoped().get(pk=configured.pk)
    assert (stored.priority, stored.criteria) == (100, GOLD)

    response = post_model(staff, configured, '[{"field": "tier", "op": "in", "value": ["A", "A"]}]')
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.priority == 7
    assert stored.criteria == [{"field": "tier", "op": "in", "value": ["A"]}]
