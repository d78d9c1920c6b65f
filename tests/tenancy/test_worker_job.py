"""How far a worker's job got, as the import and export pages show it."""

from __future__ import annotations

import pytest

from members.models import MemberImport
from portability.models import DataExport


@pytest.mark.parametrize(
    ("job", "counted"), [(MemberImport, "processed_rows"), (DataExport, "done_rows")]
)
@pytest.mark.parametrize(
    ("status", "done", "total", "percent", "finished"),
    [
        ("queued", 0, 0, 0, False),
        ("running", 50, 200, 25, False),
        ("running", 200, 200, 99, False),  # every row counted, the worker not yet done
        ("done", 200, 200, 100, True),
        ("failed", 10, 200, 5, True),
    ],
)
def test_percent_and_finished(job, counted, status, done, total, percent, finished):
    row = job(status=status, total_rows=total, **{counted: done})
    assert (row.percent, row.is_finished) == (percent, finished)
