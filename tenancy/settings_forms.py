"""Forms of the admin's settings pages.

They check types and shapes only (a number is a number, a choice is a choice); the rules live
in the services the views call, whose field errors are put back on these forms in place.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from members.services import OWNER_ROLES
from milestones.models import MilestoneDefinition, MilestoneType
from orchestration.coverage import (
    ATTRIBUTE_OPS,
    ATTRIBUTE_PREFIX,
    DAY_FIELDS,
    DAY_OPS,
    EXPERIENCE_OPS,
    SET_OPS,
    TEXT_FIELDS,
)
from orchestration.models import CoverageModel, Nudge, Playbook, PlaybookStep
from outcomes.models import ScoringConfiguration
from tenancy.models import ApiKey, Organization, Seat

# --- coverage models -------------------------------------------------------------------------

RULE_FIELDS = [
    *TEXT_FIELDS,
    "band",
    *DAY_FIELDS,
    "requires_experience",
    f"{ATTRIBUTE_PREFIX}<key>",
]
RULE_OPS = list(dict.fromkeys([*SET_OPS, *ATTRIBUTE_OPS, *DAY_OPS, *EXPERIENCE_OPS]))
# Fields whose values are words: written as they are, lists as "a, b, c".
WORD_FIELDS = frozenset({*TEXT_FIELDS, "band", "requires_experience"})
LIST_OPS = frozenset({"in", "not_in"})
_INTEGER = re.compile(r"^-?\d+$")


class CoverageModelForm(forms.Form):
    """A coverage model's own fields; its criteria come from the rule rows beside it."""

    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    priority = forms.IntegerField(
        label="Priority",
        min_value=0,
        initial=100,
        help_text="A member falls under the matching model with the highest priority.",
    )
    assignment_policy = forms.ChoiceField(
        label="Assignment policy", choices=CoverageModel.AssignmentPolicy.choices
    )
    engagement_cadence_days = forms.IntegerField(
        label="Engagement cadence (days)",
        required=False,
        min_value=1,
        help_text="Engage members of this segment at least this often (empty: no cadence).",
    )
    pool_seats = forms.ModelMultipleChoiceField(
        label="Owner pool",
        required=False,
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text="Unowned members of this model get an owner from these seats.",
    )
    playbooks = forms.ModelMultipleChoiceField(
        label="Playbooks",
        required=False,
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text="Members who move into this model are enrolled in these.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool: forms.ModelMultipleChoiceField = self.fields["pool_seats"]  # type: ignore[assignment]
        pool.queryset = (
            Seat.objects.for_org(organization)
            .filter(role__in=OWNER_ROLES)
            .select_related("user")
            .order_by("user__email")
        )
        pool.label_from_instance = lambda seat: (
            f"{seat.user.display_name} ({seat.get_role_display()})"
        )
        books: forms.ModelMultipleChoiceField = self.fields["playbooks"]  # type: ignore[assignment]
        books.queryset = Playbook.objects.for_org(organization).order_by("name")
        books.label_from_instance = lambda playbook: (
            playbook.name if playbook.is_active else f"{playbook.name} (switched off)"
        )

    @staticmethod
    def initial_for(model: CoverageModel, *, pool: list[int], playbooks: list[int]) -> dict:
        return {
            "name": model.name,
            "description": model.description,
            "priority": model.priority,
            "assignment_policy": model.assignment_policy,
            "engagement_cadence_days": model.engagement_cadence_days,
            "pool_seats": pool,
            "playbooks": playbooks,
        }


class RuleForm(forms.Form):
    """One criterion: field, operator, value (all optional: an empty row is no rule)."""

    field = forms.CharField(
        label="Field",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"list": "rule-fields", "autocomplete": "off"}),
    )
    op = forms.ChoiceField(
        label="Operator", required=False, choices=[("", "—"), *((op, op) for op in RULE_OPS)]
    )
    value = forms.CharField(label="Value", required=False, max_length=5000)

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) for name in ("field", "op", "value"))


