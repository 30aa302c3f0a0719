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
- Invoice types (`RatingInput.invoice_type`, Metronome's USAGE / SCHEDULED): scheduled charges
  and PREPAID commit purchases go on SCHEDULED invoices of their own, one per contract and date,
  whose period is that instant (`scheduled_period`); such an invoice has only those lines. The
  USAGE invoice then has everything else (usage, subscriptions, composites, applications,
  conversions, true-ups), and the scheduled items too only when the contract asks for
  `scheduled_charges_on_usage_invoices` ("ALL"). One engine, one pipeline: `steps_for` picks
  the steps whose lines belong to the invoice. A composite therefore counts a scheduled charge
  only when it is on the same (usage) invoice.
- COMPOSITE: percentage x the sum of the ROUNDED totals of the invoice's non-composite lines whose
  product id or tags it names (so a customer can check it against the lines printed above it);
  composite lines never count towards another composite. One line per PERCENTAGE rate overlapping the
  period, over the lines that start inside that rate's window; no spend, no line.

Contract terms (issue 6), each a step of the same pipeline:

- Overrides (`apply_overrides`, the PREPARE step) rewrite the rates of the products and pricing
  group values they target into disjoint time windows, cut at every rate and override boundary;
  in each window the rate in effect (the latest-started entitled one; an override with
  `entitled` set switches entitlement) is priced by the winning override: OVERWRITE beats
  MULTIPLIER/TIERED; among multipliers LOWEST_MULTIPLIER (default) takes the lowest, EXPLICIT the
  lowest `priority`. A MULTIPLIER multiplies whichever list rate is in effect, so it follows later
  price changes; a TIERED override multiplies by quantity band of the period (graduated, like
  tiers). Targets: product id, tags, override specifiers (product, tags, pricing group values as
  a subset; presentation group values are not looked at: a rate has none). Commit-specific
  overrides are left out here and price only the part of usage a named commit draws.
- The selector splits usage at `segment_boundaries(input, product_id)`: the product's rate
  boundaries plus `term_boundaries` (overrides that may target it, access segments of balances
  whose scope includes it). A usage record is priced by the rate at its start and drawn by a
  segment only when it lies wholly inside it.
- Commits and credits (`Balance`, with `AccessSegment`s carrying what is AVAILABLE when this
  invoice starts: the selector subtracts earlier finalized draws): `commit_purchase_lines` (a
  PREPAID commit's invoice schedule items due in the period), `custom_unit_lines` (balances in a
  custom unit burn down the lines in that unit; the rest converts to fiat on one `cpu_conversion`
  line per unit and product), `balance_lines` (fiat balances), `postpaid_true_up_lines`.
  Burn-down (`allocate_balances`): segments in `burn_down_order` (rollover balances first:
  postpaid, prepaid, then credits, each by lower priority, fewer applicable products, earlier
  end; then every other balance: lower priority; credits before commits; fewer applicable
  products; earlier end; earlier start; contract-level before customer-level; ids) each draw,
  line by line in invoice order, what is left of each usage, subscription or cpu_conversion line
  of its unit and scope inside its window; never more than a line has left or the segment holds.
  Scheduled charges, commit purchases and true-ups are never drawn. Empty scope = every product.
  One negative `applied_commit_or_credit` line per segment drawn, with `balance_remaining`;
  `RatingResult.balance_draws` lists every segment overlapping the period (available, drawn,
  remaining, `expires` when it ends by the period's end) for the ledger.
- COMMIT_RATE (and commit-specific overrides): on a line nothing has drawn yet, the part the
  commit covers is re-priced at the commit price on its own line (`commit_id` set) and drawn; the
  rest stays at list price on a new line. A line another balance already drew from is drawn at
  list price.
- POSTPAID: a postpaid commit draws like a prepaid one (so a later balance does not draw the same
  charge again), but its application lines are excluded from the total: the usage is still paid
  on this invoice. When its access ends in (period start, period end], a `postpaid_trueup` line
  charges the commitment minus `drawn_before` minus this invoice's draws, if positive.
- Custom pricing units: a rate with `credit_type_id` prices its lines in that unit (rounded to
  that unit's `decimal_places`, from `custom_units`); such lines carry the unit and stay out of
  the fiat subtotal and total, which count their `cpu_conversion` lines instead. Composites count
  fiat lines only.
- Conservation: total = fiat charges - prepaid and credit applications (postpaid applications are
  shown, not subtracted).

Lines come in a fixed order: usage (products in input order; then pricing group values, sorted; then
time, presentation group values and tier), subscriptions (input order), scheduled charges (by
timestamp), composites (products in input order), commit purchases, custom-unit applications,
cpu_conversion lines, fiat applications (in drawing order), true-ups.

The pipeline is `PREPARE_STEPS` (RatingInput -> RatingInput: where overrides will rewrite the rates)
followed by `LINE_STEPS` ((RatingInput, lines) -> lines: where commits, credits and custom-unit
conversion append their lines). Lines carry product ids, types and tags so that a later step can
decide which lines a commit applies to.
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
    round_stored,
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
    COMMIT_PURCHASE = "commit_purchase"
    POSTPAID_TRUEUP = "postpaid_trueup"
    APPLIED_COMMIT_OR_CREDIT = "applied_commit_or_credit"
    CPU_CONVERSION = "cpu_conversion"
    CHARGES = frozenset(
        {USAGE, SUBSCRIPTION, SCHEDULED, CPU_CONVERSION, COMMIT_PURCHASE, POSTPAID_TRUEUP}
    )
    # The charges a commit or credit can be drawn against.
    DRAWABLE = frozenset({USAGE, SUBSCRIPTION, CPU_CONVERSION})


class InvoiceType:
    """Metronome's invoice `type`: a USAGE invoice per billing period, a SCHEDULED invoice per
    date of the contract's scheduled charges and commit invoice schedules (see `rate_invoice`)."""

    USAGE = "USAGE"
    SCHEDULED = "SCHEDULED"
    ALL = frozenset({USAGE, SCHEDULED})


class BalanceType:
    """A commit (PREPAID, POSTPAID) or a credit (CREDIT): Metronome's `applied_commit_or_credit.type`."""

    PREPAID = "PREPAID"
    POSTPAID = "POSTPAID"
    CREDIT = "CREDIT"
    ALL = frozenset({PREPAID, POSTPAID, CREDIT})


class BalanceRateType:
    LIST_RATE = "LIST_RATE"
    COMMIT_RATE = "COMMIT_RATE"
    ALL = frozenset({LIST_RATE, COMMIT_RATE})


class OverrideType:
    OVERWRITE = "OVERWRITE"
    MULTIPLIER = "MULTIPLIER"
    TIERED = "TIERED"
    ALL = frozenset({OVERWRITE, MULTIPLIER, TIERED})


class MultiplierPrioritization:
    LOWEST_MULTIPLIER = "LOWEST_MULTIPLIER"
    EXPLICIT = "EXPLICIT"
    ALL = frozenset({LOWEST_MULTIPLIER, EXPLICIT})


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
    # The card's commit rate (drawn by COMMIT_RATE commits); None: the list rate.
    commit_price: Decimal | None = None
    commit_tiers: tuple[Tier, ...] = ()
    # A custom pricing unit; None: the invoice's (fiat) unit.
    credit_type_id: str | None = None

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
class AccessSegment(_Checked):
    """One item of a commit's or credit's access schedule, usable in [starting_at, ending_before).

    `amount` is the segment's original amount; `available` what is left of it when this invoice
    starts (the selector subtracts the draws of earlier finalized invoices and manual ledger
    entries); None means nothing was drawn yet (= `amount`).
    """

    id: str
    starting_at: datetime
    ending_before: datetime
    amount: Decimal
    available: Decimal | None = None

    def _validate(self) -> None:
        if self.ending_before <= self.starting_at:
            raise ValueError(f"access segment {self.id} ends before it starts")

    @property
    def available_at_start(self) -> Decimal:
        return self.amount if self.available is None else self.available


@dataclass(frozen=True)
class InvoiceScheduleItem(_Checked):
    """A PREPAID commit's invoice schedule item: a `commit_purchase` line when it is due."""

    timestamp: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    id: str | None = None


@dataclass(frozen=True)
class Balance(_Checked):
    """A commit (PREPAID / POSTPAID) or credit (CREDIT) that applies to this contract's invoice.

    Empty `applicable_product_ids` and `applicable_product_tags` mean every product (Metronome:
    "If both are not provided, the commit applies to all products"). `credit_type_id` None: the
    invoice's unit. `drawn_before` (POSTPAID): what earlier invoices drew over the commit's life,
    for the true-up at its end. `priority` None sorts after every number. `is_rollover`: made by
    a contract transition from an earlier contract's unused balance (drawn before every other
    balance, see `burn_down_order`; never invoiced again: it has no invoice schedule).
    """

    id: str
    type: str
    product_id: str
    access_schedule: tuple[AccessSegment, ...]
    name: str | None = None
    priority: Decimal | None = None
    rate_type: str = BalanceRateType.LIST_RATE
    applicable_product_ids: tuple[str, ...] = ()
    applicable_product_tags: tuple[str, ...] = ()
    is_customer_level: bool = False
    credit_type_id: str | None = None
    invoice_schedule: tuple[InvoiceScheduleItem, ...] = ()
    drawn_before: Decimal = Decimal(0)
    is_rollover: bool = False

    def _validate(self) -> None:
        if self.type not in BalanceType.ALL:
            raise ValueError(f"balance {self.id}: unknown type {self.type!r}")
        if self.rate_type not in BalanceRateType.ALL:
            raise ValueError(f"balance {self.id}: unknown rate type {self.rate_type!r}")


@dataclass(frozen=True)
class OverrideSpecifier(_Checked):
    """One target of an override; every field given must match (pricing group values: each pair)."""

    product_id: str | None = None
    product_tags: tuple[str, ...] = ()
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()
    commit_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class OverrideTier(_Checked):
    multiplier: Decimal
    size: Decimal | None = None


@dataclass(frozen=True)
class OverwriteRate(_Checked):
    rate_type: str
    price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    credit_type_id: str | None = None

    def _validate(self) -> None:
        if self.rate_type not in RateType.ALL:
            raise ValueError(f"overwrite rate: unknown rate type {self.rate_type!r}")
        if self.rate_type == RateType.TIERED and not self.tiers:
            raise ValueError("tiered overwrite rate has no tiers")
        if self.rate_type != RateType.TIERED and self.price is None:
            raise ValueError(f"{self.rate_type} overwrite rate has no price")


@dataclass(frozen=True)
class Override(_Checked):
    """A contract override in [starting_at, ending_before).

    Targets: `product_id`, `applicable_product_tags` and `specifiers` (OR-ed). `entitled` set:
    an entitlement override (True enables a product the card does not entitle). Commit-specific
    (`is_commit_specific` or commit ids on a specifier): applies only to usage drawn from those
    commits. `target` COMMIT_RATE rewrites the card's commit rate instead of the list rate.
    """

    id: str
    starting_at: datetime
    type: str = OverrideType.MULTIPLIER
    ending_before: datetime | None = None
    product_id: str | None = None
    applicable_product_tags: tuple[str, ...] = ()
    specifiers: tuple[OverrideSpecifier, ...] = ()
    multiplier: Decimal | None = None
    overwrite_rate: OverwriteRate | None = None
    tiers: tuple[OverrideTier, ...] = ()
    entitled: bool | None = None
    priority: Decimal | None = None
    is_commit_specific: bool = False
    commit_ids: tuple[str, ...] = ()
    target: str | None = None

    def _validate(self) -> None:
        if self.type not in OverrideType.ALL:
            raise ValueError(f"override {self.id}: unknown type {self.type!r}")
        if self.type == OverrideType.OVERWRITE and self.overwrite_rate is None:
            raise ValueError(f"override {self.id}: OVERWRITE needs an overwrite_rate")
        if self.type == OverrideType.TIERED and not self.tiers:
            raise ValueError(f"override {self.id}: TIERED needs tiers")
        if self.ending_before is not None and self.ending_before <= self.starting_at:
            raise ValueError(f"override {self.id} ends before it starts")

    def in_effect_at(self, moment: datetime) -> bool:
        return self.starting_at <= moment and (
            self.ending_before is None or moment < self.ending_before
        )

    @property
    def commit_specific_ids(self) -> tuple[str, ...]:
        ids = [*self.commit_ids]
        for specifier in self.specifiers:
            ids.extend(specifier.commit_ids)
        return tuple(ids)

    @property
    def is_for_commits(self) -> bool:
        return self.is_commit_specific or bool(self.commit_specific_ids)


@dataclass(frozen=True)
class Conversion(_Checked):
    """The rate card's conversion of a custom pricing unit into its fiat unit."""

    custom_credit_type_id: str
    fiat_per_custom: Decimal


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
    balances: tuple[Balance, ...] = ()
    overrides: tuple[Override, ...] = ()
    multiplier_override_prioritization: str = MultiplierPrioritization.LOWEST_MULTIPLIER
    conversions: tuple[Conversion, ...] = ()
    custom_units: tuple[PricingUnit, ...] = ()
    # Which invoice this is, and whether a USAGE invoice also carries the scheduled items
    # (the contract's `scheduled_charges_on_usage_invoices`). The default, True, is how every
    # input rated before scheduled invoices existed (stored snapshots) was rated.
    invoice_type: str = InvoiceType.USAGE
    scheduled_charges_on_usage_invoices: bool = True

    def _validate(self) -> None:
        if self.invoice_type not in InvoiceType.ALL:
            raise ValueError(f"unknown invoice type {self.invoice_type!r}")
        ids = [product.id for product in self.products]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate product ids")
        if self.multiplier_override_prioritization not in MultiplierPrioritization.ALL:
            raise ValueError(f"unknown prioritization {self.multiplier_override_prioritization!r}")

    @property
    def proration_period(self) -> Period:
        return self.full_period or self.period

    @property
    def carries_scheduled_items(self) -> bool:
        """Does this invoice carry the scheduled charges and commit purchases due in its period?"""
        return (
            self.invoice_type == InvoiceType.SCHEDULED or self.scheduled_charges_on_usage_invoices
        )

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
    # A custom pricing unit (None: the invoice's unit; such lines stay out of the fiat totals).
    credit_type_id: str | None = None
    # The commit a line belongs to: a commit purchase or true-up, a usage line re-priced at a
    # commit's rate, or an application.
    commit_id: str | None = None
    commit_segment_id: str | None = None
    applied_commit_or_credit_id: str | None = None
    applied_commit_or_credit_type: str | None = None
    # On an application: what is left of the segment after this invoice's draws.
    balance_remaining: Decimal | None = None


@dataclass(frozen=True)
class BalanceDraw(_Checked):
    """One access segment on this invoice: what it held at the start, what the invoice drew and
    what is left. `expires`: the segment ends by the period's end, so `remaining` is what the
    ledger records as expired once the invoice is final."""

    balance_id: str
    balance_type: str
    segment_id: str
    credit_type_id: str | None
    available: Decimal
    drawn: Decimal
    remaining: Decimal
    expires: bool


@dataclass(frozen=True)
class RatingResult(_Checked):
    pricing_unit: PricingUnit
    period: Period
    lines: tuple[Line, ...]
    subtotal: Decimal
    total: Decimal
    balance_draws: tuple[BalanceDraw, ...] = ()


# --- The pipeline --------------------------------------------------------------------------------

PrepareStep = Callable[[RatingInput], RatingInput]
LineStep = Callable[[RatingInput, tuple[Line, ...]], tuple[Line, ...]]


def rate_invoice(
    rating_input: RatingInput,
    *,
    prepare_steps: Iterable[PrepareStep] | None = None,
    line_steps: Iterable[LineStep] | None = None,
) -> RatingResult:
    """Rate one invoice: run the prepare steps, then the line steps that belong to the
    invoice's type (`steps_for`), then total."""
    with full_precision():
        for prepare in PREPARE_STEPS if prepare_steps is None else prepare_steps:
            rating_input = prepare(rating_input)
        lines: tuple[Line, ...] = ()
        for step in steps_for(rating_input, LINE_STEPS if line_steps is None else line_steps):
            lines = step(rating_input, lines)
        return totals(rating_input, lines)


def scheduled_period(timestamp: datetime) -> Period:
    """The period of the SCHEDULED invoice dated `timestamp`: the instant itself, [t, t + 1 us)
    (a datetime's smallest step), so it holds exactly the items due at `timestamp`."""
    return Period(timestamp, timestamp + SCHEDULED_INSTANT)


def steps_for(rating_input: RatingInput, steps: Iterable[LineStep]) -> list[LineStep]:
    """The line steps whose lines belong on this invoice. A SCHEDULED invoice runs only the
    `SCHEDULED_ITEM_STEPS` (scheduled charges and commit purchases due at its instant: no usage,
    subscriptions, composites, burn-down or true-ups, so it draws nothing and expires nothing).
    A USAGE invoice runs every other step, and the scheduled item steps too only when the
    contract puts scheduled charges on usage invoices (`scheduled_charges_on_usage_invoices`)."""
    chosen = []
    for step in steps:
        if step in SCHEDULED_ITEM_STEPS:
            if rating_input.carries_scheduled_items:
                chosen.append(step)
        elif rating_input.invoice_type == InvoiceType.USAGE:
            chosen.append(step)
    return chosen


def totals(rating_input: RatingInput, lines: tuple[Line, ...]) -> RatingResult:
    """Subtotal: the charges; total: every line (commit and credit applications are negative),
    except POSTPAID applications (shown, but the usage they draw is still paid on this invoice)
    and lines in a custom unit (their fiat value is on the `cpu_conversion` lines)."""
    fiat = [line for line in lines if line.credit_type_id is None]
    subtotal = sum((line.total for line in fiat if line.type in LineType.CHARGES), ZERO)
    total = sum(
        (line.total for line in fiat if line.applied_commit_or_credit_type != BalanceType.POSTPAID),
        ZERO,
    )
    return RatingResult(
        pricing_unit=rating_input.pricing_unit,
        period=rating_input.period,
        lines=lines,
        subtotal=subtotal,
        total=total,
        balance_draws=balance_draws(rating_input, lines),
    )


def _money(
    rating_input: RatingInput, amount: Decimal, credit_type_id: str | None = None
) -> Decimal:
    """Round to the smallest amount of the invoice's unit, or of custom unit `credit_type_id`
    (a custom unit not listed in `custom_units` rounds like the invoice's unit)."""
    places = rating_input.pricing_unit.decimal_places
    if credit_type_id is not None:
        for unit in rating_input.custom_units:
            if unit.id == credit_type_id:
                places = unit.decimal_places
    return round_amount(amount, places)


def _unit(rating_input: RatingInput, credit_type_id: str | None) -> str | None:
    """None for the invoice's own unit, else the custom unit's id."""
    if credit_type_id is None or credit_type_id == rating_input.pricing_unit.id:
        return None
    return credit_type_id


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
    # Pieces are cut from what remains, never as (position + quantity) - position: that difference
    # rounds at the context's precision, and the tier lines would then not add up to the quantity.
    pieces = []
    remaining = quantity
    for level, tier_start, size, price in bounds:
        if remaining <= 0:
            break
        tier_end = None if size is None else tier_start + size
        if tier_end is not None and position >= tier_end:
            continue
        piece = (
            remaining if tier_end is None else min(remaining, tier_end - max(tier_start, position))
        )
        if piece > 0:
            pieces.append(TierPiece(level, tier_start, size, piece, price))
            remaining -= piece
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
            continue
        unit = _unit(rating_input, rate.credit_type_id)
        if rate.rate_type == RateType.FLAT:
            amount = quantity * rate.price
            yield Line(
                **common,
                quantity=quantity,
                unit_price=rate.price,
                total=_money(rating_input, amount, unit),
                credit_type_id=unit,
            )
        else:
            for piece in tier_pieces(rate.tiers, position, quantity):
                yield Line(
                    **common,
                    quantity=piece.quantity,
                    unit_price=piece.price,
                    total=_money(rating_input, piece.quantity * piece.price, unit),
                    tier=LineTier(piece.level, piece.tier_starting_at, piece.tier_size),
                    credit_type_id=unit,
                )
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
        unit = _unit(rating_input, rate.credit_type_id)
        new_lines.append(
            Line(
                **common,
                unit_price=rate.price,
                total=_money(rating_input, amount, unit),
                credit_type_id=unit,
            )
        )
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
    if (
        line.product_type == ProductType.COMPOSITE
        or line.type not in LineType.CHARGES
        or line.credit_type_id is not None
    ):
        return False
    return line.product_id in composite.composite_product_ids or bool(
        set(line.product_tags) & set(composite.composite_tags)
    )


# --- Overrides (PREPARE step) --------------------------------------------------------------------


def _rate_class(rate: Rate) -> tuple[str, str | None]:
    """Rates that compete for the same lines: usage (FLAT/TIERED), subscription per billing
    frequency, percentage."""
    if rate.rate_type in (RateType.FLAT, RateType.TIERED):
        return ("usage", None)
    if rate.rate_type == RateType.SUBSCRIPTION:
        return ("subscription", rate.billing_frequency)
    return ("percentage", None)


def _override_targets(override: Override, product: Product | None, pricing: GroupValues) -> bool:
    """Does the override name this product (and pricing group values)? Presentation group values
    are not looked at: a rate has none, so a specifier naming them matches on its other fields."""
    if product is None:
        return False
    if override.product_id == product.id:
        return True
    if set(override.applicable_product_tags) & set(product.tags):
        return True
    for specifier in override.specifiers:
        if specifier.product_id is not None and specifier.product_id != product.id:
            continue
        if specifier.product_tags and not set(specifier.product_tags) & set(product.tags):
            continue
        if not set(specifier.pricing_group_values) <= set(pricing):
            continue
        if (
            specifier.product_id is None
            and not specifier.product_tags
            and not specifier.pricing_group_values
        ):
            continue
        return True
    return False


def _override_order(rating_input: RatingInput) -> Callable[[Override], tuple]:
    explicit = rating_input.multiplier_override_prioritization == MultiplierPrioritization.EXPLICIT

    def key(override: Override) -> tuple:
        priority = override.priority
        by_priority = (priority is None, priority if priority is not None else ZERO)
        if override.type == OverrideType.OVERWRITE:
            return (0, *by_priority, -override.starting_at.timestamp(), override.id)
        if explicit:
            return (1, *by_priority, override.id)
        lowest = (
            override.multiplier
            if override.type == OverrideType.MULTIPLIER
            else min(tier.multiplier for tier in override.tiers)
        )
        return (1, lowest if lowest is not None else Decimal(1), *by_priority, override.id)

    return key


def winning_override(rating_input: RatingInput, overrides: Iterable[Override]) -> Override | None:
    """OVERWRITE beats MULTIPLIER/TIERED (several overwrites: lowest priority, then the latest
    start); among multipliers the LOWEST multiplier wins, or with EXPLICIT prioritization the
    lowest `priority` number (no priority: last). Overrides without a price effect (pure
    entitlement overrides) never win."""
    priced = [
        override
        for override in overrides
        if override.type != OverrideType.MULTIPLIER or override.multiplier is not None
    ]
    return min(priced, key=_override_order(rating_input), default=None)


def _multiplied_tiers(tiers: tuple[Tier, ...], bands: tuple[OverrideTier, ...]) -> tuple[Tier, ...]:
    """Graduated list tiers times graduated multiplier bands: cut at both sets of boundaries."""
    cuts: set[Decimal] = set()
    for sizes in ([tier.size for tier in tiers[:-1]], [band.size for band in bands[:-1]]):
        position = ZERO
        for size in sizes:
            position += size
            cuts.add(position)
    ordered = sorted(cuts)

    def at(position: Decimal, items: list[tuple[Decimal | None, Decimal]]) -> Decimal:
        start = ZERO
        for index, (size, value) in enumerate(items):
            if index == len(items) - 1 or position < start + size:
                return value
            start += size
        raise AssertionError

    list_items = [(tier.size, tier.price) for tier in tiers]
    band_items = [(band.size, band.multiplier) for band in bands]
    result = []
    start = ZERO
    for end in [*ordered, None]:
        price = at(start, list_items) * at(start, band_items)
        result.append(Tier(price=price, size=None if end is None else end - start))
        if end is not None:
            start = end
    return tuple(result)


def price_with_override(rate: Rate, override: Override | None) -> Rate:
    """The rate as the override prices it (`target` COMMIT_RATE: the commit rate instead)."""
    if override is None:
        return rate
    commit = override.target == BalanceRateType.COMMIT_RATE
    if override.type == OverrideType.OVERWRITE:
        new = override.overwrite_rate
        if commit:
            return dataclasses.replace(rate, commit_price=new.price, commit_tiers=new.tiers)
        rate_type = new.rate_type
        if rate.rate_type in (RateType.SUBSCRIPTION, RateType.PERCENTAGE):
            # A subscription or composite keeps its kind; only the price changes.
            rate_type = rate.rate_type
        return dataclasses.replace(
            rate,
            rate_type=rate_type,
            price=new.price,
            tiers=new.tiers,
            credit_type_id=new.credit_type_id or rate.credit_type_id,
        )
    if commit:
        price = rate.commit_price if rate.commit_price is not None else rate.price
        tiers = rate.commit_tiers
    else:
        price, tiers = rate.price, rate.tiers
    if override.type == OverrideType.MULTIPLIER:
        m = override.multiplier
        new_price = None if price is None else price * m
        new_tiers = tuple(dataclasses.replace(tier, price=tier.price * m) for tier in tiers)
        if commit:
            return dataclasses.replace(rate, commit_price=new_price, commit_tiers=new_tiers)
        return dataclasses.replace(rate, price=new_price, tiers=new_tiers)
    # TIERED multipliers: per quantity band of the period (usage list rates); anything else
    # (a subscription, a percentage, the commit rate) takes the first band's multiplier.
    first = override.tiers[0].multiplier
    if commit:
        return dataclasses.replace(
            rate,
            commit_price=None if price is None else price * first,
            commit_tiers=tuple(dataclasses.replace(t, price=t.price * first) for t in tiers),
        )
    if rate.rate_type not in (RateType.FLAT, RateType.TIERED):
        return dataclasses.replace(rate, price=None if price is None else price * first)
    base = tiers if rate.rate_type == RateType.TIERED else (Tier(price=price),)
    return dataclasses.replace(
        rate, rate_type=RateType.TIERED, price=None, tiers=_multiplied_tiers(base, override.tiers)
    )


def apply_overrides(rating_input: RatingInput) -> RatingInput:
    """PREPARE step: the contract's overrides rewrite the rates.

    For each product and pricing group values that an override (not commit-specific) targets,
    the rates are laid out as a timeline of disjoint windows, cut at every rate and override
    boundary; each window carries the rate in effect there (the latest-started entitled one, with
    entitlement overrides applied) priced by the winning override in effect there. A MULTIPLIER
    thus multiplies whichever list rate is in effect, and follows later list price changes.
    Inputs without overrides come back unchanged. Usage must be split at these boundaries
    (`segment_boundaries`): a usage record is priced by the rate at its start.
    """
    overrides = [o for o in rating_input.overrides if not o.is_for_commits]
    if not overrides:
        return rating_input
    products = {product.id: product for product in rating_input.products}
    groups: dict[tuple, list[Rate]] = {}
    for rate in rating_input.rates:
        key = (rate.product_id, rate.pricing_group_values, _rate_class(rate))
        groups.setdefault(key, []).append(rate)
    new_rates: list[Rate] = []
    for (product_id, pricing, _), rates in groups.items():
        product = products.get(product_id)
        targeting = [o for o in overrides if _override_targets(o, product, pricing)]
        if not targeting:
            new_rates.extend(rates)
            continue
        cuts = set()
        for item in (*rates, *targeting):
            cuts.add(item.starting_at)
            if item.ending_before is not None:
                cuts.add(item.ending_before)
        ordered = sorted(cuts)
        for index, start in enumerate(ordered):
            end = ordered[index + 1] if index + 1 < len(ordered) else None
            live = [o for o in targeting if o.in_effect_at(start)]
            entitlement = None
            for override in sorted(live, key=lambda o: (o.starting_at, o.id)):
                if override.entitled is not None:
                    entitlement = override.entitled
            candidates = [
                rate
                for rate in rates
                if rate.in_effect_at(start)
                and (rate.entitled if entitlement is None else entitlement)
            ]
            rate = _latest_rate(candidates, at=start)
            if rate is None:
                continue
            priced = price_with_override(rate, winning_override(rating_input, live))
            new_rates.append(
                dataclasses.replace(priced, starting_at=start, ending_before=end, entitled=True)
            )
    return dataclasses.replace(rating_input, rates=tuple(new_rates))


def _override_may_target(override: Override, product: Product) -> bool:
    """Could the override apply to some usage of the product (any pricing group values)?"""
    if override.product_id == product.id or set(override.applicable_product_tags) & set(
        product.tags
    ):
        return True
    for specifier in override.specifiers:
        if specifier.product_id is not None and specifier.product_id != product.id:
            continue
        if specifier.product_tags and not set(specifier.product_tags) & set(product.tags):
            continue
        return True
    return override.is_for_commits and not override.product_id and not override.specifiers


def term_boundaries(rating_input: RatingInput, product_id: str) -> tuple[datetime, ...]:
    """The moments strictly inside the period where the terms change for a product: the starts
    and ends of the overrides that may target it and of the access segments of the balances whose
    scope includes it."""
    product = rating_input.product(product_id)
    moments: set[datetime] = set()
    for override in rating_input.overrides:
        if _override_may_target(override, product):
            moments.add(override.starting_at)
            if override.ending_before is not None:
                moments.add(override.ending_before)
    for balance in rating_input.balances:
        if product_id in _scope(rating_input, balance):
            for segment in balance.access_schedule:
                moments.update((segment.starting_at, segment.ending_before))
    period = rating_input.period
    return tuple(sorted(m for m in moments if period.starting_at < m < period.ending_before))


def segment_boundaries(
    rating_input: RatingInput, product_id: str | None = None
) -> tuple[datetime, ...]:
    """The moments strictly inside the period where the selector must split a product's usage.

    A usage record is priced by the rate in effect at its start and is drawn by an access segment
    only when it lies wholly inside it. So the selector cuts each product's usage (per pricing
    and presentation group values) at the starts and ends of the product's own rates (the rate
    windows it already cuts) AND at `term_boundaries` (overrides that may target the product,
    access segments of balances whose scope includes it). Without `product_id`: the union over
    every product. Cutting where nothing changes keeps the money right but adds lines (and
    roundings), so a selector should cut at these moments and no others.
    """
    period = rating_input.period
    ids = [product_id] if product_id is not None else [p.id for p in rating_input.products]
    moments: set[datetime] = set()
    for pid in ids:
        for rate in rating_input.rates:
            if rate.product_id == pid:
                moments.add(rate.starting_at)
                if rate.ending_before is not None:
                    moments.add(rate.ending_before)
        moments.update(term_boundaries(rating_input, pid))
    return tuple(sorted(m for m in moments if period.starting_at < m < period.ending_before))


# --- Commits and credits (LINE steps) ------------------------------------------------------------


def _product_type(rating_input: RatingInput, product_id: str) -> str:
    for product in rating_input.products:
        if product.id == product_id:
            return product.type
    return ProductType.FIXED


def commit_purchase_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: PREPAID commits' invoice schedule items due in [period start, period end), by
    timestamp (then commit id)."""
    due = sorted(
        (
            (item.timestamp, balance.id, index, balance, item)
            for balance in rating_input.balances
            if balance.type == BalanceType.PREPAID
            for index, item in enumerate(balance.invoice_schedule)
            if rating_input.period.contains(item.timestamp)
        ),
        key=lambda entry: entry[:3],
    )
    new_lines = []
    for *_, balance, item in due:
        new_lines.append(
            Line(
                name=balance.name or balance.product_id,
                type=LineType.COMMIT_PURCHASE,
                product_id=balance.product_id,
                product_type=_product_type(rating_input, balance.product_id),
                starting_at=item.timestamp,
                ending_before=None,
                quantity=item.quantity,
                unit_price=item.unit_price,
                total=_money(rating_input, item.quantity * item.unit_price),
                commit_id=balance.id,
            )
        )
    return (*lines, *new_lines)


def _scope(rating_input: RatingInput, balance: Balance) -> frozenset[str]:
    """The ids of the input's products a balance applies to (empty scope: all of them)."""
    ids = set(balance.applicable_product_ids)
    tags = set(balance.applicable_product_tags)
    if not ids and not tags:
        return frozenset(product.id for product in rating_input.products)
    return frozenset(
        product.id
        for product in rating_input.products
        if product.id in ids or set(product.tags) & tags
    ) | frozenset(ids)


def _overlaps(segment: AccessSegment, period: Period) -> bool:
    return segment.starting_at < period.ending_before and period.starting_at < segment.ending_before


def burn_down_order(
    rating_input: RatingInput, credit_type_id: str | None = None
) -> list[tuple[Balance, AccessSegment]]:
    """The access segments (of the given unit) overlapping the period, in drawing order.

    Rollover balances (`is_rollover`) come first, before every other balance whatever its
    priority: postpaid before prepaid (then rolled-over credits), then lower priority, fewer
    applicable products, earlier end (then earlier start). Then every other balance: lower
    priority; credits (free) before commits (paid); fewer applicable products; earlier end;
    earlier start. Ties: contract-level before customer-level; then balance and segment ids.
    """
    # Rollover balances among themselves: postpaid before prepaid (Metronome's prioritization
    # rules); a rolled-over credit, which those rules do not name, after both.
    rollover_rank = {BalanceType.POSTPAID: 0, BalanceType.PREPAID: 1, BalanceType.CREDIT: 2}
    items = []
    for balance in rating_input.balances:
        if _unit(rating_input, balance.credit_type_id) != credit_type_id:
            continue
        scope = len(_scope(rating_input, balance))
        priority = (
            balance.priority is None,
            balance.priority if balance.priority is not None else ZERO,
        )
        if balance.is_rollover:
            rank = (0, rollover_rank[balance.type], *priority)
        else:
            rank = (1, 0, *priority)
        for segment in balance.access_schedule:
            if not _overlaps(segment, rating_input.period):
                continue
            paid = not balance.is_rollover and balance.type != BalanceType.CREDIT
            key = (
                *rank,
                paid,
                scope,
                segment.ending_before,
                segment.starting_at,
                balance.is_customer_level,
                balance.id,
                segment.id,
            )
            items.append((key, balance, segment))
    items.sort(key=lambda item: item[0])
    return [(balance, segment) for _, balance, segment in items]


def _drawable(
    rating_input: RatingInput,
    balance: Balance,
    segment: AccessSegment,
    scope: frozenset[str],
    line: Line,
) -> bool:
    if line.type not in LineType.DRAWABLE or line.total <= 0:
        return False
    if _unit(rating_input, line.credit_type_id) != _unit(rating_input, balance.credit_type_id):
        return False
    if line.product_id not in scope:
        return False
    if line.ending_before is None:  # an instant
        return segment.starting_at <= line.starting_at < segment.ending_before
    return segment.starting_at <= line.starting_at and line.ending_before <= segment.ending_before


def _commit_price(rating_input: RatingInput, balance: Balance, line: Line) -> Decimal | None:
    """The unit price a usage line is drawn at from this balance, None for its list price.

    A commit-specific override naming the balance wins (OVERWRITE: its FLAT price; MULTIPLIER:
    the line's list price times the multiplier); else a COMMIT_RATE commit draws at the line's
    rate's commit rate (the commit tier of the line's tier level, else `commit_price`).
    """
    if line.type != LineType.USAGE or line.product_type != ProductType.USAGE:
        return None
    if line.unit_price is None or line.quantity is None or line.quantity <= 0:
        return None
    product = rating_input.product(line.product_id)
    specific = [
        override
        for override in rating_input.overrides
        if override.is_for_commits
        and (
            balance.id in override.commit_specific_ids
            or (not override.commit_specific_ids and balance.type != BalanceType.CREDIT)
        )
        and override.in_effect_at(line.starting_at)
        and (
            _override_targets(override, product, line.pricing_group_values)
            or (
                not override.product_id
                and not override.applicable_product_tags
                and all(
                    s.product_id is None and not s.product_tags and not s.pricing_group_values
                    for s in override.specifiers
                )
            )
        )
    ]
    chosen = winning_override(rating_input, specific)
    if chosen is not None:
        if chosen.type == OverrideType.OVERWRITE:
            return chosen.overwrite_rate.price
        if chosen.type == OverrideType.MULTIPLIER:
            return line.unit_price * chosen.multiplier
        return line.unit_price * chosen.tiers[0].multiplier
    if balance.rate_type != BalanceRateType.COMMIT_RATE:
        return None
    rates = [
        rate
        for rate in rating_input.rates
        if rate.product_id == line.product_id
        and rate.pricing_group_values == line.pricing_group_values
        and rate.entitled
        and rate.rate_type in (RateType.FLAT, RateType.TIERED)
    ]
    rate = _latest_rate(rates, at=line.starting_at)
    if rate is None:
        return None
    if line.tier is not None and len(rate.commit_tiers) >= line.tier.level:
        return rate.commit_tiers[line.tier.level - 1].price
    return rate.commit_price


@dataclass(frozen=True)
class Allocation(_Checked):
    """`amount` of the charge line at `line_index` (of the lines `allocate_balances` returns)
    drawn from a balance's access segment."""

    line_index: int
    balance_id: str
    segment_id: str
    amount: Decimal


def allocate_balances(
    rating_input: RatingInput, lines: tuple[Line, ...], credit_type_id: str | None = None
) -> tuple[tuple[Line, ...], tuple[Allocation, ...]]:
    """Burn the balances of one unit down against the invoice's charge lines.

    Segments go in `burn_down_order`; each takes, line by line in invoice order, what is left of
    every charge it may draw (a usage, subscription or cpu_conversion line of its unit, of a
    product in its scope, lying wholly inside the segment's access window), never more than the
    line has left and never more than the segment holds. A draw at a commit price (COMMIT_RATE or
    a commit-specific override) on a line nothing has drawn yet re-prices that line: the part the
    commit covers becomes its own line at the commit price (`commit_id` set; its quantity, the
    segment's amount divided by the commit price, kept at storage precision; its total, that
    amount), the rest stays at the list price as a new line that later segments may draw (a line already drawn from is drawn
    at its list price). Returns the (possibly split) lines and the draws.
    """
    work = list(lines)
    left = [line.total for line in work]
    allocations: list[Allocation] = []
    for balance, segment in burn_down_order(rating_input, credit_type_id):
        available = segment.available_at_start
        scope = _scope(rating_input, balance)
        index = 0
        while index < len(work) and available > 0:
            line = work[index]
            if left[index] <= 0 or not _drawable(rating_input, balance, segment, scope, line):
                index += 1
                continue
            price = _commit_price(rating_input, balance, line)
            if price is not None and price != line.unit_price and left[index] == line.total:
                unit = _unit(rating_input, line.credit_type_id)
                at_commit = _money(rating_input, line.quantity * price, unit)
                covered_quantity = line.quantity
                if at_commit > available:
                    covered_quantity = min(line.quantity, round_stored(available / price))
                if covered_quantity == line.quantity:
                    # The whole line at the commit price; what the segment cannot pay stays on
                    # the line for later segments.
                    work[index] = dataclasses.replace(
                        line, unit_price=price, total=at_commit, commit_id=balance.id
                    )
                    draw = min(available, at_commit)
                    left[index] = at_commit - draw
                else:
                    rest_quantity = line.quantity - covered_quantity
                    work[index] = dataclasses.replace(
                        line,
                        quantity=covered_quantity,
                        unit_price=price,
                        total=available,
                        commit_id=balance.id,
                    )
                    rest = dataclasses.replace(
                        line,
                        quantity=rest_quantity,
                        total=_money(rating_input, rest_quantity * line.unit_price, unit),
                    )
                    draw = available
                    left[index] = ZERO
                    work.insert(index + 1, rest)
                    left.insert(index + 1, rest.total)
                    allocations = [
                        a
                        if a.line_index <= index
                        else dataclasses.replace(a, line_index=a.line_index + 1)
                        for a in allocations
                    ]
                if draw > 0:
                    allocations.append(Allocation(index, balance.id, segment.id, draw))
                available -= draw
                index += 1
                continue
            draw = min(available, left[index])
            left[index] -= draw
            available -= draw
            allocations.append(Allocation(index, balance.id, segment.id, draw))
            index += 1
    return tuple(work), tuple(allocations)


def _application_lines(
    rating_input: RatingInput,
    allocations: Iterable[Allocation],
    credit_type_id: str | None,
) -> list[Line]:
    """One negative `applied_commit_or_credit` line per access segment drawn, in drawing order."""
    drawn: dict[tuple[str, str], Decimal] = {}
    for allocation in allocations:
        key = (allocation.balance_id, allocation.segment_id)
        drawn[key] = drawn.get(key, ZERO) + allocation.amount
    period = rating_input.period
    result = []
    for balance, segment in burn_down_order(rating_input, credit_type_id):
        amount = drawn.get((balance.id, segment.id), ZERO)
        if amount <= 0:
            continue
        result.append(
            Line(
                name=balance.name or balance.product_id,
                type=LineType.APPLIED_COMMIT_OR_CREDIT,
                product_id=balance.product_id,
                product_type=_product_type(rating_input, balance.product_id),
                total=-amount,
                starting_at=max(segment.starting_at, period.starting_at),
                ending_before=min(segment.ending_before, period.ending_before),
                credit_type_id=credit_type_id,
                commit_id=None if balance.type == BalanceType.CREDIT else balance.id,
                commit_segment_id=segment.id,
                applied_commit_or_credit_id=balance.id,
                applied_commit_or_credit_type=balance.type,
                balance_remaining=segment.available_at_start - amount,
            )
        )
    return result


def custom_unit_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: usage priced in a custom unit is first drawn from balances in that unit; what is
    left (and what POSTPAID commits drew: still paid) converts to the invoice's unit at the card's
    conversion rate, on one `cpu_conversion` line per custom unit and product (quantity: custom amount left, unit price: fiat per custom
    unit, starting at the first such line's start and ending at the last one's end)."""
    units = []
    for line in lines:
        if line.credit_type_id is not None and line.credit_type_id not in units:
            units.append(line.credit_type_id)
    if not units:
        return lines
    rates = {c.custom_credit_type_id: c.fiat_per_custom for c in rating_input.conversions}
    postpaid = {b.id: b.type == BalanceType.POSTPAID for b in rating_input.balances}
    work = lines
    conversions = []
    for unit in units:
        if unit not in rates:
            raise ValueError(f"no conversion for custom pricing unit {unit}")
        work, allocations = allocate_balances(rating_input, work, unit)
        # A POSTPAID draw does not relieve the charge (it is still paid): it stays converted.
        drawn: dict[int, Decimal] = {}
        for allocation in allocations:
            if postpaid.get(allocation.balance_id):
                continue
            drawn[allocation.line_index] = (
                drawn.get(allocation.line_index, ZERO) + allocation.amount
            )
        left_by_product: dict[str, list] = {}
        for index, line in enumerate(work):
            if line.credit_type_id != unit or line.type not in LineType.CHARGES:
                continue
            entry = left_by_product.setdefault(
                line.product_id, [line, ZERO, line.starting_at, line.ending_before]
            )
            entry[1] += line.total - drawn.get(index, ZERO)
            entry[2] = min(entry[2], line.starting_at)
            if line.ending_before is not None and (
                entry[3] is None or line.ending_before > entry[3]
            ):
                entry[3] = line.ending_before
        work = (*work, *_application_lines(rating_input, allocations, unit))
        for product_id, (first, amount, start, end) in left_by_product.items():
            if amount <= 0:
                continue
            conversions.append(
                Line(
                    name=first.name,
                    type=LineType.CPU_CONVERSION,
                    product_id=product_id,
                    product_type=first.product_type,
                    product_tags=first.product_tags,
                    starting_at=start,
                    ending_before=end,
                    quantity=amount,
                    unit_price=rates[unit],
                    total=_money(rating_input, amount * rates[unit]),
                )
            )
    return (*work, *conversions)


def balance_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the commits and credits in the invoice's unit burn down against its charges."""
    if not rating_input.balances:
        return lines
    work, allocations = allocate_balances(rating_input, lines, None)
    return (*work, *_application_lines(rating_input, allocations, None))


def postpaid_true_up_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: a POSTPAID commit whose access ends in (period start, period end] is trued up: the
    commitment (its segments' amounts) minus what it drew over its life (`drawn_before` plus this
    invoice's applications), when positive. By commit id."""
    period = rating_input.period
    new_lines = []
    for balance in sorted(rating_input.balances, key=lambda balance: balance.id):
        if balance.type != BalanceType.POSTPAID or not balance.access_schedule:
            continue
        end = max(segment.ending_before for segment in balance.access_schedule)
        if not period.starting_at < end <= period.ending_before:
            continue
        committed = sum((segment.amount for segment in balance.access_schedule), ZERO)
        drawn_now = -sum(
            (line.total for line in lines if line.applied_commit_or_credit_id == balance.id),
            ZERO,
        )
        shortfall = committed - balance.drawn_before - drawn_now
        if shortfall <= 0:
            continue
        new_lines.append(
            Line(
                name=balance.name or balance.product_id,
                type=LineType.POSTPAID_TRUEUP,
                product_id=balance.product_id,
                product_type=_product_type(rating_input, balance.product_id),
                starting_at=period.starting_at,
                ending_before=period.ending_before,
                quantity=Decimal(1),
                unit_price=shortfall,
                total=_money(rating_input, shortfall),
                commit_id=balance.id,
            )
        )
    return (*lines, *new_lines)


def balance_draws(rating_input: RatingInput, lines: Iterable[Line]) -> tuple[BalanceDraw, ...]:
    """What each access segment overlapping the period held, gave to this invoice and keeps: the
    ledger a service writes (draws; at expiry, the remainder). None on a SCHEDULED invoice: its
    balances are only there for their invoice schedules (the usage invoice draws and expires)."""
    if rating_input.invoice_type != InvoiceType.USAGE:
        return ()
    drawn: dict[tuple[str | None, str], Decimal] = {}
    for line in lines:
        if line.type == LineType.APPLIED_COMMIT_OR_CREDIT and line.commit_segment_id:
            key = (line.applied_commit_or_credit_id, line.commit_segment_id)
            drawn[key] = drawn.get(key, ZERO) - line.total
    result = []
    for balance in rating_input.balances:
        for segment in balance.access_schedule:
            if not _overlaps(segment, rating_input.period):
                continue
            amount = drawn.get((balance.id, segment.id), ZERO)
            result.append(
                BalanceDraw(
                    balance_id=balance.id,
                    balance_type=balance.type,
                    segment_id=segment.id,
                    credit_type_id=_unit(rating_input, balance.credit_type_id),
                    available=segment.available_at_start,
                    drawn=amount,
                    remaining=segment.available_at_start - amount,
                    expires=segment.ending_before <= rating_input.period.ending_before,
                )
            )
    return tuple(result)


# Overrides rewrite the rates before any line is priced.
PREPARE_STEPS: tuple[PrepareStep, ...] = (apply_overrides,)
# Commit purchases, custom-unit draws and conversion, commits and credits, true-ups: after the
# composites (a composite counts charges, never applications).
LINE_STEPS: tuple[LineStep, ...] = (
    usage_lines,
    subscription_lines,
    scheduled_charge_lines,
    composite_lines,
    commit_purchase_lines,
    custom_unit_lines,
    balance_lines,
    postpaid_true_up_lines,
)
# The steps of a SCHEDULED invoice's lines (on the USAGE invoice too with
# `scheduled_charges_on_usage_invoices`): see `steps_for`.
SCHEDULED_ITEM_STEPS: frozenset[LineStep] = frozenset(
    {scheduled_charge_lines, commit_purchase_lines}
)
SCHEDULED_INSTANT = timedelta(microseconds=1)


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
