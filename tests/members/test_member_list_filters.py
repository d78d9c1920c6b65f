"""The filters' fields written in Python (and kept per process) are what ``_filters.html``'s
loop wrote, whatever the values asked for and the tiers offered."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.template import Context, Template

from members import list_filters
from members.forms import MemberFilterForm
from members.list_filters import filter_fields

# ``_filters.html``'s loop before the fields moved to Python.
TEMPLATE_LOOP = Template(
    """  {% for field in form %}
    <div class="field field-inline{% if field.errors %} field-invalid{% endif %}">
      <label for="{{ field.id_for_label }}">{{ field.label }}</label>
      {{ field }}
      {% for error in field.errors %}<p class="field-error">{{ error }}</p>{% endfor %}
    </div>
  {% endfor %}"""
)
TIERS = ["Associate", "Fellow & <b>Co</b>", 'Stu"dent']


def _form(query: str | None, tiers: list[str] = TIERS) -> MemberFilterForm:
    form = MemberFilterForm(QueryDict(query) if query is not None else None, tiers=tiers)
    form.is_valid()
    return form


@pytest.mark.parametrize(
    "query",
    [
        None,
        "",
        "page=3",
        "q=an&band=watch&sort=gap",
        "q=%3Cscript%3E%22x%22%26&tier=Fellow+%26+%3Cb%3ECo%3C%2Fb%3E",
        "band=bogus&sort=bogus&renewal=45&tier=Gold",
        "band=%3Cb%3E&sort=%22x%27%26",
        "q=" + "x" * 101,
        "q=first&q=second&band=at_risk&band=watch",
        "renewal=30&tier=Stu%22dent&sort=name",
    ],
)
def test_the_fields_are_the_template_loops(query):
    form = _form(query)
    expected = TEMPLATE_LOOP.render(Context({"form": form}))
    assert "  " + filter_fields(form) == expected
    assert "  " + filter_fields(_form(query)) == expected  # kept, and still the same


def test_the_kept_markup_follows_the_values_and_the_tiers():
    first = filter_fields(_form("band=watch"))
    assert filter_fields(_form("band=watch")) is first
    assert filter_fields(_form("band=at_risk")) != first
    assert filter_fields(_form("band=watch", tiers=["Gold"])) != first
    assert 'value="Gold"' in filter_fields(_form("band=watch", tiers=["Gold"]))


def test_the_kept_markup_is_bounded(monkeypatch):
    monkeypatch.setattr(list_filters, "FIELDS_KEPT", 3)
    list_filters._kept.clear()
    for index in range(10):
        filter_fields(_form(f"q=search{index}"))
        assert len(list_filters._kept) <= 3
