"""Late events: events that arrive for a period whose usage invoice is already finalized (the
ingest hook, on PostgreSQL one prepared statement per batch), and a customer's count of them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from core.db import hot_cursor
from customers.models import (
    Customer,
    IngestAlias,
)
from invoicing.models import Invoice

from .usage_reads import customer_event_ids


def finalized_periods_for(
    *, customer_ids: Iterable[str]
) -> dict[str, list[tuple[datetime, datetime]]]:
    """For each raw event `customer_id` (a customer id or an ingest alias), the [start, end)
        periods of that customer's FINALIZED usage invoices. An event whose timestamp falls in one is
        late. The ids resolve as metering attributes events (`customers_by_ingest_id`: an alias first,
    else a canonical customer id); unknown ids map to no period."""
    from metering.selectors import customers_by_ingest_id

    owners = {
        value: customer.pk
        for value, customer in customers_by_ingest_id(str(v) for v in customer_ids).items()
    }
    by_customer: dict[str, list[tuple[datetime, datetime]]] = {}
    for customer_id, start, end in Invoice.objects.filter(
        customer_id__in=set(owners.values()),
        status=Invoice.Status.FINALIZED,
        type=Invoice.Type.USAGE,
    ).values_list("customer_id", "start_timestamp", "end_timestamp"):
        by_customer.setdefault(str(customer_id), []).append((start, end))
    return {value: by_customer.get(str(owner), []) for value, owner in owners.items()}


# The hot-path form of the same rule for PostgreSQL: the positions `i` of the late events among
# `source`, a relation of (i int, c text, s timestamptz). An alias wins over a customer id, as in
# `finalized_periods_for`; an id written as a canonical UUID matches invoices of that customer
# directly (an invoice's customer exists). The status and type are this module's own constants.
_LATE_POSITIONS_SQL = """
SELECT DISTINCT e.i
FROM {source}
LEFT JOIN {alias} a ON a.alias = e.c
JOIN {invoice} inv ON inv.customer_id = COALESCE(
        a.customer_id,
        CASE WHEN e.c ~ '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$'
             THEN e.c::uuid END)
    AND inv.status = '{finalized}' AND inv.type = '{usage}'
    AND inv.start_timestamp <= e.s AND e.s < inv.end_timestamp
"""


def late_positions_sql(source: str = "ev AS e") -> str:
    """The rule as one PostgreSQL SELECT of the positions `i` of the late events among `source`
    (i int, c text, s timestamptz), aliased `e`. The relational store runs it inside its ingest
    statement (`metering.stores.relational.sql`), so the check costs no round trip of its own."""
    quote = connection.ops.quote_name
    return _LATE_POSITIONS_SQL.format(
        source=source,
        alias=quote(IngestAlias._meta.db_table),
        invoice=quote(Invoice._meta.db_table),
        finalized=Invoice.Status.FINALIZED.value,
        usage=Invoice.Type.USAGE.value,
    )


def events_late(events: Iterable[tuple[str, datetime]]) -> list[bool]:
    """Metering's late-event hook (setting METERING_LATE_EVENT_CHECK): for each
    (customer_id as received, timestamp) of a batch, whether its period is already finalized."""
    events = list(events)
    if not events:
        return []
    if connection.vendor != "postgresql":
        finalized = finalized_periods_for(customer_ids={customer_id for customer_id, _ in events})
        return [
            is_late(finalized.get(customer_id, []), timestamp) for customer_id, timestamp in events
        ]
    batch = json.dumps(
        [
            {"i": index, "c": customer_id, "s": timestamp.isoformat()}
            for index, (customer_id, timestamp) in enumerate(events)
        ]
    )
    sql = late_positions_sql(
        "json_to_recordset(%(events)s::json) AS e(i int, c text, s timestamptz)"
    )
    with hot_cursor() as cursor:
        cursor.execute(sql, {"events": batch}, prepare=True)
        late = {index for (index,) in cursor.fetchall()}
    return [index in late for index in range(len(events))]


# The form metering's relational store runs inside its ingest statement on PostgreSQL.
events_late.positions_sql = late_positions_sql  # type: ignore[attr-defined]


def is_late(periods_: list[tuple[datetime, datetime]], timestamp: datetime) -> bool:
    return any(start <= timestamp < end for start, end in periods_)


def customer_late_event_count(*, customer: Customer) -> int:
    """How many of the customer's events arrived after their period was finalized."""
    from metering.selectors import late_event_count

    return late_event_count(customer_ids=customer_event_ids(customer=customer))
