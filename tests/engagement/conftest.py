"""Fixtures for the engagement tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.fixture
def count_queries() -> Callable[[Callable[[], Any]], int]:
    """Run a callable and return how many SQL queries it made."""

    def _count(func: Callable[[], Any]) -> int:
        with CaptureQueriesContext(connection) as captured:
            func()
        return len(captured.captured_queries)

    return _count
