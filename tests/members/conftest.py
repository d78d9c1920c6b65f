"""Helpers for the members tests: what was written, and what a member looked like."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from engagement.models import ContextEvent
from members.models import Advocacy, Member, MembershipEvent, OwnershipChange
from tenancy.models import Organization

WRITTEN_MODELS = (Member, OwnershipChange, MembershipEvent, Advocacy, ContextEvent)


@pytest.fixture
def row_counts() -> Callable[[Organization], dict[str, int]]:
    """Rows per model in one organization, to prove a refused call wrote nothing."""

    def _counts(organization: Organization) -> dict[str, int]:
        return {
            model.__name__: model.objects.for_org(organization).count() for model in WRITTEN_MODELS
        }

    return _counts


@pytest.fixture
def stored() -> Callable[[Member], dict[str, Any]]:
    """A member's stored fields, read back from the database."""

    def _stored(member: Member) -> dict[str, Any]:
        member.refresh_from_db()
        return {field.attname: getattr(member, field.attname) for field in Member._meta.fields}

    return _stored


@pytest.fixture
def refused(row_counts, stored) -> Callable[..., AbstractContextManager]:
    """``with refused("field", organization, member, ...):`` expects a ValidationError naming
    ``field``, and proves nothing was written: row counts and the members' stored fields are
    as they were before."""

    @contextmanager
    def _refused(field: str, organization: Organization, *members: Member) -> Iterator[Any]:
        before = row_counts(organization)
        was = [stored(member) for member in members]
        with pytest.raises(ValidationError) as exc_info:
            yield exc_info
        assert field in exc_info.value.message_dict, exc_info.value.message_dict
        assert row_counts(organization) == before
        assert [stored(member) for member in members] == was

    return _refused
