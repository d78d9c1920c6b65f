"""Member 360's HTML writers write what the template loops they replace wrote, escaping
included (members.page_html)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.template.loader import get_template

from members.page_html import (
    action_errors_html,
    commitment_item_html,
    context_event_items_html,
    engagement_items_html,
    milestone_item_html,
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


# The milestone and commitment loops of members/detail.html as they were, and as they are.
OLD_MILESTONE_LOOP = Template(
    """{% for entry in entries %}
          <li class="milestone milestone-{{ entry.status }}" id="milestone-{{ entry.pk }}">
            <span aria-hidden="true">{% if entry.done %}✓{% else %}○{% endif %}</span>
            {{ entry.name }}
            <span class="muted small">{{ entry.note }}</span>
            {% if seat.role != "viewer" %}
              {% if entry.done %}
                <form method="post" action="{{ entry.action_url }}"
                      hx-post="{{ entry.action_url }}" hx-target="#milestones" hx-swap="outerHTML" class="inline-form">
                  {% csrf_token %}<button type="submit" class="link-button">Reopen<span class="visually-hidden"> “{{ entry.name }}”</span></button>
                </form>
              {% else %}
                <form method="post" action="{{ entry.action_url }}"
                      hx-post="{{ entry.action_url }}" hx-target="#milestones" hx-swap="outerHTML" class="inline-form">
                  {% csrf_token %}<button type="submit" class="button button-small">Mark achieved<span class="visually-hidden">: “{{ entry.name }}”</span></button>
                </form>
              {% endif %}
            {% endif %}
            {{ entry.errors_html }}
          </li>
        {% empty %}<li class="muted">None</li>{% endfor %}"""
)
MILESTONE_LOOP = Template(
    '{% for entry in entries %}{% if seat.role != "viewer" %}{{ entry.html.before_token }}{% csrf_token %}{{ entry.html.after_token }}{% else %}{{ entry.html.read_only }}{% endif %}{% empty %}<li class="muted">None</li>{% endfor %}'
)
OLD_COMMITMENT_LOOP = Template(
    """{% for c in commitments %}
                <li class="commitment{% if c.done_at %} commitment-done{% endif %}" id="commitment-{{ c.pk }}">
                  {% if seat.role != "viewer" %}
                    {% if c.done_at %}
                      <form method="post" action="{{ c.action_url }}"
                            hx-post="{{ c.action_url }}" hx-target="#plan" hx-swap="outerHTML" class="inline-form">
                        {% csrf_token %}<button type="submit" class="tick tick-done" title="Untick"><span aria-hidden="true">✓</span><span class="visually-hidden">Untick “{{ c.description }}”</span></button>
                      </form>
                    {% else %}
                      <form method="post" action="{{ c.action_url }}"
                            hx-post="{{ c.action_url }}" hx-target="#plan" hx-swap="outerHTML" class="inline-form">
                        {% csrf_token %}<button type="submit" class="tick" title="Tick as done"><span aria-hidden="true">○</span><span class="visually-hidden">Tick “{{ c.description }}” as done</span></button>
                      </form>
                    {% endif %}
                  {% else %}
                    <span aria-hidden="true">{% if c.done_at %}✓{% else %}○{% endif %}</span>
                  {% endif %}
                  <div>{{ c.description }}<span class="visually-hidden">{% if c.done_at %} (done){% else %} (open){% endif %}</span>
                    {{ c.action_errors_html }}</div>
                </li>
              {% empty %}<li class="muted">—</li>{% endfor %}"""
)
COMMITMENT_LOOP = Template(
    '{% for c in commitments %}{% if seat.role != "viewer" %}{{ c.html.before_token }}{% csrf_token %}{{ c.html.after_token }}{% else %}{{ c.html.read_only }}{% endif %}{% empty %}<li class="muted">—</li>{% endfor %}'
)


def _milestone(**changes):
    row = {
        "pk": 41,
        "status": "overdue",
        "done": False,
        "name": "Pass the exam",
        "note": "overdue · due Mar 1",
        "action_url": "/o/alpha/milestones/41/achieve/",
        "errors_html": action_errors_html([]),
    }
    return {**row, **changes}


@pytest.mark.parametrize("role", ["msm", "viewer"])
@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_milestone()],
        [_milestone(done=True, status="achieved", note="achieved Mar 4")],
        [_milestone(errors_html=action_errors_html(["Already achieved."])), _milestone(pk=42)],
        [_milestone(name=NASTY, note=NASTY, status=NASTY, action_url="/x?a=1&b=<2>")],
    ],
)
def test_milestone_items_as_the_loop_wrote_them(rows, role):
    context = {"seat": SimpleNamespace(role=role), "csrf_token": "TOKEN"}
    old = OLD_MILESTONE_LOOP.render(Context({**context, "entries": rows}))
    shown = [{**row, "html": milestone_item_html(row)} for row in rows]
    assert MILESTONE_LOOP.render(Context({**context, "entries": shown})) == old


def _commitment(**changes):
    row = {
        "pk": 7,
        "description": "Block two evenings a week",
        "done": False,
        "action_url": "/o/alpha/commitments/7/complete/",
        "errors_html": action_errors_html([]),
    }
    return {**row, **changes}


@pytest.mark.parametrize("role", ["msm", "viewer"])
@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_commitment()],
        [_commitment(done=True), _commitment(pk=8)],
        [_commitment(errors_html=action_errors_html(["Not yours to tick."]))],
        [_commitment(description=NASTY, action_url="/x?a=1&b=<2>")],
    ],
)
def test_commitment_items_as_the_loop_wrote_them(rows, role):
    context = {"seat": SimpleNamespace(role=role), "csrf_token": "TOKEN"}
    old_rows = [
        SimpleNamespace(
            pk=row["pk"],
            description=row["description"],
            done_at=dt.datetime(2024, 3, 5, tzinfo=dt.UTC) if row["done"] else None,
            action_url=row["action_url"],
            action_errors_html=row["errors_html"],
        )
        for row in rows
    ]
    old = OLD_COMMITMENT_LOOP.render(Context({**context, "commitments": old_rows}))
    shown = [SimpleNamespace(html=commitment_item_html(**row)) for row in rows]
    assert COMMITMENT_LOOP.render(Context({**context, "commitments": shown})) == old
