"""The rows of the members table that My book and the member list share, written in Python.

Both pages show 25 members at a time. Through the template every row cost a URL reversal, two
simple tags, a date filter, a choice label and an owner read across two related models: about a
third of the page's CPU. Here a row is one string built from the few columns the table shows
(``members.selectors.member_table_page``: no model instances, so no per-row ``post_init``
signals either). The markup is byte for byte what ``_table.html``'s loop wrote, so the pages
and their tests see the same HTML.

The text columns are escaped with ``html.escape`` (what Django's ``escape`` calls, without its
lazy-string wrapper), and the badge and trend cells are kept per process by what they show (a
band and a rounded gap, a direction and a rounded change): a few hundred distinct cells at most,
instead of two ``format_html`` calls per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Mapping
from html import escape
from typing import Any

from django.urls import reverse
from django.utils.dates import MONTHS_3
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from members.models import Member
from tenancy.models import Organization
from tenancy.templatetags.ui import band_badge, trend_arrow

# A member id no page will ever show, to split the detail URL around (reversed once per page).
_PK_MARK = 987654321

ROW = (
    "\n      <tr>\n"
    '        <td><a href="{url}">{name}</a>\n'
    "          {external_id}</td>\n"
    "        <td>{badge}</td>\n"
    "        <td>{trend}</td>\n"
    "        <td>{tier}</td>\n"
    "        <td>{status}</td>\n"
    "        <td>{renews}</td>\n"
    "        <td>{owner}</td>\n"
    "      </tr>\n    "
)
UNOWNED = '<span class="muted">Unowned</span>'


# Markup of the badge and trend cells by what they show; cleared past this size (it holds a few
# hundred cells in practice: five bands by the gaps 0 to 100, two directions by the changes).
CELLS_KEPT = 4096


class _Cells:
    """A cell's markup per process, written once per distinct ``key`` by ``write``."""

    def __init__(self, write: Callable[..., str]) -> None:
        self._write = write
        self._kept: dict[Hashable, str] = {}

    def get(self, key: Hashable, *args: Any) -> str:
        markup = self._kept.get(key)
        if markup is None:
            if len(self._kept) >= CELLS_KEPT:
                self._kept.clear()
            markup = self._kept[key] = self._write(*args)
        return markup


_BADGES = _Cells(band_badge)
_TRENDS = _Cells(trend_arrow)


def _badge(band: str | None, gap: float | None) -> str:
    """``band_badge``: the band, and the gap as it writes it (rounded)."""
    return _BADGES.get((band, None if gap is None else f"{gap:.0f}"), band, gap)


def _trend(gap: float | None, previous: float | None) -> str:
    """``trend_arrow``: nothing without both gaps, else the direction and rounded change."""
    if gap is None or previous is None:
        return ""
    delta = gap - previous
    key = "flat" if abs(delta) < 0.5 else (delta > 0, f"{abs(delta):.0f}")
    return _TRENDS.get(key, gap, previous)


def _detail_url(organization: Organization) -> tuple[str, str]:
    """Member 360's URL around the member id, so each row only inserts its id."""
    url = reverse("members:detail", kwargs={"org_slug": organization.slug, "member_id": _PK_MARK})
    head, _, tail = str(conditional_escape(url)).partition(str(_PK_MARK))
    return head, tail


def _owner(row: Mapping[str, Any]) -> str:
    """The owner's ``User.display_name`` (full name, else email), or "Unowned"."""
    if row["owner_id"] is None:
        return UNOWNED
    return escape(row["owner__user__full_name"] or row["owner__user__email"])


class _Renews:
    """A renewal date as the ``date:"M j, Y"`` filter writes it ("Feb 10, 2027"), the month's
    abbreviation translated once per month instead of a ``DateFormat`` per row."""

    def __init__(self) -> None:
        self.months: dict[int, str] = {}

    def __call__(self, day: dt.date | None) -> str:
        if day is None:
            return "—"
        month = self.months.get(day.month)
        if month is None:
            month = self.months[day.month] = MONTHS_3[day.month].title()
        return f"{month} {day.day}, {day.year:04d}"


def member_table_rows(
    rows: Iterable[Mapping[str, Any]], *, organization: Organization
) -> SafeString:
    """The table body's rows for ``member_table_page`` rows, as one safe string."""
    head, tail = _detail_url(organization)
    statuses = {value: str(label) for value, label in Member.Status.choices}
    renews = _Renews()
    html = []
    for row in rows:
        external_id = row["external_id"]
        html.append(
            ROW.format(
                url=f"{head}{row['pk']}{tail}",
                name=escape(row["name"]),
                external_id=(
                    f'<span class="muted small">{escape(external_id)}</span>' if external_id else ""
                ),
                badge=_badge(row["success_band"], row["success_gap"]),
                trend=_trend(row["success_gap"], row["previous_gap"]),
                tier=escape(row["tier"]),
                status=escape(statuses.get(row["status"], row["status"])),
                renews=renews(row["renewal_on"]),
                owner=_owner(row),
            )
        )
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped
