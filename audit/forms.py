from __future__ import annotations

from django import forms


class AuditFilterForm(forms.Form):
    """The trail's filters; every field optional (an invalid one is ignored, and said so)."""

    actor = forms.CharField(
        required=False,
        max_length=200,
        label="Actor",
        help_text="seat, api_key, system, or part of an email or key name",
    )
    model = forms.ChoiceField(required=False, label="Record type")
    action = forms.CharField(required=False, max_length=60, label="Action")
    object_id = forms.IntegerField(required=False, min_value=1, label="Record id")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, model_labels: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "All"), *((label, label) for label in model_labels)]
