"""Forms of the Member 360 inline actions on desired outcomes, goals and conditions.

The forms only parse what was typed (dates, numbers); the rules — a goal needs a time frame, a
measurable condition needs a threshold, a confirmed one is judged by the member — stay in
``outcomes.services``, whose field-keyed errors the views put back under these fields. So a
required part of a goal (its due date) is deliberately not ``required`` here: the service says
why it is needed, in the same words on the page and in the API.
"""

from __future__ import annotations

from typing import Any

from django import forms

from outcomes.models import Condition

NUMBER = {"max_digits": 14, "decimal_places": 4}


def _date_input(**attrs: str) -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date", **attrs}, format="%Y-%m-%d")


class DesiredOutcomeForm(forms.Form):
    """Open a desired outcome: what the member wants to reach, in their words."""

    title = forms.CharField(label="Desired outcome", required=False, max_length=200)
    description = forms.CharField(
        label="In the member's words",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class GoalForm(forms.Form):
    """A goal in a desired outcome: objective, time frame, optionally a metric and a first
    condition for success."""

    objective = forms.CharField(label="Objective", required=False)
    starts_on = forms.DateField(label="Starts", required=False, widget=_date_input())
    due_on = forms.DateField(
        label="Due (required)",
        required=False,
        widget=_date_input(**{"aria-required": "true"}),
    )
    metric_name = forms.CharField(label="Metric", required=False, max_length=100)
    metric_unit = forms.CharField(label="Unit", required=False, max_length=30)
    baseline = forms.DecimalField(label="Baseline", required=False, **NUMBER)
    target = forms.DecimalField(label="Target", required=False, **NUMBER)
    condition = forms.CharField(
        label="A condition for success (optional)", required=False, max_length=300
    )
    condition_comparison = forms.ChoiceField(
        label="Measured as",
        required=False,
        choices=[("", "Confirmed by the member"), *Condition.Comparison.choices],
    )
    condition_threshold = forms.DecimalField(label="Threshold", required=False, **NUMBER)

    # Where the service's errors go when their key is not one of our fields.
    ERROR_FIELDS = {"conditions": "condition"}

    def goal_kwargs(self) -> dict[str, Any]:
        """The arguments of ``outcomes.services.goal_create`` for the cleaned data."""
        data = self.cleaned_data
        return {
            "objective": data["objective"],
            "starts_on": data["starts_on"],
            "due_on": data["due_on"],
            "metric_name": data["metric_name"],
            "metric_unit": data["metric_unit"],
            "baseline": data["baseline"],
            "target": data["target"],
            "conditions": self._conditions(),
        }

    def _conditions(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        comparison, threshold = data["condition_comparison"], data["condition_threshold"]
        if not (data["condition"] or comparison or threshold is not None):
            return []
        measurable = bool(comparison) or threshold is not None
        return [
            {
                "description": data["condition"],
                "kind": Condition.Kind.MEASURABLE if measurable else Condition.Kind.CONFIRMED,
                "comparison": comparison,
                "threshold": threshold,
            }
        ]


class ConditionAssessForm(forms.Form):
    """Record whether a condition holds: the member's word for a confirmed condition (the
    state button pressed), the value observed for a measurable one."""

    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "—"), *Condition.State.choices]
    )
    observed_value = forms.DecimalField(label="Observed value", required=False, **NUMBER)
    evidence = forms.CharField(label="Evidence", required=False, max_length=1000)

    def assess_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "state": data["state"] or None,
            "observed_value": data["observed_value"],
            "evidence": data["evidence"],
        }


class GoalProgressForm(forms.Form):
    """A new reading of a measurable goal's metric."""

    value = forms.DecimalField(label="Value reached", required=False, **NUMBER)
