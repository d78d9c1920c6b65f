"""The members API: members (owner, status), membership changes and advocacy, through the same
services as the pages — so the domain's rules answer 400 field by field here too."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.models import Advocacy, Member, MembershipEvent, OwnershipChange
from tenancy.selectors import organization_today
from tests.factories import AdvocacyFactory, MemberFactory, MembershipEventFactory

pytestmark = pytest.mark.django_db

MEMBERS = reverse("api:members-list")
EVENTS = reverse("api:membership-events-list")
ADVOCACY = reverse("api:advocacy-list")


def member_url(member: Member) -> str:
    return reverse("api:members-detail", kwargs={"member_id": member.pk})


def event_url(event: MembershipEvent) -> str:
    return reverse("api:membership-events-detail", kwargs={"membership_event_id": event.pk})


def advocacy_url(advocacy: Advocacy) -> str:
    return reverse("api:advocacy-detail", kwargs={"advocacy_id": advocacy.pk})


def today(tenant) -> dt.date:
    """The organization's today: the date rules about the future are judged on its clock."""
    return organization_today(organization=tenant.organization)


def rows(organization, model) -> int:
    return model.objects.for_org(organization).count()


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def assert_invalid(response, *fields: str) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert set(fields) <= set(body["errors"]), body["errors"]
    return body["errors"]


def list_queries(client, url: str) -> int:
    client.get(url)  # the key's first use writes last_used_at once: count only the list
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# ---------------------------------------------------------------------------------------------
# Members: reading


def test_retrieve_shows_owner_status_gap_band_and_coverage(api, tenant_a):
    from tests.factories import CoverageModelFactory

    coverage = CoverageModelFactory(organization=tenant_a.organization)
    computed = timezone.now()
    member = MemberFactory(
        organization=tenant_a.organization,
        owner=tenant_a.msm,
        status=Member.Status.GRACE,
        coverage_model=coverage,
        success_gap=0.42,
        success_band="at_risk",
        success_computed_at=computed,
    )
    response = api(tenant_a, scopes=["read"]).get(member_url(member))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == member.pk
    assert body["owner"] == {
        "id": tenant_a.msm.pk,
        "email": tenant_a.msm.user.email,
        "name": tenant_a.msm.user.full_name,
    }
    assert body["status"] == "grace"
    assert body["success_gap"] == pytest.approx(0.42)
    assert body["success_band"] == "at_risk"
    assert body["success_computed_at"] is not None
    assert body["coverage_model_id"] == coverage.pk


def test_a_member_without_owner_reads_null(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    body = api(tenant_a).get(member_url(member)).json()
    assert body["owner"] is None
    assert body["success_gap"] is None


def test_another_organizations_member_is_404(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_b.organization, name="Beta Secret")
    response = api(tenant_a).get(member_url(member))
    assert response.status_code == 404
    assert "Beta Secret" not in response.content.decode()


def test_the_list_holds_only_the_keys_organization(api, tenant_a, tenant_b):
    MemberFactory(organization=tenant_a.organization, name="Ada")
    MemberFactory(organization=tenant_b.organization, name="Beta Secret")
    assert names(api(tenant_a).get(MEMBERS)) == ["Ada"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=lapsed", ["Bea"]),
        ("band=at_risk", ["Cy"]),
        ("external_id=CRM-2", ["Bea"]),
        ("q=ada", ["Ada"]),
        ("q=bea@", ["Bea"]),
        ("q=crm-3", ["Cy"]),
    ],
)
def test_member_filters_and_search(api, tenant_a, query, expected):
    organization = tenant_a.organization
    MemberFactory(organization=organization, name="Ada", email="ada@x.test", external_id="CRM-1")
    MemberFactory(
        organization=organization,
        name="Bea",
        email="bea@x.test",
        external_id="CRM-2",
        status=Member.Status.LAPSED,
    )
    MemberFactory(
        organization=organization,
        name="Cy",
        email="cy@x.test",
        external_id="CRM-3",
        success_band="at_risk",
        success_gap=0.5,
    )
    assert names(api(tenant_a).get(f"{MEMBERS}?{query}")) == expected


