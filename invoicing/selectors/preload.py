"""The rating input of a contract's billing period: rates, usage per pricing and presentation
group values and rate segment (from metering's aggregates), terms, all loaded for a batch of
invoices at once (`RatingPreload`), and `rating_input_for` for one invoice."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models.expressions import RawSQL

from catalog.models import Product as ProductModel
from catalog.models import Rate as RateModel
from catalog.models import RateCard, RateTier
from customers import periods
from customers.models import (
    Contract,
    ContractUsageFilter,
    IngestAlias,
    ScheduledChargeItem,
)
from customers.models import Subscription as SubscriptionModel
from invoicing.models import Invoice
from invoicing.rating import (
    CompositeScope,
    InvoiceType,
    Period,
    PricingUnit,
    Product,
    Rate,
    RateType,
    RatingInput,
    ScheduledCharge,
    Subscription,
    scheduled_period,
    term_boundaries,
)
from invoicing.terms import TermsPreload, entitled_by_overrides
from invoicing.usage import (
    GroupUsage,
    metric_usage_by_customer,
)

from .charges_preload import ChargesPreload
from .contract_flags import any_holds, contract_of, exists_sql, with_term_flags
from .customer_spend import customer_composites_billed_here, customer_spend
from .engine_inputs import overlapping, product_from, rate_from
from .usage_reads import usage_for_windows


@dataclass
class _Static:
    """What a period's rating input holds besides usage (shared by a batch of invoices)."""

    contract: Contract
    period: periods.BillingPeriod
    customer_ids: list[str]
    rates: tuple[Rate, ...] = ()
    products: dict[str, Product] = dataclasses.field(default_factory=dict)
    usage_products: list[tuple[ProductModel, Product]] = dataclasses.field(default_factory=list)
    # USAGE products the card lists but does not entitle: read only if an override entitles them.
    unentitled_products: list[tuple[ProductModel, Product]] = dataclasses.field(
        default_factory=list
    )
    subscriptions: tuple[Subscription, ...] = ()
    scheduled_charges: tuple[ScheduledCharge, ...] = ()
    usage_filters: list = dataclasses.field(default_factory=list)
    discounts: tuple = ()
    pro_services: tuple = ()


def window_of(items, window: Period, start: str = "starting_at", end: str = "ending_before"):
    return [
        item
        for item in items
        if getattr(item, start) < window.ending_before
        and (getattr(item, end) is None or getattr(item, end) > window.starting_at)
    ]


_UNUSED_PRODUCT_COLUMNS = (
    "created_at",
    "archived_at",
    "custom_fields",
    "billable_metric__created_at",
    "billable_metric__archived_at",
    "billable_metric__custom_fields",
)


@functools.cache
def _has_tiers() -> RawSQL:
    return exists_sql(RateTier._meta.db_table, f't.rate_id = "{RateModel._meta.db_table}"."id"')


@functools.cache
def _has_composites() -> RawSQL:
    table = ProductModel.composite_products.through._meta.db_table
    return exists_sql(table, f't.from_product_id = "{ProductModel._meta.db_table}"."id"')


def _rates(queryset) -> list[RateModel]:
    """The rates, each with its `list_tiers` and `commit_tiers` (by level): one query for the
    tiers of those that have any (an EXISTS in the rates' query says which), none otherwise."""
    models = list(
        # Unused columns stay in the database: parsing timestamps is much of this read's cost.
        queryset.defer("created_at")
        .annotate(has_tiers=_has_tiers())
        .order_by("product_id", "starting_at", "id")
    )
    tiers: dict = {}
    for tier in RateTier.objects.filter(rate_id__in=[m.pk for m in models if m.has_tiers]).order_by(
        "rate_id", "level"
    ):
        tiers.setdefault(tier.rate_id, []).append(tier)
    for model in models:
        found = tiers.get(model.pk, ())
        model.list_tiers = [tier for tier in found if not tier.for_commit_rate]
        model.commit_tiers = [tier for tier in found if tier.for_commit_rate]
    return models


