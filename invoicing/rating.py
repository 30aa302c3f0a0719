"""The rating engine: one billing period's facts in, invoice lines and totals out.

PURE: frozen dataclasses in, frozen dataclasses out; imports only the standard library and
`catalog.money` (a test enforces it). A selector loads a contract's period into a `RatingInput`;
`rate_invoice()` computes; a service saves the `RatingResult`. Re-rating a stored snapshot
(`to_json` / `rating_input_from_json`) reproduces the invoice to the cent.

How the numbers are made (the decisions, in one place):

- Money is Decimal. Each line is computed at full precision and rounded once, half up, to the
  pricing unit's smallest amount (`catalog.money.round_amount`); subtotal and total are sums of the
  rounded lines.
- Usage arrives aggregated: one `Usage` per product, pricing group values, presentation group values
  and rate segment (a window of the period inside which the rate for those pricing group values does
  not change). The engine never merges two `Usage` records: UNIQUE, MAX and LATEST are not additive,
  so the aggregation belongs to the selector.
- Each `Usage` becomes one line (or one line per tier it spans). Its quantity is converted (multiply
  or divide) and then rounded (the product's quantity rounding) before pricing; tiers are therefore
  in the converted unit (a tier of size 1 on a per-million product is a million tokens).
- The rate of a `Usage` is the entitled rate of the same product with exactly the same pricing group
  values in effect at the start of its window; when several are, the one that started last wins (a
  price change is a new rate with a later start).
- TIERED is graduated over the whole period, per product and pricing group values: the lines of that
  pricing group are laid end to end, in time order (rate segments) and then by presentation group
  values, and each unit is priced by the tier its position falls in, under the tiers of the rate of
  its own segment. A line spanning tiers is split into one line per tier, with the tier's level,
  starting point and size. FLAT segments advance the position too; usage without a price does not.
- Usage whose pricing group values have no rate is metered, not charged: a zero-total line with
  `is_unpriced=True` and no unit price, so staff see why nothing was charged.
- Zero usage gives no line: a `Usage` whose metered quantity is zero is dropped. A nonzero metered
  quantity that rounds to zero still gives a (zero) line, so the usage stays visible.
- SUBSCRIPTION: price x quantity per billing period, on the invoice of that period. ADVANCE is priced
  by the rate in effect when its window starts, ARREARS by the rate in effect when it ends. A window
  shorter than the full period (`full_period`: the schedule's period before the contract's start and
  end cut it) is prorated to the microsecond when the subscription is prorated.
  A subscription whose product has no SUBSCRIPTION rate is listed with `is_unpriced=True`.
- FIXED scheduled charges are due when their timestamp falls in [period start, period end).
- COMPOSITE: percentage x the sum of the ROUNDED totals of the invoice's non-composite lines whose
  product id or tags it names (so a customer can check it against the lines printed above it);
  composite lines never count towards another composite. One line per PERCENTAGE rate overlapping the
  period, over the lines that start inside that rate's window; no spend, no line.

Lines come in a fixed order: usage (products in input order; then pricing group values, sorted; then
time, presentation group values and tier), subscriptions (input order), scheduled charges (by
timestamp), composites (products in input order).

The pipeline is `PREPARE_STEPS` (RatingInput -> RatingInput: where overrides will rewrite the rates)
followed by `LINE_STEPS` ((RatingInput, lines) -> lines: where commits, credits and custom-unit
conversion will append their lines). Lines carry product ids, types and tags so that a later step can
decide which lines a commit or override applies to.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from catalog.money import (
    ZERO,
    convert_quantity,
    full_precision,
    round_amount,
    round_quantity,
    to_decimal,
)

# --- Vocabulary (Metronome's upper-case enum values) ------------------------------------------------


class ProductType:
    USAGE = "USAGE"
    SUBSCRIPTION = "SUBSCRIPTION"
    COMPOSITE = "COMPOSITE"
    FIXED = "FIXED"
    PRO_SERVICE = "PRO_SERVICE"
    ALL = frozenset({USAGE, SUBSCRIPTION, COMPOSITE, FIXED, PRO_SERVICE})


class RateType:
    FLAT = "FLAT"
    TIERED = "TIERED"
    PERCENTAGE = "PERCENTAGE"
    SUBSCRIPTION = "SUBSCRIPTION"
    ALL = frozenset({FLAT, TIERED, PERCENTAGE, SUBSCRIPTION})


class CollectionSchedule:
    ADVANCE = "ADVANCE"
    ARREARS = "ARREARS"
    ALL = frozenset({ADVANCE, ARREARS})


class LineType:
    """Metronome's line item `type`. Composite lines are `usage` lines of a COMPOSITE product."""

    USAGE = "usage"
    SUBSCRIPTION = "subscription"
    SCHEDULED = "scheduled"
    # Reserved for the commit and credit steps (issue 6).
    APPLIED_COMMIT_OR_CREDIT = "applied_commit_or_credit"
    CPU_CONVERSION = "cpu_conversion"
    CHARGES = frozenset({USAGE, SUBSCRIPTION, SCHEDULED, CPU_CONVERSION})


