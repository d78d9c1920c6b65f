"""The staff admin for playbooks, steps, enrolments, tasks and domain-event cursors: every
organization listed, pages open, edits held to the services' rules, and the actions go
through the services."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from orchestration.models import (
    DomainEventCursor,
    Enrollment,
    Nudge,
    Playbook,
    PlaybookStep,
    Task,
)
from orchestration.playbooks import enrollment_start, playbook_create
from tenancy.models import User
from tests.factories import MemberFactory, TaskFactory

MODELS = [Playbook, PlaybookStep, Enrollment, Task, DomainEventCursor]


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(email="ops@tandem.test", password="x-pass-1"))
    return client


@pytest.fixture
def rows(tenant_a, tenant_b):
    made = {}
    for tenant in (tenant_a, tenant_b):
        org = tenant.organization
        playbook = playbook_create(
            organization=org,
            name=f"Watch {org.slug}",
            trigger="band_entered",
            trigger_band="watch",
            steps=[
                {
                    "offset_days": 1,
                    "action": "nudge",
                    "title": f"Hello {org.slug}",
                    "message_template": "Hi {{ member.name }}",
                },
                {"offset_days": 2, "action": "task", "title": f"Call {org.slug}"},
            ],
        )
        member = MemberFactory(organization=org, owner=tenant.msm, name=f"Member {org.slug}")
        enrollment = enrollment_start(organization=org, playbook=playbook, member=member)
        made[org.slug] = {
            Playbook: playbook,
            PlaybookStep: PlaybookStep.objects.for_org(org).get(playbook=playbook, position=1),
            Enrollment: enrollment,
            Task: Task.objects.for_org(org).get(enrollment=enrollment),
            DomainEventCursor: DomainEventCursor.objects.for_org(org).get(),
        }
    return made


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:orchestration_{model._meta.model_name}_{view}", args=args)


def _form_data(response) -> dict:
    form = response.context["adminform"].form
    values = {name: form[name].value() for name in form.fields}
    return {name: value for name, value in values.items() if value is not None}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_shows_every_organization(staff_client, rows, model):
    response = staff_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    for slug, made in rows.items():
        assert str(made[model]) in body, f"{slug}'s {model.__name__} is missing"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_change_page_opens_and_rows_are_not_added_here(staff_client, rows, model):
    row = next(iter(rows.values()))[model]
    assert staff_client.get(_url(model, "change", row.pk)).status_code == 200
    assert staff_client.get(_url(model, "add")).status_code == 403


def test_the_playbook_page_shows_its_own_steps_only(staff_client, rows, tenant_a, tenant_b):
    playbook = rows[tenant_a.organization.slug][Playbook]
    body = staff_client.get(_url(Playbook, "change", playbook.pk)).content.decode()
    assert f"Hello {tenant_a.organization.slug}" in body
    assert f"Hello {tenant_b.organization.slug}" not in body


def test_big_tables_are_picked_by_id():
    assert "member" in admin.site._registry[Enrollment].raw_id_fields
    assert {"member", "enrollment", "step"} <= set(admin.site._registry[Task].raw_id_fields)


def _step_data(response) -> dict:
    data = _form_data(response)
    if not isinstance(data.get("event_lead_days"), str):
        data["event_lead_days"] = json.dumps(data.get("event_lead_days") or [])
    return data


def test_a_step_edit_is_held_to_the_template_rules(staff_client, rows, tenant_a):
    step = rows[tenant_a.organization.slug][PlaybookStep]
    url = _url(PlaybookStep, "change", step.pk)
    data = _step_data(staff_client.get(url))

    response = staff_client.post(url, {**data, "message_template": "{{ member.owner.user.email }}"})
    assert response.status_code == 200
    assert "message_template" in response.context["adminform"].form.errors
    assert (
        PlaybookStep.objects.unscoped().get(pk=step.pk).message_template == "Hi {{ member.name }}"
    )

    response = staff_client.post(url, {**data, "message_template": "Dear {{ member.name }}"})
    assert response.status_code == 302
    assert PlaybookStep.objects.unscoped().get(pk=step.pk).message_template == (
        "Dear {{ member.name }}"
    )


def test_a_playbook_edit_is_held_to_the_trigger_rules(staff_client, rows, tenant_a):
    playbook = rows[tenant_a.organization.slug][Playbook]
    url = _url(Playbook, "change", playbook.pk)
    page = staff_client.get(url)
    data = _form_data(page)
    inline = page.context["inline_admin_formsets"][0].formset
    for key, value in inline.management_form.initial.items():
        data[f"{inline.prefix}-{key}"] = value
    for index, form in enumerate(inline.forms):
        for name in form.fields:
            value = form[name].value()
            if name == "event_lead_days" and not isinstance(value, str):
                value = json.dumps(value or [])
            if value is not None:
                data[f"{inline.prefix}-{index}-{name}"] = value

    response = staff_client.post(url, {**data, "trigger_band": "on_track"})
    assert response.status_code == 200
    assert "trigger_band" in response.context["adminform"].form.errors
    assert Playbook.objects.unscoped().get(pk=playbook.pk).trigger_band == "watch"

    response = staff_client.post(url, {**data, "trigger_band": "at_risk"})
    assert response.status_code == 302
    assert Playbook.objects.unscoped().get(pk=playbook.pk).trigger_band == "at_risk"


def test_a_task_cannot_be_given_to_a_viewer(staff_client, tenant_a):
    task = TaskFactory(member__organization=tenant_a.organization, owner=tenant_a.msm)
    url = _url(Task, "change", task.pk)
    data = _form_data(staff_client.get(url))
    response = staff_client.post(url, {**data, "owner": tenant_a.viewer.pk})
    assert response.status_code == 200
    assert "owner" in response.context["adminform"].form.errors
    assert Task.objects.unscoped().get(pk=task.pk).owner == tenant_a.msm


def test_the_cancel_action_goes_through_the_service(staff_client, rows, tenant_a, tenant_b):
    ours = rows[tenant_a.organization.slug][Enrollment]
    theirs = rows[tenant_b.organization.slug][Enrollment]
    response = staff_client.post(
        _url(Enrollment, "changelist"),
        {"action": "cancel", admin.helpers.ACTION_CHECKBOX_NAME: [ours.pk]},
    )
    assert response.status_code == 302
    assert Enrollment.objects.unscoped().get(pk=ours.pk).status == "cancelled"
    assert Nudge.objects.unscoped().get(enrollment=ours).status == "cancelled"
    assert not Task.objects.unscoped().filter(enrollment=ours).exists()
    assert Enrollment.objects.unscoped().get(pk=theirs.pk).status == "active"


def test_switching_a_playbook_off_and_on_goes_through_the_services(staff_client, rows, tenant_a):
    playbook = rows[tenant_a.organization.slug][Playbook]
    enrollment = rows[tenant_a.organization.slug][Enrollment]
    changelist = _url(Playbook, "changelist")
    checkbox = admin.helpers.ACTION_CHECKBOX_NAME
    staff_client.post(changelist, {"action": "switch_off", checkbox: [playbook.pk]})
    assert Playbook.objects.unscoped().get(pk=playbook.pk).is_active is False
    assert Enrollment.objects.unscoped().get(pk=enrollment.pk).status == "cancelled"
    staff_client.post(changelist, {"action": "switch_on", checkbox: [playbook.pk]})
    assert Playbook.objects.unscoped().get(pk=playbook.pk).is_active is True
