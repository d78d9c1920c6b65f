"""Meta-tests over every model of ours: tenant-scoped (or on a short allowlist), and every
uniqueness rule on a tenant model includes the organization, so the schema can be distributed
by organization without redesign."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from tenancy.managers import TenantManager
from tenancy.models import TenantModel

OUR_APPS = [
    "tenancy",
    "members",
    "outcomes",
    "engagement",
    "milestones",
    "orchestration",
    "webhooks",
    "audit",
    "portability",
]

# Global rows that are not any one organization's data.
NOT_TENANT_SCOPED = {
    "tenancy.User": "a person's identity; their seats carry the organizations",
    "tenancy.Organization": "the tenant itself",
}

# Indexes that serve a queue across organizations (the workers' claim queries), each with its reason.
GLOBAL_INDEXES = {
    "nudge_due_queue": "the dispatcher claims due nudges of every organization, oldest first",
    "nudge_sending_lease": "the sweeper finds claims whose worker died, in every organization",
    "webhookdelivery_due_queue": "the webhook sender claims due deliveries of every organization",
    "ingest_follow_up_pending": "the resend sweep finds follow-ups left pending, in every "
    "organization",
    "apikey_live": "an API request names no organization: its key is found by prefix first",
    # Django's own foreign-key indexes, made partial: the cascades look up by id alone.
    "nudge_event": "deleting an event cascades to its nudges, found by event id alone",
    "nudge_enrollment": "deleting an enrolment cascades to its nudges, found by its id alone",
    "nudge_seat": "removing a seat clears it from its nudges, found by seat id alone",
}

OUR_MODELS = [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()]
TENANT_MODELS = [model for model in OUR_MODELS if issubclass(model, TenantModel)]


def test_there_are_tenant_models():
    assert TENANT_MODELS, "the walk over our apps found no tenant models"


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m._meta.label)
def test_every_model_is_tenant_scoped_or_allowlisted(model):
    if model._meta.label in NOT_TENANT_SCOPED:
        return
    assert issubclass(model, TenantModel), (
        f"{model._meta.label} must derive from tenancy.models.TenantModel or be added, with a "
        "reason, to NOT_TENANT_SCOPED"
    )
    assert isinstance(model._default_manager, TenantManager)
    assert isinstance(model.objects, TenantManager)
    field = model._meta.get_field("organization")
    assert not field.null


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m._meta.label)
def test_uniqueness_on_tenant_models_includes_the_organization(model):
    for field in model._meta.local_fields:
        if field.unique and not field.primary_key:
            pytest.fail(f"{model._meta.label}.{field.name} is unique=True across organizations")
    for fields in model._meta.unique_together:
        assert "organization" in fields, f"{model._meta.label} unique_together {fields}"
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            assert constraint.fields and constraint.fields[0] == "organization", (
                f"{model._meta.label} constraint {constraint.name} must begin with organization"
            )


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m._meta.label)
def test_indexes_on_tenant_models_begin_with_the_organization(model):
    for index in model._meta.indexes:
        if index.name in GLOBAL_INDEXES:
            assert index.condition is not None, (
                f"{index.name} must be partial (a queue, not a table scan)"
            )
            continue
        first = index.fields[0] if index.fields else _expression_name(index.expressions[0])
        assert first in ("organization", "organization_id"), (
            f"{model._meta.label} index {index.name} must begin with organization"
        )


def _expression_name(expression) -> str | None:
    """The field an index expression names, when it is a plain ``F()``."""
    return expression.name if isinstance(expression, models.F) else None
