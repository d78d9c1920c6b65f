"""Member 360's HTML writers write what the template loops they replace wrote, escaping
included (members.page_html)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.template.loader import get_template

from members.page_html import (
    action_errors_html,
    context_event_items_html,
    engagement_items_html,
)

# The loops of members/detail.html the writers stand for, as they were.
ENGAGEMENT_LOOP = Template(
    """{% for e in engagements %}
      <li class="timeline-item"><time datetime="{{ e.iso }}">{{ e.at }}</time>
        <strong>{{ e.type }}</strong> · {{ e.direction }}{% if e.by is not None %} · {{ e.by }}{% endif %}
        {% if e.summary %}<p>{{ e.summary }}</p>{% endif %}</li>
    {% empty %}<li class="muted">No engagements yet.</li>{% endfor %}"""
)
CONTEXT_LOOP = Template(
    """{% for c in context_events %}
      <li class="timeline-item"><time datetime="{{ c.iso }}">{{ c.day }}</time> {{ c.kind }}: {{ c.name }}{% if c.value is not None %} ({{ c.value }}){% endif %}</li>
    {% empty %}<li class="muted">No context yet.</li>{% endfor %}"""
)
NASTY = "<script>alert('x')</script> & \"quoted\""


def _engagement(**changes):
    row = {
        "iso": "2024-03-05T15:07:00-08:00",
        "at": "Mar 5, 2024 15:07",
        "type": "Call",
        "direction": "Outbound, proactive",
        "by": "Ana Lee",
        "summary": "Checked in",
    }
    return {**row, **changes}


def _context_event(**changes):
    row = {
        "iso": "2024-03-05T15:07:00-08:00",
        "day": "Mar 5, 2024",
        "kind": "Usage",
        "name": "course_completed",
        "value": "1.5",
    }
    return {**row, **changes}


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_engagement()],
        [_engagement(by=None), _engagement(summary=""), _engagement(by="")],
        [_engagement(summary=NASTY, by=NASTY, type=NASTY, direction=NASTY, at=NASTY, iso=NASTY)],
    ],
)
def test_engagement_items_as_the_loop_wrote_them(rows):
    assert engagement_items_html(rows) == ENGAGEMENT_LOOP.render(Context({"engagements": rows}))


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_context_event()],
        [_context_event(value=None), _context_event(value="0")],
        [_context_event(name=NASTY, kind=NASTY, value=NASTY, day=NASTY, iso=NASTY)],
    ],
)
def test_context_items_as_the_loop_wrote_them(rows):
    assert context_event_items_html(rows) == CONTEXT_LOOP.render(Context({"context_events": rows}))


@pytest.mark.parametrize("errors", [[], ["Already done."], [NASTY, "Two & three"]])
def test_action_errors_as_the_include_wrote_them(errors):
    include = get_template("members/_action_errors.html")
    assert action_errors_html(errors) == include.render({"errors": errors})
