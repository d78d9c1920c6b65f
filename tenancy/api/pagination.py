"""Pages for lists: numbered pages for things, cursors for event streams.

Cursor pages stay correct while new rows arrive (no skipped or repeated rows), which is what an
integrator following engagements or context events needs.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import F, OrderBy, QuerySet
from rest_framework.pagination import CursorPagination, PageNumberPagination


class KeysFirstPaginator(Paginator):
    """Django's paginator, except that a page past the first is read as a "deferred join":
    the page's primary keys first (ordered, offset and limited: PostgreSQL reads them from the
    ordering's index alone), then those rows with their joins.

    A plain ``LIMIT 50 OFFSET 7450`` over members joined to their owners made PostgreSQL join
    and sort all 10,000 rows, spilling to disk (40 ms); the keys first take 5 ms. The rows, their
    order and the count are the same; only querysets this can express exactly (one primary key,
    ordered by terms that end with the primary key, no DISTINCT, GROUP BY, annotation or set
    operation) take this path.
    """

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(_page_rows(self.object_list, bottom, top), number, self)


def _page_rows(rows, bottom: int, top: int):
    if bottom == 0 or not _keys_first_applies(rows):
        return rows[bottom:top]
    keys = rows.values("pk")[bottom:top]  # a sliced subquery keeps its ORDER BY
    return rows.filter(pk__in=keys)


def _keys_first_applies(rows) -> bool:
    if not isinstance(rows, QuerySet) or len(rows.model._meta.pk_fields) != 1:
        return False
    query = rows.query
    return (
        not query.is_sliced
        and not query.distinct
        and query.group_by is None
        and query.combinator is None
        and not query.annotations
        and not query.extra
        and _ends_with_primary_key(rows)
    )


def _ends_with_primary_key(rows: QuerySet) -> bool:
    """Whether the rows' order is total because its last term is the primary key: then the
    keys' subquery and the rows' query order every row the same way. (Among ties of a partial
    order, PostgreSQL may order the two differently, so such lists keep the plain slice.)"""
    query = rows.query
    terms = query.order_by or (rows.model._meta.ordering if query.default_ordering else ())
    if not terms:
        return False
    last = terms[-1]
    if isinstance(last, OrderBy):
        last = last.expression
    if isinstance(last, F):
        last = last.name
    if not isinstance(last, str):
        return False
    pk = rows.model._meta.pk
    return last.removeprefix("-") in ("pk", pk.name, pk.attname)


class TandemPageNumberPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = KeysFirstPaginator


class StreamCursorPagination(CursorPagination):
    """Newest first by default; a view sets ``ordering`` to a unique, indexed order."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-pk"
