"""Billable metrics: what turns events into a quantity."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .common import ArchivableQuerySet


class BillableMetric(models.Model):
    """Turns usage events into a quantity: filters, an aggregation over one property, group keys.

    Only the name may change after creation; a metric is archived, never deleted.
    """

    class AggregationType(models.TextChoices):
        COUNT = "COUNT", "Count"
        SUM = "SUM", "Sum"
        MAX = "MAX", "Max"
        UNIQUE = "UNIQUE", "Unique (distinct values)"
        LATEST = "LATEST", "Latest"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    aggregation_type = models.CharField(max_length=10, choices=AggregationType.choices)
    aggregation_key = models.CharField(
        max_length=200, blank=True, help_text="The property aggregated (not used by COUNT)."
    )
    event_type_filter = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"in_values": [...]} or {"not_in_values": [...]}; empty matches every type.',
    )
    property_filters = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"name": ..., "exists": true, "in_values": [...], "not_in_values": [...]}]',
    )
    group_keys = models.JSONField(
        default=list,
        blank=True,
        help_text='Key sets, e.g. [["model_name"], ["model_name", "user_id"]].',
    )
    sql = models.TextField(
        blank=True,
        help_text="A SQL metric's query (then the aggregation fields are unused); see "
        "catalog.sql_metric.",
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(aggregation_type="COUNT") | ~Q(aggregation_key=""),
                name="billablemetric_key_unless_count",
                violation_error_message="An aggregation key is required unless the aggregation is COUNT.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_sql(self) -> bool:
        return bool(self.sql)

    def clean(self) -> None:
        errors = {}
        if self.sql:
            from catalog.sql_metric import SqlMetricError, parse_sql_metric

            try:
                parse_sql_metric(self.sql)
            except SqlMetricError as exc:
                errors["sql"] = str(exc)
        if self.aggregation_type != self.AggregationType.COUNT and not self.aggregation_key:
            errors["aggregation_key"] = (
                "An aggregation key is required unless the aggregation is COUNT."
            )
        etf = self.event_type_filter or {}
        if not isinstance(etf, dict) or set(etf) - {"in_values", "not_in_values"}:
            errors["event_type_filter"] = (
                "Use in_values and/or not_in_values, each a list of event types."
            )
        elif any(
            not isinstance(etf.get(k, []), list)
            or not all(isinstance(v, str) and v for v in etf.get(k, []))
            for k in etf
        ):
            errors["event_type_filter"] = "Event types must be non-empty strings."
        problem = property_filters_problem(self.property_filters)
        if problem:
            errors["property_filters"] = problem
        problem = group_keys_problem(self.group_keys)
        if problem:
            errors["group_keys"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def event_types_in(self) -> list[str]:
        return list((self.event_type_filter or {}).get("in_values") or [])

    @property
    def event_types_not_in(self) -> list[str]:
        return list((self.event_type_filter or {}).get("not_in_values") or [])

    @property
    def all_group_keys(self) -> list[str]:
        """Every property named by any key set, in first-seen order."""
        seen: list[str] = []
        for key_set in self.group_keys or []:
            for key in key_set:
                if key not in seen:
                    seen.append(key)
        return seen

    def has_key_set(self, keys: list[str]) -> bool:
        wanted = set(keys)
        return any(set(key_set) == wanted for key_set in self.group_keys or [])

    def has_key_subset(self, keys: list[str]) -> bool:
        """Whether the keys are a subset of one of the metric's key sets (what a product may
        price and present by: the quickstart's "a subset of the group keys on the underlying
        billable metric"; its aggregates hold every key, so any subset rolls up exactly)."""
        wanted = set(keys)
        return any(wanted <= set(key_set) for key_set in self.group_keys or [])

    def example_event(self) -> dict:
        """An event payload this metric would match (the admin's "Example event payload" box)."""
        properties: dict[str, str] = {}
        if self.aggregation_key:
            properties[self.aggregation_key] = (
                "user-123" if self.aggregation_type == self.AggregationType.UNIQUE else "100"
            )
        for key in self.all_group_keys:
            properties.setdefault(key, f"{key}-value")
        for rule in self.property_filters or []:
            name = rule.get("name")
            if not name:
                continue
            if rule.get("in_values"):
                properties[name] = rule["in_values"][0]
            elif rule.get("exists") is not False:
                excluded = set(rule.get("not_in_values") or [])
                value = properties.get(name, f"{name}-value")
                if value in excluded:
                    value = f"{name}-other"
                properties[name] = value
            else:
                properties.pop(name, None)
        event_type = (self.event_types_in or ["your_event_type"])[0]
        if event_type in self.event_types_not_in:
            event_type = f"not_{event_type}"
        return {
            "transaction_id": "2c5ee6e3-unique-per-event",
            "customer_id": "your-customer-id-or-alias",
            "event_type": event_type,
            "timestamp": "2026-01-01T00:00:00Z",
            "properties": properties,
        }


def property_filters_problem(value) -> str | None:
    if not isinstance(value, list):
        return "Property filters must be a list."
    for index, rule in enumerate(value):
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str) or not rule["name"]:
            return f"Property filter {index + 1} needs a property name."
        unknown = set(rule) - {"name", "exists", "in_values", "not_in_values"}
        if unknown:
            return f"Property filter {index + 1} has unknown fields: {', '.join(sorted(unknown))}."
        if "exists" in rule and rule["exists"] is not None and not isinstance(rule["exists"], bool):
            return f"Property filter {index + 1}: exists must be true or false."
        for key in ("in_values", "not_in_values"):
            if (
                key in rule
                and rule[key] is not None
                and (
                    not isinstance(rule[key], list)
                    or not all(isinstance(v, str) for v in rule[key])
                )
            ):
                return f"Property filter {index + 1}: {key} must be a list of strings."
    return None


def group_keys_problem(value) -> str | None:
    if not isinstance(value, list):
        return "Group keys must be a list of key sets."
    for index, key_set in enumerate(value):
        if (
            not isinstance(key_set, list)
            or not key_set
            or not all(isinstance(k, str) and k for k in key_set)
        ):
            return f"Group key set {index + 1} must be a non-empty list of property names."
        if len(set(key_set)) != len(key_set):
            return f"Group key set {index + 1} names a property twice."
    return None
