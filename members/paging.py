"""Pages of lists without the paginator's own COUNT: a first page (the one nearly every visit
shows) that counts its list in the same read, and pages of lists the caller counts and reads
with its own SQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window


class _CountedPaginator(Paginator):
    """A paginator told its count (by the read of a first page, or the caller's own count)."""

    def __init__(self, object_list: Sequence | QuerySet, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.count = count  # instead of the cached COUNT query


def empty_page(per_page: int) -> Page:
    """The first page of a list known to be empty, with no query at all."""
    return Page([], 1, _CountedPaginator([], per_page, 0))


def counted_page(rows: QuerySet, number: str | None, per_page: int) -> Page:
    """The page ``number`` of ``rows`` (``Paginator.get_page``'s rules). The first page's rows
    carry the count of all rows (a window count), so no COUNT runs before them, and an empty
    list is one query too. Only for short lists: the window reads every row of ``rows``."""
    if number not in (None, "", "1"):
        return Paginator(rows, per_page).get_page(number)
    first = list(rows.annotate(rows_in_all=Window(Count("pk")))[:per_page])
    count = first[0].rows_in_all if first else 0
    return Page(first, 1, _CountedPaginator(rows, per_page, count))


class _ReadOnSlice:
    """Rows ``read(offset, limit)`` reads when the paginator slices them: the page's read."""

    def __init__(self, read: Callable[[int, int], list[Any]]) -> None:
        self._read = read

    def __getitem__(self, window: slice) -> list[Any]:
        if window.stop <= window.start:
            return []  # an empty list's only page: nothing to read
        return self._read(window.start, window.stop - window.start)


def page_of(
    read: Callable[[int, int], list[Any]], *, count: int, number: str | None, per_page: int
) -> Page:
    """Page ``number`` (``Paginator.get_page``'s rules) of a list of ``count`` rows whose page
    ``read(offset, limit)`` reads: for a caller that counts and reads with its own SQL."""
    return _CountedPaginator(_ReadOnSlice(read), per_page, count).get_page(number)


def first_page_counted(
    read: Callable[[int, int], tuple[list[Any], int]],
    count: Callable[[], int],
    *,
    number: str | None,
    per_page: int,
) -> Page:
    """``counted_page`` for a caller with its own SQL: ``read(offset, limit)`` returns a page's
    rows with the count of all rows (a window), so the first page is one query; another page
    is counted by ``count()`` first, then read (``Paginator.get_page``'s rules)."""
    if number not in (None, "", "1"):
        return page_of(
            lambda offset, limit: read(offset, limit)[0],
            count=count(),
            number=number,
            per_page=per_page,
        )
    rows, total = read(0, per_page)
    return Page(rows, 1, _CountedPaginator(rows, per_page, total))