RuleFormSet = forms.formset_factory(RuleForm, extra=1, max_num=50, absolute_max=60)


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _json_or_text(raw: str) -> Any:
    """A JSON value when the text is one (5, true, "5", [1, 2]), else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _day_value(op: str, raw: str) -> Any:
    if op == "between":
        parts = _json_or_text(raw) if raw.startswith("[") else _split(raw)
        if isinstance(parts, list):
            return [int(p) if isinstance(p, str) and _INTEGER.match(p) else p for p in parts]
        return parts
    return int(raw) if _INTEGER.match(raw) else raw


def rule_value(field: str, op: str, raw: str) -> tuple[bool, Any]:
    """The value a typed rule row stands for, as (given?, value): words stay words, lists are
    written "a, b" (or as JSON), day counts are whole numbers, attribute values are read as JSON
    when they are JSON (so 5 is a number and "5" is text). The coverage validator then says
    what is wrong, if anything."""
    raw = raw.strip()
    if field in WORD_FIELDS:
        if op in LIST_OPS:
            return True, _json_or_text(raw) if raw.startswith("[") else _split(raw)
        return True, raw
    if field in DAY_FIELDS:
        return True, _day_value(op, raw)
    if field.startswith(ATTRIBUTE_PREFIX):
        if op == "exists":
            return (False, None) if not raw else (True, _json_or_text(raw.lower()))
        if op in LIST_OPS and not raw.startswith("["):
            return True, [_json_or_text(part) for part in _split(raw)]
        return True, _json_or_text(raw)
    return True, raw


def _plain_list(values: list) -> bool:
    """True when "a, b" reads back as these very values (no commas inside, no leading "[")."""
    words = all(isinstance(value, str | int) and "," not in str(value) for value in values)
    return words and not (values and str(values[0]).startswith("["))


def rule_text(rule: dict[str, Any]) -> str:
    """How a stored rule's value is written in its row (the inverse of ``rule_value``)."""
    field, value = rule.get("field", ""), rule.get("value")
    if isinstance(field, str) and field.startswith(ATTRIBUTE_PREFIX):
        if isinstance(value, str) and _json_or_text(value) == value:
            return value  # text that does not read as JSON is written as it is
        return json.dumps(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if _plain_list(value) else json.dumps(value)
    return "" if value is None else str(value)


def criteria_from_rows(formset: forms.BaseFormSet) -> tuple[list[dict[str, Any]], list[RuleForm]]:
    """The criteria the filled rows describe, and those rows (rule N is the N-th of them)."""
    criteria, rows = [], []
    for form in formset.forms:
        if form.is_blank():
            continue
        data = form.cleaned_data
        rule: dict[str, Any] = {"field": data.get("field", "").strip()}
        if data.get("op"):
            rule["op"] = data["op"]
        given, value = rule_value(rule["field"], data.get("op", ""), data.get("value", ""))
        if given:
            rule["value"] = value
        criteria.append(rule)
        rows.append(form)
    return criteria, rows


def rows_from_criteria(criteria: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"field": rule.get("field", ""), "op": rule.get("op", ""), "value": rule_text(rule)}
        for rule in criteria
    ]


_RULE_NUMBER = re.compile(r"^Rule (\d+): ")


def criteria_errors_to_rows(
    messages: list[str], rows: list[RuleForm], formset: forms.BaseFormSet
) -> list[str]:
    """Put "Rule N: …" messages on row N; returns the messages no row took."""
    left = []
    for message in messages:
        match = _RULE_NUMBER.match(message)
        number = int(match.group(1)) if match else 0
        if 1 <= number <= len(rows):
            rows[number - 1].add_error(None, message)
        else:
            left.append(message)
    return left


# --- playbooks and steps ---------------------------------------------------------------------


class PlaybookForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    trigger = forms.ChoiceField(label="Trigger", choices=Playbook.Trigger.choices)
    trigger_band = forms.ChoiceField(
        label="Band entered",
        required=False,
        choices=[("", "—"), ("watch", "Watch"), ("at_risk", "At risk")],
        help_text="Only for the 'band entered' trigger.",
    )
    trigger_days = forms.IntegerField(
        label="Days (N)",
        required=False,
        min_value=0,
        help_text="For the triggers that count days.",
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "trigger": data["trigger"],
            "trigger_band": data["trigger_band"],
            "trigger_days": data["trigger_days"],
        }


