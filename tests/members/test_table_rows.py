"""The members table's rows written in Python are the markup the template loop wrote."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import OuterRef, Subquery
from django.template import Context, Template

from members.models import Member
from members.selectors import members_for_list
from members.table_rows import member_table_rows
from outcomes.models import SuccessGapSnapshot
from outcomes.scoring import success_gaps_recompute
from tests.factories import GoalFactory, MemberFactory, SeatFactory, UserFactory
from tests.members.table_reference import member_table_values

pytestmark = pytest.mark.django_db

# ``_table.html``'s loop before the rows moved to Python, over model instances.
TEMPLATE_LOOP = Template(
    """{% load ui %}{% for m in members %}
      <tr>
        <td><a href="{% url 'members:detail' org_slug=organization.slug member_id=m.pk %}">{{ m.name }}</a>
          {% if m.external_id %}<span class="muted small">{{ m.external_id }}</span>{% endif %}</td>
        <td>{% band_badge m.success_band m.success_gap %}</td>
        <td>{% trend_arrow m.success_gap m.previous_gap %}</td>
        <td>{{ m.tier }}</td>
        <td>{{ m.get_status_display }}</td>
        <td>{{ m.renewal_on|date:"M j, Y"|default:"—" }}</td>
        <td>{% if m.owner %}{{ m.owner.user.display_name }}{% else %}<span class="muted">Unowned</span>{% endif %}</td>
      </tr>
    {% endfor %}"""
)


def test_rows_match_the_template_loop(tenant_a):
    organization = tenant_a.organization
    no_name = SeatFactory(organization=organization, user=UserFactory(full_name=""))
    members = [
        MemberFactory(
            organization=organization,
            owner=tenant_a.msm,
            name='Ann <b>"Quote"</b> & Co',
            external_id="X-<1>",
            tier="Gold & Silver",
        ),
        MemberFactory(organization=organization, owner=no_name, renewal_on=None, tier=""),
        MemberFactory(organization=organization, owner=None, status=Member.Status.LAPSED),
        MemberFactory(organization=organization, owner=tenant_a.msm, status=Member.Status.GRACE),
    ]
    for member, value in zip(members, (1, 10, 30), strict=False):
        GoalFactory(desired_outcome__member=member, current_value=value)
    success_gaps_recompute(organization=organization)
    success_gaps_recompute(organization=organization)
    # Gaps that moved since the previous snapshot: wider, narrower, the same.
    scored = Member.objects.for_org(organization)
    for member, delta in zip(members, (12.0, -7.0, 0.2), strict=False):
        gap = scored.get(pk=member.pk).success_gap
        scored.filter(pk=member.pk).update(
            success_gap=gap + delta, renewal_on=dt.date(2031, 1, 9) if delta > 0 else None
        )
    MemberFactory(organization=organization, name="Unscored Una")  # no band, no gap

    listed = members_for_list(organization=organization)
    with_previous_gap = listed.annotate(
        previous_gap=Subquery(
            SuccessGapSnapshot.objects.for_org(organization)
            .filter(member_id=OuterRef("pk"))
            .order_by("-computed_at", "-pk")
            .values("gap")[1:2]
        )
    )
    expected = TEMPLATE_LOOP.render(
        Context({"members": list(with_previous_gap), "organization": organization})
    )
    values = member_table_values(organization=organization, page=listed[:25])
    rows = member_table_rows(values, organization=organization)
    assert str(rows) == expected
    assert "trend-worse" in rows and "trend-better" in rows and "trend-flat" in rows
    assert "Unowned" in rows and no_name.user.email in rows and "Jan 9, 2031" in rows
    assert "&lt;b&gt;&quot;Quote&quot;" in rows and "X-&lt;1&gt;" in rows
