"""What each billable metric takes from an event: matching, group values and the aggregated value.

The metric definitions are compiled once and cached in the process. A metric's definition never
changes after creation (only its name, and archiving), so the cache is valid as long as no metric
was created or deleted: `definitions_signature()` is `(count, max(created_at))` of the metric table.
The ingest hot path does not even query it: its one SQL statement compares the signature it was
computed with and writes nothing if it is stale (then the batch is recomputed and sent again).
Archived metrics keep measuring: products that use an archived metric keep working (Metronome).

Semantics (shared by ingestion, backfill, the sandbox and events search):
- event type: `in_values` (if non-empty) must contain it, `not_in_values` must not;
- property filters, all must pass: `exists: true` needs the property, `exists: false` forbids it,
  non-empty `in_values` needs its text value in the list, `not_in_values` refuses a present value in
  the list. A value's text is the string itself, a number's decimal text, `true`/`false`;
- SUM, MAX and LATEST need a numeric aggregation-key value (a number or a numeric string); an
  event without one is ignored by that metric (Metronome does the same), not rejected;
- UNIQUE needs the aggregation key present; its distinct values are compared as text;
- group values: the text of each of the metric's group-key properties the event carries.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal, InvalidOperation

from django.db import connection

from catalog.models import BillableMetric

# The numeric domain of event values, the same on both databases: a finite decimal below 10^26
# in magnitude with at most 100 digits after the point. A JSON number outside it refuses its batch
# (400 naming the event and property, `metering.validation`); a numeric string outside it is not a
# number to SUM, MAX or LATEST (as "abc" is not).
#
# Pre-aggregates cannot leave it, and are exact on both databases. An hourly row takes the events
# whose timestamp falls in its hour, accepted from 24 hours before the hour until 34 days after it:
# at Metronome's published platform-wide maximum of 100,000 events/s that is at most
# 100,000 x (35 days + 1 hour) = 100,000 x 3,027,600 s < 3.1 x 10^11 events, so a row's sum is
# below 3.1 x 10^11 x 10^26 < 10^38: at most 38 digits before the point and 100 after, 138 digits.
# A sum of rows (a usage read) over a century of that rate: 100,000 x 3.2 x 10^9 s < 10^15
# events, at most 41 + 100 = 141 digits.
# - PostgreSQL: the aggregate columns are unconstrained `numeric` (up to 131,072 digits before the
#   point and 16,383 after), so neither ever rounds or overflows.
# - SQLite (decimal text, added in Python): `EXACT` carries 160 significant digits, more than 141,
#   so no addition ever rounds.
NUMBER_LIMIT = Decimal("1e26")
MAX_FRACTION_DIGITS = 100
EXACT = Context(prec=160)
# UNIQUE values longer than this are stored as their SHA-256 (the key stays indexable).
DISTINCT_VALUE_MAX_LENGTH = 200
# A safety net for out-of-band edits (a definition changed in the database by hand).
CACHE_SECONDS = 300.0


def value_text(value) -> str:
    """The text form a property value is compared and grouped by."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)