def test_member_filter_by_owner(api, tenant_a):
    MemberFactory(organization=tenant_a.organization, name="Ada", owner=tenant_a.msm)
    MemberFactory(organization=tenant_a.organization, name="Bea", owner=tenant_a.admin)
    MemberFactory(organization=tenant_a.organization, name="Cy")
    assert names(api(tenant_a).get(f"{MEMBERS}?owner={tenant_a.msm.pk}")) == ["Ada"]


def test_member_updated_since(api, tenant_a):
    old = MemberFactory(organization=tenant_a.organization, name="Old")
    new = MemberFactory(organization=tenant_a.organization, name="New")
    cutoff = timezone.now()
    Member.objects.for_org(tenant_a.organization).filter(pk=old.pk).update(
        updated_at=cutoff - dt.timedelta(days=2)
    )
    Member.objects.for_org(tenant_a.organization).filter(pk=new.pk).update(
        updated_at=cutoff + dt.timedelta(seconds=1)
    )
    response = api(tenant_a).get(MEMBERS, {"updated_since": cutoff.isoformat()})
    assert names(response) == ["New"]


def test_member_ordering(api, tenant_a):
    organization = tenant_a.organization
    MemberFactory(organization=organization, name="Ada", success_gap=0.2)
    MemberFactory(organization=organization, name="Bea", success_gap=0.7)
    MemberFactory(organization=organization, name="Cy", success_gap=0.4)
    client = api(tenant_a)
    assert names(client.get(MEMBERS)) == ["Ada", "Bea", "Cy"]
    assert names(client.get(f"{MEMBERS}?ordering=-name")) == ["Cy", "Bea", "Ada"]
    assert names(client.get(f"{MEMBERS}?ordering=-success_gap")) == ["Bea", "Cy", "Ada"]
    assert names(client.get(f"{MEMBERS}?ordering=success_gap")) == ["Ada", "Cy", "Bea"]


@pytest.mark.parametrize(
    "query",
    [
        "status=sleeping",
        "band=great",
        "owner=abc",
        "owner=1.5",
        "owner=99999999999999999999999",
        "updated_since=yesterday",
        f"q={'x' * 201}",
    ],
)
def test_bad_member_filters_answer_400(api, tenant_a, query):
    response = api(tenant_a).get(f"{MEMBERS}?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_member_list_queries_do_not_grow_with_rows(api, tenant_a):
    client = api(tenant_a)
    for _ in range(3):
        MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    few = list_queries(client, MEMBERS)
    for seat in [tenant_a.admin, tenant_a.msm] * 15:
        MemberFactory(organization=tenant_a.organization, owner=seat)
    assert list_queries(client, MEMBERS) == few


# ---------------------------------------------------------------------------------------------
# Members: creating


def test_create_a_member_with_an_owner_starts_the_ownership_history(api, tenant_a):
    response = api(tenant_a).post(
        MEMBERS,
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "external_id": "CRM-42",
            "status": "active",
            "joined_on": "2024-01-15",
            "attributes": {"chapter": "London"},
            "owner": tenant_a.msm.pk,
            "owner_note": "Met at the conference.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"]["id"] == tenant_a.msm.pk
    member = Member.objects.for_org(tenant_a.organization).get(pk=body["id"])
    assert member.name == "Ada Lovelace"
    assert member.external_id == "CRM-42"
    assert member.status == Member.Status.ACTIVE
    assert member.joined_on == dt.date(2024, 1, 15)
    assert member.attributes == {"chapter": "London"}
    assert member.owner_id == tenant_a.msm.pk
    change = OwnershipChange.objects.for_org(tenant_a.organization).get(member=member)
    assert change.to_seat_id == tenant_a.msm.pk
    assert change.from_seat_id is None
    assert change.note == "Met at the conference."


def test_create_without_a_name_or_with_bad_values_answers_field_by_field(api, tenant_a):
    response = api(tenant_a).post(
        MEMBERS,
        {"status": "sleeping", "kind": "robot", "email": "not-an-email", "joined_on": "someday"},
        format="json",
    )
    errors = assert_invalid(response, "name", "status", "kind", "email", "joined_on")
    assert errors["name"]
    assert rows(tenant_a.organization, Member) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 201}, "name"),
        ({"name": "Ada", "external_id": "x" * 101}, "external_id"),
        ({"name": "Ada", "attributes": ["not", "an", "object"]}, "attributes"),
        ({"name": "Ada", "attributes": {"a": "nul\u0000"}}, "attributes"),
        ({"name": "Nul\u0000"}, "name"),
        ({"name": "Ada", "joined_on": "99999-01-01"}, "joined_on"),
        ({"name": "Ada", "owner": "me"}, "owner"),
        ({"name": "Ada", "owner": 2**70}, "owner"),
    ],
)
def test_create_refuses_out_of_bounds_values(api, tenant_a, body, field):
    assert_invalid(api(tenant_a).post(MEMBERS, body, format="json"), field)
    assert rows(tenant_a.organization, Member) == 0


