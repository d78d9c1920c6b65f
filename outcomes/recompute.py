"""Scheduling success-gap recomputes when something a score reads has changed.

Changes are collected per request (or per ``recompute_batch()`` block) and sent after the work
has committed as one task per organization, so ten changes in one request schedule one
recompute. Outside a batch, a change schedules its member's recompute on commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

_batch: ContextVar[dict[int, set[int]] | None] = ContextVar("tandem_recompute_batch", default=None)

# Seconds the worker waits before recomputing: bursts of changes land in one run.
DEBOUNCE_SECONDS = 2


def _send(pending: dict[int, set[int]]) -> None:
    """Publish the recomputes. A broker that cannot be reached must not fail the request whose
    write has already committed: the failure is logged, and nothing is lost for good because the
    nightly ``outcomes.recompute_all_organizations`` scores every member of every organization
    (and the pages that change a score also score the member at once)."""
    from outcomes.tasks import recompute_members

    for organization_id, member_ids in pending.items():
        if not member_ids:
            continue
        try:
            recompute_members.apply_async(
                kwargs={"organization_id": organization_id, "member_ids": sorted(member_ids)},
                countdown=DEBOUNCE_SECONDS,
                expires=3600,
            )
        except Exception:
            logger.exception(
                "could not queue the recompute of %d member(s) of organization %s; the nightly "
                "recompute will score them",
                len(member_ids),
                organization_id,
            )


def member_score_changed(*, organization_id: int, member_id: int) -> None:
    """Note that a member's score is stale; it is recomputed after the change commits."""
    batch = _batch.get()
    if batch is not None:
        batch.setdefault(organization_id, set()).add(member_id)
        return
    transaction.on_commit(lambda: _send({organization_id: {member_id}}))


@contextmanager
def recompute_batch() -> Iterator[dict[int, set[int]]]:
    """Collect score changes inside the block; send them once when the block ends."""
    if _batch.get() is not None:  # nested: the outer batch sends
        yield _batch.get()
        return
    pending: dict[int, set[int]] = {}
    token = _batch.set(pending)
    try:
        yield pending
    finally:
        _batch.reset(token)
        if pending:
            transaction.on_commit(lambda: _send(pending))


class RecomputeBatchMiddleware:
    """One debounced recompute per request, whatever the number of changes it made."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with recompute_batch():
            return self.get_response(request)