def _products(queryset) -> list[ProductModel]:
    """The products, each with its `composite_ids` (`product_from` reads them, in the products'
    order: by name): one query for those that have composite products, none otherwise."""
    through = ProductModel.composite_products.through
    models = list(queryset.annotate(has_composites=_has_composites()))
    composites: dict = {}
    for product_id, composite_id in (
        through.objects.filter(from_product_id__in=[m.pk for m in models if m.has_composites])
        .order_by("to_product__name", "to_product_id")
        .values_list("from_product_id", "to_product_id")
    ):
        composites.setdefault(product_id, []).append(composite_id)
    for model in models:
        model.composite_ids = composites.get(model.pk, [])
    return models


def _is_loaded(contract) -> bool:
    return (
        isinstance(contract, Contract)
        and Contract.customer.is_cached(contract)
        and Contract.rate_card.is_cached(contract)
        and RateCard.fiat_credit_type.is_cached(contract.rate_card)
    )


class RatingPreload:
    """The contracts, rates, subscriptions, charges and ingest ids of many invoices, in a fixed
    handful of queries, so that finalizing a thousand invoices does not query a thousand times
    for the same rate card. Usage is read when rating an invoice, for every invoice of the batch
    over the same window at once (`_shared_usage`)."""

    def __init__(self, pairs: Iterable[tuple]):
        """`pairs`: (contract or its id, `periods.BillingPeriod`) for USAGE invoices, or
        (contract, period, invoice type) (`scheduled_billing_period` for a SCHEDULED one)."""
        self._static: dict[tuple[str, str, datetime], _Static] = {}
        self._shared_reads: dict[tuple, dict | None] = {}
        self._terms = TermsPreload(())
        pairs = [(c, p, kind[0] if kind else InvoiceType.USAGE) for c, p, *kind in pairs]
        if not pairs:
            return
        contract_ids = {str(getattr(c, "pk", c)) for c, *_ in pairs}
        contracts = {str(c.pk): c for c, *_ in pairs if _is_loaded(c)}
        if len(contracts) < len(contract_ids):
            contracts.update(
                (str(c.pk), c)
                for c in with_term_flags(
                    Contract.objects.select_related("customer", "rate_card__fiat_credit_type")
                ).filter(pk__in=contract_ids - set(contracts))
            )
        resolved: list[tuple[Contract, periods.BillingPeriod, str]] = [
            (contracts[str(getattr(c, "pk", c))], p, kind) for c, p, kind in pairs
        ]
        start = min(p.starting_at for _, p, _ in resolved)
        end = max(p.ending_before for _, p, _ in resolved)
        span = Period(start, end)
        # Rates and subscriptions only matter to usage invoices (a scheduled one may be years
        # ahead: its date must not widen the rates read).
        usage_pairs = [(c, p) for c, p, kind in resolved if kind == InvoiceType.USAGE]
        usage_span = span
        if usage_pairs:
            usage_span = Period(
                min(p.starting_at for _, p in usage_pairs),
                max(p.ending_before for _, p in usage_pairs),
            )
        # Contract terms (issue 6) of the whole batch: commits, credits, overrides.
        contracts_here = [c for c, _, _ in resolved]
        self._terms = TermsPreload(
            contracts_here,
            span,
            commits=any_holds(contracts_here, "commits"),
            credits=any_holds(contracts_here, "credits"),
            overrides=any_holds(contracts_here, "overrides"),
        )
        rate_models = _rates(
            overlapping(
                RateModel.objects.filter(rate_card_id__in={c.rate_card_id for c, _ in usage_pairs}),
                usage_span,
            )
        )
        # A card prices few products with many rates (one per pricing group values): each product
        # and its metric are read once, not once per rate (half this read's time for 50 rates).
        rate_products = {
            model.pk: model
            for model in _products(
                ProductModel.objects.filter(pk__in={m.product_id for m in rate_models})
                .select_related("billable_metric")
                .defer(*_UNUSED_PRODUCT_COLUMNS)
            )
        }
        for model in rate_models:
            model.product = rate_products[model.product_id]
        # Each read below is skipped when no contract of the batch has such terms (its flags).
        usage_contracts = [c for c, _ in usage_pairs]
        subscriptions = []
        if any_holds(usage_contracts, "subscriptions"):
            subscriptions = list(
                overlapping(
                    SubscriptionModel.objects.filter(
                        contract_id__in={c.pk for c in usage_contracts}, archived_at__isnull=True
                    ),
                    usage_span,
                )
                .select_related("product")
                .prefetch_related("product__composite_products")
                .order_by("starting_at", "id")
            )
        self._charges = ChargesPreload(
            contract_ids,
            start,
            end,
            subscriptions,
            discounts=any_holds(contracts_here, "discounts"),
            pro_services=any_holds(contracts_here, "pro_services"),
        )
        usage_filters_by_contract: dict = {}
        if any_holds(usage_contracts, "usage_filters"):
            for usage_filter in overlapping(
                ContractUsageFilter.objects.filter(contract_id__in={c.pk for c in usage_contracts}),
                usage_span,
            ).order_by("starting_at"):
                usage_filters_by_contract.setdefault(usage_filter.contract_id, []).append(
                    usage_filter
                )
        charge_items = []
        if any_holds(contracts_here, "scheduled_charges"):
            charge_items = list(
                ScheduledChargeItem.objects.filter(
                    scheduled_charge__contract_id__in=contract_ids,
                    scheduled_charge__archived_at__isnull=True,
                    timestamp__gte=start,
                    timestamp__lt=end,
                )
                .select_related("scheduled_charge__product")
                .prefetch_related("scheduled_charge__product__composite_products")
                .order_by("timestamp", "id")
            )
        # A contract that puts scheduled items on its usage invoices does not bill again the dates
        # that already have a SCHEDULED invoice (made before the flag was set).
        self._scheduled_elsewhere: dict[str, set[datetime]] = {}
        on_usage = {
            c.pk
            for c, _, kind in resolved
            if kind == InvoiceType.USAGE and c.scheduled_charges_on_usage_invoices
        }
        if on_usage:
            for contract_id, moment in Invoice.objects.filter(
                contract_id__in=on_usage,
                type=Invoice.Type.SCHEDULED,
                status__in=[Invoice.Status.DRAFT, Invoice.Status.FINALIZED],
            ).values_list("contract_id", "start_timestamp"):
                self._scheduled_elsewhere.setdefault(str(contract_id), set()).add(moment)
        aliases: dict[str, list[str]] = {}
        if any_holds(contracts_here, "aliases"):
            for customer_id, alias in IngestAlias.objects.filter(
                customer_id__in={c.customer_id for c in contracts_here}
            ).values_list("customer_id", "alias"):
                aliases.setdefault(str(customer_id), []).append(alias)
        rates_by_card: dict = {}
        for model in rate_models:
            rates_by_card.setdefault(model.rate_card_id, []).append(model)
        subscriptions_by_contract: dict = {}
        for model in subscriptions:
            subscriptions_by_contract.setdefault(model.contract_id, []).append(model)
        charges_by_contract: dict = {}
        for item in charge_items:
            charges_by_contract.setdefault(item.scheduled_charge.contract_id, []).append(item)
        converted: dict = {}  # (rate card, invoice type, window) -> products, rates
        for contract, period, kind in resolved:
            window = period.period
            key = (contract.rate_card_id, kind, window)
            if key in converted:
                pass
            elif kind != InvoiceType.USAGE:
                converted[key] = ({}, ())  # a scheduled invoice prices no usage
            else:
                card_rates = window_of(rates_by_card.get(contract.rate_card_id, []), window)
                converted[key] = (
                    {str(m.product_id): m.product for m in card_rates},
                    tuple(rate_from(m) for m in card_rates),
                )
            product_models, rates = converted[key]
            product_models = dict(product_models)
            contract_subscriptions = window_of(
                subscriptions_by_contract.get(contract.pk, []), window
            )
            contract_charges = [
                item
                for item in charges_by_contract.get(contract.pk, [])
                if window.contains(item.timestamp)
            ]
            for model in contract_subscriptions:
                product_models.setdefault(str(model.product_id), model.product)
            for item in contract_charges:
                product_models.setdefault(
                    str(item.scheduled_charge.product_id), item.scheduled_charge.product
                )
            for model in self._charges.products(contract.pk, window):
                product_models.setdefault(str(model.pk), model)
            products = {pid: product_from(model) for pid, model in product_models.items()}
            priced = {
                rate.product_id
                for rate in rates
                if rate.entitled and rate.rate_type in (RateType.FLAT, RateType.TIERED)
            }
            self._static[(str(contract.pk), kind, window.starting_at)] = _Static(
                contract=contract,
                period=period,
                customer_ids=[
                    str(contract.customer_id),
                    *aliases.get(str(contract.customer_id), []),
                ],
                rates=rates,
                products=products,
                usage_filters=window_of(usage_filters_by_contract.get(contract.pk, []), window),
                usage_products=[
                    (product_models[pid], products[pid])
                    for pid in sorted(
                        priced,
                        key=lambda pid: contract.rate_card.product_position(
                            pid, products[pid].name
                        ),
                    )
                    if products[pid].type == ProductModel.Type.USAGE
                ],
                unentitled_products=[
                    (product_models[rate.product_id], products[rate.product_id])
                    for rate in rates
                    if not rate.entitled
                    and rate.product_id not in priced
                    and rate.rate_type in (RateType.FLAT, RateType.TIERED)
                    and products[rate.product_id].type == ProductModel.Type.USAGE
                ],
                subscriptions=self._charges.subscriptions(contract_subscriptions, window),
                discounts=self._charges.discounts(contract.pk, window),
                pro_services=self._charges.pro_services(contract.pk, window),
                scheduled_charges=tuple(
                    ScheduledCharge(
                        id=str(item.scheduled_charge_id),
                        product_id=str(item.scheduled_charge.product_id),
                        timestamp=item.timestamp,
                        unit_price=item.amount if item.amount is not None else item.unit_price,
                        quantity=Decimal(1) if item.amount is not None else item.quantity,
                        name=item.scheduled_charge.name or None,
                    )
                    for item in contract_charges
                ),
            )

    @classmethod
    def for_invoices(cls, invoices: Iterable[Invoice]) -> RatingPreload:
        """Preload for invoices whose contracts are loaded here too (their periods need them),
        unless `invoices_with_contracts` loaded them with the invoices."""
        invoices = list(invoices)
        contracts = {}
        for invoice in invoices:
            contract = contract_of(invoice)
            if contract is not None and _is_loaded(contract):
                contracts[str(contract.pk)] = contract
        missing = {str(i.contract_id) for i in invoices} - set(contracts)
        if missing:
            contracts.update(
                (str(c.pk), c)
                for c in with_term_flags(
                    Contract.objects.select_related("customer", "rate_card__fiat_credit_type")
                ).filter(pk__in=missing)
            )
        pairs = []
        for invoice in invoices:
            contract = contracts[str(invoice.contract_id)]
            pairs.append((contract, invoice_period(invoice, contract), invoice.type))
        return cls(pairs)

    def rating_input(
        self,
        contract_id,
        period_start: datetime,
        *,
        usage: bool = True,
        invoice_type: str = InvoiceType.USAGE,
        with_customer_spend: bool = True,
    ) -> RatingInput:
        """The input of one preloaded invoice. `with_customer_spend` False leaves out what
        CUSTOMER-scope composites need of the customer's other contracts (reading another
        contract's charges for them does not need its own)."""
        static = self._static[(str(contract_id), invoice_type, period_start)]
        window = static.period.period
        # Lines follow the card's product order (`RateCard.product_order`), then names.
        card = static.contract.rate_card
        unit = card.fiat_credit_type
        rating_input = RatingInput(
            pricing_unit=PricingUnit(
                id=str(unit.id), name=unit.name, decimal_places=unit.decimal_places
            ),
            period=Period(window.starting_at, window.ending_before),
            full_period=Period(static.period.full.starting_at, static.period.full.ending_before),
            products=tuple(
                sorted(
                    static.products.values(),
                    key=lambda p: (p.type != "USAGE", *card.product_position(p.id, p.name)),
                )
            ),
            rates=static.rates,
            subscriptions=static.subscriptions,
            scheduled_charges=static.scheduled_charges,
            discounts=static.discounts,
            pro_services=static.pro_services,
            invoice_type=invoice_type,
            scheduled_charges_on_usage_invoices=static.contract.scheduled_charges_on_usage_invoices,
        )
        # Contract terms (issue 6): balances, overrides, conversions; usage cut where they change.
        rating_input = dataclasses.replace(
            rating_input,
            **self._terms.terms_input(contract=static.contract, rating_input=rating_input),
        )
        if invoice_type == InvoiceType.SCHEDULED:
            # Only the commits invoiced at this instant matter (their purchase lines): the
            # snapshot keeps no balance, override or usage that the invoice does not use.
            return dataclasses.replace(
                rating_input,
                balances=tuple(
                    balance
                    for balance in rating_input.balances
                    if any(window.contains(item.timestamp) for item in balance.invoice_schedule)
                ),
                overrides=(),
                discounts=(),
            )
        elsewhere = self._scheduled_elsewhere.get(str(contract_id))
        if elsewhere:
            rating_input = _without_dates(rating_input, elsewhere)
        if with_customer_spend:
            rating_input = _customer_scope(static.contract, rating_input)
        if not usage:
            return rating_input
        usage_products = self.usage_products(contract_id, period_start, rating_input)
        records = usage_for_windows(
            customer=static.contract.customer,
            customer_ids=static.customer_ids,
            usage_products=usage_products,
            rates=static.rates,
            period=window,
            cuts={
                product.id: term_boundaries(rating_input, product.id)
                for _, product in usage_products
            },
            usage_filters=static.usage_filters,
            shared=lambda metric, keys, window: self._shared_usage(
                metric, keys, window, static.customer_ids
            ),
        )
        return dataclasses.replace(rating_input, usage=records)

    def _shared_usage(self, metric, keys, window, customer_ids) -> GroupUsage | None:
        """One invoice's usage read, made at its first request for every preloaded USAGE
        invoice whose period is that window (most read their whole period): one statement for
        a batch instead of one per invoice. None when it cannot be shared."""
        read = (metric.pk, tuple(keys), window.starting_at, window.ending_before)
        if read not in self._shared_reads:
            same = {
                tuple(s.customer_ids): s.customer_ids
                for (_, kind, _), s in self._static.items()
                if kind == InvoiceType.USAGE
                and (s.period.period.starting_at, s.period.period.ending_before) == read[2:]
            }
            self._shared_reads[read] = None
            if len(same) > 1:
                self._shared_reads[read] = metric_usage_by_customer(
                    metric=metric,
                    customer_ids=same,
                    starting_at=window.starting_at,
                    ending_before=window.ending_before,
                    group_keys=list(keys),
                )
        found = self._shared_reads[read]
        return None if found is None else found.get(tuple(customer_ids))

    def usage_products(
        self, contract_id, period_start: datetime, rating_input: RatingInput
    ) -> list[tuple[ProductModel, Product]]:
        """The USAGE products whose usage a USAGE invoice reads: those the card prices, and
        those it lists unentitled that an override of `rating_input` entitles."""
        static = self._static[(str(contract_id), InvoiceType.USAGE, period_start)]
        found = static.usage_products + entitled_by_overrides(
            static.unentitled_products, rating_input.overrides
        )
        # The card's product order (`RateCard.product_order`), then names.
        card = static.contract.rate_card
        return sorted(found, key=lambda pair: card.product_position(pair[1].id, pair[1].name))

    def ledger_held(self):
        """The balances' ledger read once for the batch inside this block (`TermsPreload`)."""
        return self._terms.ledger_held()

    def ledger_add(self, entries) -> None:
        self._terms.ledger_add(entries)

    @property
    def segments(self) -> dict:
        """{segment id: AccessSegment} of the batch's commits and credits."""
        return self._terms.segments

    def contract(self, contract_id, period_start: datetime, invoice_type: str) -> Contract:
        """The preloaded contract of an invoice (with its term flags when loaded here)."""
        return self._static[(str(contract_id), invoice_type, period_start)].contract

    def customer_ids(self, contract_id, period_start: datetime) -> list[str]:
        return self._static[(str(contract_id), InvoiceType.USAGE, period_start)].customer_ids


