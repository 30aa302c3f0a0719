"""What one invoice is rated from: the period, products, rates and tiers, usage, subscriptions,
scheduled charges, balances and their segments, overrides, conversions (`RatingInput`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .vocabulary import (
    BalanceAccessType,
    BalanceRateType,
    BalanceType,
    Checked,
    CollectionSchedule,
    CompositeScope,
    GroupValues,
    InvoiceType,
    MultiplierPrioritization,
    OverrideType,
    ProductType,
    RateType,
)


@dataclass(frozen=True)
class PricingUnit(Checked):
    """The invoice's unit. `decimal_places` is its smallest amount: 0 for `USD (cents)`."""

    id: str
    name: str
    decimal_places: int = 0


@dataclass(frozen=True)
class Period(Checked):
    """A half-open window [starting_at, ending_before)."""

    starting_at: datetime
    ending_before: datetime

    def _validate(self) -> None:
        if self.starting_at >= self.ending_before:
            raise ValueError(f"empty period {self.starting_at} .. {self.ending_before}")

    def contains(self, moment: datetime) -> bool:
        return self.starting_at <= moment < self.ending_before

    @property
    def length(self) -> timedelta:
        return self.ending_before - self.starting_at


@dataclass(frozen=True)
class QuantityConversion(Checked):
    factor: Decimal
    operation: str  # MULTIPLY or DIVIDE
    name: str = ""


@dataclass(frozen=True)
class QuantityRounding(Checked):
    decimal_places: int
    method: str  # ROUND_UP, ROUND_DOWN or ROUND_HALF_UP


@dataclass(frozen=True)
class Product(Checked):
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
class Tier(Checked):
    """A graduated tier; `size` None means open-ended (the last tier always is)."""

    price: Decimal
    size: Decimal | None = None


@dataclass(frozen=True)
class Rate(Checked):
    """A rate card entry for a product (and pricing group values), valid in [starting_at, ending_before).

    `price`: per unit (FLAT), per billing period (SUBSCRIPTION) or a 0-1 fraction (PERCENTAGE).
    TIERED_PERCENTAGE: `tiers` of spend (sizes in the invoice's unit) at fractions. A composite
    rate's `composite_minimum` is the least it charges per billing period; its `composite_scope`
    says whose spend it counts (`composites`).
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
    # Set only by the overrides step: this rate prices only the usage with exactly these
    # presentation group values (an override specifier named them); () prices every other.
    presentation_group_values: GroupValues = ()
    composite_minimum: Decimal | None = None
    composite_scope: str = CompositeScope.CONTRACT

    def _validate(self) -> None:
        if self.rate_type not in RateType.ALL:
            raise ValueError(f"rate for {self.product_id}: unknown rate type {self.rate_type!r}")
        if self.composite_scope not in CompositeScope.ALL:
            raise ValueError(f"rate for {self.product_id}: unknown scope {self.composite_scope!r}")
        if self.rate_type in RateType.TIERED_TYPES:
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
class Usage(Checked):
    """The metric's quantity for one product, group values and rate segment of the period."""

    product_id: str
    starting_at: datetime
    ending_before: datetime
    quantity: Decimal
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()


@dataclass(frozen=True)
class Subscription(Checked):
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
class ScheduledCharge(Checked):
    """One item of a scheduled charge's schedule (an `amount` item is unit_price=amount, quantity=1)."""

    id: str
    product_id: str
    timestamp: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    name: str | None = None


@dataclass(frozen=True)
class Discount(Checked):
    """One item of a contract discount: `quantity x unit_price` off the USAGE invoice of the
    period holding `timestamp` (see `discounts.discount_lines`)."""

    id: str
    product_id: str
    timestamp: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    name: str | None = None


@dataclass(frozen=True)
class ProServiceItem(Checked):
    """One billing of a professional service (`id`: the service's), due at `timestamp`."""

    id: str
    product_id: str
    timestamp: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    name: str | None = None


@dataclass(frozen=True)
class AccessSegment(Checked):
    """One item of a commit's or credit's access schedule, usable in [starting_at, ending_before).

    `amount` is the segment's original amount; `available` what is left of it for this invoice
    (the selector subtracts every finalized invoice's draws, manual ledger entries and what the
    drafts before this one in the draw order draw); None means nothing was drawn yet (= `amount`).
    `drawn_later`: an invoice after this one in the draw order may still draw the segment, so
    this one does not expire it even if it ends in its period (`draw_order.left_for_later`).
    """

    id: str
    starting_at: datetime
    ending_before: datetime
    amount: Decimal
    available: Decimal | None = None
    drawn_later: bool = False

    def _validate(self) -> None:
        if self.ending_before <= self.starting_at:
            raise ValueError(f"access segment {self.id} ends before it starts")

    @property
    def available_at_start(self) -> Decimal:
        return self.amount if self.available is None else self.available


@dataclass(frozen=True)
class InvoiceScheduleItem(Checked):
    """A PREPAID commit's invoice schedule item: a `commit_purchase` line when it is due."""

    timestamp: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    id: str | None = None


