"""Golden cases of issue 14's contract terms (`tests/invoicing/golden_contract_terms/`): the
world of a standard golden case (`golden_support`) plus discounts, professional service
billings, seat-based subscriptions, recurring commits and credits, the commits threshold billing buys
(the case's `threshold_checks`), each read here directly from the case (the pure path's own,
naive reading of the file) into the engine's input."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from catalog.money import to_decimal
from customers import periods, recurring, spend
from customers.services.charges import THRESHOLD_COMMIT_PRIORITY
from invoicing.rating import (
    Discount,
    InvoiceType,
    ProServiceItem,
    RatingInput,
    Subscription,
    scheduled_period,
    threshold_unit_price,
)
from tests.invoicing.golden_support import parse_time, rating_input

GOLDEN_TERMS_DIR = Path(__file__).parent / "golden_contract_terms"

Case = Mapping[str, Any]


def terms_case_paths() -> list[Path]:
    return sorted(GOLDEN_TERMS_DIR.glob("*.json"))


def _money(item: Mapping) -> tuple[Decimal, Decimal]:
    if item.get("amount") is not None:
        return to_decimal(item["amount"]), Decimal(1)
    return to_decimal(item["unit_price"]), to_decimal(item["quantity"])


def _discounts(contract: Mapping) -> tuple[Discount, ...]:
    found = []
    for data in contract.get("discounts") or ():
        for item in data["schedule"]["schedule_items"]:
            unit_price, quantity = _money(item)
            found.append(
                Discount(
                    id=data["id"],
                    product_id=data["product_id"],
                    timestamp=parse_time(item["timestamp"]),
                    unit_price=unit_price,
                    quantity=quantity,
                    name=data.get("name"),
                )
            )
    return tuple(found)


def _pro_services(contract: Mapping) -> tuple[ProServiceItem, ...]:
    found = []
    for data in contract.get("professional_services") or ():
        for billing in data.get("billings") or ():
            if billing.get("amount") is not None:
                unit_price, quantity = to_decimal(billing["amount"]), Decimal(1)
            else:
                unit_price = to_decimal(billing.get("unit_price", data["unit_price"]))
                quantity = to_decimal(billing["quantity"])
            found.append(
                ProServiceItem(
                    id=data["id"],
                    product_id=data["product_id"],
                    timestamp=parse_time(billing["timestamp"]),
                    unit_price=unit_price,
                    quantity=quantity,
                    name=data.get("description"),
                )
            )
    return tuple(found)


def _seat_subscriptions(contract: Mapping) -> tuple[Subscription, ...]:
    """One record per seat count: from each change until the next."""
    records = []
    for data in contract.get("seat_subscriptions") or ():
        rows = data["seats"]
        for index, row in enumerate(rows):
            end = rows[index + 1]["starting_at"] if index + 1 < len(rows) else None
            records.append(
                Subscription(
                    id=data["id"],
                    product_id=data["product_id"],
                    quantity=Decimal(len(row["seat_ids"])),
                    collection_schedule=data["collection_schedule"],
                    starting_at=parse_time(row["starting_at"]),
                    ending_before=parse_time(end) if end else None,
                    is_prorated=data["is_prorated"],
                    billing_frequency=data["billing_frequency"],
                )
            )
    return tuple(records)


def _contract_schedule(contract: Mapping) -> periods.Schedule:
    schedule = contract.get("usage_statement_schedule") or {}
    ending = contract.get("ending_before")
    return periods.Schedule(
        frequency=schedule.get("frequency", "MONTHLY"),
        day=schedule.get("day", "FIRST_OF_MONTH"),
        contract_starting_at=parse_time(contract["starting_at"]),
        contract_ending_before=parse_time(ending) if ending else None,
    )


def _recurring(contract: Mapping, until: datetime, key: str) -> list[dict]:
    """The commits (`key` recurring_commits) or credits (recurring_credits) the contract's
    recurring terms make for periods starting before `until`, in the golden files' commit and
    credit shape (so the loader cuts usage where they start); a commit's invoice amount is
    invoiced when its occurrence starts."""
    made = []
    for data in contract.get(key) or ():
        access = data["access_amount"]
        invoice = data.get("invoice_amount")
        for occurrence in recurring.occurrences(
            schedule=_contract_schedule(contract),
            starting_at=parse_time(data["starting_at"]),
            ending_before=None,
            until=until,
            amount=to_decimal(access["unit_price"]) * to_decimal(access.get("quantity", "1")),
            invoice_amount=None
            if invoice is None
            else to_decimal(invoice["unit_price"]) * to_decimal(invoice.get("quantity", "1")),
            duration_periods=int(to_decimal(data["commit_duration"]["value"])),
            proration=data.get("proration", "FIRST_AND_LAST"),
            decimal_places=0,
            **{
                f"{prefix}_rounding": recurring.Rounding(
                    int(rounding["decimal_places"]), rounding["rounding_method"]
                )
                for prefix, rounding in (data.get("proration_rounding") or {}).items()
            },
        ):
            start = occurrence.starting_at.isoformat()
            term = {
                "id": data["id"],
                "product_id": data["product_id"],
                "name": data.get("name"),
                "priority": str(data.get("priority", "0")),
                "access_schedule": {
                    "schedule_items": [
                        {
                            "id": f"{data['id']}@{start}",
                            "amount": str(occurrence.amount),
                            "starting_at": start,
                            "ending_before": occurrence.ending_before.isoformat(),
                        }
                    ]
                },
            }
            if key == "recurring_commits":
                term["type"] = "PREPAID"
                if occurrence.invoice_amount:
                    term["invoice_schedule"] = {
                        "schedule_items": [
                            {"timestamp": start, "amount": str(occurrence.invoice_amount)}
                        ]
                    }
            made.append(term)
    return made


def bought_commits(case: Case, before: datetime | None = None) -> list[dict]:
    """The commits the case's threshold checks buy (those of checks before `before` when
    given), in the golden files' commit shape: a PREPAID commit of the configuration's product
    and name, usable over the bought access, invoiced once at `invoiced_at`."""
    contract = case["contract"]
    found = []
    for check in case.get("threshold_checks") or ():
        bought = check.get("bought")
        if bought is None or (before is not None and parse_time(check["at"]) >= before):
            continue
        config = contract[check["configuration"]]
        commit = config["commit"]
        unit = config.get("custom_credit_type_id")
        price = threshold_unit_price(
            payment_fraction=to_decimal(config["discount_configuration"]["payment_fraction"])
            if config.get("discount_configuration")
            else None,
            fiat_per_custom=_fiat_per_custom(case, unit) if unit else None,
        )
        items = [_invoice_item(bought["invoiced_at"], bought["amount"], price)]
        if bought.get("discounted_amount") is not None:
            # Past its discount's cap: the discounted part at `price`, the rest at full price.
            full = threshold_unit_price(
                fiat_per_custom=_fiat_per_custom(case, unit) if unit else None
            )
            rest = to_decimal(bought["amount"]) - to_decimal(bought["discounted_amount"])
            items = [
                _invoice_item(bought["invoiced_at"], part, part_price)
                for part, part_price in ((bought["discounted_amount"], price), (str(rest), full))
                if to_decimal(part) > 0
            ]
        found.append(
            {
                "id": bought["id"],
                "type": "PREPAID",
                "name": commit["name"],
                "product_id": commit["product_id"],
                "access_schedule": {
                    "credit_type_id": unit,
                    "schedule_items": [
                        {
                            "amount": bought["amount"],
                            "starting_at": bought["starting_at"],
                            "ending_before": bought["ending_before"],
                        }
                    ],
                },
                "invoice_schedule": {"schedule_items": items},
                "specifiers": commit.get("specifiers") or [],
                # Metronome's default for a threshold commit given no priority.
                "priority": commit.get("priority", str(THRESHOLD_COMMIT_PRIORITY)),
                **{key: commit[key] for key in ("rate_type", "rollover_fraction") if key in commit},
            }
        )
    return found


def _invoice_item(timestamp: str, amount: str, price: Decimal | None) -> dict:
    if price is None:
        return {"timestamp": timestamp, "amount": amount}
    return {"timestamp": timestamp, "unit_price": format(price, "f"), "quantity": amount}


def tracked_before(case: Case, alias: str, at: datetime) -> Decimal:
    """What the case's spend tracker `alias` holds just before `at`: the threshold purchases of
    earlier checks in the same billing period (each discounted part and full-price part)."""
    (tracker,) = [t for t in case["contract"]["spend_trackers"] if t["alias"] == alias]
    schedule = _contract_schedule(case["contract"])
    period = periods.period_containing(schedule, at)
    spends = []
    for check in case.get("threshold_checks") or ():
        bought = check.get("bought")
        moment = parse_time(check["at"])
        if (
            bought is None
            or moment >= at
            or not period.period.contains(parse_time(bought["invoiced_at"]))
        ):
            continue
        discounted = bought.get("discounted_amount")
        spends += spend.threshold_spends(
            amount=to_decimal(bought["amount"]),
            discounted_amount=to_decimal(discounted) if discounted is not None else None,
        )
    return spend.tracked(tracker["applicable_spend_specifiers"], spends)


def _fiat_per_custom(case: Case, unit: str) -> Decimal:
    (rate,) = [
        to_decimal(conversion["fiat_per_custom_credit"])
        for conversion in case["rate_card"].get("credit_type_conversions") or ()
        if conversion["custom_credit_type_id"] == unit
    ]
    return rate


def terms_rating_input(
    case: Case, *, before: datetime | None = None, events: list | None = None
) -> RatingInput:
    """The case's USAGE invoice as the engine's input, with issue 14's terms. Recurring commits
    and credits become those they make (as the file's own, so usage is cut where they start);
    threshold billing's purchases become commits (only those bought before `before` when given,
    with `events` in place of the case's)."""
    contract = case["contract"]
    period_end = rating_input(case).period.ending_before
    with_credits = {
        **case,
        "contract": {
            **contract,
            "credits": [
                *(contract.get("credits") or ()),
                *_recurring(contract, period_end, "recurring_credits"),
            ],
            "commits": [
                *(contract.get("commits") or ()),
                *_recurring(contract, period_end, "recurring_commits"),
                *bought_commits(case, before),
            ],
        },
    }
    base = rating_input(with_credits, events)
    return dataclasses.replace(
        base,
        subscriptions=(*base.subscriptions, *_seat_subscriptions(contract)),
        discounts=_discounts(contract),
        pro_services=_pro_services(contract),
    )


def terms_scheduled_input(case: Case, timestamp: datetime) -> RatingInput:
    """The SCHEDULED invoice dated `timestamp`: its professional service billings and the
    commits (threshold billing's too) invoiced then."""
    usage = terms_rating_input(case)
    period = scheduled_period(timestamp)
    return dataclasses.replace(
        usage,
        invoice_type=InvoiceType.SCHEDULED,
        period=period,
        full_period=None,
        rates=(),
        usage=(),
        subscriptions=(),
        overrides=(),
        balances=tuple(
            balance
            for balance in usage.balances
            if any(period.contains(item.timestamp) for item in balance.invoice_schedule)
        ),
        discounts=(),
    )
