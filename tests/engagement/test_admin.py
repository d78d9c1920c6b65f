"""The Django admin shows engagement and context of every organization to Tandem's staff;
one row is edited inside its own organization (raw-id widgets work, other tenants' rows
cannot be linked), and new rows come only through the services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.utils import timezone

from engagement.models import ContextEvent, Engagement
from tenancy.admin import TenantAdmin
from tests.factories import (
    ContextEventFactory,
    EngagementFactory,
    GoalFactory,
    MemberFactory,
    UserFactory,
)

ENGAGEMENTS = "/admin/engagement/engagement/"
EVENTS = "/admin/engagement/contextevent/"


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def engagement(tenant_a):
    member = MemberFactory(organization=tenant_a.organization, name="Ada Lovelace")
    return EngagementFactory(
        member=member,
        goal=GoalFactory(desired_outcome__member=member),
        seat=tenant_a.msm,
        direction=Engagement.Direction.INBOUND_REACTIVE,
        duration_minutes=20,
    )


def engagement_form(engagement, **changes):
    local = timezone.localtime(engagement.occurred_at)
    data = {
        "member": engagement.member_id,
        "seat": engagement.seat_id,
        "goal": engagement.goal_id or "",
        "direction": engagement.direction,
        "type": engagement.type,
        "occurred_at_0": local.date().isoformat(),
        "occurred_at_1": local.time().replace(microsecond=0).isoformat(),
        "summary": engagement.summary,
        "duration_minutes": engagement.duration_minutes or "",
    }
    return {**data, **changes}


@pytest.mark.parametrize("model", [Engagement, ContextEvent])
def test_models_are_registered_on_the_tenant_admin(model):
    assert isinstance(admin.site._registry[model], TenantAdmin)


def test_engagement_changelist_shows_every_organization_and_filters(
    staff_client, tenant_b, engagement
):
    EngagementFactory(member=MemberFactory(organization=tenant_b.organization, name="Bo Beta"))
    listing = staff_client.get(ENGAGEMENTS)
    assert listing.status_code == 200
    assert "Ada Lovelace" in listing.text and "Bo Beta" in listing.text
    filtered = staff_client.get(ENGAGEMENTS, {"direction__exact": "inbound_reactive"})
    assert "Ada Lovelace" in filtered.text and "Bo Beta" not in filtered.text


def test_engagement_change_page_names_the_raw_id_rows(staff_client, engagement):
    page = staff_client.get(f"{ENGAGEMENTS}{engagement.pk}/change/")
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text and engagement.goal.objective in page.text


def test_engagement_is_edited_within_its_organization(staff_client, engagement):
    response = staff_client.post(
        f"{ENGAGEMENTS}{engagement.pk}/change/", engagement_form(engagement, summary="Fixed")
    )
    assert response.status_code == 302
    engagement.refresh_from_db()
    assert engagement.summary == "Fixed"


def test_admin_edit_cannot_link_another_organizations_member(staff_client, tenant_b, engagement):
    foreign = MemberFactory(organization=tenant_b.organization)
    response = staff_client.post(
        f"{ENGAGEMENTS}{engagement.pk}/change/", engagement_form(engagement, member=foreign.pk)
    )
    assert response.status_code == 200  # the form again, with the error
    assert "member" in response.context["adminform"].form.errors
    engagement.refresh_from_db()
    assert engagement.member.organization_id != tenant_b.organization.pk


def test_rows_are_not_added_through_the_admin(staff_client, db):
    assert staff_client.get(f"{ENGAGEMENTS}add/").status_code == 403
    assert staff_client.get(f"{EVENTS}add/").status_code == 403


def test_unknown_row_is_answered_as_missing(staff_client, db):
    response = staff_client.get(f"{ENGAGEMENTS}999999/change/")
    assert response.status_code == 302  # Django's admin redirects with "does not exist"
    assert staff_client.get(f"{ENGAGEMENTS}not-a-number/change/").status_code == 302


def test_engagement_delete_page(staff_client, engagement):
    assert staff_client.get(f"{ENGAGEMENTS}{engagement.pk}/delete/").status_code == 200


def test_context_event_changelist_search_filter_and_change_page(staff_client, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, name="Ada Lovelace")
    event = ContextEventFactory(member=member, name="webinar_attended", external_id="lms-991")
    ContextEventFactory(member=member, name="course_completed", kind=ContextEvent.Kind.ACTIVITY)

    found = staff_client.get(EVENTS, {"q": "lms-991"})
    assert found.status_code == 200
    assert "webinar_attended" in found.text and "course_completed" not in found.text

    by_kind = staff_client.get(EVENTS, {"kind__exact": "activity"})
    assert "course_completed" in by_kind.text and "webinar_attended" not in by_kind.text

    change = staff_client.get(f"{EVENTS}{event.pk}/change/")
    assert change.status_code == 200 and "Ada Lovelace" in change.text
