"""Audit trail reads: entries in time order, by resource, by actor; and how an entry reads."""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet

from .models import AuditEntry
from .registry import AUDITED

ACTIONS = {
    AuditEntry.Action.CREATE: "create",
    AuditEntry.Action.UPDATE: "update",
    AuditEntry.Action.DELETE: "delete",
    AuditEntry.Action.ACCESS: "access",
}


def resource_type_of(content_type: ContentType) -> str:
    """The API's name of a kind of object: `rate_card` for catalog.RateCard."""
    model = content_type.model_class()
    if model is None:
        return content_type.model
    return str(model._meta.verbose_name).replace(" ", "_").lower()


def resource_types() -> dict[str, ContentType]:
    """Every audited kind of object by its API name."""
    found = {}
    for app_label, model_name in AUDITED:
        try:
            content_type = ContentType.objects.get_by_natural_key(app_label, model_name)
        except ContentType.DoesNotExist:
            continue
        found[resource_type_of(content_type)] = content_type
    return found


def audit_entries_list(
    *,
    starting_on: datetime | None = None,
    ending_before: datetime | None = None,
    content_type: ContentType | None = None,
    resource_id: str | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("content_type", "actor")
    if starting_on is not None:
        entries = entries.filter(timestamp__gte=starting_on)
    if ending_before is not None:
        entries = entries.filter(timestamp__lt=ending_before)
    if content_type is not None:
        entries = entries.filter(content_type=content_type, object_pk=resource_id)
    return entries


def audit_entries_for(obj) -> QuerySet[AuditEntry]:
    """One object's entries, newest first (its page's History)."""
    return (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
        )
        .select_related("actor", "actor_token")
        .order_by("-timestamp", "-id")
    )


def field_changes(entry: AuditEntry) -> list[tuple[str, str, str]]:
    """(field label, old, new) per changed field, choices shown by their labels."""
    model = entry.content_type.model_class()
    rows = []
    for name, values in (entry.changes_dict or {}).items():
        label = name.replace("_", " ")
        field = None
        if model is not None:
            try:
                field = model._meta.get_field(name)
                label = str(getattr(field, "verbose_name", label))
            except FieldDoesNotExist:
                field = None
        if isinstance(
            values, dict
        ):  # many-to-many: {"type": "m2m", "operation": ..., "objects": [...]}
            verb = "added" if values.get("operation") == "add" else "removed"
            rows.append((label, "", f"{verb}: {', '.join(map(str, values.get('objects', [])))}"))
            continue
        old, new, *_ = [*values, "", ""]
        choices = dict(getattr(field, "choices", None) or [])
        rows.append((label, _shown(choices.get(old, old)), _shown(choices.get(new, new))))
    return rows


def _shown(value) -> str:
    return "—" if value in (None, "None", "") else str(value)


def entry_description(entry: AuditEntry) -> str:
    """One line: `Updated rate Input Tokens from 2024-01-01 00:00: price 30 → 31`."""
    verb = {
        AuditEntry.Action.CREATE: "Created",
        AuditEntry.Action.UPDATE: "Updated",
        AuditEntry.Action.DELETE: "Deleted",
    }.get(entry.action, "Accessed")
    kind = resource_type_of(entry.content_type).replace("_", " ")
    head = f"{verb} {kind} {entry.object_repr}"
    if entry.action != AuditEntry.Action.UPDATE:
        return head
    changes = "; ".join(f"{label} {old} → {new}" for label, old, new in field_changes(entry))
    return f"{head}: {changes}" if changes else head