def numeric_value(value) -> Decimal | None:
    """A property value as a Decimal if it is a number or a numeric string, else None."""
    if type(value) is str and len(value) <= 26 and value.isascii() and value.isdigit():
        # The common case ("1234"): a non-negative integer below 10^26, in the domain as it is.
        return Decimal(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        if "_" in value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
    else:
        return None
    return number if in_domain(number) else None


def in_domain(number: Decimal) -> bool:
    """Whether a decimal is inside the numeric domain of event values (see NUMBER_LIMIT)."""
    return (
        number.is_finite()
        and abs(number) < NUMBER_LIMIT
        and number.as_tuple().exponent >= -MAX_FRACTION_DIGITS
    )


def distinct_text(value) -> str:
    text = value_text(value)
    if len(text) > DISTINCT_VALUE_MAX_LENGTH:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def group_values_text(values: dict[str, str]) -> str:
    """Canonical JSON of group values (the same form as `catalog.models.group_values_key`)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def _group_text(keys: tuple[str, ...], values: tuple[str | None, ...]) -> str:
    groups = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
    return json.dumps(groups, separators=(",", ":")) if groups else "{}"


@dataclass(frozen=True, slots=True)
class PropertyRule:
    name: str
    exists: bool | None
    in_values: frozenset[str] | None
    not_in_values: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class CompiledMetric:
    """A billable metric reduced to what matching and aggregation need."""

    id: uuid.UUID
    name: str
    aggregation: str
    key: str
    types_in: frozenset[str] | None
    types_not_in: frozenset[str]
    rules: tuple[PropertyRule, ...]
    group_keys: tuple[str, ...]
    key_sets: tuple[tuple[str, ...], ...]
    id_text: str
    # Memo of group values -> canonical JSON (a metric sees few distinct group values).
    group_texts: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_model(cls, metric: BillableMetric) -> CompiledMetric:
        if metric.sql:
            # A SQL metric is evaluated from the events when read; here it only counts every
            # event of a customer per hour: the fingerprint of its cached results.
            return cls(
                id=metric.id,
                name=metric.name,
                aggregation="COUNT",
                key="",
                types_in=None,
                types_not_in=frozenset(),
                rules=(),
                group_keys=(),
                key_sets=(),
                id_text=str(metric.id),
            )
        rules = []
        for rule in metric.property_filters or []:
            rules.append(
                PropertyRule(
                    name=rule["name"],
                    exists=rule.get("exists"),
                    in_values=frozenset(rule["in_values"]) if rule.get("in_values") else None,
                    not_in_values=(
                        frozenset(rule["not_in_values"]) if rule.get("not_in_values") else None
                    ),
                )
            )
        return cls(
            id=metric.id,
            name=metric.name,
            aggregation=metric.aggregation_type,
            key=metric.aggregation_key or "",
            types_in=frozenset(metric.event_types_in) or None,
            types_not_in=frozenset(metric.event_types_not_in),
            rules=tuple(rules),
            group_keys=tuple(sorted(metric.all_group_keys)),
            key_sets=tuple(tuple(s) for s in metric.group_keys or []),
            id_text=str(metric.id),
        )

    def accepts_type(self, event_type: str) -> bool:
        if self.types_in is not None and event_type not in self.types_in:
            return False
        return event_type not in self.types_not_in

    def rule_problem(self, properties: dict) -> str | None:
        """Why the property filters refuse these properties, or None when they all pass."""
        for rule in self.rules:
            present = rule.name in properties
            if rule.exists is True and not present:
                return f"property '{rule.name}' is required"
            if rule.exists is False and present:
                return f"property '{rule.name}' must be absent"
            if rule.in_values is not None and (
                not present or value_text(properties[rule.name]) not in rule.in_values
            ):
                allowed = ", ".join(sorted(rule.in_values))
                return f"property '{rule.name}' must be one of: {allowed}"
            if (
                rule.not_in_values is not None
                and present
                and value_text(properties[rule.name]) in rule.not_in_values
            ):
                return f"property '{rule.name}' must not be {value_text(properties[rule.name])}"
        return None

    def contribution(self, properties: dict) -> tuple[str, Decimal | None, str | None] | None:
        """(group values text, numeric value, distinct value) if the filters pass, else None.

        The event type is checked by the caller (`Definitions.candidates`).
        """
        for rule in self.rules:
            name = rule.name
            if name in properties:
                if rule.exists is False:
                    return None
                if rule.in_values is not None or rule.not_in_values is not None:
                    text = value_text(properties[name])
                    if rule.in_values is not None and text not in rule.in_values:
                        return None
                    if rule.not_in_values is not None and text in rule.not_in_values:
                        return None
            elif rule.exists is True or rule.in_values is not None:
                return None
        number = None
        distinct = None
        aggregation = self.aggregation
        if aggregation != "COUNT":
            if self.key not in properties:
                return None
            if aggregation == "UNIQUE":
                distinct = distinct_text(properties[self.key])
            else:
                number = numeric_value(properties[self.key])
                if number is None:
                    return None
        if self.group_keys:
            values = tuple(
                value_text(properties[k]) if k in properties else None for k in self.group_keys
            )
            group = self.group_texts.get(values)
            if group is None:
                group = _group_text(self.group_keys, values)
                if len(self.group_texts) < 100_000:
                    self.group_texts[values] = group
        else:
            group = "{}"
        return group, number, distinct


@dataclass
class Definitions:
    """Every metric, compiled, plus a per-event-type memo of the metrics whose type filter passes."""

    signature: tuple[int, datetime | str | None]
    metrics: tuple[CompiledMetric, ...]
    loaded_at: float
    by_type: dict[str, tuple[CompiledMetric, ...]] = field(default_factory=dict)

    def candidates(self, event_type: str) -> tuple[CompiledMetric, ...]:
        found = self.by_type.get(event_type)
        if found is None:
            found = tuple(m for m in self.metrics if m.accepts_type(event_type))
            if len(self.by_type) > 10_000:
                self.by_type.clear()
            self.by_type[event_type] = found
        return found

    def matching(self, event_type: str, properties: dict) -> list[CompiledMetric]:
        return [m for m in self.candidates(event_type) if m.contribution(properties) is not None]


_lock = threading.Lock()
_cached: Definitions | None = None


def definitions_signature() -> tuple[int, datetime | str | None]:
    table = connection.ops.quote_name(BillableMetric._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX(created_at) FROM {table}")
        count, newest = cursor.fetchone()
    # Compared only with itself: an aware datetime on PostgreSQL, the stored text on SQLite.
    return int(count), newest


def definitions_load() -> Definitions:
    """Read every metric now and make that the process's cache."""
    global _cached
    signature = definitions_signature()
    metrics = tuple(CompiledMetric.from_model(m) for m in BillableMetric.objects.order_by("id"))
    loaded = Definitions(signature=signature, metrics=metrics, loaded_at=time.monotonic())
    with _lock:
        _cached = loaded
    return loaded


def definitions_cached() -> Definitions:
    """The cached definitions without checking them (the caller checks the signature itself)."""
    cached = _cached
    if cached is None or time.monotonic() - cached.loaded_at > CACHE_SECONDS:
        return definitions_load()
    return cached


def definitions_current() -> Definitions:
    """The cached definitions, reloaded if a metric was created or deleted since."""
    cached = definitions_cached()
    if cached.signature != definitions_signature():
        return definitions_load()
    return cached


def definitions_invalidate() -> None:
    global _cached
    with _lock:
        _cached = None
