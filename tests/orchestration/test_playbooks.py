"""Playbooks and their steps: every rule refused with a field-named error and nothing written;
steps kept in a contiguous order; message templates compiled and rendered in a sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.template import TemplateSyntaxError

from orchestration.models import DomainEventCursor, Enrollment, Nudge, Playbook, PlaybookStep
from orchestration.playbooks import (
    enrollment_start,
    message_template_error,
    playbook_activate,
    playbook_create,
    playbook_deactivate,
    playbook_update,
    render_message,
    step_add,
    step_remove,
    step_update,
    steps_reorder,
)
from tenancy.models import DomainEvent
from tests.factories import MemberFactory, PlaybookFactory, PlaybookStepFactory, SeatFactory

NUDGE = {
    "offset_days": 0,
    "action": "nudge",
    "title": "Welcome aboard",
    "message_template": "Hello {{ member.name }}",
}
TASK = {"offset_days": 2, "action": "task", "title": "Call the new member"}
EVENT = {"offset_days": 14, "action": "event", "title": "Kick-off call", "event_lead_days": [2, 7]}


def _counts() -> tuple[int, int, int]:
    return (
        Playbook.objects.unscoped().count(),
        PlaybookStep.objects.unscoped().count(),
        DomainEventCursor.objects.unscoped().count(),
    )


def _positions(playbook: Playbook) -> list[tuple[str, int]]:
    return list(
        PlaybookStep.objects.unscoped()
        .filter(playbook=playbook)
        .order_by("position")
        .values_list("title", "position")
    )


def _band_event(organization, member, to: str) -> DomainEvent:
    return DomainEvent.objects.create(
        organization=organization,
        kind=DomainEvent.Kind.BAND_CHANGED,
        subject_id=member.pk,
        payload={"member_id": member.pk, "from": "on_track", "to": to, "gap": 30, "run_id": 1},
    )


# --- playbook_create -----------------------------------------------------------------------


def test_create_writes_the_playbook_and_its_steps_in_order(tenant_a):
    playbook = playbook_create(
        organization=tenant_a.organization,
        name="  Onboarding  ",
        trigger="on_join",
        description=" First weeks ",
        steps=[NUDGE, TASK, EVENT],
    )
    assert (playbook.name, playbook.description, playbook.trigger) == (
        "Onboarding",
        "First weeks",
        "on_join",
    )
    assert _positions(playbook) == [
        ("Welcome aboard", 1),
        ("Call the new member", 2),
        ("Kick-off call", 3),
    ]
    event_step = PlaybookStep.objects.unscoped().get(playbook=playbook, action="event")
    assert event_step.event_lead_days == [7, 2]  # distinct, largest first


@pytest.mark.parametrize(
    ("trigger", "days"),
    [
        ("milestone_overdue", None),
        ("milestone_overdue", 0),
        ("ax_overdue", None),
        ("ax_overdue", 5),
    ],
)
def test_overdue_triggers_take_optional_days(tenant_a, trigger, days):
    playbook = playbook_create(
        organization=tenant_a.organization, name="Late", trigger=trigger, trigger_days=days
    )
    assert playbook.trigger_days == days


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "ONBOARDING"}, "name"),  # taken, whatever the case
        ({"trigger": "sometimes"}, "trigger"),
        ({"trigger": "band_entered"}, "trigger_band"),
        ({"trigger": "band_entered", "trigger_band": "on_track"}, "trigger_band"),
        (
            {"trigger": "renewal_within", "trigger_days": 30, "trigger_band": "watch"},
            "trigger_band",
        ),
        ({"trigger": "renewal_within"}, "trigger_days"),
        ({"trigger": "renewal_within", "trigger_days": -1}, "trigger_days"),
        ({"trigger": "renewal_within", "trigger_days": True}, "trigger_days"),
        ({"trigger": "renewal_within", "trigger_days": "30"}, "trigger_days"),
        ({"trigger": "renewal_within", "trigger_days": 4000}, "trigger_days"),
        ({"trigger": "goal_due_within"}, "trigger_days"),
        ({"trigger": "no_engagement_for"}, "trigger_days"),
        ({"trigger": "no_engagement_for", "trigger_days": 0}, "trigger_days"),
        ({"trigger": "milestone_overdue", "trigger_days": -2}, "trigger_days"),
        ({"trigger": "ax_overdue", "trigger_days": 2.5}, "trigger_days"),
        ({"trigger": "manual", "trigger_days": 3}, "trigger_days"),
        ({"trigger": "on_join", "trigger_days": 3}, "trigger_days"),
        ({"trigger": "band_entered", "trigger_band": "watch", "trigger_days": 3}, "trigger_days"),
        ({"steps": [{**NUDGE, "action": "call"}]}, "steps"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(tenant_a, arguments, field):
    PlaybookFactory(organization=tenant_a.organization, name="Onboarding")
    before = _counts()
    with pytest.raises(ValidationError) as error:
        playbook_create(organization=tenant_a.organization, **{"name": "Renewals", **arguments})
    assert field in error.value.message_dict
    assert _counts() == before


def test_one_bad_step_writes_nothing_and_names_the_step_and_field(tenant_a):
    before = _counts()
    with pytest.raises(ValidationError) as error:
        playbook_create(
            organization=tenant_a.organization,
            name="Onboarding",
            steps=[NUDGE, TASK, {**EVENT, "event_lead_days": []}, {**NUDGE, "surprise": 1}],
        )
    messages = error.value.message_dict["steps"]
    assert any(m.startswith("Step 3, event_lead_days:") for m in messages)
    assert any(m.startswith("Step 4: unknown field surprise") for m in messages)
    assert _counts() == before


def test_create_refuses_both_playbook_and_step_errors_at_once(tenant_a):
    with pytest.raises(ValidationError) as error:
        playbook_create(organization=tenant_a.organization, name="", steps=[{**TASK, "title": ""}])
    assert set(error.value.message_dict) == {"name", "steps"}


def test_a_name_in_another_organization_is_free(tenant_a, tenant_b):
    PlaybookFactory(organization=tenant_b.organization, name="Onboarding")
    assert playbook_create(organization=tenant_a.organization, name="Onboarding").pk


def test_band_entered_playbook_starts_after_the_latest_band_change(tenant_a):
    organization = tenant_a.organization
    member = MemberFactory(organization=organization)
    latest = _band_event(organization, member, "watch")
    playbook = playbook_create(
        organization=organization, name="Watch", trigger="band_entered", trigger_band="watch"
    )
    cursor = DomainEventCursor.objects.unscoped().get(consumer=f"playbook:{playbook.pk}")
    assert (cursor.organization_id, cursor.last_event_id) == (organization.pk, latest.pk)


# --- steps: validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"action": "call"}, "action"),
        ({"channel": "sms"}, "channel"),
        ({"offset_days": -1}, "offset_days"),
        ({"offset_days": "3"}, "offset_days"),
        ({"offset_days": None}, "offset_days"),
        ({"offset_days": 4000}, "offset_days"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"message_template": ""}, "message_template"),  # a nudge needs a message
        ({"message_template": "   "}, "message_template"),
        ({"message_template": None}, "message_template"),
        ({"message_template": "{% if %}oops{% endif %}"}, "message_template"),
        ({"message_template": "{{ member.owner.user.password }}"}, "message_template"),
        ({"message_template": "{{ settings.SECRET_KEY }}"}, "message_template"),
        ({"event_lead_days": [3]}, "event_lead_days"),  # only events take lead days
        ({"action": "event", "event_lead_days": []}, "event_lead_days"),
        ({"action": "event", "offset_days": 10, "event_lead_days": [0]}, "event_lead_days"),
        ({"action": "event", "offset_days": 10, "event_lead_days": [3, "x"]}, "event_lead_days"),
        ({"action": "event", "offset_days": 10, "event_lead_days": 3}, "event_lead_days"),
        ({"action": "event", "offset_days": 10, "event_lead_days": [14]}, "event_lead_days"),
        ({"action": "event", "offset_days": 900, "event_lead_days": [400]}, "event_lead_days"),
        (
            {"action": "event", "offset_days": 20, "event_lead_days": list(range(1, 13))},
            "event_lead_days",
        ),
    ],
)
def test_step_add_refuses_bad_input_and_writes_nothing(tenant_a, overrides, field):
    playbook = PlaybookFactory(organization=tenant_a.organization)
    PlaybookStepFactory(playbook=playbook, position=1, title="First")
    before = _counts()
    with pytest.raises(ValidationError) as error:
        step_add(organization=tenant_a.organization, playbook=playbook, **{**NUDGE, **overrides})
    assert field in error.value.message_dict
    assert _counts() == before
    assert _positions(playbook) == [("First", 1)]


@pytest.mark.parametrize("position", [0, 3, -1, "1", True])
def test_step_add_refuses_a_position_outside_the_list(tenant_a, position):
    playbook = PlaybookFactory(organization=tenant_a.organization)
    PlaybookStepFactory(playbook=playbook, position=1, title="First")
    with pytest.raises(ValidationError) as error:
        step_add(organization=tenant_a.organization, playbook=playbook, position=position, **NUDGE)
    assert "position" in error.value.message_dict
    assert _positions(playbook) == [("First", 1)]


def test_step_add_refuses_another_organizations_playbook(tenant_a, tenant_b):
    playbook = PlaybookFactory(organization=tenant_b.organization)
    with pytest.raises(ValidationError) as error:
        step_add(organization=tenant_a.organization, playbook=playbook, **NUDGE)
    assert "playbook" in error.value.message_dict
    assert not PlaybookStep.objects.unscoped().exists()


def test_event_and_task_steps_may_omit_the_message(tenant_a):
    playbook = PlaybookFactory(organization=tenant_a.organization)
    step_add(organization=tenant_a.organization, playbook=playbook, **TASK)
    step = step_add(organization=tenant_a.organization, playbook=playbook, **EVENT)
    assert step.message_template == ""
    assert step.event_lead_days == [7, 2]


# --- message templates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "Hello {{ member.name }}, your {{ member.tier }} membership renews {{ member.renewal_on|date:'j F Y' }}.",
        "{% for key, value in member.attributes.items %}{{ key }}={{ value }} {% endfor %}",
        "{% for tag in member.attributes.tags %}{{ forloop.counter }}. {{ tag|upper }}{% empty %}none{% endfor %}",
        "{% with who=member.name %}{{ who|title }}{% endwith %}",
        "{{ member.attributes.company.name|default:member.email }}",
        "{% if member.status == 'Active' and member.region %}Hi {{ member.region }}{% elif member.tier %}x{% else %}y{% endif %}",
        "{% now 'Y' as year %}See you in {{ year }}",
        "{% firstof member.name member.email 'friend' %}",
        "{# a note #}{% comment %}{{ anything.at.all }}{% endcomment %}Plain",
        "{% spaceless %}<p> {{ member.joined_on }} </p>{% endspaceless %}",
    ],
)
def test_templates_using_only_member_fields_are_accepted(template):
    assert message_template_error(template) is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ member.owner.user.password }}", "member.owner.user.password"),
        ("{{ settings.SECRET_KEY }}", "settings.SECRET_KEY"),
        ("{{ member }}", "'member'"),
        ("{{ member.name.upper }}", "member.name.upper"),
        ("{{ member.pk }}", "member.pk"),
        ("{{ member.organization.name }}", "member.organization.name"),
        ("{% if member.owner.user.is_superuser %}x{% endif %}", "member.owner.user.is_superuser"),
        ("{% if not request.user %}x{% endif %}", "request.user"),
        ("{% for goal in member.goals.all %}{{ goal }}{% endfor %}", "member.goals.all"),
        ("{% with owner=member.owner %}{{ owner }}{% endwith %}", "member.owner"),
        ("{{ member.name|default:member.owner }}", "member.owner"),
        ("{% firstof member.name member.owner.user.email %}", "member.owner.user.email"),
        ("{{ forloop.counter }}", "forloop.counter"),
        ("{% with who=member.name %}{% endwith %}{{ who }}", "'who'"),
    ],
)
def test_templates_reading_anything_else_are_refused(template, expected):
    error = message_template_error(template)
    assert error is not None and "Unknown variable" in error and expected.strip("'") in error


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("{% if %}oops{% endif %}", 1),
        ("Hello\n\n{{ member.name|nosuchfilter }}", 3),
        ("Hello\n{% for x in member.attributes.items %}", 2),
        ("{% load static %}", 1),
        ("{% debug %}", 1),
        ("{% include 'base.html' %}", 1),
        ("{% extends 'base.html' %}", 1),
        ("{{ member.name|safe }}", 1),
        ("{% autoescape off %}{{ member.name }}{% endautoescape %}", 1),
        ("{% url 'admin:index' %}", 1),
        ("{{ member._state }}", 1),
    ],
)
def test_syntax_errors_and_unsafe_tags_are_reported_with_their_line(template, line):
    error = message_template_error(template)
    assert error is not None and error.startswith(f"line {line}: ")


def test_step_add_reports_the_template_error_on_the_field(tenant_a):
    playbook = PlaybookFactory(organization=tenant_a.organization)
    with pytest.raises(ValidationError) as error:
        step_add(
            organization=tenant_a.organization,
            playbook=playbook,
            **{**NUDGE, "message_template": "Hi\n{{ member.name|bogus }}"},
        )
    assert error.value.message_dict["message_template"][0].startswith("line 2: ")


def _member(organization, **fields):
    defaults = {
        "name": "Ada Lovelace",
        "email": "ada@example.test",
        "tier": "Fellow",
        "status": "grace",
        "region": "South",
        "joined_on": dt.date(2020, 5, 4),
        "renewal_on": dt.date(2026, 1, 31),
        "attributes": {"company": "Analytical Engines", "seats": 3, "tags": ["math", "poetry"]},
    }
    return MemberFactory(organization=organization, **{**defaults, **fields})


def test_render_message_shows_the_members_own_fields(tenant_a):
    member = _member(tenant_a.organization)
    text = render_message(
        "{{ member.name }} <{{ member.email }}> · {{ member.tier }} · {{ member.status }} · "
        "{{ member.region }} · {{ member.joined_on|date:'Y-m-d' }} · "
        "{{ member.renewal_on|date:'Y-m-d' }} · {{ member.attributes.company }} · "
        "{{ member.attributes.seats }} · {{ member.attributes.tags|join:'+' }}",
        member,
    )
    assert text == (
        "Ada Lovelace <ada@example.test> · Fellow · Grace period · South · 2020-05-04 · "
        "2026-01-31 · Analytical Engines · 3 · math+poetry"
    )


def test_render_message_escapes_html_in_member_data(tenant_a):
    member = _member(
        tenant_a.organization,
        name='<script>alert("x")</script>',
        attributes={"note": "<b>bold</b> & co"},
    )
    text = render_message("{{ member.name }}|{{ member.attributes.note }}", member)
    assert "<script>" not in text and "<b>" not in text
    assert text == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;|&lt;b&gt;bold&lt;/b&gt; &amp; co"
    )


def test_missing_variables_render_empty(tenant_a):
    member = _member(tenant_a.organization, joined_on=None)
    text = render_message(
        "[{{ member.nickname }}][{{ member.attributes.nope }}][{{ member.joined_on }}]"
        "[{{ member.attributes.company.deeper }}]",
        member,
    )
    assert text == "[][][None][]"


def test_relations_methods_and_other_rows_are_unreachable(tenant_a):
    owner = SeatFactory(organization=tenant_a.organization, role="msm")
    member = _member(tenant_a.organization, owner=owner)
    text = render_message(
        "[{{ member.owner.user.email }}][{{ member.owner }}][{{ member.organization.name }}]"
        "[{{ member.pk }}][{{ member.id }}][{{ member.save }}][{{ member.goals.all }}]"
        "[{{ member.get_status_display }}][{{ settings.SECRET_KEY }}]",
        member,
    )
    assert text == "[][][][][][][][][]"
    assert owner.user.email not in text


def test_render_refuses_unsafe_tags_even_when_stored_around_the_services(tenant_a):
    member = _member(tenant_a.organization)
    for template in ("{% debug %}", "{% load static %}", "{{ member.name|safe }}"):
        with pytest.raises(TemplateSyntaxError):
            render_message(template, member)


def test_empty_template_renders_empty(tenant_a):
    assert render_message("", _member(tenant_a.organization)) == ""


# --- steps: order --------------------------------------------------------------------------


@pytest.fixture
def three_steps(tenant_a) -> Playbook:
    return playbook_create(
        organization=tenant_a.organization,
        name="Three",
        steps=[{**TASK, "title": t} for t in ("A", "B", "C")],
    )


def test_step_add_appends_or_inserts_and_keeps_positions_contiguous(tenant_a, three_steps):
    org = tenant_a.organization
    step_add(organization=org, playbook=three_steps, **{**TASK, "title": "D"})
    step_add(organization=org, playbook=three_steps, position=1, **{**TASK, "title": "Z"})
    step_add(organization=org, playbook=three_steps, position=3, **{**TASK, "title": "M"})
    assert _positions(three_steps) == [
        ("Z", 1),
        ("A", 2),
        ("M", 3),
        ("B", 4),
        ("C", 5),
        ("D", 6),
    ]


def test_step_add_appends_after_gaps_left_by_other_writers(tenant_a):
    playbook = PlaybookFactory(organization=tenant_a.organization)
    PlaybookStepFactory(playbook=playbook, position=4, title="A")
    PlaybookStepFactory(playbook=playbook, position=9, title="B")
    step_add(organization=tenant_a.organization, playbook=playbook, position=2, **TASK)
    assert _positions(playbook) == [("A", 1), ("Call the new member", 2), ("B", 3)]


def test_step_remove_closes_the_gap(tenant_a, three_steps):
    middle = PlaybookStep.objects.unscoped().get(playbook=three_steps, title="B")
    step_remove(organization=tenant_a.organization, step=middle)
    assert _positions(three_steps) == [("A", 1), ("C", 2)]


def test_steps_reorder_puts_steps_in_the_order_given(tenant_a, three_steps):
    ids = dict(
        PlaybookStep.objects.unscoped().filter(playbook=three_steps).values_list("title", "pk")
    )
    steps = steps_reorder(
        organization=tenant_a.organization,
        playbook=three_steps,
        step_ids=[ids["C"], ids["A"], ids["B"]],
    )
    assert [s.title for s in steps] == ["C", "A", "B"]
    assert _positions(three_steps) == [("C", 1), ("A", 2), ("B", 3)]


def test_steps_reorder_refuses_anything_but_each_step_once(tenant_a, tenant_b, three_steps):
    ids = list(
        PlaybookStep.objects.unscoped()
        .filter(playbook=three_steps)
        .order_by("position")
        .values_list("pk", flat=True)
    )
    foreign = PlaybookStepFactory(playbook__organization=tenant_b.organization)
    for step_ids in ([ids[0], ids[1]], [ids[0], ids[0], ids[1]], [*ids[:2], foreign.pk], []):
        with pytest.raises(ValidationError) as error:
            steps_reorder(
                organization=tenant_a.organization, playbook=three_steps, step_ids=step_ids
            )
        assert "step_ids" in error.value.message_dict
    assert _positions(three_steps) == [("A", 1), ("B", 2), ("C", 3)]


def test_step_update_changes_what_is_given(tenant_a, three_steps):
    step = PlaybookStep.objects.unscoped().get(playbook=three_steps, title="A")
    step_update(
        organization=tenant_a.organization,
        step=step,
        action="event",
        offset_days=10,
        event_lead_days=[3, 7, 3],
        message_template="Looking forward, {{ member.name }}",
    )
    step.refresh_from_db()
    assert (step.action, step.offset_days, step.event_lead_days, step.title) == (
        "event",
        10,
        [7, 3],
        "A",
    )
    step_update(organization=tenant_a.organization, step=step, action="task")
    step.refresh_from_db()
    assert (step.action, step.event_lead_days) == ("task", [])  # the event's lead days went


def test_step_update_refuses_bad_input_and_changes_nothing(tenant_a, three_steps):
    step = PlaybookStep.objects.unscoped().get(playbook=three_steps, title="A")
    for changes, field in [
        ({"title": ""}, "title"),
        ({"action": "nudge"}, "message_template"),  # a nudge needs a message
        ({"message_template": "{{ member.owner }}"}, "message_template"),
        ({"action": "event"}, "event_lead_days"),
    ]:
        with pytest.raises(ValidationError) as error:
            step_update(organization=tenant_a.organization, step=step, **changes)
        assert field in error.value.message_dict
    fresh = PlaybookStep.objects.unscoped().get(pk=step.pk)
    assert (fresh.title, fresh.action, fresh.message_template) == ("A", "task", "")


def test_step_services_refuse_another_organizations_rows(tenant_a, tenant_b):
    step = PlaybookStepFactory(playbook__organization=tenant_b.organization, title="Theirs")
    with pytest.raises(ValidationError) as error:
        step_update(organization=tenant_a.organization, step=step, title="Mine")
    assert "step" in error.value.message_dict
    with pytest.raises(ValidationError):
        step_remove(organization=tenant_a.organization, step=step)
    with pytest.raises(ValidationError):
        steps_reorder(
            organization=tenant_a.organization, playbook=step.playbook, step_ids=[step.pk]
        )
    assert PlaybookStep.objects.unscoped().get(pk=step.pk).title == "Theirs"


# --- playbook_update, deactivate, activate -------------------------------------------------


def test_playbook_update_changes_what_is_given(tenant_a):
    playbook = playbook_create(
        organization=tenant_a.organization,
        name="Renewals",
        trigger="renewal_within",
        trigger_days=30,
    )
    playbook_update(organization=tenant_a.organization, playbook=playbook, trigger_days=60)
    playbook.refresh_from_db()
    assert (playbook.trigger, playbook.trigger_days) == ("renewal_within", 60)
    # A new trigger clears the days that belonged to the old one.
    playbook_update(organization=tenant_a.organization, playbook=playbook, trigger="on_join")
    playbook.refresh_from_db()
    assert (playbook.trigger, playbook.trigger_days, playbook.name) == ("on_join", None, "Renewals")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Taken"}, "name"),
        ({"name": ""}, "name"),
        ({"trigger": "nope"}, "trigger"),
        ({"trigger_days": None}, "trigger_days"),
        ({"trigger_band": "watch"}, "trigger_band"),
        ({"trigger": "band_entered"}, "trigger_band"),
    ],
)
def test_playbook_update_refuses_bad_input_and_changes_nothing(tenant_a, changes, field):
    PlaybookFactory(organization=tenant_a.organization, name="Taken")
    playbook = playbook_create(
        organization=tenant_a.organization,
        name="Renewals",
        trigger="renewal_within",
        trigger_days=30,
    )
    with pytest.raises(ValidationError) as error:
        playbook_update(organization=tenant_a.organization, playbook=playbook, **changes)
    assert field in error.value.message_dict
    fresh = Playbook.objects.unscoped().get(pk=playbook.pk)
    assert (fresh.name, fresh.trigger, fresh.trigger_days, fresh.trigger_band) == (
        "Renewals",
        "renewal_within",
        30,
        "",
    )


def test_switching_to_band_entered_reacts_from_now_on(tenant_a):
    organization = tenant_a.organization
    playbook = playbook_create(organization=organization, name="Watch")
    latest = _band_event(organization, MemberFactory(organization=organization), "watch")
    playbook_update(
        organization=organization, playbook=playbook, trigger="band_entered", trigger_band="watch"
    )
    cursor = DomainEventCursor.objects.for_org(organization).get(consumer=f"playbook:{playbook.pk}")
    assert cursor.last_event_id == latest.pk


def test_deactivate_cancels_active_enrolments_and_activate_restarts_the_cursor(tenant_a):
    organization = tenant_a.organization
    playbook = playbook_create(
        organization=organization,
        name="Watch",
        trigger="band_entered",
        trigger_band="watch",
        steps=[{**NUDGE, "offset_days": 3}],
    )
    member = MemberFactory(organization=organization)
    enrollment = enrollment_start(organization=organization, playbook=playbook, member=member)
    done = enrollment_start(
        organization=organization,
        playbook=playbook,
        member=MemberFactory(organization=organization),
    )
    Enrollment.objects.unscoped().filter(pk=done.pk).update(status="completed")

    playbook_deactivate(organization=organization, playbook=playbook)
    playbook_deactivate(organization=organization, playbook=playbook)  # idempotent

    enrollment.refresh_from_db()
    assert Playbook.objects.unscoped().get(pk=playbook.pk).is_active is False
    assert enrollment.status == "cancelled" and enrollment.ended_at is not None
    assert Enrollment.objects.unscoped().get(pk=done.pk).status == "completed"
    assert Nudge.objects.unscoped().get(enrollment=enrollment).status == "cancelled"
    with pytest.raises(ValidationError) as error:
        enrollment_start(organization=organization, playbook=playbook, member=member)
    assert "playbook" in error.value.message_dict

    latest = _band_event(organization, member, "watch")
    playbook_activate(organization=organization, playbook=playbook)
    assert Playbook.objects.unscoped().get(pk=playbook.pk).is_active is True
    cursor = DomainEventCursor.objects.for_org(organization).get(consumer=f"playbook:{playbook.pk}")
    assert cursor.last_event_id == latest.pk


def test_playbook_services_refuse_another_organizations_playbook(tenant_a, tenant_b):
    playbook = PlaybookFactory(organization=tenant_b.organization, name="Theirs")
    for service in (playbook_deactivate, playbook_activate):
        with pytest.raises(ValidationError):
            service(organization=tenant_a.organization, playbook=playbook)
    with pytest.raises(ValidationError):
        playbook_update(organization=tenant_a.organization, playbook=playbook, name="Mine")
    fresh = Playbook.objects.unscoped().get(pk=playbook.pk)
    assert (fresh.name, fresh.is_active) == ("Theirs", True)


def test_filters_given_odd_member_data_render_empty(tenant_a):
    member = _member(tenant_a.organization, attributes={"n": 3, "d": {"k": 1}, "s": "x y z"})
    text = render_message(
        "[{{ member.attributes.s|truncatewords:member.attributes.d }}]"
        "[{{ member.name|yesno:member.attributes.n }}]"
        "[{{ member.attributes.s|truncatewords:2 }}]",
        member,
    )
    assert text == "[][][x y …]"
