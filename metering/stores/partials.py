"""What a batch contributes to the metrics' pre-aggregates, shared by both stores' ingest and
backfill: per event and matching metric its hour, group values, numeric value and distinct value,
and `Partial`, the exact combination of contributions (count, sum, max, latest) that both stores'
pre-aggregates hold per metric, customer id, hour and group values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..definitions import EXACT, Definitions
from ..validation import Event


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def contributions(events: Sequence[Event], firsts: Sequence[bool], definitions: Definitions):
    """Per event and matching metric: (event index, metric, hour, group, value, distinct)."""
    rows = []
    for index, event in enumerate(events):
        if not firsts[index]:
            continue
        candidates = definitions.candidates(event.event_type)
        if not candidates:
            continue
        hour = hour_of(event.timestamp)
        properties = event.properties
        for metric in candidates:
            found = metric.contribution(properties)
            if found is not None:
                rows.append((index, metric, hour, found[0], found[1], found[2]))
    return rows


@dataclass(slots=True)
class Partial:
    count: int = 0
    total: Decimal | None = None
    maximum: Decimal | None = None
    latest_value: Decimal | None = None
    latest_timestamp: datetime | None = None
    latest_transaction_id: str = ""

    def add(self, value, timestamp, transaction_id) -> None:
        self.count += 1
        if value is not None:
            self.total = value if self.total is None else EXACT.add(self.total, value)
            self.maximum = value if self.maximum is None or value > self.maximum else self.maximum
        if self.latest_timestamp is None or (timestamp, transaction_id) > (
            self.latest_timestamp,
            self.latest_transaction_id,
        ):
            self.latest_timestamp = timestamp
            self.latest_transaction_id = transaction_id
            self.latest_value = value

    def merge(self, other: Partial) -> None:
        self.count += other.count
        if other.total is not None:
            self.total = other.total if self.total is None else EXACT.add(self.total, other.total)
        if other.maximum is not None and (self.maximum is None or other.maximum > self.maximum):
            self.maximum = other.maximum
        if other.latest_timestamp is not None and (
            self.latest_timestamp is None
            or (other.latest_timestamp, other.latest_transaction_id)
            > (self.latest_timestamp, self.latest_transaction_id)
        ):
            self.latest_timestamp = other.latest_timestamp
            self.latest_transaction_id = other.latest_transaction_id
            self.latest_value = other.latest_value
