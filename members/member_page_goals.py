"""The goals of Member 360's outcomes section, written in Python.

Each goal showed its objective, status, due date, progress and pace, each of its conditions
with a form to assess it, and a form to record progress: through the template that was some
eighty variable lookups, filters and tags a page. Here each goal's markup is written once, as
the section's loop wrote it, byte for byte (the same filters: ``date``, ``floatformat``,
``truncatechars``; ``widthratio``'s arithmetic), every value escaped.

A seat that may act sees the forms; only the template knows the CSRF token, so the markup of
a goal with forms comes in parts, and the template writes ``{% csrf_token %}`` between them
(``GoalHtml.for_actor``). A viewer sees the goal without its forms (``GoalHtml.read_only``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.template.defaultfilters import date, floatformat, truncatechars
from django.utils.html import conditional_escape as esc
from django.utils.safestring import SafeString

from outcomes.models import Goal

_GOAL_START = (
    '\n          <div class="goal goal-{status}" id="goal-{pk}">\n'
    '            <p><strong>{objective}</strong> <span class="badge">{status_label}</span></p>\n'
    '            <p class="muted small">Due {due}\n'
    "              {progress}\n"
    "              · {actual}% done, {expected}% of the time used</p>\n"
    "            "
)
_PROGRESS = "· {current} of {target} {unit}"
_CONDITIONS_START = '\n              <ul class="conditions">\n                '
_CONDITIONS_END = "\n              </ul>\n            "
_CONDITION_START = (
    '\n                  <li class="condition condition-{state}" id="condition-{pk}">\n'
    '                    <span aria-hidden="true">{mark}</span>\n'
    "                    {description}\n"
    "                    {measure}\n"
    '                    <span class="muted small">({state_label})</span>\n'
    "                    "
)
_MEASURE = '<span class="muted small">({comparison} {threshold}{observed})</span>'
_CONDITION_MARKS = {"met": "✓", "not_met": "✗"}
_ASSESS_OPEN = (
    "\n                      \n"
    '                      <form method="post" action="{url}"\n'
    '                            hx-post="{url}" hx-target="#outcomes" hx-swap="outerHTML"\n'
    '                            class="inline-action"'
    ' aria-label="Record whether “{label}” is met">\n'
    "                        "
)
_ASSESS_CLOSE = (
    "\n                        {errors}\n"
    "                        {state_errors}\n"
    "                        {evidence_errors}\n"
    "                        {controls}\n"
    "                      </form>\n"
    "                      \n"
    "                    "
)
_RECORD_VALUE = (
    "\n                          {field}\n"
    '                          <button type="submit" class="button button-small">'
    "Record value</button>\n"
    "                        "
)
_MET_OR_NOT = (
    "\n                          {errors}\n"
    '                          <button type="submit" name="state" value="met"'
    ' class="button button-small">Met</button>\n'
    '                          <button type="submit" name="state" value="not_met"'
    ' class="button button-small">Not met</button>\n'
    "                        "
)
_CONDITION_END = "\n                  </li>\n                "
_PROGRESS_OPEN = (
    "\n              \n"
    '              <form method="post" action="{url}"\n'
    '                    hx-post="{url}" hx-target="#outcomes" hx-swap="outerHTML"\n'
    '                    class="inline-action" aria-label="Record progress on “{label}”">\n'
    "                "
)
_PROGRESS_CLOSE = (
    "\n                {errors}\n"
    "                {field}\n"
    '                <button type="submit" class="button button-small">Record progress</button>\n'
    "              </form>\n"
    "              \n"
    "            "
)
_GOAL_END = "\n          </div>\n        "


class GoalHtml:
    """A goal's markup: ``for_actor`` (the parts around each form's CSRF token) for a seat
    that may act, ``read_only`` for a viewer. Built when the template first asks, from the
    goal as ``outcomes_context`` leaves it (pace, ``is_open``, forms and URLs set)."""

    def __init__(self, goal: Goal) -> None:
        self._goal = goal

    @cached_property
    def for_actor(self) -> list[SafeString]:
        return [SafeString(part) for part in _goal_parts(self._goal, actor=True)]

    @cached_property
    def read_only(self) -> SafeString:
        (whole,) = _goal_parts(self._goal, actor=False)
        return SafeString(whole)


def _widthratio(value: Any) -> str:
    """``{% widthratio value 1 100 %}``: the value as a rounded percentage, "" if none."""
    try:
        return str(round((float(value) / float(1)) * 100))
    except (ValueError, TypeError, OverflowError):
        return ""


def _errors(field: Any) -> str:
    """``{% for error in field.errors %}<p class="field-error">{{ error }}</p>{% endfor %}``."""
    return "".join(f'<p class="field-error">{esc(error)}</p>' for error in field.errors)


def _goal_parts(goal: Goal, *, actor: bool) -> list[str]:
    """The goal's markup, cut where a form's CSRF token goes (none for a viewer); each value
    escaped as the template escaped it."""
    parts = [_goal_start(goal)]
    if goal.condition_list:
        parts[-1] += _CONDITIONS_START
        for condition in goal.condition_list:
            parts[-1] += _condition_start(condition)
            if actor and goal.is_open:
                form = condition.assess_form
                parts[-1] += _ASSESS_OPEN.format(
                    url=esc(condition.assess_url),
                    label=esc(truncatechars(condition.description, 40)),
                )
                parts.append(_assess_close(condition, form))
            else:
                parts[-1] += esc(condition.assess_form.html.errors)
            parts[-1] += _CONDITION_END
        parts[-1] += _CONDITIONS_END
    parts[-1] += "\n            "
    if actor and goal.is_measurable and goal.is_open:
        form = goal.progress_form
        parts[-1] += _PROGRESS_OPEN.format(
            url=esc(goal.progress_url), label=esc(truncatechars(goal.objective, 40))
        )
        parts.append(
            _PROGRESS_CLOSE.format(
                errors=esc(form.html.errors), field=esc(form.html.field["value"])
            )
        )
    else:
        parts[-1] += esc(goal.progress_form.html.errors)
    parts[-1] += _GOAL_END
    return parts


def _goal_start(goal: Goal) -> str:
    progress = ""
    if goal.target is not None:
        current = goal.baseline if goal.current_value is None else goal.current_value
        progress = _PROGRESS.format(
            current=esc(floatformat(current, "-2")),
            target=esc(floatformat(goal.target, "-2")),
            unit=esc(goal.metric_unit),
        )
    pace = goal.pace or {}
    return _GOAL_START.format(
        status=esc(goal.status),
        pk=esc(goal.pk),
        objective=esc(goal.objective),
        status_label=esc(goal.get_status_display()),
        due=esc(date(goal.due_on, "M j, Y")),
        progress=progress,
        actual=_widthratio(pace.get("actual")),
        expected=_widthratio(pace.get("expected")),
    )


def _condition_start(condition: Any) -> str:
    measure = ""
    if condition.kind == "measurable":
        observed = ""
        if condition.observed_value is not None:
            observed = ", observed " + esc(floatformat(condition.observed_value, "-2"))
        measure = _MEASURE.format(
            comparison=esc(condition.get_comparison_display()),
            threshold=esc(floatformat(condition.threshold, "-2")),
            observed=observed,
        )
    return _CONDITION_START.format(
        state=esc(condition.state),
        pk=esc(condition.pk),
        mark=_CONDITION_MARKS.get(condition.state, "?"),
        description=esc(condition.description),
        measure=measure,
        state_label=esc(str(condition.get_state_display()).lower()),
    )


def _assess_close(condition: Any, form: Any) -> str:
    if condition.kind == "measurable":
        controls = _RECORD_VALUE.format(field=esc(form.html.field["observed_value"]))
    else:
        controls = _MET_OR_NOT.format(errors=_errors(form["observed_value"]))
    return _ASSESS_CLOSE.format(
        errors=esc(form.html.errors),
        state_errors=_errors(form["state"]),
        evidence_errors=_errors(form["evidence"]),
        controls=controls,
    )
