"""The revenue schedule written as CSV (one row per line and day) or JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from catalog.money import normalize

from .schedule import RevenueRow

COLUMNS = [
    "date",
    "category",
    "amount",
    "pricing_unit",
    "customer_id",
    "customer_name",
    "contract_id",
    "invoice_id",
    "invoice_number",
    "line_id",
    "line_name",
    "line_type",
    "product_id",
]


def _values(row: RevenueRow) -> dict:
    return {
        "date": row.day.isoformat(),
        "category": row.category,
        "amount": format(normalize(row.amount), "f"),
        "pricing_unit": row.pricing_unit,
        "customer_id": row.customer_id,
        "customer_name": row.customer_name,
        "contract_id": row.contract_id,
        "invoice_id": row.invoice_id,
        "invoice_number": "" if row.invoice_number is None else row.invoice_number,
        "line_id": row.line_id,
        "line_name": row.line_name,
        "line_type": row.line_type,
        "product_id": row.product_id,
    }


def write_csv(rows: Iterable[RevenueRow], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_values(row) for row in rows)


def write_json(rows: Iterable[RevenueRow], out: TextIO) -> None:
    json.dump({"data": [_values(row) for row in rows]}, out, indent=1)
    out.write("\n")
