"""Member 360's blank forms, rendered once per kind, write what a form of their own would."""

import datetime as dt

import pytest

from members.blank_forms import blank_form
from members.page_html import with_html
from members.widget_html import PLAIN_WIDGETS
from outcomes.forms import ConditionAssessForm, DesiredOutcomeForm, GoalForm, GoalProgressForm

KINDS = [
    (GoalForm, {"initial": {"starts_on": dt.date(2026, 3, 1)}}),
    (GoalForm, {"initial": {"starts_on": dt.date(2026, 3, 2)}}),
    (GoalProgressForm, {}),
    (ConditionAssessForm, {}),
    (DesiredOutcomeForm, {}),
]


@pytest.mark.parametrize(("form_class", "kwargs"), KINDS)
@pytest.mark.parametrize("key", ["goal-7", "progress-12", "condition-3"])
def test_a_blank_form_writes_what_its_own_form_would(form_class, kwargs, key):
    own = with_html(form_class(auto_id=f"id_{key}_%s", renderer=PLAIN_WIDGETS, **kwargs))
    blank = blank_form(form_class, key, **kwargs)
    assert blank.is_bound is False
    assert str(blank.html.errors) == str(own.html.errors)
    assert str(blank.html.fields) == str(own.html.fields)
    for name in own.fields:
        assert str(blank.html.field[name]) == str(own.html.field[name])
        assert list(blank[name].errors) == []
    with pytest.raises(KeyError):
        blank["no_such_field"]


def test_each_copy_has_its_own_ids():
    first = blank_form(GoalProgressForm, "progress-1")
    second = blank_form(GoalProgressForm, "progress-2")
    assert 'id="id_progress-1_value"' in first.html.field["value"]
    assert 'id="id_progress-2_value"' in second.html.field["value"]
    assert "progress-1" not in second.html.field["value"]