@dataclass(frozen=True)
class BalanceSpecifier(Checked):
    """One filter of a commit's or credit's `specifiers`: usage draws the balance when it meets
    ANY of them, and meets one when EVERY field given matches (Metronome: "A customer's usage
    needs to meet the condition of at least one of the specifiers"), as the SDK documents each:

    - `product_id`: "only apply to the product with the specified ID";
    - `product_tags`: "only apply to products with all the specified tags";
    - `pricing_group_values`: "apply to product usage with these set of pricing group values"
      (each pair, on the usage line);
    - `presentation_group_values`: the same for presentation group values.
    """

    product_id: str | None = None
    product_tags: tuple[str, ...] = ()
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()


@dataclass(frozen=True)
class Balance(Checked):
    """A commit (PREPAID / POSTPAID) or credit (CREDIT) that applies to this contract's invoice.

    Empty `applicable_product_ids` and `applicable_product_tags` mean every product (Metronome:
    "If both are not provided, the commit applies to all products"); `specifiers` (never given
    with them) narrow it instead to the usage meeting any of them. `credit_type_id` None: the
    invoice's unit. `drawn_before` (POSTPAID): what earlier invoices drew over the commit's life,
    for the true-up at its end. `priority` None sorts after every number. `is_rollover`: made by
    a contract transition from an earlier contract's unused balance (drawn before every other
    balance, see `burn_down_order`; never invoiced again: it has no invoice schedule).
    `from_parent`: a commit or credit of an ancestor contract (account hierarchy) whose
    `child_access` lets this contract draw it: drawn after every balance of the contract's own
    (`hierarchy.parent_last`), never invoiced, trued up or expired by this invoice.
    `ancestor_level` says whose: 1 the parent's, 2 the grandparent's... (0 with `from_parent`,
    an input from before grandparents were drawn: the parent's); nearer ones are drawn first.
    `invoiced_here` False: a customer-level commit another contract invoices (its
    `invoice_contract`), or none does: this invoice draws it but never trues it up.
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
    specifiers: tuple[BalanceSpecifier, ...] = ()
    is_customer_level: bool = False
    credit_type_id: str | None = None
    invoice_schedule: tuple[InvoiceScheduleItem, ...] = ()
    drawn_before: Decimal = Decimal(0)
    is_rollover: bool = False
    # A per-seat balance: (seat group key, seat id); only lines of that seat draw it.
    seat: GroupValues = ()
    # A payment-gated commit's PRECALCULATED tax: a `tax` line beside its purchase.
    purchase_tax_amount: Decimal | None = None
    purchase_tax_name: str | None = None
    # QUANTITY: the segments hold units of usage (see `burn_down.draw_units`), not money.
    access_type: str = BalanceAccessType.SPEND
    from_parent: bool = False
    invoiced_here: bool = True
    ancestor_level: int = 0

    def _validate(self) -> None:
        if self.access_type not in BalanceAccessType.ALL:
            raise ValueError(f"balance {self.id}: unknown access type {self.access_type!r}")
        if self.type not in BalanceType.ALL:
            raise ValueError(f"balance {self.id}: unknown type {self.type!r}")
        if self.rate_type not in BalanceRateType.ALL:
            raise ValueError(f"balance {self.id}: unknown rate type {self.rate_type!r}")


@dataclass(frozen=True)
class OverrideSpecifier(Checked):
    """One target of an override: every field given must match (Metronome: "Within each
    specifier all fields are ANDed together"), as the SDK documents each of them:

    - `product_id`: "the override will only apply to the product with the specified ID";
    - `product_tags`: "only apply to products with all the specified tags";
    - `pricing_group_values`: "only apply to products with the specified pricing group values"
      (each pair; a product without those keys never matches);
    - `presentation_group_values`: "only apply to line items with the specified presentation
      group values" (each pair, looked up on the usage being priced);
    - `billing_frequency`: only the subscription rates billed at that frequency;
    - `commit_ids`: commit-specific overrides, only usage drawn from those commits or credits.
    """

    product_id: str | None = None
    product_tags: tuple[str, ...] = ()
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()
    commit_ids: tuple[str, ...] = ()
    billing_frequency: str | None = None


@dataclass(frozen=True)
class OverrideTier(Checked):
    multiplier: Decimal
    size: Decimal | None = None


@dataclass(frozen=True)
class OverwriteRate(Checked):
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
class Override(Checked):
    """A contract override in [starting_at, ending_before).

    Targets, OR-ed: `product_id`, any of `applicable_product_tags` (Metronome's top-level
    fields: "Usage that matches any of the listed product IDs and product tags"), any of the
    `specifiers` (each one AND-ed, see `OverrideSpecifier`). `entitled` set:
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
class Conversion(Checked):
    """The rate card's conversion of a custom pricing unit into its fiat unit."""

    custom_credit_type_id: str
    fiat_per_custom: Decimal


@dataclass(frozen=True)
class CustomerSpend(Checked):
    """A charge line of another contract of the same customer (its usage invoice of the same
    time), in the invoice's unit: what a CUSTOMER-scope composite counts besides this invoice's
    own lines."""

    contract_id: str
    product_id: str
    starting_at: datetime
    total: Decimal
    product_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RatingInput(Checked):
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
    discounts: tuple[Discount, ...] = ()
    pro_services: tuple[ProServiceItem, ...] = ()
    # The customer's other contracts' charges in the period (CUSTOMER-scope composites only).
    customer_spend: tuple[CustomerSpend, ...] = ()

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
