"""Member 360's blank hand-over form, kept per what it shows, writes what a form of its own
would, and a changed seat or owner is a new kind (never a stale one)."""

import pytest

from members.blank_forms import blank_form_showing
from members.member_page import _blank_owner_form
from members.page_html import with_html
from members.widget_html import PLAIN_WIDGETS
from orchestration.forms import OwnerReassignForm
from tenancy.selectors import organization_team
from tests.factories import MemberFactory, SeatFactory

pytestmark = pytest.mark.django_db


def _own(team, member):
    return with_html(
        OwnerReassignForm(
            seats=team, initial={"to_seat": member.owner_id or ""}, renderer=PLAIN_WIDGETS
        )
    )


def test_the_blank_hand_over_form_writes_what_its_own_form_would(tenant_a):
    org = tenant_a.organization
    SeatFactory(organization=org, user__full_name="<b>Ana</b> & co")
    team = list(organization_team(organization=org))
    for owner in (None, tenant_a.msm):
        member = MemberFactory(organization=org, owner=owner)
        blank, own = _blank_owner_form(team, member), _own(team, member)
        assert blank.is_bound is False
        assert str(blank.html.errors) == str(own.html.errors)
        assert str(blank.html.fields) == str(own.html.fields)
        assert 'id="id_to_seat"' in blank.html.fields


def test_a_changed_seat_or_owner_is_a_new_kind(tenant_a):
    org = tenant_a.organization
    member = MemberFactory(organization=org, owner=tenant_a.msm)
    team = list(organization_team(organization=org))
    before = str(_blank_owner_form(team, member).html.fields)
    user = tenant_a.msm.user
    user.full_name = "Renamed Person"
    user.save()
    team = list(organization_team(organization=org))
    renamed = str(_blank_owner_form(team, member).html.fields)
    assert "Renamed Person" in renamed and renamed != before
    assert renamed == str(_own(team, member).html.fields)
    member.owner = None
    assert str(_blank_owner_form(team, member).html.fields) == str(_own(team, member).html.fields)


def test_forms_showing_the_same_rows_share_their_markup(tenant_a):
    team = list(organization_team(organization=tenant_a.organization))
    shown = (tuple(seat.pk for seat in team), None)
    first = blank_form_showing(OwnerReassignForm, shown, seats=team, initial={"to_seat": ""})
    second = blank_form_showing(OwnerReassignForm, shown, seats=team, initial={"to_seat": ""})
    assert first._template is second._template
