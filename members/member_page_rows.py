"""Member 360's long lists as plain rows of display strings, built once in Python.

The timeline shows forty rows, each with two dates, two choice labels and a name: through the
template that is a model per row and a filter, a method call or a related lookup per value.
These functions write the same text as the template's filters did (``date`` in the current
time zone, ``floatformat``, ``get_<field>_display``), so the page reads the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.template.defaultfilters import floatformat
from django.utils import timezone, translation
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString

from engagement.models import ContextEvent, Engagement
from milestones.models import ProgressMilestone
from milestones.selectors import TimelineEntry

_ENGAGEMENT_TYPES = dict(Engagement.Type.choices)
_DIRECTIONS = dict(Engagement.Direction.choices)
_CONTEXT_KINDS = dict(ContextEvent.Kind.choices)

# Month abbreviations ("Jan") by language, as the ``date`` filter's "M" writes them.
_MONTHS: dict[str | None, list[str]] = {}


def _months() -> list[str]:
    language = translation.get_language()
    months = _MONTHS.get(language)
    if months is None:
        months = _MONTHS[language] = ["", *(str(MONTHS_3[n]).title() for n in range(1, 13))]
    return months


def day_text(moment: dt.datetime | dt.date, months: list[str] | None = None) -> str:
    """``|date:"M j, Y"`` (a datetime in the current time zone)."""
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment)
    return f"{(months or _months())[moment.month]} {moment.day}, {moment.year:04d}"


def _when(moment: dt.datetime, months: list[str]) -> tuple[str, str, str]:
    """``|date:'c'``, ``|date:"M j, Y H:i"`` and ``|date:"M j, Y"`` of a datetime, in the
    current time zone."""
    local = timezone.localtime(moment)
    day = f"{months[local.month]} {local.day}, {local.year:04d}"
    return local.isoformat(), f"{day} {local.hour:02d}:{local.minute:02d}", day


def engagement_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline's engagements (the first list of ``engagement.selectors.member_timeline``)
    as display rows."""
    months = _months()
    shown = []
    for row in rows:
        iso, at, _day = _when(row["occurred_at"], months)
        by = None
        if row["seat_id"] is not None:
            by = row["seat__user__full_name"] or row["seat__user__email"]
        shown.append(
            {
                "iso": iso,
                "at": at,
                "type": _ENGAGEMENT_TYPES.get(row["type"], row["type"]),
                "direction": _DIRECTIONS.get(row["direction"], row["direction"]),
                "by": by,
                "summary": row["summary"],
            }
        )
    return shown


def context_event_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline's context events (the second list of
    ``engagement.selectors.member_timeline``) as display rows; ``value`` is None when the event
    has none."""
    months = _months()
    shown = []
    for row in rows:
        iso, _at, day = _when(row["occurred_at"], months)
        value = row["value"]
        shown.append(
            {
                "iso": iso,
                "day": day,
                "kind": _CONTEXT_KINDS.get(row["kind"], row["kind"]),
                "name": row["name"],
                "value": None if value is None else floatformat(value, "-2"),
            }
        )
    return shown


def _short_day(day: dt.date, months: list[str]) -> str:
    """``|date:"M j"`` of a date."""
    return f"{months[day.month]} {day.day}"


def milestone_rows(
    timeline: dict[str, list[TimelineEntry]],
    action_url: Callable[[ProgressMilestone], str],
    errors_html: Callable[[ProgressMilestone], SafeString],
) -> dict[str, list[dict[str, Any]]]:
    """The milestone timeline (``milestone_timeline``) as display rows, by type.

    Each row's ``note`` is the text the template wrote from two date filters, a status label
    and three conditions ("achieved Mar 4", "overdue · due Mar 1").
    """
    months = _months()
    shown: dict[str, list[dict[str, Any]]] = {}
    for kind, entries in timeline.items():
        rows = shown[kind] = []
        for entry in entries:
            milestone = entry.milestone
            done = bool(milestone.achieved_at)
            if done:
                note = "achieved " + _short_day(timezone.localtime(milestone.achieved_at), months)
            else:
                note = str(entry.status.label).lower()
            if milestone.due_on:
                note += " · due " + _short_day(milestone.due_on, months)
            rows.append(
                {
                    "pk": milestone.pk,
                    "status": str(entry.status),
                    "done": done,
                    "name": milestone.name,
                    "note": note,
                    "action_url": action_url(milestone),
                    "errors_html": errors_html(milestone),
                }
            )
    return shown
