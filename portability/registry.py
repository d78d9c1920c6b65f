"""What an export holds and in which order an import loads it.

Every tenant model of every installed app is exported, found by walking ``apps.get_models()``,
so a model added later is carried without anyone remembering to list it. The few left out are
named in ``EXCLUDED`` with the reason; a test fails when a tenant model is in neither.

Ids of the source mean nothing in the target: every primary key and foreign key is remapped on
import. Columns that hold ids without being foreign keys are listed here too (``GENERIC_IDS``,
``PAYLOAD_IDS``, ``WATERMARKS``) so the importer can remap the ones it knows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.apps import apps
from django.db import models

from tenancy.models import Organization, TenantModel, User

FORMAT = "tandem-organization-export"
VERSION = 1
USERS_FILE = "users.jsonl"
MANIFEST_FILE = "manifest.json"

# Tenant models not exported, each with the reason.
EXCLUDED: dict[str, str] = {
    "tenancy.ApiKey": (
        "a credential, not data: only its hash is stored, and a copy would let the same key "
        "open two organizations; integrators create new keys in the target"
    ),
    "tenancy.IdempotencyRecord": (
        "transient: a retried API request's first answer, kept for a day and meaningless to "
        "another organization's clients"
    ),
    "engagement.IngestFollowUp": (
        "transient: the follow-up a bulk batch still owes, removed a day after it is done; "
        "its events are exported"
    ),
    "portability.DataExport": (
        "the bookkeeping of exports themselves; their files stay with the source organization"
    ),
}


def _webhook_secret() -> str:
    from webhooks.signing import new_secret

    return new_secret()


# Columns that are secrets: left out of the file, and given a fresh value on import.
SECRETS: dict[str, dict[str, Callable[[], object]]] = {
    "webhooks.WebhookEndpoint": {"secret": _webhook_secret},
}

# Integer columns that name a row of another model without being a foreign key. The key is
# (model label, column); the value maps the row's discriminator to the model pointed to.
# ``DomainEvent.subject_id`` points to a different model according to ``kind``.
SUBJECT_BY_KIND: dict[str, str] = {
    "member.band_changed": "members.Member",
    "milestone.achieved": "milestones.ProgressMilestone",
    "goal.status_changed": "outcomes.Goal",
    "event.confirmed": "orchestration.OrchestratedEvent",
    "nudge.failed": "orchestration.Nudge",
}
# Plain id columns that always point to one model.
GENERIC_IDS: dict[tuple[str, str], str] = {
    ("webhooks.WebhookDelivery", "domain_event_id"): "tenancy.DomainEvent",
}
# Top-level keys of ``DomainEvent.payload`` that hold ids, and the model they point to.
PAYLOAD_IDS: dict[str, str] = {
    "member_id": "members.Member",
    "seat_id": "tenancy.Seat",
    "goal_id": "outcomes.Goal",
    "milestone_id": "milestones.ProgressMilestone",
    "definition_id": "milestones.MilestoneDefinition",
    "context_event_id": "engagement.ContextEvent",
    "event_id": "orchestration.OrchestratedEvent",
    "nudge_id": "orchestration.Nudge",
}
# Cursors: "every row of <model> up to this id is handled". Remapped to the new id of the last
# exported row at or below the old value, so consumers neither replay nor skip imported events.
WATERMARKS: dict[tuple[str, str], str] = {
    ("orchestration.DomainEventCursor", "last_event_id"): "tenancy.DomainEvent",
    ("webhooks.WebhookCursor", "last_event_id"): "tenancy.DomainEvent",
    ("webhooks.WebhookCursor", "horizon_event_id"): "tenancy.DomainEvent",
}


def tenant_models() -> list[type[TenantModel]]:
    """Every concrete tenant model installed, in a stable order."""
    found = [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    ]
    return sorted(found, key=lambda model: model._meta.label)


def exported_models() -> list[type[TenantModel]]:
    """The tenant models an export carries, in the order an import must load them."""
    return load_order([m for m in tenant_models() if m._meta.label not in EXCLUDED])


def file_name(model: type[models.Model]) -> str:
    return f"{model._meta.label}.jsonl"


def exported_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns written for each row: all of them but the organization, the secrets and
    those the database computes from the others (the import's database computes them anew)."""
    secrets = SECRETS.get(model._meta.label, {})
    return [
        field
        for field in model._meta.concrete_fields
        if field.name != "organization" and field.name not in secrets and not field.generated
    ]


def tenant_relations(model: type[models.Model]) -> list[models.ForeignKey]:
    """Foreign keys from ``model`` to tenant models (self included)."""
    return [
        field
        for field in model._meta.concrete_fields
        if field.is_relation and issubclass(field.related_model, TenantModel)
    ]


def unsupported_relations(model: type[models.Model]) -> list[str]:
    """Foreign keys the importer would not know how to remap (should be none)."""
    problems = []
    for field in model._meta.concrete_fields:
        if not field.is_relation or field.name == "organization":
            continue
        target = field.related_model
        if target is User or (issubclass(target, TenantModel) and target is not model):
            if target._meta.label in EXCLUDED and not field.null:
                problems.append(f"{model._meta.label}.{field.name} needs excluded {target}")
            continue
        if target is model:
            continue
        if target is Organization:
            problems.append(f"{model._meta.label}.{field.name} points to another organization")
            continue
        problems.append(f"{model._meta.label}.{field.name} points to {target._meta.label}")
    for field in model._meta.many_to_many:
        problems.append(f"{model._meta.label}.{field.name} is a many-to-many field")
    return problems


def _soft_dependencies(label: str) -> set[str]:
    """Models whose ids a non-FK column of ``label`` holds: they must be loaded first."""
    needs: set[str] = set()
    if label == "tenancy.DomainEvent":
        needs |= set(SUBJECT_BY_KIND.values()) | set(PAYLOAD_IDS.values())
    for (owner, _), target in (GENERIC_IDS | WATERMARKS).items():
        if owner == label:
            needs.add(target)
    return needs


def load_order(models_: Iterable[type[TenantModel]]) -> list[type[TenantModel]]:
    """Topological order: every model after the models it points to.

    Self-references are ignored (the importer fills them in a second pass). Should a cycle ever
    appear between models, its nullable edges are dropped and filled the same way; a cycle of
    required foreign keys cannot be loaded and raises.
    """
    by_label = {model._meta.label: model for model in models_}
    required: dict[str, set[str]] = {}
    optional: dict[str, set[str]] = {}
    for label, model in by_label.items():
        required[label], optional[label] = set(), set()
        for field in tenant_relations(model):
            target = field.related_model._meta.label
            if target == label or target not in by_label:
                continue
            (optional if field.null else required)[label].add(target)
        required[label] |= {t for t in _soft_dependencies(label) if t in by_label and t != label}
    order: list[str] = []
    remaining = set(by_label)
    use_optional = True
    while remaining:
        ready = sorted(
            label
            for label in remaining
            if not (required[label] | (optional[label] if use_optional else set())) & remaining
        )
        if not ready:
            if not use_optional:
                raise ValueError(f"Required foreign keys form a cycle among {sorted(remaining)}")
            use_optional = False
            continue
        order += ready
        remaining -= set(ready)
        use_optional = True
    return [by_label[label] for label in order]
