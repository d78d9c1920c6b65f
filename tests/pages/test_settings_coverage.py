"""Settings · coverage models: the list in priority order, the form with rule rows, the match
preview (htmx and without JavaScript) checked against what applying coverage really does."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import Member
from orchestration.coverage import coverage_apply
from orchestration.models import CoverageModel, CoveragePlaybook, CoveragePoolSeat
from tenancy.settings_forms import rule_text, rule_value
from tests.factories import (
    CoverageModelFactory,
    CoveragePoolSeatFactory,
    MemberFactory,
    PlaybookFactory,
)

pytestmark = pytest.mark.django_db


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": tenant.organization.slug, **kwargs})


def form_data(*, rules=(), extra_rows: int = 1, **fields) -> dict:
    """What the coverage form posts: its fields and the rule rows (field, op, value)."""
    rows = [*rules, *[("", "", "")] * extra_rows]
    data = {
        "name": "Gold members",
        "description": "",
        "priority": "50",
        "assignment_policy": "round_robin",
        "engagement_cadence_days": "",
        "rules-TOTAL_FORMS": str(len(rows)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "50",
    }
    for index, (field, op, value) in enumerate(rows):
        data[f"rules-{index}-field"] = field
        data[f"rules-{index}-op"] = op
        data[f"rules-{index}-value"] = value
    data.update(fields)
    return data


def counts(organization) -> tuple[int, int, int]:
    return (
        CoverageModel.objects.for_org(organization).count(),
        CoveragePoolSeat.objects.for_org(organization).count(),
        CoveragePlaybook.objects.for_org(organization).count(),
    )


PREVIEW = re.compile(
    r"(\d+) members? would match, (\d+) would change owner, (\d+) would change coverage model"
)


def preview_figures(body: str) -> tuple[int, int, int]:
    found = PREVIEW.search(body)
    assert found, body
    return tuple(int(n) for n in found.groups())  # type: ignore[return-value]


# --- list ------------------------------------------------------------------------------------


def test_the_list_is_in_the_order_models_win_members(login, tenant_a, tenant_b):
    org = tenant_a.organization
    low = CoverageModelFactory(organization=org, name="Everyone", priority=1)
    high = CoverageModelFactory(
        organization=org,
        name="Gold",
        priority=90,
        criteria=[{"field": "tier", "op": "in", "value": ["Gold", "Platinum"]}],
    )
    CoverageModelFactory(organization=org, name="Retired", priority=99, is_active=False)
    CoverageModelFactory(organization=tenant_b.organization, name="Other org model")
    CoveragePoolSeatFactory(coverage_model=high, seat=tenant_a.msm)
    CoveragePlaybook.objects.create(
        organization=org,
        coverage_model=high,
        playbook=PlaybookFactory(organization=org, name="Gold care"),
    )
    MemberFactory.create_batch(3, organization=org, coverage_model=high)
    body = login(tenant_a.admin).get(url("settings_coverage", tenant_a)).content.decode()
    assert body.index("Gold") < body.index("Everyone") < body.index("Retired")
    assert "tier in Gold, Platinum" in body
    assert tenant_a.msm.user.display_name in body and "Gold care" in body
    assert "Other org model" not in body
    assert low.name in body and "Switch on" in body and "Switch off" in body


def test_the_list_takes_the_same_queries_for_5_and_50_models(login, tenant_a):
    client = login(tenant_a.admin)
    org = tenant_a.organization
    playbook = PlaybookFactory(organization=org)

    def grow(n: int) -> None:
        for _ in range(n):
            model = CoverageModelFactory(organization=org)
            CoveragePoolSeatFactory(coverage_model=model, seat=tenant_a.msm)
            CoveragePlaybook.objects.create(
                organization=org, coverage_model=model, playbook=playbook
            )
            MemberFactory(organization=org, coverage_model=model)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("settings_coverage", tenant_a)).status_code == 200
        return len(queries)

    grow(5)
    five = count()
    grow(45)
    assert count() == five


def test_the_list_is_paginated(login, tenant_a):
    CoverageModelFactory.create_batch(30, organization=tenant_a.organization)
    client = login(tenant_a.admin)
    assert "Page 1 of 2" in client.get(url("settings_coverage", tenant_a)).content.decode()
    assert (
        "Page 2 of 2" in client.get(url("settings_coverage", tenant_a) + "?page=2").content.decode()
    )


# --- create and edit -------------------------------------------------------------------------


def test_an_admin_creates_a_model_with_rules_pool_and_playbooks(login, tenant_a):
    org = tenant_a.organization
    playbook = PlaybookFactory(organization=org)
    data = form_data(
        rules=[("tier", "in", "Gold, Platinum"), ("days_to_renewal", "between", "0, 60")],
        pool_seats=[tenant_a.msm.pk, tenant_a.admin.pk],
        playbooks=[playbook.pk],
        engagement_cadence_days="30",
    )
    response = login(tenant_a.admin).post(url("settings_coverage_new", tenant_a), data)
    assert response.status_code == 302
    assert response["Location"] == url("settings_coverage", tenant_a)
    model = CoverageModel.objects.for_org(org).get()
    assert model.name == "Gold members" and model.priority == 50
    assert model.engagement_cadence_days == 30
    assert model.criteria == [
        {"field": "tier", "op": "in", "value": ["Gold", "Platinum"]},
        {"field": "days_to_renewal", "op": "between", "value": [0, 60]},
    ]
    assert counts(org) == (1, 2, 1)


def test_the_form_page_offers_the_pool_of_owners_only(login, tenant_a, tenant_b):
    body = login(tenant_a.admin).get(url("settings_coverage_new", tenant_a)).content.decode()
    assert tenant_a.msm.user.display_name in body and tenant_a.admin.user.display_name in body
    assert tenant_a.viewer.user.display_name not in body  # viewers own no accounts
    assert tenant_b.msm.user.display_name not in body
    assert 'name="preview"' in body and "Match preview" in body
    assert 'hx-post="' + url("settings_coverage_preview_new", tenant_a) in body


def test_a_bad_rule_is_shown_on_its_row_and_nothing_is_written(login, tenant_a):
    data = form_data(rules=[("tier", "eq", "Gold"), ("status", "eq", "sleeping")])
    response = login(tenant_a.admin).post(url("settings_coverage_new", tenant_a), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Rule 2: &#x27;sleeping&#x27; is not a status" in body
    assert 'class="row-invalid"' in body
    assert counts(tenant_a.organization) == (0, 0, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"priority": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"engagement_cadence_days": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"assignment_policy": "lottery"}, "Select a valid choice."),
    ],
)
def test_bad_fields_are_shown_in_place_and_nothing_is_written(login, tenant_a, change, message):
    response = login(tenant_a.admin).post(
        url("settings_coverage_new", tenant_a), form_data(**change)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert counts(tenant_a.organization) == (0, 0, 0)


def test_a_taken_name_is_the_services_field_error(login, tenant_a):
    CoverageModelFactory(organization=tenant_a.organization, name="Gold members")
    response = login(tenant_a.admin).post(url("settings_coverage_new", tenant_a), form_data())
    assert response.status_code == 400
    assert "Another coverage model of this organization has this name." in response.content.decode()
    assert counts(tenant_a.organization) == (1, 0, 0)


def test_another_organizations_seat_cannot_be_put_in_the_pool(login, tenant_a, tenant_b):
    data = form_data(pool_seats=[tenant_b.msm.pk])
    response = login(tenant_a.admin).post(url("settings_coverage_new", tenant_a), data)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert counts(tenant_a.organization) == (0, 0, 0)


def test_the_edit_form_shows_the_model_as_saved_and_saves_changes(login, tenant_a):
    org = tenant_a.organization
    model = CoverageModelFactory(
        organization=org,
        name="Chapters",
        criteria=[
            {"field": "attributes.chapter", "op": "in", "value": ["north", 5]},
            {"field": "attributes.code", "op": "eq", "value": "5"},
        ],
    )
    CoveragePoolSeatFactory(coverage_model=model, seat=tenant_a.msm)
    client = login(tenant_a.admin)
    body = client.get(
        url("settings_coverage_edit", tenant_a, coverage_model_id=model.pk)
    ).content.decode()
    assert 'value="Chapters"' in body
    assert 'value="[&quot;north&quot;, 5]"' in body  # a list with a number, as JSON
    assert 'value="&quot;5&quot;"' in body  # text that looks like a number keeps its quotes
    data = form_data(
        name="Chapters",
        priority="70",
        rules=[("attributes.chapter", "in", '["north", 5]'), ("attributes.code", "eq", '"5"')],
        pool_seats=[tenant_a.admin.pk],
    )
    response = client.post(
        url("settings_coverage_edit", tenant_a, coverage_model_id=model.pk), data
    )
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.priority == 70
    assert model.criteria == [
        {"field": "attributes.chapter", "op": "in", "value": ["north", 5]},
        {"field": "attributes.code", "op": "eq", "value": "5"},
    ]
    assert list(
        CoveragePoolSeat.objects.for_org(org)
        .filter(coverage_model=model)
        .values_list("seat_id", flat=True)
    ) == [tenant_a.admin.pk]


def test_a_refused_edit_changes_nothing(login, tenant_a):
    model = CoverageModelFactory(organization=tenant_a.organization, name="Keep", priority=10)
    data = form_data(name="Keep", priority="20", rules=[("days_since_joining", "gt", "soon")])
    response = login(tenant_a.admin).post(
        url("settings_coverage_edit", tenant_a, coverage_model_id=model.pk), data
    )
    assert response.status_code == 400
    assert "needs a whole number of days, got text" in response.content.decode()
    model.refresh_from_db()
    assert model.priority == 10 and model.criteria == []


def test_add_a_rule_gives_one_more_row_without_errors_or_writes(login, tenant_a):
    data = form_data(name="", rules=[("tier", "eq", "Gold")], extra_rows=0, add_rule="1")
    response = login(tenant_a.admin).post(url("settings_coverage_new", tenant_a), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="rules-1-field"' in body and 'value="Gold"' in body
    assert "This field is required" not in body
    assert counts(tenant_a.organization) == (0, 0, 0)


def test_switching_a_model_off_and_on(login, tenant_a):
    model = CoverageModelFactory(organization=tenant_a.organization)
    client = login(tenant_a.admin)
    target = url("settings_coverage_active", tenant_a, coverage_model_id=model.pk)
    assert client.post(target, {"active": "0"}).status_code == 302
    model.refresh_from_db()
    assert not model.is_active
    client.post(target, {"active": "1"})
    model.refresh_from_db()
    assert model.is_active


# --- the match preview -----------------------------------------------------------------------


@pytest.fixture
def book(tenant_a):
    """Twelve members: 7 Gold (3 of them owned), 5 Basic; an existing catch-all model."""
    org = tenant_a.organization
    catch_all = CoverageModelFactory(organization=org, name="Everyone", priority=10)
    for index in range(7):
        MemberFactory(organization=org, tier="Gold", owner=tenant_a.admin if index < 3 else None)
    MemberFactory.create_batch(5, organization=org, tier="Basic")
    coverage_apply(organization=org)
    return catch_all


def test_the_live_preview_counts_what_saving_and_applying_would_do(login, tenant_a, book):
    org = tenant_a.organization
    data = form_data(rules=[("tier", "eq", "Gold")], pool_seats=[tenant_a.msm.pk])
    client = login(tenant_a.admin)
    response = client.post(
        url("settings_coverage_preview_new", tenant_a), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="coverage-preview"' in body
    assert preview_figures(body) == (7, 4, 7)
    assert counts(org) == (1, 0, 0)  # the preview wrote nothing

    assert client.post(url("settings_coverage_new", tenant_a), data).status_code == 302
    model = CoverageModel.objects.for_org(org).get(name="Gold members")
    result = coverage_apply(organization=org)
    assert (result.matched[model.pk], result.owners_assigned, result.changed_model) == (7, 4, 7)
    assert Member.objects.for_org(org).filter(coverage_model=model, owner=tenant_a.msm).count() == 4


def test_the_preview_of_an_existing_model_weighs_it_in_place_of_itself(login, tenant_a, book):
    org = tenant_a.organization
    data = form_data(name="Everyone", priority="10", rules=[("tier", "eq", "Basic")])
    response = login(tenant_a.admin).post(
        url("settings_coverage_preview", tenant_a, coverage_model_id=book.pk),
        data,
        HTTP_HX_REQUEST="true",
    )
    assert preview_figures(response.content.decode()) == (5, 0, 7)
    book.refresh_from_db()
    assert book.criteria == []  # nothing saved
    CoverageModel.objects.for_org(org).filter(pk=book.pk).update(
        criteria=[{"field": "tier", "op": "eq", "value": "Basic"}]
    )
    result = coverage_apply(organization=org)
    assert (result.matched[book.pk], result.changed_model) == (5, 7)


def test_the_preview_button_works_without_javascript_and_writes_nothing(login, tenant_a, book):
    data = form_data(rules=[("tier", "eq", "Gold")], preview="1")
    response = login(tenant_a.admin).post(url("settings_coverage_new", tenant_a), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert preview_figures(body) == (7, 0, 7)  # no pool: nobody would change owner
    assert 'value="Gold"' in body  # the form keeps what was typed
    assert counts(tenant_a.organization) == (1, 0, 0)


def test_the_preview_says_what_to_fix(login, tenant_a):
    client = login(tenant_a.admin)
    data = form_data(rules=[("region", "in", "")])
    body = client.post(
        url("settings_coverage_preview_new", tenant_a), data, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Fix these to see the preview" in body
    assert "Rule 1: &#x27;region in&#x27; needs a non-empty list of text values" in body
    body = client.post(
        url("settings_coverage_preview_new", tenant_a),
        form_data(priority="x"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Priority: Enter a whole number." in body


def test_the_preview_takes_the_same_queries_for_5_and_50_members(login, tenant_a):
    client = login(tenant_a.admin)
    org = tenant_a.organization
    data = form_data(rules=[("tier", "eq", "Gold")], pool_seats=[tenant_a.msm.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.post(
                url("settings_coverage_preview_new", tenant_a), data, HTTP_HX_REQUEST="true"
            )
        return len(queries)

    MemberFactory.create_batch(5, organization=org, tier="Gold")
    five = count()
    MemberFactory.create_batch(45, organization=org, tier="Gold")
    assert count() == five


# --- rule rows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "op", "raw", "value"),
    [
        ("tier", "eq", " Gold ", "Gold"),
        ("tier", "eq", "5", "5"),  # a tier is text, whatever it looks like
        ("tier", "in", "Gold, Silver,", ["Gold", "Silver"]),
        ("tier", "in", '["Gold", "Sil,ver"]', ["Gold", "Sil,ver"]),
        ("band", "eq", "", ""),
        ("days_to_renewal", "lte", "30", 30),
        ("days_to_renewal", "between", "10, 90", [10, 90]),
        ("days_to_renewal", "gt", "soon", "soon"),  # left for the validator to name
        ("attributes.chapter", "eq", "5", 5),
        ("attributes.chapter", "eq", '"5"', "5"),
        ("attributes.chapter", "eq", "north", "north"),
        ("attributes.chapter", "in", "north, 5, true", ["north", 5, True]),
        ("attributes.vip", "exists", "false", False),
    ],
)
def test_rule_values_are_read_by_field(field, op, raw, value):
    given, parsed = rule_value(field, op, raw)
    assert given and parsed == value
    assert rule_value(field, op, rule_text({"field": field, "op": op, "value": value}))[1] == value


def test_exists_without_a_value_means_true():
    assert rule_value("attributes.vip", "exists", "") == (False, None)
