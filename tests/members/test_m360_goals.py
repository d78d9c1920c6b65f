"""Member 360's goals written in Python (members.member_page_goals) read as the outcomes
section's goal loop wrote them, for a seat that may act and for a viewer, with blank and
failed forms, measurable and confirmed conditions, open and closed goals, escaping included."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.utils import timezone

from members.member_page import outcomes_context
from outcomes.forms import ConditionAssessForm, GoalProgressForm
from outcomes.models import Condition, Goal
from tests.factories import ConditionFactory, DesiredOutcomeFactory, GoalFactory, MemberFactory

pytestmark = pytest.mark.django_db

# The goal loop of members/detail.html as it was, and as it is.
OLD_GOAL_LOOP = Template(
    """{% for goal in outcome.goal_list %}
          <div class="goal goal-{{ goal.status }}" id="goal-{{ goal.pk }}">
            <p><strong>{{ goal.objective }}</strong> <span class="badge">{{ goal.get_status_display }}</span></p>
            <p class="muted small">Due {{ goal.due_on|date:"M j, Y" }}
              {% if goal.target is not None %}· {{ goal.current_value|default_if_none:goal.baseline|floatformat:"-2" }} of {{ goal.target|floatformat:"-2" }} {{ goal.metric_unit }}{% endif %}
              · {% widthratio goal.pace.actual 1 100 %}% done, {% widthratio goal.pace.expected 1 100 %}% of the time used</p>
            {% if goal.condition_list %}
              <ul class="conditions">
                {% for condition in goal.condition_list %}
                  <li class="condition condition-{{ condition.state }}" id="condition-{{ condition.pk }}">
                    <span aria-hidden="true">{% if condition.state == "met" %}✓{% elif condition.state == "not_met" %}✗{% else %}?{% endif %}</span>
                    {{ condition.description }}
                    {% if condition.kind == "measurable" %}<span class="muted small">({{ condition.get_comparison_display }} {{ condition.threshold|floatformat:"-2" }}{% if condition.observed_value is not None %}, observed {{ condition.observed_value|floatformat:"-2" }}{% endif %})</span>{% endif %}
                    <span class="muted small">({{ condition.get_state_display|lower }})</span>
                    {% if seat.role != "viewer" and goal.is_open %}
                      {% with form=condition.assess_form %}
                      <form method="post" action="{{ condition.assess_url }}"
                            hx-post="{{ condition.assess_url }}" hx-target="#outcomes" hx-swap="outerHTML"
                            class="inline-action" aria-label="Record whether “{{ condition.description|truncatechars:40 }}” is met">
                        {% csrf_token %}
                        {{ form.html.errors }}
                        {% for error in form.state.errors %}<p class="field-error">{{ error }}</p>{% endfor %}
                        {% for error in form.evidence.errors %}<p class="field-error">{{ error }}</p>{% endfor %}
                        {% if condition.kind == "measurable" %}
                          {{ form.html.field.observed_value }}
                          <button type="submit" class="button button-small">Record value</button>
                        {% else %}
                          {% for error in form.observed_value.errors %}<p class="field-error">{{ error }}</p>{% endfor %}
                          <button type="submit" name="state" value="met" class="button button-small">Met</button>
                          <button type="submit" name="state" value="not_met" class="button button-small">Not met</button>
                        {% endif %}
                      </form>
                      {% endwith %}
                    {% else %}{{ condition.assess_form.html.errors }}{% endif %}
                  </li>
                {% endfor %}
              </ul>
            {% endif %}
            {% if seat.role != "viewer" and goal.is_measurable and goal.is_open %}
              {% with form=goal.progress_form %}
              <form method="post" action="{{ goal.progress_url }}"
                    hx-post="{{ goal.progress_url }}" hx-target="#outcomes" hx-swap="outerHTML"
                    class="inline-action" aria-label="Record progress on “{{ goal.objective|truncatechars:40 }}”">
                {% csrf_token %}
                {{ form.html.errors }}
                {{ form.html.field.value }}
                <button type="submit" class="button button-small">Record progress</button>
              </form>
              {% endwith %}
            {% else %}{{ goal.progress_form.html.errors }}{% endif %}
          </div>
        {% empty %}<p class="muted">No goals yet.</p>{% endfor %}"""
)
GOAL_LOOP = Template(
    '{% for goal in outcome.goal_list %}{% if seat.role != "viewer" %}{% for part in goal.html.for_actor %}{% if not forloop.first %}{% csrf_token %}{% endif %}{{ part }}{% endfor %}{% else %}{{ goal.html.read_only }}{% endif %}{% empty %}<p class="muted">No goals yet.</p>{% endfor %}'
)
NASTY = "<script>alert('x')</script> & \"quoted\" and a long tail past forty characters"


def _history(member):
    today = timezone.localdate()
    outcome = DesiredOutcomeFactory(member=member, title=NASTY)
    measured = GoalFactory(desired_outcome=outcome, objective=NASTY, metric_unit="<b>credits</b>")
    ConditionFactory(goal=measured, description=NASTY, state=Condition.State.MET)
    ConditionFactory(
        goal=measured,
        kind=Condition.Kind.MEASURABLE,
        comparison=Condition.Comparison.GTE,
        threshold=Decimal("12.5000"),
        observed_value=Decimal("3.1250"),
        state=Condition.State.NOT_MET,
    )
    ConditionFactory(
        goal=measured,
        kind=Condition.Kind.MEASURABLE,
        comparison=Condition.Comparison.LT,
        threshold=Decimal("4"),
    )
    GoalFactory(desired_outcome=outcome, current_value=None, baseline=Decimal("2.5"))
    GoalFactory(desired_outcome=outcome, target=None, baseline=None, current_value=None)
    GoalFactory(
        desired_outcome=outcome,
        starts_on=today - dt.timedelta(days=10),
        due_on=today - dt.timedelta(days=10),
    )
    closed = GoalFactory(desired_outcome=outcome, status=Goal.Status.ACHIEVED)
    ConditionFactory(
        goal=closed,
        kind=Condition.Kind.MEASURABLE,
        comparison=Condition.Comparison.EQ,
        threshold=Decimal("1"),
    )
    DesiredOutcomeFactory(member=member)  # no goals
    return measured


def _failed(form_class, key, data, message):
    form = form_class(data, auto_id=f"id_{key}_%s")
    form.is_valid()
    form.add_error(None, message)
    return form


@pytest.mark.parametrize("role", ["msm", "viewer"])
@pytest.mark.parametrize("failed", [False, True])
def test_goals_as_the_loop_wrote_them(tenant_a, role, failed):
    org = tenant_a.organization
    member = MemberFactory(organization=org)
    measured = _history(member)
    bound = {}
    if failed:
        for condition in Condition.objects.for_org(org).filter(goal_id=measured.pk):
            key = f"condition-{condition.pk}"
            bound[key] = _failed(
                ConditionAssessForm,
                key,
                {"state": "bogus", "observed_value": "x", "evidence": "<e>" * 400},
                NASTY,
            )
        key = f"progress-{measured.pk}"
        bound[key] = _failed(GoalProgressForm, key, {"value": "<x>"}, "Not < that")
    outcomes = outcomes_context(organization=org, member=member, bound=bound)["outcomes"]
    assert len(outcomes) == 2
    for outcome in outcomes:
        context = {"seat": SimpleNamespace(role=role), "csrf_token": "TOKEN", "outcome": outcome}
        new = GOAL_LOOP.render(Context(context))
        assert new == OLD_GOAL_LOOP.render(Context(context))
        assert ("TOKEN" in new) == (role != "viewer" and bool(outcome.goal_list))
