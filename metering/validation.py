"""Validation of an ingest batch: one pass of plain Python over the parsed JSON.

The body is parsed once with `parse_float=Decimal` (numbers are int or Decimal, never float).
`events_validate` walks the events once, with no serializer per event, and stops at the first
problem: the whole batch is refused with a message naming the event's index in the array
(0-based) and the field, e.g. `event 3: timestamp: ... is more than 34 days old`.

Rules (SPEC "usage event"): 1 to 100 events; `transaction_id` 1-128 characters; `customer_id` and
`event_type` non-empty strings (at most 255 characters, the column size); `timestamp` RFC 3339
(`Z`, offsets, fractions; naive means UTC), at most 34 days old and 24 hours ahead of `now`;
`properties` optional, an object of at most 2,000 string keys whose values are strings, numbers
(inside the numeric domain of `metering.definitions`: below 10^26 in magnitude, at most 100 digits
after the point) or booleans.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .definitions import MAX_FRACTION_DIGITS, NUMBER_LIMIT, in_domain
from .models import DEDUP_WINDOW_DAYS

MAX_BATCH = 100
MAX_PROPERTIES = 2000
MAX_TRANSACTION_ID = 128
MAX_ID_LENGTH = 255
MAX_AGE = timedelta(days=DEDUP_WINDOW_DAYS)
MAX_AHEAD = timedelta(hours=24)

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


_OUT_OF_DOMAIN = (
    f"number out of range (at most 26 digits before the point and {MAX_FRACTION_DIGITS} after)"
)


class IngestError(ValueError):
    """A batch refused as a whole; the message names the event index and the field."""


@dataclass(slots=True)
class Event:
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime  # aware, UTC
    properties: dict
    # The properties as JSON text when they hold a Decimal (written digit for digit), else None:
    # then plain `json.dumps` of the properties is exact and the whole batch is dumped at once.
    exact_json: str | None

    @property
    def properties_json(self) -> str:
        return self.exact_json if self.exact_json is not None else json.dumps(self.properties)


def parse_timestamp(value) -> datetime | None:
    if type(value) is not str or not _RFC3339.fullmatch(value):
        return None
    try:
        # Python 3.11 reads Z, offsets and any number of fraction digits (kept to microseconds).
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is after the year 9999 in UTC
        return None


def _properties_problem(properties: dict) -> tuple[str | None, bool]:
    """(problem, has_decimal): every key a string, every value a string, number or boolean."""
    if len(properties) > MAX_PROPERTIES:
        return f"at most {MAX_PROPERTIES} properties (got {len(properties)})", False
    has_decimal = False
    for key, value in properties.items():
        if type(key) is not str:
            return "keys must be strings", False
        kind = type(value)
        if kind is str or kind is bool:
            continue
        if kind is int:
            if -NUMBER_LIMIT < value < NUMBER_LIMIT:
                continue
            return f"{key}: {_OUT_OF_DOMAIN}", False
        if kind is Decimal:
            if in_domain(value):
                has_decimal = True
                continue
            return f"{key}: {_OUT_OF_DOMAIN}", False
        return f"{key}: must be a string, number or boolean", False
    return None, has_decimal


def events_validate(payload, *, now: datetime) -> list[Event]:
    """Check a parsed batch (a list of event objects) in one pass; raise IngestError on the first
    problem. `now` decides what is too old (34 days) or too far ahead (24 hours)."""
    if type(payload) is not list or not payload:
        raise IngestError("The body must be a JSON array of 1 to 100 events.")
    if len(payload) > MAX_BATCH:
        raise IngestError(f"A batch holds at most {MAX_BATCH} events (got {len(payload)}).")
    oldest = now - MAX_AGE
    newest = now + MAX_AHEAD
    events = []
    for index, raw in enumerate(payload):
        if type(raw) is not dict:
            raise IngestError(f"event {index}: must be an object")
        transaction_id = raw.get("transaction_id")
        if type(transaction_id) is not str or not 0 < len(transaction_id) <= MAX_TRANSACTION_ID:
            raise IngestError(
                f"event {index}: transaction_id: "
                + _text_problem(raw, "transaction_id", MAX_TRANSACTION_ID)
            )
        customer_id = raw.get("customer_id")
        if type(customer_id) is not str or not 0 < len(customer_id) <= MAX_ID_LENGTH:
            raise IngestError(
                f"event {index}: customer_id: " + _text_problem(raw, "customer_id", MAX_ID_LENGTH)
            )
        event_type = raw.get("event_type")
        if type(event_type) is not str or not 0 < len(event_type) <= MAX_ID_LENGTH:
            raise IngestError(
                f"event {index}: event_type: " + _text_problem(raw, "event_type", MAX_ID_LENGTH)
            )
        stamp = raw.get("timestamp")
        moment = parse_timestamp(stamp)
        if moment is None:
            if "timestamp" not in raw:
                raise IngestError(f"event {index}: timestamp: is required")
            raise IngestError(f"event {index}: timestamp: {_timestamp_problem(stamp)}")
        if moment < oldest:
            raise IngestError(
                f"event {index}: timestamp: {stamp} is more than {DEDUP_WINDOW_DAYS} days old"
            )
        if moment > newest:
            raise IngestError(
                f"event {index}: timestamp: {stamp} is more than 24 hours in the future"
            )
        properties = raw.get("properties")
        if properties is None:
            if "properties" in raw:
                raise IngestError(f"event {index}: properties: must be an object")
            properties = {}
            exact_json = None
        elif type(properties) is not dict:
            raise IngestError(f"event {index}: properties: must be an object")
        else:
            problem, has_decimal = _properties_problem(properties)
            if problem is not None:
                raise IngestError(f"event {index}: properties: {problem}")
            exact_json = _flat_json(properties) if has_decimal else None
        events.append(
            Event(transaction_id, customer_id, event_type, moment, properties, exact_json)
        )
    return events


def _flat_json(properties: dict) -> str:
    """JSON of validated flat properties with each Decimal written digit for digit."""
    dumps = json.dumps
    plain = dumps({k: v for k, v in properties.items() if type(v) is not Decimal})
    exact = ",".join(f"{dumps(k)}:{v}" for k, v in properties.items() if type(v) is Decimal)
    return plain[:-1] + ("," if len(plain) > 2 else "") + exact + "}"


def _timestamp_problem(stamp) -> str:
    if type(stamp) is str and _RFC3339.fullmatch(stamp):
        try:
            datetime.fromisoformat(stamp.upper())
        except ValueError:
            pass
        else:  # a valid local time whose offset moves it out of datetime's range
            return f"{_shown(stamp)} is outside the years 1-9999 once its offset is applied"
    return f"must be an RFC 3339 timestamp such as 2024-01-01T00:00:00Z (got {_shown(stamp)})"


def _text_problem(raw: dict, name: str, limit: int) -> str:
    value = raw.get(name)
    if name not in raw or value is None:
        return "is required"
    if type(value) is not str:
        return "must be a string"
    if not value:
        return "must not be empty"
    return f"must be at most {limit} characters (got {len(value)})"


def _shown(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
