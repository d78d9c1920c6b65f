"""Pages for lists: numbered pages for things, cursors for event streams.

Cursor pages stay correct while new rows arrive (no skipped or repeated rows), which is what an
integrator following engagements or context events needs.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


class TandemPageNumberPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class StreamCursorPagination(CursorPagination):
    """Newest first by default; a view sets ``ordering`` to a unique, indexed order."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-pk"
