"""Settings · playbooks and their steps: list, create, edit, switch off and on; steps added,
edited, removed and reordered (htmx and without JavaScript), message errors in place."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orchestration.models import Enrollment, Playbook, PlaybookStep
from tests.factories import EnrollmentFactory, PlaybookFactory, PlaybookStepFactory

pytestmark = pytest.mark.django_db


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def step_data(**fields) -> dict:
    data = {
        "action": "task",
        "title": "Call the member",
        "offset_days": "3",
        "channel": "email",
        "message_template": "",
        "event_lead_days": "",
    }
    data.update(fields)
    return data


def titles(playbook) -> list[str]:
    return list(
        PlaybookStep.objects.for_org(playbook.organization_id)
        .filter(playbook=playbook)
        .order_by("position")
        .values_list("title", flat=True)
    )


@pytest.fixture
def playbook(tenant_a):
    playbook = PlaybookFactory(organization=tenant_a.organization, name="Renewal run-up")
    for position, title in enumerate(["First", "Second", "Third"], start=1):
        PlaybookStepFactory(playbook=playbook, position=position, title=title)
    return playbook


def test_the_list_shows_each_playbook_with_its_trigger_and_steps(
    login, tenant_a, tenant_b, playbook
):
    PlaybookFactory(
        organization=tenant_a.organization,
        name="Rescue",
        trigger=Playbook.Trigger.BAND_ENTERED,
        trigger_band="at_risk",
    )
    PlaybookFactory(organization=tenant_b.organization, name="Other org playbook")
    body = login(tenant_a.admin).get(url("settings_playbooks", tenant_a)).content.decode()
    assert (
        "Renewal run-up" in body
        and "Rescue" in body
        and "Success-gap band entered: at_risk" in body
    )
    assert "<td>3</td>" in body
    assert "Other org playbook" not in body


def test_the_list_takes_the_same_queries_for_5_and_50_playbooks(login, tenant_a):
    client = login(tenant_a.admin)

    def grow(n: int) -> None:
        for _ in range(n):
            PlaybookStepFactory(playbook=PlaybookFactory(organization=tenant_a.organization))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settings_playbooks", tenant_a)).status_code == 200
        return len(queries)

    grow(5)
    five = count()
    grow(45)
    assert count() == five


def test_the_detail_page_takes_the_same_queries_for_5_and_50_steps(login, tenant_a):
    client = login(tenant_a.admin)
    playbook = PlaybookFactory(organization=tenant_a.organization)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("settings_playbook", tenant_a, playbook_id=playbook.pk))
            assert response.status_code == 200
        return len(queries)

    for position in range(1, 6):
        PlaybookStepFactory(playbook=playbook, position=position)
    five = count()
    for position in range(6, 51):
        PlaybookStepFactory(playbook=playbook, position=position)
    assert count() == five


def test_creating_a_playbook_leads_to_its_steps(login, tenant_a):
    data = {
        "name": "Welcome",
        "trigger": "renewal_within",
        "trigger_days": "30",
        "trigger_band": "",
    }
    response = login(tenant_a.admin).post(url("settings_playbook_new", tenant_a), data)
    playbook = Playbook.objects.for_org(tenant_a.organization).get()
    assert response.status_code == 302
    assert response["Location"] == url("settings_playbook", tenant_a, playbook_id=playbook.pk)
    assert (playbook.trigger, playbook.trigger_days) == ("renewal_within", 30)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "trigger": "manual"}, "This field is required."),
        ({"name": "X", "trigger": "renewal_within"}, "Give the number of days for this trigger."),
        (
            {"name": "X", "trigger": "band_entered", "trigger_band": ""},
            "Choose the band to react to: watch or at_risk.",
        ),
        (
            {"name": "X", "trigger": "manual", "trigger_days": "4"},
            "This trigger does not take a number of days.",
        ),
        ({"name": "Renewal run-up", "trigger": "manual"}, "already has a playbook with this name"),
    ],
)
def test_a_bad_playbook_is_refused_in_place_and_nothing_written(
    login, tenant_a, playbook, data, message
):
    response = login(tenant_a.admin).post(url("settings_playbook_new", tenant_a), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Playbook.objects.for_org(tenant_a.organization).count() == 1


def test_editing_a_playbook(login, tenant_a, playbook):
    client = login(tenant_a.admin)
    target = url("settings_playbook", tenant_a, playbook_id=playbook.pk)
    body = client.get(target).content.decode()
    assert 'value="Renewal run-up"' in body and "First" in body and "Add a step" in body
    response = client.post(
        target, {"name": "Renewal", "trigger": "goal_due_within", "trigger_days": "14"}
    )
    assert response.status_code == 302
    playbook.refresh_from_db()
    assert (playbook.name, playbook.trigger, playbook.trigger_days) == (
        "Renewal",
        "goal_due_within",
        14,
    )
    response = client.post(
        target, {"name": "Renewal", "trigger": "band_entered", "trigger_days": "14"}
    )
    assert response.status_code == 400
    playbook.refresh_from_db()
    assert playbook.trigger == "goal_due_within"


def test_switching_a_playbook_off_cancels_its_enrolments(login, tenant_a, playbook):
    enrollment = EnrollmentFactory(playbook=playbook)
    client = login(tenant_a.admin)
    target = url("settings_playbook_active", tenant_a, playbook_id=playbook.pk)
    assert client.post(target, {"active": "0"}).status_code == 302
    playbook.refresh_from_db()
    enrollment.refresh_from_db()
    assert not playbook.is_active and enrollment.status == Enrollment.Status.CANCELLED
    client.post(target, {"active": "1"})
    playbook.refresh_from_db()
    assert playbook.is_active


# --- steps -----------------------------------------------------------------------------------


def test_adding_a_step_through_htmx_answers_the_steps(login, tenant_a, playbook):
    response = login(tenant_a.admin).post(
        url("settings_step_new", tenant_a, playbook_id=playbook.pk),
        step_data(title="Fourth", message_template="Hello {{ member.name }}"),
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="steps"' in body
    assert "Fourth" in body
    assert titles(playbook) == ["First", "Second", "Third", "Fourth"]


def test_adding_a_step_without_javascript_redirects(login, tenant_a, playbook):
    response = login(tenant_a.admin).post(
        url("settings_step_new", tenant_a, playbook_id=playbook.pk), step_data(title="Fourth")
    )
    assert response.status_code == 302
    assert titles(playbook)[-1] == "Fourth"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            step_data(action="nudge", message_template="Hi {{ member.owner.email }}"),
            "Unknown variable &#x27;member.owner.email&#x27;",
        ),
        (step_data(action="nudge", message_template="{% if %}"), "line 1:"),
        (step_data(action="nudge", message_template=""), "A nudge needs a message."),
        (
            step_data(action="event", offset_days="5", event_lead_days="14, 2"),
            "keep lead times at most",
        ),
        (step_data(event_lead_days="soon"), "Give whole numbers of days separated by commas."),
        (step_data(title=""), "This field is required."),
    ],
)
def test_a_bad_step_shows_its_error_in_place_and_writes_nothing(
    login, tenant_a, playbook, data, message
):
    client = login(tenant_a.admin)
    target = url("settings_step_new", tenant_a, playbook_id=playbook.pk)
    response = client.post(target, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    htmx = client.post(target, data, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and message in htmx.content.decode()
    assert titles(playbook) == ["First", "Second", "Third"]


def test_editing_a_step(login, tenant_a, playbook):
    step = PlaybookStep.objects.for_org(tenant_a.organization).get(title="Second")
    client = login(tenant_a.admin)
    target = url("settings_step", tenant_a, step_id=step.pk)
    body = client.get(target).content.decode()
    assert 'value="Second"' in body
    data = step_data(
        action="event",
        title="Review",
        offset_days="30",
        event_lead_days="14, 2",
        message_template="See you",
    )
    response = client.post(target, data)
    assert response.status_code == 302
    step.refresh_from_db()
    assert (step.action, step.title, step.event_lead_days) == ("event", "Review", [14, 2])
    bad = client.post(
        target, step_data(action="nudge", message_template="{{ settings.SECRET_KEY }}")
    )
    assert bad.status_code == 400 and "Unknown variable" in bad.content.decode()
    step.refresh_from_db()
    assert step.title == "Review"


def test_removing_a_step_closes_the_gap(login, tenant_a, playbook):
    step = PlaybookStep.objects.for_org(tenant_a.organization).get(title="First")
    response = login(tenant_a.admin).post(
        url("settings_step_remove", tenant_a, step_id=step.pk), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "First" not in response.content.decode()
    assert titles(playbook) == ["Second", "Third"]
    assert list(
        PlaybookStep.objects.for_org(tenant_a.organization)
        .order_by("position")
        .values_list("position", flat=True)
    ) == [1, 2]


def test_moving_steps_up_and_down(login, tenant_a, playbook):
    client = login(tenant_a.admin)
    third = PlaybookStep.objects.for_org(tenant_a.organization).get(title="Third")
    first = PlaybookStep.objects.for_org(tenant_a.organization).get(title="First")
    client.post(url("settings_step_move", tenant_a, step_id=third.pk), {"direction": "up"})
    assert titles(playbook) == ["First", "Third", "Second"]
    response = client.post(
        url("settings_step_move", tenant_a, step_id=first.pk),
        {"direction": "down"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert titles(playbook) == ["Third", "First", "Second"]
    client.post(
        url("settings_step_move", tenant_a, step_id=third.pk), {"direction": "up"}
    )  # already first
    assert titles(playbook) == ["Third", "First", "Second"]