def test_an_external_id_taken_in_the_organization_is_refused(api, tenant_a, tenant_b):
    MemberFactory(organization=tenant_a.organization, external_id="CRM-1")
    client = api(tenant_a)
    response = client.post(MEMBERS, {"name": "Twin", "external_id": "CRM-1"}, format="json")
    assert_invalid(response, "external_id")
    assert rows(tenant_a.organization, Member) == 1
    # Another organization's external ids are theirs: the same one is free here.
    MemberFactory(organization=tenant_b.organization, external_id="CRM-9")
    response = client.post(MEMBERS, {"name": "Free", "external_id": "CRM-9"}, format="json")
    assert response.status_code == 201


def test_an_owner_from_another_organization_is_refused(api, tenant_a, tenant_b):
    response = api(tenant_a).post(MEMBERS, {"name": "Ada", "owner": tenant_b.msm.pk}, format="json")
    errors = assert_invalid(response, "owner")
    assert "does not exist" in errors["owner"][0]
    assert tenant_b.msm.user.email not in response.content.decode()
    assert rows(tenant_a.organization, Member) == 0
    assert Member.objects.for_org(tenant_b.organization).count() == 0


def test_a_viewer_cannot_own_an_account(api, tenant_a):
    response = api(tenant_a).post(
        MEMBERS, {"name": "Ada", "owner": tenant_a.viewer.pk}, format="json"
    )
    errors = assert_invalid(response, "owner")
    assert "cannot own accounts" in errors["owner"][0]
    assert rows(tenant_a.organization, Member) == 0


def test_a_read_only_key_cannot_create_a_member(api, tenant_a):
    response = api(tenant_a, scopes=["read"]).post(MEMBERS, {"name": "Ada"}, format="json")
    assert response.status_code == 403
    assert rows(tenant_a.organization, Member) == 0


