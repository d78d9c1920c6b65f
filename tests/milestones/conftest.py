"""Helpers for the milestones tests: counting rows (to prove a refused call wrote nothing) and
counting queries (to prove reads and batch writes do not grow with the rows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from milestones.models import Commitment, MilestoneDefinition, ProgressMilestone


def _row_counts() -> dict[str, int]:
    return {
        "definitions": MilestoneDefinition.objects.unscoped().count(),
        "milestones": ProgressMilestone.objects.unscoped().count(),
        "achieved": ProgressMilestone.objects.unscoped().filter(achieved_at__isnull=False).count(),
        "commitments": Commitment.objects.unscoped().count(),
        "done": Commitment.objects.unscoped().filter(done_at__isnull=False).count(),
    }


@pytest.fixture
def row_counts() -> Callable[[], dict[str, int]]:
    """Snapshot of every milestones table (all organizations), to compare before and after."""
    return _row_counts


@pytest.fixture
def count_queries() -> Callable[[Callable[[], Any]], int]:
    """Run a function and return how many SQL queries it sent."""

    def _count(func: Callable[[], Any]) -> int:
        with CaptureQueriesContext(connection) as context:
            func()
        return len(context.captured_queries)

    return _count