# Group values as sorted (key, value) pairs: hashable, ordered, and `dict()` gives the mapping back.
GroupValues = tuple[tuple[str, str], ...]


def group_values(values: Mapping[str, object] | Iterable[tuple[str, object]] | None) -> GroupValues:
    """Normalize group values given as a mapping or pairs into sorted string pairs."""
    if values is None:
        return ()
    pairs = values.items() if isinstance(values, Mapping) else values
    return tuple(sorted((str(key), str(value)) for key, value in pairs))


# --- Checked frozen dataclasses ----------------------------------------------------------------------


@cache
def _field_types(cls: type) -> tuple[tuple[str, object], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((field.name, hints[field.name]) for field in dataclasses.fields(cls))


def _strip_optional(annotation: object) -> object:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


@cache
def _checked_fields(cls: type) -> tuple[tuple[str, object], ...]:
    """The fields `_Checked` looks at, with the kind of check: Decimal, datetime or tuple."""
    checked = []
    for name, annotation in _field_types(cls):
        kind = _strip_optional(annotation)
        if typing.get_origin(kind) is tuple:
            checked.append((name, tuple))
        elif kind in (Decimal, datetime):
            checked.append((name, kind))
    return tuple(checked)


class _Checked:
    """Refuses floats, strings posing as numbers, and naive datetimes at construction; turns
    lists given for tuple fields into tuples (so inputs stay hashable and compare equal)."""

    def __post_init__(self) -> None:
        for name, kind in _checked_fields(type(self)):
            value = getattr(self, name)
            if value is None:
                continue
            if kind is tuple:
                if isinstance(value, list):
                    object.__setattr__(self, name, tuple(value))
            elif kind is Decimal:
                if not isinstance(value, Decimal):
                    raise TypeError(
                        f"{type(self).__name__}.{name} must be a Decimal, not {value!r}"
                    )
            elif not isinstance(value, datetime) or value.utcoffset() is None:
                raise TypeError(f"{type(self).__name__}.{name} must be an aware datetime")
        self._validate()

    def _validate(self) -> None:
        """Cross-field checks of a subclass."""


# --- Input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricingUnit(_Checked):
    """The invoice's unit. `decimal_places` is its smallest amount: 0 for `USD (cents)`."""

    id: str
    name: str
    decimal_places: int = 0


@dataclass(frozen=True)
class Period(_Checked):
    """A half-open window [starting_at, ending_before)."""

    starting_at: datetime
    ending_before: datetime

    def _validate(self) -> None:
        if self.starting_at >= self.ending_before:
            raise ValueError(f"empty period {self.starting_at} .. {self.ending_before}")

    def contains(self, moment: datetime) -> bool:
        return self.starting_at <= moment < self.ending_before


@dataclass(frozen=True)
class QuantityConversion(_Checked):
    factor: Decimal
    operation: str  # MULTIPLY or DIVIDE
    name: str = ""


@dataclass(frozen=True)
class QuantityRounding(_Checked):
    decimal_places: int
    method: str  # ROUND_UP, ROUND_DOWN or ROUND_HALF_UP


@dataclass(frozen=True)
class Product(_Checked):
    id: str
    name: str
    type: str
    tags: tuple[str, ...] = ()
    pricing_group_keys: tuple[str, ...] = ()
    presentation_group_keys: tuple[str, ...] = ()
    quantity_conversion: QuantityConversion | None = None
    quantity_rounding: QuantityRounding | None = None
    composite_product_ids: tuple[str, ...] = ()
    composite_tags: tuple[str, ...] = ()

    def _validate(self) -> None:
        if self.type not in ProductType.ALL:
            raise ValueError(f"product {self.id}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Tier(_Checked):
    """A graduated tier; `size` None means open-ended (the last tier always is)."""

    price: Decimal
    size: Decimal | None = None


@dataclass(frozen=True)
class Rate(_Checked):
    """A rate card entry for a product (and pricing group values), valid in [starting_at, ending_before).

    `price`: per unit (FLAT), per billing period (SUBSCRIPTION) or a 0-1 fraction (PERCENTAGE).
    """

    product_id: str
    rate_type: str
    starting_at: datetime
    ending_before: datetime | None = None
    price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    pricing_group_values: GroupValues = ()
    entitled: bool = True
    billing_frequency: str | None = None
    id: str | None = None

    def _validate(self) -> None:
        if self.rate_type not in RateType.ALL:
            raise ValueError(f"rate for {self.product_id}: unknown rate type {self.rate_type!r}")
        if self.rate_type == RateType.TIERED:
            if not self.tiers:
                raise ValueError(f"tiered rate for {self.product_id} has no tiers")
            if any(tier.size is None or tier.size <= 0 for tier in self.tiers[:-1]):
                raise ValueError(f"tiered rate for {self.product_id}: only the last tier is open")
        elif self.price is None:
            raise ValueError(f"{self.rate_type} rate for {self.product_id} has no price")
        if self.ending_before is not None and self.ending_before <= self.starting_at:
            raise ValueError(f"rate for {self.product_id} ends before it starts")

    def in_effect_at(self, moment: datetime) -> bool:
        return self.starting_at <= moment and (
            self.ending_before is None or moment < self.ending_before
        )


@dataclass(frozen=True)
class Usage(_Checked):
    """The metric's quantity for one product, group values and rate segment of the period."""

    product_id: str
    starting_at: datetime
    ending_before: datetime
    quantity: Decimal
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()


@dataclass(frozen=True)
class Subscription(_Checked):
    id: str
    product_id: str
    quantity: Decimal
    collection_schedule: str
    starting_at: datetime
    ending_before: datetime | None = None
    is_prorated: bool = True
    billing_frequency: str | None = None
    name: str | None = None

    def _validate(self) -> None:
        if self.collection_schedule not in CollectionSchedule.ALL:
            raise ValueError(f"subscription {self.id}: bad schedule {self.collection_schedule!r}")


@dataclass(frozen=True)
class ScheduledCharge(_Checked):
    """One item of a scheduled charge's schedule (an `amount` item is unit_price=amount, quantity=1)."""

    id: str
    product_id: str
    timestamp: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    name: str | None = None


@dataclass(frozen=True)
class RatingInput(_Checked):
    """Everything one invoice is computed from.

    `period` is the billing period, already cut by the contract's start and end; `full_period` is
    the schedule's uncut period (the denominator of proration), `period` itself when omitted.
    """

    pricing_unit: PricingUnit
    period: Period
    products: tuple[Product, ...]
    rates: tuple[Rate, ...] = ()
    usage: tuple[Usage, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    scheduled_charges: tuple[ScheduledCharge, ...] = ()
    full_period: Period | None = None

    def _validate(self) -> None:
        ids = [product.id for product in self.products]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate product ids")

    @property
    def proration_period(self) -> Period:
        return self.full_period or self.period

    def product(self, product_id: str) -> Product:
        for product in self.products:
            if product.id == product_id:
                return product
        raise ValueError(f"unknown product {product_id}")


# --- Output --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineTier(_Checked):
    """Metronome's `tier`: level (1-based), the tier's first position, its size (None: open)."""

    level: int
    starting_at: Decimal
    size: Decimal | None


@dataclass(frozen=True)
class Line(_Checked):
    """One invoice line. `total` is rounded; `quantity x unit_price` is its unrounded amount,
    except for prorated subscriptions (full-period `unit_price`, the window in starting_at ..
    ending_before) and lines without a price."""

    name: str
    type: str
    product_id: str
    product_type: str
    total: Decimal
    starting_at: datetime
    ending_before: datetime | None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    product_tags: tuple[str, ...] = ()
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()
    group_key: str | None = None
    group_value: str | None = None
    tier: LineTier | None = None
    is_prorated: bool = False
    is_unpriced: bool = False
    subscription_id: str | None = None
    scheduled_charge_id: str | None = None


@dataclass(frozen=True)
class RatingResult(_Checked):
    pricing_unit: PricingUnit
    period: Period
    lines: tuple[Line, ...]
    subtotal: Decimal
    total: Decimal


# --- The pipeline --------------------------------------------------------------------------------

PrepareStep = Callable[[RatingInput], RatingInput]
LineStep = Callable[[RatingInput, tuple[Line, ...]], tuple[Line, ...]]


def rate_invoice(
    rating_input: RatingInput,
    *,
    prepare_steps: Iterable[PrepareStep] | None = None,
    line_steps: Iterable[LineStep] | None = None,
) -> RatingResult:
    """Rate one billing period: run the prepare steps, then the line steps, then total."""
    with full_precision():
        for prepare in PREPARE_STEPS if prepare_steps is None else prepare_steps:
            rating_input = prepare(rating_input)
        lines: tuple[Line, ...] = ()
        for step in LINE_STEPS if line_steps is None else line_steps:
            lines = step(rating_input, lines)
        return totals(rating_input, lines)


def totals(rating_input: RatingInput, lines: tuple[Line, ...]) -> RatingResult:
    """Subtotal: the charges; total: every line (commit and credit applications are negative)."""
    subtotal = sum((line.total for line in lines if line.type in LineType.CHARGES), ZERO)
    total = sum((line.total for line in lines), ZERO)
    return RatingResult(
        pricing_unit=rating_input.pricing_unit,
        period=rating_input.period,
        lines=lines,
        subtotal=subtotal,
        total=total,
    )


def _money(rating_input: RatingInput, amount: Decimal) -> Decimal:
    return round_amount(amount, rating_input.pricing_unit.decimal_places)


def _latest_rate(rates: Iterable[Rate], *, at: datetime, at_end: bool = False) -> Rate | None:
    """The rate in effect at `at` (or, with `at_end`, in the instant just before `at`) that
    started last. Later input order breaks a tie in start."""
    if at_end:
        candidates = [
            rate
            for rate in rates
            if rate.starting_at < at and (rate.ending_before is None or at <= rate.ending_before)
        ]
    else:
        candidates = [rate for rate in rates if rate.in_effect_at(at)]
    best = None
    for rate in candidates:
        if best is None or rate.starting_at >= best.starting_at:
            best = rate
    return best


# --- Usage ---------------------------------------------------------------------------------------


def billable_quantity(product: Product, metered: Decimal) -> Decimal:
    """The product's quantity conversion, then its quantity rounding."""
    quantity = metered
    if product.quantity_conversion is not None:
        conversion = product.quantity_conversion
        quantity = convert_quantity(quantity, conversion.factor, conversion.operation)
    if product.quantity_rounding is not None:
        rounding = product.quantity_rounding
        quantity = round_quantity(quantity, rounding.decimal_places, rounding.method)
    return quantity


@dataclass(frozen=True)
class TierPiece:
    level: int
    tier_starting_at: Decimal
    tier_size: Decimal | None
    quantity: Decimal
    price: Decimal


def tier_pieces(tiers: tuple[Tier, ...], position: Decimal, quantity: Decimal) -> list[TierPiece]:
    """Split `quantity` units, starting at `position` in the period, over graduated tiers.

    The last tier is open-ended whatever its size says. A zero or negative quantity is one piece in
    the tier the position is in.
    """
    bounds = []
    start = ZERO
    for level, tier in enumerate(tiers, start=1):
        size = None if level == len(tiers) else tier.size
        bounds.append((level, start, size, tier.price))
        if size is not None:
            start += size
    if quantity <= 0:
        for level, tier_start, size, price in bounds:
            if size is None or position < tier_start + size:
                return [TierPiece(level, tier_start, size, quantity, price)]
    pieces = []
    end = position + quantity
    for level, tier_start, size, price in bounds:
        tier_end = None if size is None else tier_start + size
        low = max(tier_start, position)
        high = end if tier_end is None else min(tier_end, end)
        if high > low:
            pieces.append(TierPiece(level, tier_start, size, high - low, price))
    return pieces


def usage_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the usage lines, product by product in input order."""
    products = {product.id: product for product in rating_input.products}
    by_product: dict[str, list[Usage]] = {}
    for usage in rating_input.usage:
        product = products.get(usage.product_id) or rating_input.product(usage.product_id)
        if product.type != ProductType.USAGE:
            raise ValueError(f"usage for {product.type} product {product.id}")
        if usage.starting_at < rating_input.period.starting_at or (
            usage.ending_before > rating_input.period.ending_before
        ):
            raise ValueError(f"usage of {product.id} outside the period")
        by_product.setdefault(product.id, []).append(usage)
    usage_rates: dict[tuple[str, GroupValues], list[Rate]] = {}
    for rate in rating_input.rates:
        if rate.entitled and rate.rate_type in (RateType.FLAT, RateType.TIERED):
            key = (rate.product_id, rate.pricing_group_values)
            usage_rates.setdefault(key, []).append(rate)
    new_lines = []
    for product in rating_input.products:
        records = by_product.get(product.id, [])
        by_pricing: dict[GroupValues, list[Usage]] = {}
        for usage in records:
            by_pricing.setdefault(usage.pricing_group_values, []).append(usage)
        for pricing_values in sorted(by_pricing):
            rates = usage_rates.get((product.id, pricing_values), [])
            new_lines.extend(
                _pricing_group_lines(
                    rating_input, product, pricing_values, by_pricing[pricing_values], rates
                )
            )
    return (*lines, *new_lines)


def _pricing_group_lines(
    rating_input: RatingInput,
    product: Product,
    pricing_values: GroupValues,
    records: list[Usage],
    rates: list[Rate],
) -> Iterator[Line]:
    position = ZERO
    ordered = sorted(
        records, key=lambda usage: (usage.starting_at, usage.presentation_group_values)
    )
    for usage in ordered:
        if usage.quantity == 0:
            continue
        quantity = billable_quantity(product, usage.quantity)
        presentation = usage.presentation_group_values
        common = {
            "name": product.name,
            "type": LineType.USAGE,
            "product_id": product.id,
            "product_type": product.type,
            "product_tags": product.tags,
            "starting_at": usage.starting_at,
            "ending_before": usage.ending_before,
            "pricing_group_values": pricing_values,
            "presentation_group_values": presentation,
            **_legacy_group(product, presentation),
        }
        rate = _latest_rate(rates, at=usage.starting_at)
        if rate is None:
            yield Line(**common, quantity=quantity, total=ZERO, is_unpriced=True)
        elif rate.rate_type == RateType.FLAT:
            amount = quantity * rate.price
            yield Line(
                **common,
                quantity=quantity,
                unit_price=rate.price,
                total=_money(rating_input, amount),
            )
        else:
            for piece in tier_pieces(rate.tiers, position, quantity):
                yield Line(
                    **common,
                    quantity=piece.quantity,
                    unit_price=piece.price,
                    total=_money(rating_input, piece.quantity * piece.price),
                    tier=LineTier(piece.level, piece.tier_starting_at, piece.tier_size),
                )
        if rate is not None:
            position += quantity


def _legacy_group(product: Product, presentation: GroupValues) -> dict[str, str | None]:
    """Metronome's single `group_key`/`group_value`: set when one presentation key breaks down."""
    if len(product.presentation_group_keys) != 1:
        return {"group_key": None, "group_value": None}
    key = product.presentation_group_keys[0]
    return {"group_key": key, "group_value": dict(presentation).get(key)}


# --- Subscriptions and scheduled charges ---------------------------------------------------------


def _microseconds(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1))


def subscription_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: one line per subscription active during the period."""
    period = rating_input.period
    full = rating_input.proration_period
    new_lines = []
    for subscription in rating_input.subscriptions:
        product = rating_input.product(subscription.product_id)
        start = max(period.starting_at, subscription.starting_at)
        end = period.ending_before
        if subscription.ending_before is not None:
            end = min(end, subscription.ending_before)
        if start >= end:
            continue
        rates = [
            rate
            for rate in rating_input.rates
            if rate.product_id == product.id
            and rate.rate_type == RateType.SUBSCRIPTION
            and rate.entitled
            and (
                subscription.billing_frequency is None
                or rate.billing_frequency in (None, subscription.billing_frequency)
            )
        ]
        if subscription.collection_schedule == CollectionSchedule.ADVANCE:
            rate = _latest_rate(rates, at=start)
        else:
            rate = _latest_rate(rates, at=end, at_end=True)
        window = end - start
        full_length = full.ending_before - full.starting_at
        is_prorated = subscription.is_prorated and window != full_length
        common = {
            "name": subscription.name or product.name,
            "type": LineType.SUBSCRIPTION,
            "product_id": product.id,
            "product_type": product.type,
            "product_tags": product.tags,
            "starting_at": start,
            "ending_before": end,
            "quantity": subscription.quantity,
            "subscription_id": subscription.id,
            "is_prorated": is_prorated,
        }
        if rate is None:
            new_lines.append(Line(**common, total=ZERO, is_unpriced=True))
            continue
        amount = rate.price * subscription.quantity
        if is_prorated:
            amount = amount * _microseconds(window) / _microseconds(full_length)
        new_lines.append(Line(**common, unit_price=rate.price, total=_money(rating_input, amount)))
    return (*lines, *new_lines)


def scheduled_charge_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the scheduled charge items due in [period start, period end), by timestamp."""
    due = sorted(
        (c for c in rating_input.scheduled_charges if rating_input.period.contains(c.timestamp)),
        key=lambda charge: (charge.timestamp, charge.id),
    )
    new_lines = []
    for charge in due:
        product = rating_input.product(charge.product_id)
        new_lines.append(
            Line(
                name=charge.name or product.name,
                type=LineType.SCHEDULED,
                product_id=product.id,
                product_type=product.type,
                product_tags=product.tags,
                starting_at=charge.timestamp,
                ending_before=None,
                quantity=charge.quantity,
                unit_price=charge.unit_price,
                total=_money(rating_input, charge.quantity * charge.unit_price),
                scheduled_charge_id=charge.id,
            )
        )
    return (*lines, *new_lines)


# --- Composite -----------------------------------------------------------------------------------


def composite_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: a percentage of the rounded spend on the named products or tags."""
    period = rating_input.period
    new_lines = []
    for product in rating_input.products:
        if product.type != ProductType.COMPOSITE:
            continue
        rates = sorted(
            (
                rate
                for rate in rating_input.rates
                if rate.product_id == product.id
                and rate.rate_type == RateType.PERCENTAGE
                and rate.entitled
                and rate.starting_at < period.ending_before
                and (rate.ending_before is None or rate.ending_before > period.starting_at)
            ),
            key=lambda rate: rate.starting_at,
        )
        for rate in rates:
            window = Period(
                max(rate.starting_at, period.starting_at),
                period.ending_before
                if rate.ending_before is None
                else min(rate.ending_before, period.ending_before),
            )
            base = sum(
                (
                    line.total
                    for line in lines
                    if _in_composite(product, line) and window.contains(line.starting_at)
                ),
                ZERO,
            )
            if base == 0:
                continue
            new_lines.append(
                Line(
                    name=product.name,
                    type=LineType.USAGE,
                    product_id=product.id,
                    product_type=product.type,
                    product_tags=product.tags,
                    starting_at=window.starting_at,
                    ending_before=window.ending_before,
                    quantity=base,
                    unit_price=rate.price,
                    total=_money(rating_input, base * rate.price),
                )
            )
    return (*lines, *new_lines)


def _in_composite(composite: Product, line: Line) -> bool:
    if line.product_type == ProductType.COMPOSITE or line.type not in LineType.CHARGES:
        return False
    return line.product_id in composite.composite_product_ids or bool(
        set(line.product_tags) & set(composite.composite_tags)
    )


# Overrides (issue 6) rewrite the rates here, before any line is priced.
PREPARE_STEPS: tuple[PrepareStep, ...] = ()
# Commits, credits and custom-unit conversion (issue 6) append after the composites.
LINE_STEPS: tuple[LineStep, ...] = (
    usage_lines,
    subscription_lines,
    scheduled_charge_lines,
    composite_lines,
)


# --- Snapshots -----------------------------------------------------------------------------------


def to_json(value: object) -> object:
    """Any value of this module as JSON-ready data: Decimals as plain strings, datetimes ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    return value


def rating_input_from_json(data: Mapping[str, object]) -> RatingInput:
    """The inverse of `to_json(rating_input)`: re-rating a snapshot reproduces its invoice."""
    return _from_json(RatingInput, data)


def _from_json(annotation: object, value: object) -> typing.Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _from_json(_strip_optional(annotation), value)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], item) for item in value)
        return tuple(_from_json(arg, item) for arg, item in zip(args, value, strict=True))
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation(
            **{
                name: _from_json(field_type, value[name])
                for name, field_type in _field_types(annotation)
                if name in value
            }
        )
    if annotation is Decimal:
        return to_decimal(value)
    if annotation is datetime:
        return datetime.fromisoformat(value)
    if annotation in (str, int, bool) and isinstance(value, annotation):
        return value
    raise TypeError(f"cannot read {value!r} as {annotation}")