def test_creating_twice_with_one_idempotency_key_creates_one_member(api, tenant_a):
    client = api(tenant_a)
    first = client.post(MEMBERS, {"name": "Ada"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(MEMBERS, {"name": "Ada"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert rows(tenant_a.organization, Member) == 1


# ---------------------------------------------------------------------------------------------
# Members: updating


def test_patch_changes_only_the_fields_sent(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, name="Ada", region="North")
    response = api(tenant_a).patch(
        member_url(member), {"tier": "Fellow", "status": "grace"}, format="json"
    )
    assert response.status_code == 200, response.content
    member.refresh_from_db()
    assert (member.tier, member.status, member.name, member.region) == (
        "Fellow",
        "grace",
        "Ada",
        "North",
    )
    assert response.json()["tier"] == "Fellow"


def test_changing_the_owner_is_a_kept_hand_off(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).patch(
        member_url(member),
        {"owner": tenant_a.admin.pk, "owner_note": "Renewal in April."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["owner"]["id"] == tenant_a.admin.pk
    member.refresh_from_db()
    assert member.owner_id == tenant_a.admin.pk
    change = OwnershipChange.objects.for_org(tenant_a.organization).get(member=member)
    assert (change.from_seat_id, change.to_seat_id) == (tenant_a.msm.pk, tenant_a.admin.pk)
    assert change.note == "Renewal in April."
    assert change.changed_by_id is None  # an API key is nobody's seat


def test_sending_the_current_owner_again_changes_nothing(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).patch(member_url(member), {"owner": tenant_a.msm.pk}, format="json")
    assert response.status_code == 200
    assert not OwnershipChange.objects.for_org(tenant_a.organization).exists()


def test_removing_the_owner_is_a_hand_off_to_nobody(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).patch(member_url(member), {"owner": None}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] is None
    member.refresh_from_db()
    assert member.owner_id is None
    change = OwnershipChange.objects.for_org(tenant_a.organization).get(member=member)
    assert change.to_seat_id is None


def test_put_replaces_and_needs_the_name(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, name="Ada")
    client = api(tenant_a)
    assert_invalid(client.put(member_url(member), {"tier": "Fellow"}, format="json"), "name")
    response = client.put(member_url(member), {"name": "Ada L.", "tier": "Fellow"}, format="json")
    assert response.status_code == 200
    member.refresh_from_db()
    assert (member.name, member.tier) == ("Ada L.", "Fellow")


def test_update_to_another_organizations_owner_is_refused(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    response = api(tenant_a).patch(member_url(member), {"owner": tenant_b.msm.pk}, format="json")
    assert_invalid(response, "owner")
    member.refresh_from_db()
    assert member.owner_id == tenant_a.msm.pk
    assert not OwnershipChange.objects.for_org(tenant_a.organization).exists()


def test_update_to_a_viewer_owner_or_bad_status_is_refused(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, owner=tenant_a.msm)
    client = api(tenant_a)
    assert_invalid(
        client.patch(member_url(member), {"owner": tenant_a.viewer.pk}, format="json"), "owner"
    )
    assert_invalid(client.patch(member_url(member), {"status": "gone"}, format="json"), "status")
    member.refresh_from_db()
    assert (member.owner_id, member.status) == (tenant_a.msm.pk, Member.Status.ACTIVE)


def test_update_to_an_external_id_already_taken_is_refused(api, tenant_a):
    MemberFactory(organization=tenant_a.organization, external_id="CRM-1")
    member = MemberFactory(organization=tenant_a.organization, external_id="CRM-2")
    response = api(tenant_a).patch(member_url(member), {"external_id": "CRM-1"}, format="json")
    assert_invalid(response, "external_id")
    member.refresh_from_db()
    assert member.external_id == "CRM-2"


def test_a_read_only_key_cannot_update_a_member(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, name="Ada")
    client = api(tenant_a, scopes=["read"])
    assert client.patch(member_url(member), {"name": "Eve"}, format="json").status_code == 403
    assert client.put(member_url(member), {"name": "Eve"}, format="json").status_code == 403
    member.refresh_from_db()
    assert member.name == "Ada"


def test_another_organizations_member_cannot_be_updated(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_b.organization, name="Beta Secret")
    response = api(tenant_a).patch(member_url(member), {"name": "Mine"}, format="json")
    assert response.status_code == 404
    member.refresh_from_db()
    assert member.name == "Beta Secret"


def test_members_are_never_deleted(api, tenant_a):
    """A membership ends by a lapse or a cancellation; the account and its history stay."""
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).delete(member_url(member))
    assert response.status_code == 405
    assert "DELETE" not in response["Allow"]
    assert Member.objects.for_org(tenant_a.organization).filter(pk=member.pk).exists()


# ---------------------------------------------------------------------------------------------
# Membership events


def test_record_a_renewal_moves_the_member(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization, renewal_on=today(tenant_a))
    next_renewal = today(tenant_a) + dt.timedelta(days=365)
    response = api(tenant_a).post(
        EVENTS,
        {
            "member": member.pk,
            "kind": "renew",
            "occurred_on": today(tenant_a).isoformat(),
            "amount": "250.00",
            "renewal_on": next_renewal.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["member"] == member.pk
    assert body["amount"] == "250.00"
    assert body["renewal_on"] == next_renewal.isoformat()
    event = MembershipEvent.objects.for_org(tenant_a.organization).get(pk=body["id"])
    assert (event.kind, event.amount) == ("renew", Decimal("250.00"))
    member.refresh_from_db()
    assert member.renewal_on == next_renewal


def test_a_cancellation_ends_the_membership(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(
        EVENTS,
        {"member": member.pk, "kind": "cancel", "occurred_on": today(tenant_a).isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    member.refresh_from_db()
    assert member.status == Member.Status.CANCELLED


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "renew"}, {"renewal_on"}),  # a renewal needs the next renewal date
        ({"kind": "upgrade"}, {"tier"}),  # an upgrade needs a new tier
        ({"kind": "reinstate", "renewal_on": "+400"}, {"kind"}),  # active: nothing to reinstate
        ({"kind": "lapse", "tier": "Gold"}, {"tier"}),
        ({"kind": "join", "renewal_on": "+0"}, {"renewal_on"}),  # renewal not after the change
        ({"kind": "renew", "renewal_on": "+400", "occurred_on": "+3"}, {"occurred_on"}),
        ({"kind": "upgrade", "tier": "Gold", "amount": "-5"}, {"amount"}),
        ({"kind": "upgrade", "tier": "Gold", "amount": "1e20"}, {"amount"}),
        ({"kind": "explode"}, {"kind"}),
        ({"kind": "upgrade", "tier": "x" * 61}, {"tier"}),
        ({"kind": "join", "occurred_on": "2024-02-30"}, {"occurred_on"}),
    ],
)
def test_membership_rules_answer_400_field_by_field(api, tenant_a, body, fields):
    member = MemberFactory(organization=tenant_a.organization, tier="Silver")
    before = (member.status, member.tier, member.renewal_on)
    data = {"member": member.pk, "occurred_on": today(tenant_a).isoformat(), **body}
    for name in ("renewal_on", "occurred_on"):
        if isinstance(data.get(name), str) and data[name].startswith("+"):
            data[name] = (today(tenant_a) + dt.timedelta(days=int(data[name][1:]))).isoformat()
    assert_invalid(api(tenant_a).post(EVENTS, data, format="json"), *fields)
    assert rows(tenant_a.organization, MembershipEvent) == 0
    member.refresh_from_db()
    assert (member.status, member.tier, member.renewal_on) == before


def test_a_membership_event_for_another_organizations_member_is_refused(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_b.organization)
    response = api(tenant_a).post(
        EVENTS,
        {"member": member.pk, "kind": "cancel", "occurred_on": today(tenant_a).isoformat()},
        format="json",
    )
    assert_invalid(response, "member")
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert not MembershipEvent.objects.for_org(tenant_b.organization).exists()


def test_a_read_only_key_cannot_record_a_membership_event(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a, scopes=["read"]).post(
        EVENTS,
        {"member": member.pk, "kind": "cancel", "occurred_on": today(tenant_a).isoformat()},
        format="json",
    )
    assert response.status_code == 403
    assert rows(tenant_a.organization, MembershipEvent) == 0


def test_membership_events_are_append_only(api, tenant_a):
    event = MembershipEventFactory(member__organization=tenant_a.organization, note="kept")
    client = api(tenant_a)
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(event_url(event), {"note": "edited"}, format="json")
        assert response.status_code == 405, method
    event.refresh_from_db()
    assert event.note == "kept"


def test_retrieve_a_membership_event(api, tenant_a, tenant_b):
    event = MembershipEventFactory(member__organization=tenant_a.organization, tier="Gold")
    body = api(tenant_a, scopes=["read"]).get(event_url(event)).json()
    assert (body["id"], body["member"], body["kind"], body["tier"]) == (
        event.pk,
        event.member_id,
        "renew",
        "Gold",
    )
    theirs = MembershipEventFactory(member__organization=tenant_b.organization)
    assert api(tenant_a).get(event_url(theirs)).status_code == 404


def test_membership_event_filters(api, tenant_a, tenant_b):
    ada = MemberFactory(organization=tenant_a.organization)
    bea = MemberFactory(organization=tenant_a.organization)
    renewal = MembershipEventFactory(member=ada, kind="renew")
    upgrade = MembershipEventFactory(member=ada, kind="upgrade")
    other = MembershipEventFactory(member=bea, kind="renew")
    MembershipEventFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    def ids(query: str = "") -> set[int]:
        response = client.get(f"{EVENTS}?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {renewal.pk, upgrade.pk, other.pk}
    assert ids(f"member={ada.pk}") == {renewal.pk, upgrade.pk}
    assert ids("kind=renew") == {renewal.pk, other.pk}
    assert ids(f"member={ada.pk}&kind=upgrade") == {upgrade.pk}
    cutoff = timezone.now()
    events = MembershipEvent.objects.for_org(tenant_a.organization)
    events.exclude(pk=other.pk).update(recorded_at=cutoff - dt.timedelta(days=1))
    events.filter(pk=other.pk).update(recorded_at=cutoff + dt.timedelta(seconds=1))
    assert ids(f"updated_since={cutoff.isoformat().replace('+', '%2B')}") == {other.pk}
    assert client.get(f"{EVENTS}?kind=explode").status_code == 400


def test_membership_events_page_by_cursor_newest_first(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    events = [MembershipEventFactory(member=member) for _ in range(5)]
    client = api(tenant_a)
    first = client.get(f"{EVENTS}?page_size=3").json()
    assert [row["id"] for row in first["results"]] == [e.pk for e in events[::-1][:3]]
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [e.pk for e in events[::-1][3:]]
    assert second["next"] is None
    ascending = client.get(f"{EVENTS}?ordering=pk").json()
    assert [row["id"] for row in ascending["results"]] == [e.pk for e in events]


def test_membership_event_list_queries_do_not_grow_with_rows(api, tenant_a):
    client = api(tenant_a)
    for _ in range(3):
        MembershipEventFactory(member__organization=tenant_a.organization)
    few = list_queries(client, EVENTS)
    for _ in range(27):
        MembershipEventFactory(member__organization=tenant_a.organization)
    assert list_queries(client, EVENTS) == few


# ---------------------------------------------------------------------------------------------
# Advocacy


def test_record_an_nps_answer(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(
        ADVOCACY,
        {
            "member": member.pk,
            "kind": "nps",
            "occurred_on": today(tenant_a).isoformat(),
            "score": 9,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    advocacy = Advocacy.objects.for_org(tenant_a.organization).get(pk=response.json()["id"])
    assert (advocacy.member_id, advocacy.kind, advocacy.score) == (member.pk, "nps", 9)


def test_record_a_referral_naming_the_referred_member(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    referred = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a).post(
        ADVOCACY,
        {
            "member": member.pk,
            "kind": "referral",
            "occurred_on": today(tenant_a).isoformat(),
            "referred_member": referred.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["referred_member"] == referred.pk
    advocacy = Advocacy.objects.for_org(tenant_a.organization).get(pk=response.json()["id"])
    assert advocacy.referred_member_id == referred.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nps"}, "score"),  # an NPS answer needs its score
        ({"kind": "nps", "score": 11}, "score"),
        ({"kind": "nps", "score": -1}, "score"),
        ({"kind": "review", "score": 5}, "score"),  # only NPS carries a score
        ({"kind": "testimonial", "referred_member": "self"}, "referred_member"),
        ({"kind": "referral", "referred_member": "self"}, "referred_member"),
        ({"kind": "review", "occurred_on": "+1"}, "occurred_on"),
        ({"kind": "applause"}, "kind"),
        ({"kind": "review", "member": None}, "member"),
        ({"kind": "review", "member": 2**70}, "member"),
    ],
)
def test_advocacy_rules_answer_400_field_by_field(api, tenant_a, body, field):
    member = MemberFactory(organization=tenant_a.organization)
    data = {"member": member.pk, "occurred_on": today(tenant_a).isoformat(), **body}
    if data.get("referred_member") == "self":
        data["referred_member"] = member.pk
    if data["occurred_on"].startswith("+"):
        data["occurred_on"] = (today(tenant_a) + dt.timedelta(days=1)).isoformat()
    assert_invalid(api(tenant_a).post(ADVOCACY, data, format="json"), field)
    assert rows(tenant_a.organization, Advocacy) == 0


def test_advocacy_referring_another_organizations_member_is_refused(api, tenant_a, tenant_b):
    member = MemberFactory(organization=tenant_a.organization)
    theirs = MemberFactory(organization=tenant_b.organization)
    client = api(tenant_a)
    for body in (
        {"member": member.pk, "referred_member": theirs.pk},
        {"member": theirs.pk, "referred_member": member.pk},
    ):
        response = client.post(
            ADVOCACY,
            {**body, "kind": "referral", "occurred_on": today(tenant_a).isoformat()},
            format="json",
        )
        assert response.status_code == 400
    assert rows(tenant_a.organization, Advocacy) == 0
    assert rows(tenant_b.organization, Advocacy) == 0


def test_a_read_only_key_cannot_record_advocacy(api, tenant_a):
    member = MemberFactory(organization=tenant_a.organization)
    response = api(tenant_a, scopes=["read"]).post(
        ADVOCACY,
        {"member": member.pk, "kind": "review", "occurred_on": today(tenant_a).isoformat()},
        format="json",
    )
    assert response.status_code == 403
    assert rows(tenant_a.organization, Advocacy) == 0


def test_advocacy_is_append_only(api, tenant_a):
    advocacy = AdvocacyFactory(member__organization=tenant_a.organization, score=9)
    client = api(tenant_a)
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(advocacy_url(advocacy), {"score": 1}, format="json")
        assert response.status_code == 405, method
    advocacy.refresh_from_db()
    assert advocacy.score == 9


def test_retrieve_and_filter_advocacy(api, tenant_a, tenant_b):
    ada = MemberFactory(organization=tenant_a.organization)
    bea = MemberFactory(organization=tenant_a.organization)
    nps = AdvocacyFactory(member=ada, kind="nps", score=10)
    review = AdvocacyFactory(member=ada, kind="review", score=None)
    other = AdvocacyFactory(member=bea, kind="nps", score=3)
    theirs = AdvocacyFactory(member__organization=tenant_b.organization)
    client = api(tenant_a)

    def ids(query: str = "") -> set[int]:
        response = client.get(f"{ADVOCACY}?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert client.get(advocacy_url(nps)).json()["score"] == 10
    assert client.get(advocacy_url(theirs)).status_code == 404
    assert ids() == {nps.pk, review.pk, other.pk}
    assert ids(f"member={ada.pk}") == {nps.pk, review.pk}
    assert ids("kind=nps") == {nps.pk, other.pk}
    cutoff = timezone.now()
    answers = Advocacy.objects.for_org(tenant_a.organization)
    answers.exclude(pk=review.pk).update(recorded_at=cutoff - dt.timedelta(days=1))
    answers.filter(pk=review.pk).update(recorded_at=cutoff + dt.timedelta(seconds=1))
    assert ids(f"updated_since={cutoff.isoformat().replace('+', '%2B')}") == {review.pk}
    ascending = client.get(f"{ADVOCACY}?ordering=pk").json()["results"]
    assert [row["id"] for row in ascending] == [nps.pk, review.pk, other.pk]


def test_advocacy_list_queries_do_not_grow_with_rows(api, tenant_a):
    client = api(tenant_a)
    for _ in range(3):
        AdvocacyFactory(member__organization=tenant_a.organization)
    few = list_queries(client, ADVOCACY)
    for _ in range(27):
        AdvocacyFactory(member__organization=tenant_a.organization)
    assert list_queries(client, ADVOCACY) == few


@pytest.mark.parametrize("url", [MEMBERS, EVENTS, ADVOCACY])
@pytest.mark.parametrize("lookup", ["abc", "%C2%84", "0", "0.5", "-1", str(2**70)])
def test_odd_ids_answer_404_in_the_api_shape(api, tenant_a, url, lookup):
    response = api(tenant_a).get(f"{url}{lookup}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
