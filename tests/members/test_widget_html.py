"""The Python widget renderer of Member 360 writes exactly what Django's widget templates
write: if Django changes its templates, this fails and the renderer must follow (or go)."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms

from members.widget_html import PLAIN_WIDGETS

AWKWARD = 'Tom & "Jerry" <b>’s</b>'


class EveryPlainWidget(forms.Form):
    text = forms.CharField(label="Text", help_text="Say something")
    number = forms.IntegerField(min_value=0)
    decimal = forms.DecimalField(max_digits=6, decimal_places=2, required=False)
    email = forms.EmailField(required=False)
    url = forms.URLField(required=False, assume_scheme="https")
    secret = forms.CharField(widget=forms.PasswordInput, required=False)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    moment = forms.DateTimeField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "aria-describedby": "x"}))
    choice = forms.ChoiceField(choices=[("", "Pick"), ("a", AWKWARD), ("b", "B")])
    grouped = forms.ChoiceField(
        choices=[("Group <1>", [("x", "X"), ("y", "Y")]), ("z", "Z")], required=False
    )
    flag = forms.BooleanField(required=False, widget=forms.TextInput(attrs={"disabled": True}))


DATA = {
    "text": AWKWARD,
    "number": "-3",
    "decimal": "1.5",
    "email": "not an email",
    "url": "javascript:alert(1)",
    "secret": "s3cret",
    "day": "2026-02-30",
    "moment": "2026-01-01 10:00",
    "hidden": AWKWARD,
    "note": f"{AWKWARD}\nsecond line",
    "choice": "a",
    "grouped": "y",
}


@pytest.mark.parametrize(
    "form",
    [
        EveryPlainWidget(auto_id="id_blank_%s"),
        EveryPlainWidget(initial={"day": dt.date(2026, 5, 4), "text": AWKWARD}),
        EveryPlainWidget(DATA),
    ],
    ids=["blank", "initial", "bound with errors"],
)
def test_each_field_renders_as_djangos_templates_render_it(form):
    form.is_valid()
    for name in form.fields:
        django_html = str(form[name])
        form.renderer = PLAIN_WIDGETS
        ours = str(form[name])
        form.renderer = None
        assert ours == django_html, name
