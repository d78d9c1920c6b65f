from django import forms
from django.utils import timezone

from engagement.choices import EngagementType
from engagement.models import Engagement


class LogEngagementForm(forms.Form):
    """Log one engagement with a member, from the Member 360 page."""

    direction = forms.ChoiceField(
        label="Direction",
        choices=Engagement.Direction.choices,
        initial=Engagement.Direction.OUTBOUND_PROACTIVE,
    )
    type = forms.ChoiceField(
        label="Type", choices=EngagementType.choices, initial=EngagementType.CALL
    )
    occurred_at = forms.DateTimeField(
        label="When",
        initial=timezone.now,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label="Minutes", required=False, min_value=0, max_value=24 * 60
    )
    summary = forms.CharField(
        label="Summary", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