class StepForm(forms.Form):
    action = forms.ChoiceField(label="Action", choices=PlaybookStep.Action.choices)
    title = forms.CharField(label="Title", max_length=200)
    offset_days = forms.IntegerField(
        label="Days after enrolment", min_value=0, initial=0, help_text="0 is the enrolment day."
    )
    channel = forms.ChoiceField(label="Channel", choices=Nudge.Channel.choices)
    message_template = forms.CharField(
        label="Message",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="May use {{ member.name }}, {{ member.renewal_on|date }}, … "
        "(the member's own fields only).",
    )
    event_lead_days = forms.CharField(
        label="Announce and remind (days before)",
        required=False,
        max_length=100,
        help_text="Event steps only, e.g. 14, 2: announced 14 days before, reminded 2 days before.",
    )

    def clean_event_lead_days(self) -> list[int]:
        raw = self.cleaned_data["event_lead_days"].strip().strip("[]")
        parts = _split(raw)
        if not all(_INTEGER.match(part) for part in parts):
            raise forms.ValidationError("Give whole numbers of days separated by commas.")
        return [int(part) for part in parts]

    @staticmethod
    def initial_for(step: PlaybookStep) -> dict[str, Any]:
        return {
            "action": step.action,
            "title": step.title,
            "offset_days": step.offset_days,
            "channel": step.channel,
            "message_template": step.message_template,
            "event_lead_days": ", ".join(str(day) for day in step.event_lead_days),
        }


# --- milestone definitions -------------------------------------------------------------------


class MilestoneDefinitionForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    type = forms.ChoiceField(label="Type", choices=MilestoneType.choices)
    expected_after_days = forms.IntegerField(label="Expected after (days)", min_value=0)
    anchor = forms.ChoiceField(
        label="Counted from",
        choices=MilestoneDefinition.Anchor.choices,
        help_text="Strategic milestones count from the goal's start.",
    )
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    match_event_name = forms.CharField(
        label="Achieved by the context event",
        required=False,
        max_length=100,
        help_text="A context event of this name marks it achieved (empty: by hand only).",
    )
    match_min_value = forms.DecimalField(
        label="…with a value of at least",
        required=False,
        max_digits=14,
        decimal_places=4,
    )

    @staticmethod
    def initial_for(definition: MilestoneDefinition) -> dict[str, Any]:
        return {
            field: getattr(definition, field)
            for field in (
                "name",
                "type",
                "expected_after_days",
                "anchor",
                "description",
                "match_event_name",
                "match_min_value",
            )
        }

    def service_kwargs(self) -> dict[str, Any]:
        """The service's arguments; the minimum value is a Decimal (or None), as it compares
        with a DecimalField."""
        return dict(self.cleaned_data)


# --- scoring ---------------------------------------------------------------------------------

WEIGHT_FIELDS = (
    "milestones_weight",
    "commitments_weight",
    "pace_weight",
    "conditions_weight",
    "strategic_weight",
    "experience_weight",
)
THRESHOLD_FIELDS = ("watch_gap", "at_risk_gap", "watch_pace", "at_risk_pace")
SCORING_LABELS = {
    "milestones_weight": "Milestones (F)",
    "commitments_weight": "Commitments on our side (F)",
    "pace_weight": "Goal pace (O)",
    "conditions_weight": "Conditions met (O)",
    "strategic_weight": "Strategic milestones (O)",
    "experience_weight": "Experience delivered (O)",
    "watch_gap": "Watch from a gap of",
    "at_risk_gap": "At risk from a gap of",
    "watch_pace": "Watch below a pace of",
    "at_risk_pace": "At risk below a pace of",
}


class ScoringForm(forms.Form):
    """Weights and thresholds; ordering and totals are the model's rules (field errors)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in (*WEIGHT_FIELDS, *THRESHOLD_FIELDS):
            model_field = ScoringConfiguration._meta.get_field(name)
            self.fields[name] = forms.FloatField(
                label=SCORING_LABELS[name],
                help_text=model_field.help_text,
                widget=forms.NumberInput(attrs={"step": "any"}),
            )

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in WEIGHT_FIELDS]

    def threshold_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in THRESHOLD_FIELDS]

    @staticmethod
    def initial_for(configuration: ScoringConfiguration) -> dict[str, float]:
        return configuration.as_dict()


# --- seats and API keys ----------------------------------------------------------------------


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    full_name = forms.CharField(label="Name", required=False, max_length=200)
    role = forms.ChoiceField(label="Role", choices=Seat.Role.choices, initial=Seat.Role.MSM)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Seat.Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="What will use this key.")
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKey.Scope.READ],
    )
