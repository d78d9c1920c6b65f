"""My book's events panel: the first page is one read that also counts the events; later
pages are the paginator's."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.paging import counted_page
from tests.factories import MemberFactory, OrchestratedEventFactory
from tests.members.book_events_reference import events_to_announce_or_confirm

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _events(tenant, n: int) -> None:
    mine = MemberFactory(organization=tenant.organization, owner=tenant.msm)
    for i in range(n):
        OrchestratedEventFactory(
            member=mine,
            title=f"Event {i:02d}",
            scheduled_for=timezone.now() + dt.timedelta(days=1, minutes=i),
        )


def test_the_first_page_counts_the_events_in_the_same_read(tenant_a):
    _events(tenant_a, 12)
    events = events_to_announce_or_confirm(organization=tenant_a.organization, owner=tenant_a.msm)
    with CaptureQueriesContext(connection) as queries:
        page = counted_page(events, None, 10)
        titles = [event.title for event in page]
    assert len(queries) == 2  # the rows with their count, the nudges of those rows
    assert titles == [f"Event {i:02d}" for i in range(10)]
    assert page.paginator.count == 12 and page.paginator.num_pages == 2 and page.has_next()
    second = counted_page(events, "2", 10)
    assert [event.title for event in second] == ["Event 10", "Event 11"]
    assert counted_page(events, "99", 10).number == 2  # get_page's rules for the others


def test_an_empty_panel_is_one_query(tenant_a):
    events = events_to_announce_or_confirm(organization=tenant_a.organization, owner=tenant_a.msm)
    with CaptureQueriesContext(connection) as queries:
        page = counted_page(events, "1", 10)
        assert list(page) == [] and page.paginator.count == 0 and not page.has_other_pages()
    assert len(queries) == 1


def test_the_events_panel_pages(login, tenant_a):
    _events(tenant_a, 12)
    client = login(tenant_a.msm)
    book = reverse("members:book", kwargs={"org_slug": tenant_a.organization.slug})
    body = client.get(book).content.decode()
    panel = re.search(r'<section id="events-panel".*?</section>', body, re.S)[0]
    assert "Event 09" in panel and "Event 10" not in panel and "Page 1 of 2" in panel
    fragment = client.get(book + "?panel=events&events_page=2", **HTMX).content.decode()
    assert "Event 11" in fragment and "Event 09" not in fragment and "Page 2 of 2" in fragment