def _customer_scope(contract: Contract, rating_input: RatingInput) -> RatingInput:
    """CUSTOMER-scope composite rates: kept only on the contract that bills them (the others'
    are dropped), which gets the customer's other contracts' charges of the period."""
    composites = {
        rate.product_id
        for rate in rating_input.rates
        if rate.rate_type in RateType.COMPOSITE
        and rate.composite_scope == CompositeScope.CUSTOMER
        and rate.entitled
    }
    if not composites:
        return rating_input
    billed = customer_composites_billed_here(
        contract=contract, period=rating_input.period, product_ids=composites
    )
    return dataclasses.replace(
        rating_input,
        rates=tuple(
            rate
            for rate in rating_input.rates
            if not (
                rate.product_id in composites - billed
                and rate.composite_scope == CompositeScope.CUSTOMER
            )
        ),
        customer_spend=customer_spend(contract=contract, period=rating_input.period)
        if billed
        else (),
    )


def _without_dates(rating_input: RatingInput, dates: set[datetime]) -> RatingInput:
    """The input without the scheduled charge items and commit invoice items due on `dates`."""
    return dataclasses.replace(
        rating_input,
        scheduled_charges=tuple(
            c for c in rating_input.scheduled_charges if c.timestamp not in dates
        ),
        pro_services=tuple(p for p in rating_input.pro_services if p.timestamp not in dates),
        balances=tuple(
            dataclasses.replace(
                balance,
                invoice_schedule=tuple(
                    item for item in balance.invoice_schedule if item.timestamp not in dates
                ),
            )
            for balance in rating_input.balances
        ),
    )


