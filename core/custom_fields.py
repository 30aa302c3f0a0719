"""Custom fields: keys declared per entity type (`CustomFieldKey`), values kept on each entity's
own `custom_fields` JSON (a dict of strings), so the entity's API answer and its custom fields
never disagree.

Apps register their entity types in `AppConfig.ready()` (`register("customer", Customer)`):
core never imports the apps above it. The reads (`custom_field_values`, `entities_with_value`)
are what other apps use, e.g. alerts that apply only to customers with a given value.

Every change of an entity's values records `custom_fields.changed` in the outbox (internal, like
`usage.marked`: never a webhook), with the customer the entity belongs to, so that apps above
hear it (alerts filtered on custom fields are evaluated again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import CharField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from . import outbox
from .models import CustomFieldKey

# Metronome's entity names that belong to the Plans era (no contract-world object to hold them).
LEGACY_ENTITIES = frozenset({"charge", "credit_grant", "customer_plan", "plan"})
CHANGED = "custom_fields.changed"

_registry: dict[str, type[models.Model]] = {}


class CustomFieldConflict(ValidationError):
    """A value already held by another entity under a key that enforces uniqueness (409)."""


class CustomFieldEntityNotFound(Exception):
    """No entity of the type has the id (the API answers 404)."""


def register(entity: str, model: type[models.Model]) -> None:
    """Declare that values of `entity` custom fields live on `model.custom_fields`."""
    _registry[entity] = model


def registered_entities() -> list[str]:
    return sorted(_registry)


def entity_model(entity: str) -> type[models.Model]:
    model = _registry.get(entity)
    if model is None:
        if entity in LEGACY_ENTITIES:
            raise ValidationError(
                {"entity": f"'{entity}' belongs to the Plans API; contracts replace it here."}
            )
        raise ValidationError(
            {
                "entity": f"Custom fields on '{entity}' are not kept here (one of: "
                f"{', '.join(registered_entities())})."
            }
        )
    return model


def _entity(entity: str, entity_id) -> models.Model:
    model = entity_model(entity)
    try:
        found = model._default_manager.select_for_update().filter(pk=entity_id).first()
    except (ValueError, ValidationError):
        raise ValidationError({"entity_id": f"'{entity_id}' is not a valid id."}) from None
    if found is None:
        raise CustomFieldEntityNotFound(
            f"{entity.replace('_', ' ').capitalize()} {entity_id} not found."
        )
    return found


# --- Reads -------------------------------------------------------------------------------------------


def custom_field_keys(*, entities: Iterable[str] | None = None):
    """The declared keys, by entity type then key."""
    keys = CustomFieldKey.objects.all()
    if entities:
        keys = keys.filter(entity__in=list(entities))
    return keys.order_by("entity", "key", "id")


def custom_field_values(*, entity: str, entity_id) -> dict[str, str]:
    """The custom fields of one entity ({} when it has none or does not exist)."""
    model = entity_model(entity)
    row = model._default_manager.filter(pk=entity_id).values_list("custom_fields", flat=True)
    return dict(row.first() or {})


def custom_field_values_many(*, entity: str, entity_ids: Iterable) -> dict:
    """{entity id: custom fields} for many entities of one type, in one query."""
    model = entity_model(entity)
    rows = model._default_manager.filter(pk__in=list(entity_ids)).values_list("pk", "custom_fields")
    return {pk: dict(values or {}) for pk, values in rows}


def entities_with_value(*, entity: str, key: str, value: str):
    """The entities of a type whose custom field `key` is `value` (a queryset)."""
    # KeyTextTransform takes the key literally (a `custom_fields__<key>` lookup would read
    # "a__b" as a path).
    return (
        entity_model(entity)
        ._default_manager.annotate(
            _custom_value=Cast(KeyTextTransform(key, "custom_fields"), CharField())
        )
        .filter(_custom_value=value)
    )


# --- Writes ------------------------------------------------------------------------------------------


def _changed(entity: str, row: models.Model, now: datetime) -> None:
    """Record that `row`'s values changed; its customer is the row itself (a customer) or the
    one it belongs to (`customer_id`: contracts, commits, credits...), else none."""
    customer_id = row.pk if entity == "customer" else getattr(row, "customer_id", None)
    outbox.record(
        type=CHANGED,
        subject_id=row.pk,
        customer_id=customer_id,
        occurred_at=now,
        payload={"entity": entity, "entity_id": str(row.pk), "custom_fields": row.custom_fields},
    )


@transaction.atomic
def custom_field_key_add(*, entity: str, key: str, enforce_uniqueness: bool) -> CustomFieldKey:
    """Declare a key; declaring it again as it is changes nothing. Turning uniqueness on for a key
    whose values already repeat is refused."""
    model = entity_model(entity)
    if not key or not key.strip():
        raise ValidationError({"key": "A key cannot be empty."})
    existing = CustomFieldKey.objects.select_for_update().filter(entity=entity, key=key).first()
    if existing is not None:
        if existing.enforce_uniqueness != enforce_uniqueness:
            raise CustomFieldConflict(
                {
                    "key": f"'{key}' is already declared for {entity} with enforce_uniqueness "
                    f"{str(existing.enforce_uniqueness).lower()}; remove it first."
                }
            )
        return existing
    if enforce_uniqueness:
        values = [
            fields.get(key)
            for fields in model._default_manager.filter(custom_fields__has_key=key).values_list(
                "custom_fields", flat=True
            )
        ]
        if len(values) != len(set(values)):
            raise CustomFieldConflict(
                {"enforce_uniqueness": f"Several {entity} entities already share a '{key}' value."}
            )
    created = CustomFieldKey(entity=entity, key=key, enforce_uniqueness=enforce_uniqueness)
    created.full_clean()
    created.save()
    return created


@transaction.atomic
def custom_field_key_remove(*, entity: str, key: str, now: datetime) -> None:
    """Remove a key and, with it, its value on every entity of the type."""
    model = entity_model(entity)
    declared = CustomFieldKey.objects.filter(entity=entity, key=key).first()
    if declared is None:
        raise ValidationError({"key": f"'{key}' is not a custom field key of {entity}."})
    for row in model._default_manager.select_for_update().filter(custom_fields__has_key=key):
        row.custom_fields = {k: v for k, v in row.custom_fields.items() if k != key}
        row.save(update_fields=["custom_fields"])
        _changed(entity, row, now)
    declared.delete()


def custom_field_values_check(
    *, entity: str, entity_id, values: Mapping[str, str], held: Mapping | None = None
) -> None:
    """Refuse values an entity may not take (ValidationError): a key not declared for the entity
    type, a value that is not a string, a value another entity holds under a key that enforces
    uniqueness. Keys the entity already `held` with the same value pass as they are (an admin
    form carrying a value set before its key was declared)."""
    if not isinstance(values, Mapping):
        raise ValidationError({"custom_fields": "Must be an object of keys and string values."})
    held = held or {}
    changed = {k: v for k, v in values.items() if k not in held or held[k] != v}
    declared = {k.key: k for k in CustomFieldKey.objects.filter(entity=entity)}
    unknown = sorted(set(changed) - set(declared))
    if unknown:
        raise ValidationError(
            {
                "custom_fields": f"'{unknown[0]}' is not a custom field key of {entity}; "
                "add it with /v1/customFields/addKey first."
            }
        )
    for key, value in changed.items():
        if not isinstance(value, str):
            raise ValidationError({f"custom_fields.{key}": "Must be a string."})
        if declared[key].enforce_uniqueness:
            clash = entities_with_value(entity=entity, key=key, value=value)
            clash = clash.exclude(pk=entity_id).first() if entity_id else clash.first()
            if clash is not None:
                raise CustomFieldConflict(
                    {
                        f"custom_fields.{key}": f"'{value}' is already the value of {entity} "
                        f"{clash.pk} (the key enforces uniqueness)."
                    }
                )


@transaction.atomic
def custom_field_values_set(
    *, entity: str, entity_id, values: Mapping[str, str], now: datetime
) -> dict:
    """Set (add or replace) values on one entity. Every key must be declared for the entity type;
    a key that enforces uniqueness refuses a value another entity holds."""
    row = _entity(entity, entity_id)
    # The keys are locked while the values are checked (two writers of a unique key).
    list(CustomFieldKey.objects.select_for_update().filter(entity=entity))
    custom_field_values_check(entity=entity, entity_id=row.pk, values=values)
    row.custom_fields = {**(row.custom_fields or {}), **values}
    row.save(update_fields=["custom_fields"])
    _changed(entity, row, now)
    return row.custom_fields


@transaction.atomic
def custom_field_values_replace(
    *, entity: str, entity_id, values: Mapping[str, str], now: datetime
) -> dict:
    """Make `values` the entity's whole custom fields (what an admin form holds: a key left out
    is removed), checked as `custom_field_values_check` does for the keys that change; records
    `custom_fields.changed` when anything changed."""
    row = _entity(entity, entity_id)
    held = dict(row.custom_fields or {})
    list(CustomFieldKey.objects.select_for_update().filter(entity=entity))
    custom_field_values_check(entity=entity, entity_id=row.pk, values=values, held=held)
    if dict(values) == held:
        return held
    row.custom_fields = dict(values)
    row.save(update_fields=["custom_fields"])
    _changed(entity, row, now)
    return row.custom_fields


@transaction.atomic
def custom_field_values_delete(
    *, entity: str, entity_id, keys: Iterable[str], now: datetime
) -> dict:
    """Remove the given keys' values from one entity (keys it does not hold are ignored)."""
    row = _entity(entity, entity_id)
    keys = set(keys)
    row.custom_fields = {k: v for k, v in (row.custom_fields or {}).items() if k not in keys}
    row.save(update_fields=["custom_fields"])
    _changed(entity, row, now)
    return row.custom_fields
