"""Forms of the webhook settings pages: shapes only; the services check the rules (the URL's
safety included) and their field errors come back on these forms."""

from __future__ import annotations

from django import forms

from webhooks.models import EVENT_TYPES
from webhooks.services import DESCRIPTION_LENGTH
from webhooks.urlcheck import MAX_URL_LENGTH


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=MAX_URL_LENGTH,
        help_text="Where Tandem POSTs the events, e.g. https://hooks.example.org/tandem.",
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    description = forms.CharField(
        max_length=DESCRIPTION_LENGTH,
        required=False,
        help_text="What receives them, e.g. 'CRM sync'.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=EVENT_TYPES.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event type."},
    )
