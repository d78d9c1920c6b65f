"""Coverage criteria: every field and operator matches the members it should, and bad criteria
are refused with a message naming the rule and what is wrong."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from engagement.choices import EngagementType
from members.models import Member
from orchestration.coverage import coverage_criteria_q, coverage_criteria_validate
from tenancy.selectors import organization_today
from tests.factories import AppropriateExperienceFactory, MemberFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def matching(organization, criteria, today=TODAY) -> set[str]:
    q = coverage_criteria_q(organization=organization, criteria=criteria, today=today)
    return set(Member.objects.for_org(organization).filter(q).values_list("name", flat=True))


def rule(field, op, value) -> dict:
    return {"field": field, "op": op, "value": value}


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def people(org):
    """Five members differing in every field a rule reads."""
    specs = {
        "ann": {
            "tier": "Gold",
            "region": "North",
            "status": "active",
            "kind": "person",
            "attributes": {"chapter": "Paris", "seats": 5, "vip": True},
            "success_band": "at_risk",
        },
        "bob": {
            "tier": "Silver",
            "region": "South",
            "status": "grace",
            "kind": "organization",
            "attributes": {"chapter": "Lyon", "seats": "5", "vip": False},
            "success_band": "watch",
        },
        "cat": {
            "tier": "Gold",
            "region": "South",
            "status": "lapsed",
            "kind": "person",
            "attributes": {"chapter": None},
            "success_band": "on_track",
        },
        "dan": {
            "tier": "Bronze",
            "region": "East",
            "status": "prospect",
            "kind": "person",
            "attributes": {},
            "success_band": "no_outcome",
        },
        "eve": {
            "tier": "",
            "region": "",
            "status": "active",
            "kind": "organization",
            "attributes": {"Chapter": "Paris"},
            "success_band": "",
        },
    }
    return {
        name: MemberFactory(organization=org, name=name, **fields) for name, fields in specs.items()
    }


EVERYONE = {"ann", "bob", "cat", "dan", "eve"}


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([], EVERYONE),
        ([rule("tier", "eq", "Gold")], {"ann", "cat"}),
        ([rule("tier", "eq", "gold")], set()),  # exact, case kept
        ([rule("tier", "ne", "Gold")], {"bob", "dan", "eve"}),
        ([rule("tier", "in", ["Silver", "Bronze"])], {"bob", "dan"}),
        ([rule("tier", "not_in", ["Silver", "Bronze"])], {"ann", "cat", "eve"}),
        ([rule("tier", "eq", "")], {"eve"}),
        ([rule("region", "eq", "South")], {"bob", "cat"}),
        ([rule("region", "ne", "South")], {"ann", "dan", "eve"}),
        ([rule("region", "in", ["North", "East"])], {"ann", "dan"}),
        ([rule("region", "not_in", ["North", "East"])], {"bob", "cat", "eve"}),
        ([rule("status", "eq", "active")], {"ann", "eve"}),
        ([rule("status", "ne", "active")], {"bob", "cat", "dan"}),
        ([rule("status", "in", ["grace", "lapsed"])], {"bob", "cat"}),
        ([rule("status", "not_in", ["grace", "lapsed"])], {"ann", "dan", "eve"}),
        ([rule("kind", "eq", "organization")], {"bob", "eve"}),
        ([rule("kind", "ne", "organization")], {"ann", "cat", "dan"}),
        ([rule("kind", "in", ["person"])], {"ann", "cat", "dan"}),
        ([rule("kind", "not_in", ["person"])], {"bob", "eve"}),
        ([rule("band", "eq", "at_risk")], {"ann"}),
        ([rule("band", "eq", "")], {"eve"}),  # not scored yet
        ([rule("band", "ne", "at_risk")], {"bob", "cat", "dan", "eve"}),
        ([rule("band", "in", ["watch", "at_risk"])], {"ann", "bob"}),
        ([rule("band", "not_in", ["watch", "at_risk", ""])], {"cat", "dan"}),
        ([rule("attributes.chapter", "eq", "Paris")], {"ann"}),  # keys are case-sensitive
        ([rule("attributes.chapter", "in", ["Paris", "Lyon"])], {"ann", "bob"}),
        # ne / not_in also match members without the key, or with null under it.
        ([rule("attributes.chapter", "ne", "Paris")], {"bob", "cat", "dan", "eve"}),
        ([rule("attributes.chapter", "not_in", ["Paris", "Lyon"])], {"cat", "dan", "eve"}),
        ([rule("attributes.seats", "eq", 5)], {"ann"}),  # JSON types: 5 is not "5"
        ([rule("attributes.seats", "eq", "5")], {"bob"}),
        ([rule("attributes.seats", "in", [5, "5"])], {"ann", "bob"}),
        ([rule("attributes.vip", "eq", True)], {"ann"}),
        ([rule("attributes.vip", "eq", False)], {"bob"}),
        ([rule("attributes.vip", "ne", True)], {"bob", "cat", "dan", "eve"}),
        ([rule("attributes.chapter", "exists", True)], {"ann", "bob", "cat"}),
        ([rule("attributes.chapter", "exists", False)], {"dan", "eve"}),
        ([{"field": "attributes.vip", "op": "exists"}], {"ann", "bob"}),
        # Every rule must hold.
        ([rule("tier", "eq", "Gold"), rule("region", "eq", "South")], {"cat"}),
        (
            [rule("status", "in", ["active", "grace"]), rule("attributes.vip", "exists", True)],
            {"ann", "bob"},
        ),
    ],
)
def test_text_choice_band_and_attribute_rules_match(org, people, criteria, expected):
    assert matching(org, criteria) == expected


@pytest.fixture
def dated(org):
    """Members who joined 10, 30, 31 and 60 days ago (and one with no date), and whose renewal
    is 5 days past, today, in 30, 31 and 90 days (and one with none)."""
    members = {}
    for name, joined, renewal in [
        ("j10", -10, -5),
        ("j30", -30, 0),
        ("j31", -31, 30),
        ("j60", -60, 31),
        ("nodates", None, None),
        ("r90", None, 90),
    ]:
        members[name] = MemberFactory(
            organization=org,
            name=name,
            joined_on=None if joined is None else days(joined),
            renewal_on=None if renewal is None else days(renewal),
        )
    return members


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([rule("days_since_joining", "gte", 30)], {"j30", "j31", "j60"}),
        ([rule("days_since_joining", "gt", 30)], {"j31", "j60"}),
        ([rule("days_since_joining", "lt", 30)], {"j10"}),
        ([rule("days_since_joining", "lte", 30)], {"j10", "j30"}),
        ([rule("days_since_joining", "eq", 31)], {"j31"}),
        ([rule("days_since_joining", "between", [30, 59])], {"j30", "j31"}),
        ([rule("days_since_joining", "between", [10, 10])], {"j10"}),
        ([rule("days_to_renewal", "lt", 0)], {"j10"}),
        ([rule("days_to_renewal", "lte", 30)], {"j10", "j30", "j31"}),
        ([rule("days_to_renewal", "gt", 30)], {"j60", "r90"}),
        ([rule("days_to_renewal", "gte", 31)], {"j60", "r90"}),
        ([rule("days_to_renewal", "eq", 0)], {"j30"}),
        ([rule("days_to_renewal", "between", [0, 30])], {"j30", "j31"}),
        ([rule("days_to_renewal", "between", [-10, -1])], {"j10"}),
    ],
)
def test_day_rules_count_from_today_and_skip_members_without_the_date(
    org, dated, criteria, expected
):
    assert matching(org, criteria) == expected


def test_day_rules_compare_dates_on_the_indexed_columns(org):
    q = coverage_criteria_q(
        organization=org, criteria=[rule("days_to_renewal", "lte", 30)], today=TODAY
    )
    assert q.children == [("renewal_on__lte", days(30))]
    q = coverage_criteria_q(
        organization=org, criteria=[rule("days_since_joining", "gte", 30)], today=TODAY
    )
    assert q.children == [("joined_on__lte", days(-30))]


def test_today_defaults_to_the_organizations_own_calendar_day(org, dated):
    org_today = organization_today(org)
    criteria = [rule("days_to_renewal", "between", [0, 0])]
    MemberFactory(organization=org, name="renews-today", renewal_on=org_today)
    assert "renews-today" in matching(org, criteria, today=None)
    assert matching(org, criteria, today=None) == matching(org, criteria, today=org_today)


def test_requires_experience_reads_active_required_elements_of_the_type(org, tenant_b):
    has = MemberFactory(organization=org, name="has")
    AppropriateExperienceFactory(member=has, engagement_type=EngagementType.MEETING_1_1)
    optional = MemberFactory(organization=org, name="optional")
    AppropriateExperienceFactory(
        member=optional, engagement_type=EngagementType.MEETING_1_1, required=False
    )
    retired = MemberFactory(organization=org, name="retired")
    AppropriateExperienceFactory(
        member=retired, engagement_type=EngagementType.MEETING_1_1, is_active=False
    )
    other_type = MemberFactory(organization=org, name="other-type")
    AppropriateExperienceFactory(member=other_type, engagement_type=EngagementType.CHAT)
    MemberFactory(organization=org, name="none")
    AppropriateExperienceFactory(
        member__organization=tenant_b.organization, engagement_type=EngagementType.MEETING_1_1
    )

    assert matching(org, [rule("requires_experience", "has", "meeting_1_1")]) == {"has"}
    assert matching(org, [rule("requires_experience", "lacks", "meeting_1_1")]) == {
        "optional",
        "retired",
        "other-type",
        "none",
    }
    assert matching(org, [rule("requires_experience", "has", "chat")]) == {"other-type"}


# --- validation -------------------------------------------------------------------------------


def refused(criteria) -> str:
    with pytest.raises(ValidationError) as caught:
        coverage_criteria_validate(criteria)
    messages = caught.value.message_dict
    assert list(messages) == ["criteria"]
    return messages["criteria"][0]


def test_criteria_must_be_a_list():
    assert refused("tier == Gold").startswith("Criteria must be a list of rules")
    assert "got text" in refused("tier == Gold")
    assert "got an object" in refused({"field": "tier", "op": "eq", "value": "Gold"})
    assert "got null" in refused(None)


def test_an_unknown_field_is_named_with_its_rule_number_and_the_known_fields():
    message = refused([rule("tier", "eq", "Gold"), rule("colour", "eq", "red")])
    assert message.startswith("Rule 2: unknown field 'colour'. Known fields: tier, region,")
    assert "attributes.<key>" in message and "requires_experience" in message


def test_an_unknown_operator_is_named_with_the_ones_that_work():
    message = refused([rule("tier", "like", "Gold")])
    assert message == (
        "Rule 1: unknown operator 'like' for field 'tier'. Use one of: eq, ne, in, not_in."
    )
    assert "Use one of: lt, lte, gt, gte, eq, between" in refused(
        [rule("days_to_renewal", "in", [1])]
    )
    assert "Use one of: has, lacks" in refused([rule("requires_experience", "eq", "chat")])
    assert "exists" in refused([rule("attributes.x", "gt", 1)])
    assert refused([rule("band", "exists", True)]).endswith("Use one of: eq, ne, in, not_in.")


@pytest.mark.parametrize(
    ("bad_rule", "expected"),
    [
        (rule("tier", "eq", 5), "Rule 1: 'tier eq' needs a text value, got a number."),
        (rule("tier", "in", "Gold"), "Rule 1: 'tier in' needs a non-empty list of text values"),
        (rule("tier", "in", []), "needs a non-empty list"),
        (rule("tier", "in", ["Gold", 3]), "needs text values only, got a number"),
        (rule("status", "eq", "archived"), "'archived' is not a status. Use one of: prospect"),
        (rule("kind", "in", ["robot"]), "'robot' is not a kind"),
        (rule("band", "eq", "red"), "'red' is not a success-gap band"),
        (rule("days_to_renewal", "lt", "30"), "needs a whole number of days, got text"),
        (rule("days_to_renewal", "lt", 30.5), "needs a whole number of days, got a number"),
        (rule("days_to_renewal", "lt", True), "needs a whole number of days, got true/false"),
        (
            rule("days_to_renewal", "between", [30]),
            "'days_to_renewal between' needs a list of two whole numbers [from, to], got a list "
            "with 1 value(s).",
        ),
        (rule("days_since_joining", "between", 30), "two whole numbers [from, to], got a number"),
        (rule("days_since_joining", "between", [30, "60"]), "two whole numbers"),
        (rule("days_since_joining", "between", [60, 30]), "needs from ≤ to, got [60, 30]"),
        (rule("requires_experience", "has", "telepathy"), "'telepathy' is not an engagement type"),
        (rule("requires_experience", "has", ["chat"]), "needs an engagement type, got a list"),
        (rule("attributes.vip", "exists", "yes"), "'attributes.vip exists' needs true or false"),
        (rule("attributes.vip", "eq", None), "to test for a missing key use 'exists'"),
        (rule("attributes.vip", "eq", {"a": 1}), "got an object"),
        (rule("attributes.vip", "in", [[1]]), "numbers or true/false only, got a list"),
        (rule("attributes.", "eq", "x"), "needs a key of letters and digits"),
        (rule("attributes.a__b", "eq", "x"), "needs a key of letters and digits"),
        (rule("attributes.2024", "eq", "x"), "needs a key of letters and digits"),
        (rule("attributes.vip_", "eq", "x"), "needs a key of letters and digits"),
        ({"field": "tier", "op": "eq"}, "\"value\" is missing for field 'tier'"),
        ({"field": "tier", "value": "Gold"}, "\"op\" is missing for field 'tier'"),
        ({"op": "eq", "value": "Gold"}, '"field" is missing'),
        ({**rule("tier", "eq", "Gold"), "negate": True}, "unexpected key(s) 'negate'"),
        ("tier eq Gold", "each rule must be an object"),
        (rule(["tier"], "eq", "Gold"), '"field" is missing'),
        (rule("tier", None, "Gold"), "unknown operator null for field 'tier'"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(bad_rule, expected):
    message = refused([bad_rule])
    assert message.startswith("Rule 1: ")
    assert expected in message


def test_the_rule_number_is_the_failing_rules_position():
    good = rule("tier", "eq", "Gold")
    assert refused([good, good, rule("tier", "eq", 1)]).startswith("Rule 3: ")


def test_too_many_rules_are_refused():
    assert "at most 50 rules" in refused([rule("tier", "eq", "Gold")] * 51)


def test_validation_normalises_a_copy():
    given = [
        rule("tier", "in", ("Gold", "Silver", "Gold")),
        {"field": "attributes.vip", "op": "exists"},
        rule("days_to_renewal", "between", (0, 30)),
        rule("attributes.level", "not_in", [1, True, 1, "1"]),
    ]
    assert coverage_criteria_validate(tuple(given)) == [
        rule("tier", "in", ["Gold", "Silver"]),
        rule("attributes.vip", "exists", True),
        rule("days_to_renewal", "between", [0, 30]),
        rule("attributes.level", "not_in", [1, True, "1"]),  # true is not 1 in JSON
    ]
    assert given[0]["value"] == ("Gold", "Silver", "Gold")  # the input is left alone


def test_the_translator_validates_too(org):
    with pytest.raises(ValidationError) as caught:
        coverage_criteria_q(organization=org, criteria=[rule("colour", "eq", "red")], today=TODAY)
    assert "unknown field 'colour'" in caught.value.message_dict["criteria"][0]
