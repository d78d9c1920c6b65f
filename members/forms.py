"""Forms of the member pages."""

from __future__ import annotations

from django import forms

from members.widget_html import PlainWidgetRenderer
from outcomes.models import Band

RENEWAL_WINDOWS = [
    ("", "Any renewal date"),
    ("30", "Renews within 30 days"),
    ("60", "Renews within 60 days"),
    ("90", "Renews within 90 days"),
]
SORT_CHOICES = [
    ("risk", "Risk first"),
    ("gap", "Largest gap"),
    ("renewal", "Renewal date"),
    ("name", "Name"),
]


class _FilterWidgets(PlainWidgetRenderer):
    """The plain widgets in Python, the search box included: Django's ``search.html`` is
    ``input.html`` with ``type="search"``. The filters render on every book and list page."""

    def render(self, template_name: str, context, request=None) -> str:
        if template_name == "django/forms/widgets/search.html":
            template_name = "django/forms/widgets/input.html"
        return super().render(template_name, context, request=request)


class MemberFilterForm(forms.Form):
    """Filters of the book and the member list; every value is optional and validated."""

    default_renderer = _FilterWidgets()

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"placeholder": "Name, email or id"}),
    )
    band = forms.ChoiceField(
        label="Band", required=False, choices=[("", "Any band"), *Band.choices]
    )
    tier = forms.ChoiceField(label="Tier", required=False, choices=[("", "Any tier")])
    renewal = forms.ChoiceField(label="Renewal", required=False, choices=RENEWAL_WINDOWS)
    sort = forms.ChoiceField(label="Sort", required=False, choices=SORT_CHOICES)

    def __init__(self, *args, tiers: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "Any tier"), *((t, t) for t in tiers)]

    def filters(self) -> dict:
        """The selector arguments for the valid values (invalid ones are ignored and shown)."""
        data = (
            self.cleaned_data
            if self.is_valid()
            else {
                name: value
                for name, value in getattr(self, "cleaned_data", {}).items()
                if name not in self.errors
            }
        )
        renewal = data.get("renewal")
        return {
            "search": data.get("q") or "",
            "band": data.get("band") or "",
            "tier": data.get("tier") or "",
            "renewal_within_days": int(renewal) if renewal else None,
            "sort": data.get("sort") or "risk",
        }
