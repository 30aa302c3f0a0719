"""Golden invoice cases: the loader and a small reference aggregator for the pure path.

A golden case (`tests/invoicing/golden/*.json`) is a complete world a person can check by hand:
pricing unit, billable metric(s), products, rates, customer, contract, one billing period, the raw
usage events, and the expected invoice. Every number is a string. The end-to-end test sends the same
events through `/v1/ingest`; this module instead aggregates them here, as simply as possible, into a
`RatingInput` for the pure engine.

The reference aggregator, deliberately naive (a loop over every event):
- an event counts for the contract's customer when its `customer_id` is the customer's id or one of
  its ingest aliases, and its timestamp is in [period start, period end);
- it matches a metric when its type passes the event-type filter (in / not in), its properties pass
  every property filter (exists true/false, in_values, not_in_values; a missing property fails
  in_values and passes not_in_values), SUM/MAX/LATEST find a number under the aggregation key and
  UNIQUE finds the key at all;
- a USAGE product takes the matching events that carry all its pricing and presentation keys,
  groups them by (pricing values, presentation values), and splits each group's period into maximal
  windows with one rate in effect (the engine's rule: the latest-started entitled FLAT/TIERED rate
  with exactly those pricing values); each window with events gives one `Usage`;
- COUNT counts, SUM adds, MAX takes the largest, UNIQUE counts distinct values over the whole window
  (a user seen in two hours counts once), LATEST takes the value of the latest event.

Scheduled invoices: `expected` is the USAGE invoice of `period`. Unless the contract says
`"scheduled_charges_on_usage_invoices": "ALL"` (then everything is on the usage invoice and there
is no scheduled invoice), scheduled charges and PREPAID commit purchases are on SCHEDULED invoices
of their own, one per date: `expected_scheduled_invoices` lists every one of the contract's, in
date order, as `{"timestamp", "lines", "subtotal", "total"}` (absent = none).
"""

from __future__ import annotations

import calendar
import dataclasses
import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from catalog.money import to_decimal
from invoicing.rating import (
    AccessSegment,
    Balance,
    BalanceSpecifier,
    BalanceType,
    Conversion,
    CustomerSpend,
    GroupValues,
    InvoiceScheduleItem,
    InvoiceType,
    Line,
    LineType,
    Override,
    OverrideSpecifier,
    OverrideTier,
    OverwriteRate,
    Period,
    PricingUnit,
    Product,
    QuantityConversion,
    QuantityRounding,
    Rate,
    RateType,
    RatingInput,
    ScheduledCharge,
    Subscription,
    Tier,
    Usage,
    group_values,
    rate_invoice,
    scheduled_period,
    term_boundaries,
    to_json,
)

GOLDEN_DIR = Path(__file__).parent / "golden"

Case = Mapping[str, Any]


def case_uses_terms(case: Case) -> bool:
    """Does the case carry contract terms that move money (commits, credits, overrides, custom
    pricing units)? The ORM world of the end-to-end test does not build those yet."""
    contract = case.get("contract") or {}
    return bool(
        contract.get("commits")
        or contract.get("credits")
        or contract.get("overrides")
        or case.get("customer_commits")
        or case.get("customer_credits")
        or case.get("custom_pricing_units")
    )


def case_paths(*, with_terms: bool = False) -> list[Path]:
    """The golden cases; those with contract terms only when `with_terms` (see
    `case_uses_terms`)."""
    paths = sorted(GOLDEN_DIR.glob("*.json"))
    if with_terms:
        return paths
    return [path for path in paths if not case_uses_terms(load_case(path))]


def load_case(path: Path) -> Case:
    with path.open() as handle:
        return json.load(handle, parse_float=Decimal)


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise ValueError(f"golden timestamps carry a zone: {value!r}")
    return moment


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return to_decimal(value)
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Events -> quantities ------------------------------------------------------------------------