def scheduled_billing_period(timestamp: datetime) -> periods.BillingPeriod:
    """The rating period of the SCHEDULED invoice dated `timestamp` (`rating.scheduled_period`:
    the instant; the invoice row stores start = end = `timestamp`)."""
    instant = scheduled_period(timestamp)
    window = periods.Period(instant.starting_at, instant.ending_before)
    return periods.BillingPeriod(period=window, full=window)


def invoice_period(invoice: Invoice, contract: Contract) -> periods.BillingPeriod:
    if invoice.type == Invoice.Type.SCHEDULED:
        return scheduled_billing_period(invoice.start_timestamp)
    full = periods.full_period_containing(periods.schedule_for(contract), invoice.start_timestamp)
    return periods.BillingPeriod(
        period=periods.Period(invoice.start_timestamp, invoice.end_timestamp), full=full
    )


def rating_input_for(
    *,
    invoice: Invoice | None = None,
    contract: Contract | None = None,
    period: periods.BillingPeriod | None = None,
    now: datetime | None = None,
    preload: RatingPreload | None = None,
    invoice_type: str = InvoiceType.USAGE,
) -> RatingInput:
    """Everything the engine needs to rate one invoice of one contract.

    Give an `invoice` (its contract, type and period), or a `contract` and a `period` (a billing
    period; for `invoice_type` SCHEDULED, `scheduled_billing_period(timestamp)`). `now` is
    accepted for symmetry with the services; the input is read as the database has it at this
    moment. A `preload` made for a batch of invoices saves the per-invoice queries but the usage
    read.
    """
    if invoice is not None:
        preload = preload or RatingPreload.for_invoices([invoice])
        return preload.rating_input(
            invoice.contract_id, invoice.start_timestamp, invoice_type=invoice.type
        )
    if contract is None or period is None:
        raise ValueError("give an invoice, or a contract and a period")
    preload = preload or RatingPreload([(contract, period, invoice_type)])
    return preload.rating_input(contract.pk, period.starting_at, invoice_type=invoice_type)