def event_matches(metric: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    type_filter = metric.get("event_type_filter") or {}
    if (
        type_filter.get("in_values") is not None
        and event["event_type"] not in (type_filter["in_values"])
    ):
        return False
    if (
        type_filter.get("not_in_values") is not None
        and event["event_type"] in (type_filter["not_in_values"])
    ):
        return False
    properties = event.get("properties") or {}
    for rule in metric.get("property_filters") or []:
        present = rule["name"] in properties
        value = _text(properties[rule["name"]]) if present else None
        if rule.get("exists") is True and not present:
            return False
        if rule.get("exists") is False and present:
            return False
        if rule.get("in_values") is not None and value not in rule["in_values"]:
            return False
        if rule.get("not_in_values") is not None and present and value in rule["not_in_values"]:
            return False
    aggregation = metric["aggregation_type"]
    key = metric.get("aggregation_key")
    if aggregation in ("SUM", "MAX", "LATEST"):
        return _number(properties.get(key)) is not None
    if aggregation == "UNIQUE":
        return key in properties
    return True


def aggregate(metric: Mapping[str, Any], events: list[Mapping[str, Any]]) -> Decimal:
    aggregation = metric["aggregation_type"]
    key = metric.get("aggregation_key")
    if aggregation == "COUNT":
        return Decimal(len(events))
    if aggregation == "SUM":
        return sum((_number(event["properties"][key]) for event in events), Decimal(0))
    if aggregation == "MAX":
        return max(_number(event["properties"][key]) for event in events)
    if aggregation == "UNIQUE":
        return Decimal(len({_text(event["properties"][key]) for event in events}))
    if aggregation == "LATEST":
        latest = max(
            enumerate(events), key=lambda pair: (parse_time(pair[1]["timestamp"]), pair[0])
        )
        return _number(latest[1]["properties"][key])
    raise ValueError(f"unknown aggregation {aggregation!r}")


def rate_windows(
    rates: Iterable[Rate], period: Period, extra_cuts: Iterable[datetime] = ()
) -> list[Period]:
    """The period cut into maximal windows over which the rate in effect does not change, and
    also at `extra_cuts` (override and access segment boundaries: `segment_boundaries`)."""
    rates = [
        rate
        for rate in rates
        if rate.entitled and rate.rate_type in (RateType.FLAT, RateType.TIERED)
    ]
    cuts = {period.starting_at, period.ending_before}
    for rate in rates:
        for moment in (rate.starting_at, rate.ending_before):
            if moment is not None and period.starting_at < moment < period.ending_before:
                cuts.add(moment)
    forced = {moment for moment in extra_cuts if period.contains(moment)}
    cuts = sorted(cuts | forced)

    def in_effect(moment: datetime) -> Rate | None:
        live = [rate for rate in rates if rate.in_effect_at(moment)]
        return max(live, key=lambda rate: rate.starting_at, default=None)

    windows: list[tuple[datetime, datetime, Rate | None]] = []
    for start, end in itertools.pairwise(cuts):
        rate = in_effect(start)
        if windows and windows[-1][2] is rate and start not in forced:
            windows[-1] = (windows[-1][0], end, rate)
        else:
            windows.append((start, end, rate))
    return [Period(start, end) for start, end, _ in windows]


def usage_for_product(
    product: Product,
    metric: Mapping[str, Any],
    rates: Iterable[Rate],
    events: Iterable[Mapping[str, Any]],
    period: Period,
    extra_cuts: Iterable[datetime] = (),
) -> list[Usage]:
    """The product's `Usage` records from raw events already scoped to the customer."""
    keys = (*product.pricing_group_keys, *product.presentation_group_keys)
    groups: dict[tuple[GroupValues, GroupValues], list[Mapping[str, Any]]] = {}
    for event in events:
        properties = event.get("properties") or {}
        if not period.contains(parse_time(event["timestamp"])):
            continue
        if not event_matches(metric, event) or any(key not in properties for key in keys):
            continue
        pricing = group_values({key: properties[key] for key in product.pricing_group_keys})
        presentation = group_values(
            {key: properties[key] for key in product.presentation_group_keys}
        )
        groups.setdefault((pricing, presentation), []).append(event)
    rates = [rate for rate in rates if rate.product_id == product.id]
    records = []
    for (pricing, presentation), grouped in sorted(groups.items()):
        matching = [rate for rate in rates if rate.pricing_group_values == pricing]
        for window in rate_windows(matching, period, extra_cuts):
            inside = [event for event in grouped if window.contains(parse_time(event["timestamp"]))]
            if inside:
                records.append(
                    Usage(
                        product_id=product.id,
                        starting_at=window.starting_at,
                        ending_before=window.ending_before,
                        quantity=aggregate(metric, inside),
                        pricing_group_values=pricing,
                        presentation_group_values=presentation,
                    )
                )
    return records


# --- Periods -------------------------------------------------------------------------------------


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def full_period(contract: Mapping[str, Any], period: Period) -> Period:
    """The schedule's uncut billing period around `period` (MONTHLY only, as the cases need)."""
    schedule = contract.get("usage_statement_schedule") or {}
    if schedule.get("frequency", "MONTHLY") != "MONTHLY":
        raise NotImplementedError("the golden cases use monthly statements")
    if schedule.get("day", "FIRST_OF_MONTH") == "FIRST_OF_MONTH":
        start = period.starting_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return Period(start, _add_months(start, 1))
    anchor = parse_time(contract["starting_at"])
    months = 0
    while _add_months(anchor, months + 1) <= period.starting_at:
        months += 1
    return Period(_add_months(anchor, months), _add_months(anchor, months + 1))


def case_period(case: Case) -> Period:
    """The case's period, checked to be its schedule period cut by the contract."""
    period = Period(
        parse_time(case["period"]["starting_at"]), parse_time(case["period"]["ending_before"])
    )
    contract = case["contract"]
    full = full_period(contract, period)
    start = max(full.starting_at, parse_time(contract["starting_at"]))
    end = full.ending_before
    if contract.get("ending_before"):
        end = min(end, parse_time(contract["ending_before"]))
    if (start, end) != (period.starting_at, period.ending_before):
        raise ValueError(f"period {period} is not a billing period of the contract")
    return period


# --- Case -> RatingInput -------------------------------------------------------------------------


def _product(data: Mapping[str, Any]) -> Product:
    conversion = data.get("quantity_conversion")
    rounding = data.get("quantity_rounding")
    return Product(
        id=data["id"],
        name=data["name"],
        type=data["type"],
        tags=tuple(data.get("tags") or ()),
        pricing_group_keys=tuple(data.get("pricing_group_key") or ()),
        presentation_group_keys=tuple(data.get("presentation_group_key") or ()),
        quantity_conversion=None
        if not conversion
        else QuantityConversion(
            factor=to_decimal(conversion["conversion_factor"]),
            operation=conversion["operation"],
            name=conversion.get("name") or "",
        ),
        quantity_rounding=None
        if not rounding
        else QuantityRounding(
            decimal_places=int(rounding["decimal_places"]), method=rounding["rounding_method"]
        ),
        composite_product_ids=tuple(data.get("composite_product_ids") or ()),
        composite_tags=tuple(data.get("composite_tags") or ()),
    )


def _rate(data: Mapping[str, Any]) -> Rate:
    return Rate(
        product_id=data["product_id"],
        rate_type=data["rate_type"],
        starting_at=parse_time(data["starting_at"]),
        ending_before=parse_time(data["ending_before"]) if data.get("ending_before") else None,
        price=to_decimal(data["price"]) if data.get("price") is not None else None,
        tiers=tuple(
            Tier(
                price=to_decimal(tier["price"]),
                size=to_decimal(tier["size"]) if tier.get("size") is not None else None,
            )
            for tier in data.get("tiers") or ()
        ),
        pricing_group_values=group_values(data.get("pricing_group_values")),
        entitled=data.get("entitled", True),
        billing_frequency=data.get("billing_frequency"),
        commit_price=_decimal_or_none((data.get("commit_rate") or {}).get("price")),
        commit_tiers=_tiers((data.get("commit_rate") or {}).get("tiers")),
        credit_type_id=data.get("credit_type_id"),
        composite_minimum=_decimal_or_none(data.get("composite_minimum")),
        composite_scope=data.get("composite_scope") or "CONTRACT",
    )


def _tiers(data: Iterable[Mapping[str, Any]] | None) -> tuple[Tier, ...]:
    return tuple(
        Tier(price=to_decimal(tier["price"]), size=_decimal_or_none(tier.get("size")))
        for tier in data or ()
    )


def _schedule_item_money(item: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    if item.get("amount") is not None:
        return to_decimal(item["amount"]), Decimal(1)
    return to_decimal(item["unit_price"]), to_decimal(item["quantity"])


def _balance(data: Mapping[str, Any], balance_type: str, customer_level: bool) -> Balance:
    """A commit or credit in Metronome's fields. Each access schedule item may carry
    `available`: what is left of it when the period starts (the ledger's figure)."""
    access = data["access_schedule"]
    invoice_items = (data.get("invoice_schedule") or {}).get("schedule_items") or ()
    segments = []
    for index, item in enumerate(access["schedule_items"]):
        segments.append(
            AccessSegment(
                id=item.get("id") or f"{data['id']}-segment-{index + 1}",
                starting_at=parse_time(item["starting_at"]),
                ending_before=parse_time(item["ending_before"]),
                amount=to_decimal(item["amount"]),
                available=_decimal_or_none(item.get("available")),
            )
        )
    schedule = []
    for item in invoice_items:
        unit_price, quantity = _schedule_item_money(item)
        schedule.append(
            InvoiceScheduleItem(
                timestamp=parse_time(item["timestamp"]), unit_price=unit_price, quantity=quantity
            )
        )
    return Balance(
        id=data["id"],
        type=balance_type,
        product_id=data["product_id"],
        name=data.get("name"),
        access_schedule=tuple(segments),
        priority=_decimal_or_none(data.get("priority")),
        rate_type=data.get("rate_type") or "LIST_RATE",
        access_type=access.get("access_type") or "SPEND",
        applicable_product_ids=tuple(data.get("applicable_product_ids") or ()),
        applicable_product_tags=tuple(data.get("applicable_product_tags") or ()),
        specifiers=tuple(
            BalanceSpecifier(
                product_id=spec.get("product_id"),
                product_tags=tuple(spec.get("product_tags") or ()),
                pricing_group_values=group_values(spec.get("pricing_group_values")),
                presentation_group_values=group_values(spec.get("presentation_group_values")),
            )
            for spec in data.get("specifiers") or ()
        ),
        is_customer_level=customer_level,
        credit_type_id=access.get("credit_type_id"),
        invoice_schedule=tuple(schedule),
        drawn_before=to_decimal(data.get("drawn_before") or "0"),
        is_rollover=bool(data.get("rolled_over_from")),
    )


def case_balances(case: Case) -> tuple[Balance, ...]:
    contract = case["contract"]
    balances = [_balance(data, data["type"], False) for data in contract.get("commits") or ()]
    balances += [
        _balance(data, BalanceType.CREDIT, False) for data in contract.get("credits") or ()
    ]
    balances += [_balance(data, data["type"], True) for data in case.get("customer_commits") or ()]
    balances += [
        _balance(data, BalanceType.CREDIT, True) for data in case.get("customer_credits") or ()
    ]
    return tuple(balances)


def _override(data: Mapping[str, Any]) -> Override:
    overwrite = data.get("overwrite_rate")
    return Override(
        id=data["id"],
        type=data["type"],
        starting_at=parse_time(data["starting_at"]),
        ending_before=parse_time(data["ending_before"]) if data.get("ending_before") else None,
        product_id=data.get("product_id"),
        applicable_product_tags=tuple(data.get("applicable_product_tags") or ()),
        specifiers=tuple(
            OverrideSpecifier(
                product_id=spec.get("product_id"),
                product_tags=tuple(spec.get("product_tags") or ()),
                pricing_group_values=group_values(spec.get("pricing_group_values")),
                presentation_group_values=group_values(spec.get("presentation_group_values")),
                commit_ids=tuple(spec.get("commit_ids") or ()),
                billing_frequency=spec.get("billing_frequency"),
            )
            for spec in data.get("override_specifiers") or ()
        ),
        multiplier=_decimal_or_none(data.get("multiplier")),
        overwrite_rate=None
        if not overwrite
        else OverwriteRate(
            rate_type=overwrite["rate_type"],
            price=_decimal_or_none(overwrite.get("price")),
            tiers=_tiers(overwrite.get("tiers")),
            credit_type_id=overwrite.get("credit_type_id"),
        ),
        tiers=tuple(
            OverrideTier(
                multiplier=to_decimal(tier["multiplier"]), size=_decimal_or_none(tier.get("size"))
            )
            for tier in data.get("tiers") or ()
        ),
        entitled=data.get("entitled"),
        priority=_decimal_or_none(data.get("priority")),
        is_commit_specific=data.get("is_commit_specific", False),
        target=data.get("target"),
    )


def _subscription(data: Mapping[str, Any], contract: Mapping[str, Any]) -> Subscription:
    ending_before = data.get("ending_before") or contract.get("ending_before")
    return Subscription(
        id=data["id"],
        product_id=data["subscription_rate"]["product_id"],
        quantity=to_decimal(data.get("initial_quantity", "1")),
        collection_schedule=data["collection_schedule"],
        starting_at=parse_time(data.get("starting_at") or contract["starting_at"]),
        ending_before=parse_time(ending_before) if ending_before else None,
        is_prorated=(data.get("proration") or {}).get("is_prorated", True),
        billing_frequency=data["subscription_rate"].get("billing_frequency"),
        name=data.get("name"),
    )


def _scheduled_charges(data: Mapping[str, Any]) -> list[ScheduledCharge]:
    charges = []
    for item in data["schedule"]["schedule_items"]:
        if item.get("amount") is not None:
            unit_price, quantity = to_decimal(item["amount"]), Decimal(1)
        else:
            unit_price, quantity = to_decimal(item["unit_price"]), to_decimal(item["quantity"])
        charges.append(
            ScheduledCharge(
                id=data["id"],
                product_id=data["product_id"],
                timestamp=parse_time(item["timestamp"]),
                unit_price=unit_price,
                quantity=quantity,
                name=data.get("name"),
            )
        )
    return charges


def case_metrics(case: Case) -> dict[str, Mapping[str, Any]]:
    metrics = case.get("metrics") or ([case["metric"]] if case.get("metric") else [])
    return {metric["id"]: metric for metric in metrics}


def customer_events(case: Case, events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    customer = case["customer"]
    names = {customer["id"], *(customer.get("ingest_aliases") or ())}
    return [event for event in events if event["customer_id"] in names]


def scheduled_on_usage(case: Case) -> bool:
    """Does the contract put scheduled charges and commit purchases on its usage invoices?"""
    return case["contract"].get("scheduled_charges_on_usage_invoices") == "ALL"


def scheduled_dates(case: Case) -> list[datetime]:
    """The dates of the case's SCHEDULED invoices: every scheduled charge item and PREPAID
    commit invoice schedule item (contract commits; customer commits naming the contract in
    `invoice_contract_id`), each date once, in order. None with `scheduled_on_usage`."""
    if scheduled_on_usage(case):
        return []
    contract = case["contract"]
    commits = [c for c in contract.get("commits") or () if c["type"] == BalanceType.PREPAID]
    commits += [
        c
        for c in case.get("customer_commits") or ()
        if c["type"] == BalanceType.PREPAID and c.get("invoice_contract_id") == contract["id"]
    ]
    moments = {
        parse_time(item["timestamp"])
        for data in contract.get("scheduled_charges") or ()
        for item in data["schedule"]["schedule_items"]
    }
    moments |= {
        parse_time(item["timestamp"])
        for data in commits
        for item in (data.get("invoice_schedule") or {}).get("schedule_items") or ()
    }
    return sorted(moments)


def scheduled_rating_input(case: Case, timestamp: datetime) -> RatingInput:
    """The engine's input for the case's SCHEDULED invoice dated `timestamp`: its instant as the
    period, the scheduled charges and the commits invoiced then; no usage, rates or overrides."""
    usage_input = rating_input(case, events=())
    period = scheduled_period(timestamp)
    return dataclasses.replace(
        usage_input,
        invoice_type=InvoiceType.SCHEDULED,
        period=period,
        full_period=None,
        rates=(),
        usage=(),
        subscriptions=(),
        overrides=(),
        balances=tuple(
            balance
            for balance in usage_input.balances
            if any(period.contains(item.timestamp) for item in balance.invoice_schedule)
        ),
    )


def rating_input(case: Case, events: Iterable[Mapping[str, Any]] | None = None) -> RatingInput:
    """The case as the engine's input (its USAGE invoice); `events` replaces the case's events
    when given."""
    period = case_period(case)
    contract = case["contract"]
    products = tuple(_product(data) for data in case["products"])
    rates = tuple(_rate(data) for data in case["rates"])
    balances = case_balances(case)
    overrides = tuple(_override(data) for data in contract.get("overrides") or ())
    metrics = case_metrics(case)
    scoped = customer_events(case, case["events"] if events is None else events)
    rate_card = case.get("rate_card") or {}
    terms = RatingInput(
        pricing_unit=PricingUnit(
            id=case["pricing_unit"]["id"],
            name=case["pricing_unit"]["name"],
            decimal_places=int(case["pricing_unit"]["decimal_places"]),
        ),
        period=period,
        full_period=full_period(contract, period),
        products=products,
        rates=rates,
        subscriptions=tuple(
            _subscription(data, contract) for data in contract.get("subscriptions") or ()
        ),
        scheduled_charges=tuple(
            charge
            for data in contract.get("scheduled_charges") or ()
            for charge in _scheduled_charges(data)
        ),
        balances=balances,
        overrides=overrides,
        multiplier_override_prioritization=contract.get(
            "multiplier_override_prioritization", "LOWEST_MULTIPLIER"
        ),
        conversions=tuple(
            Conversion(
                custom_credit_type_id=item["custom_credit_type_id"],
                fiat_per_custom=to_decimal(item["fiat_per_custom_credit"]),
            )
            for item in rate_card.get("credit_type_conversions") or ()
        ),
        custom_units=tuple(
            PricingUnit(
                id=unit["id"], name=unit["name"], decimal_places=int(unit["decimal_places"])
            )
            for unit in case.get("custom_pricing_units") or ()
        ),
        invoice_type=InvoiceType.USAGE,
        scheduled_charges_on_usage_invoices=scheduled_on_usage(case),
    )
    usage = []
    on_card = {rate.product_id for rate in rates}
    for data, product in zip(case["products"], products, strict=True):
        # A product the card does not list is no usage of this contract (the selector reads
        # the card's products only): another contract of the customer may price it.
        if product.type == "USAGE" and product.id in on_card:
            metric = metrics[data["billable_metric_id"]]
            cuts = term_boundaries(terms, product.id)
            usage.extend(usage_for_product(product, metric, rates, scoped, period, cuts))
    return dataclasses.replace(
        terms, usage=tuple(usage), customer_spend=customer_spend(case, events)
    )


def other_contract_case(case: Case, other: Mapping[str, Any]) -> Case:
    """One of `other_contracts` (another contract of the same customer, on its own rate card)
    as a case of its own: same products, events and period."""
    contract = {key: value for key, value in other.items() if key not in ("rate_card", "rates")}
    return {
        **case,
        "rate_card": other["rate_card"],
        "rates": other["rates"],
        "contract": {"customer_id": case["contract"]["customer_id"], **contract},
        "other_contracts": [],
    }


def customer_spend(
    case: Case, events: Iterable[Mapping[str, Any]] | None = None
) -> tuple[CustomerSpend, ...]:
    """What a CUSTOMER-scope composite of the case counts of `other_contracts`: their charge
    lines of the period (fiat, not composite), rated as cases of their own."""
    spend = []
    for other in case.get("other_contracts") or ():
        sub_case = other_contract_case(case, other)
        for line in rate_invoice(rating_input(sub_case, events)).lines:
            if (
                line.type in LineType.CHARGES
                and line.product_type != "COMPOSITE"
                and line.credit_type_id is None
            ):
                spend.append(
                    CustomerSpend(
                        contract_id=other["id"],
                        product_id=line.product_id,
                        product_tags=line.product_tags,
                        starting_at=line.starting_at,
                        total=line.total,
                    )
                )
    return tuple(spend)


# --- Expected lines ------------------------------------------------------------------------------

_NUMBERS = ("quantity", "unit_price", "total")


def _decimal_or_none(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value)


def canonical_line(data: Mapping[str, Any]) -> dict[str, Any]:
    """A golden line (or `line_as_case(line)`) with defaults filled and numbers as Decimals."""
    tier = data.get("tier")
    return {
        "name": data["name"],
        "type": data["type"],
        "product_id": data["product_id"],
        **{key: _decimal_or_none(data.get(key)) for key in _NUMBERS},
        "starting_at": parse_time(data["starting_at"]),
        "ending_before": parse_time(data["ending_before"]) if data.get("ending_before") else None,
        "pricing_group_values": dict(data.get("pricing_group_values") or {}),
        "presentation_group_values": dict(data.get("presentation_group_values") or {}),
        "group_key": data.get("group_key"),
        "group_value": data.get("group_value"),
        "tier": None
        if tier is None
        else {
            "level": int(tier["level"]),
            "starting_at": to_decimal(tier["starting_at"]),
            "size": _decimal_or_none(tier.get("size")),
        },
        "is_prorated": data.get("is_prorated", False),
        "is_unpriced": data.get("is_unpriced", False),
        "credit_type_id": data.get("credit_type_id"),
        "commit_id": data.get("commit_id"),
        "applied_commit_or_credit": data.get("applied_commit_or_credit"),
        "balance_remaining": _decimal_or_none(data.get("balance_remaining")),
    }


def line_as_case(line: Line) -> dict[str, Any]:
    """An engine line in the golden files' shape (group values as objects)."""
    data = to_json(line)
    data["pricing_group_values"] = dict(line.pricing_group_values)
    data["presentation_group_values"] = dict(line.presentation_group_values)
    data["applied_commit_or_credit"] = (
        None
        if line.applied_commit_or_credit_id is None
        else {"id": line.applied_commit_or_credit_id, "type": line.applied_commit_or_credit_type}
    )
    return data
