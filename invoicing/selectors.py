"""Reads for invoicing: a contract's billing period loaded into a `RatingInput`, invoices as shown.

`rating_input_for` is the one place the database meets the pure engine: it loads the rate card's
rates in effect during the period, the usage of each USAGE product per pricing and presentation
group values and per rate segment (from metering's aggregates, never by scanning raw events here),
the contract's subscriptions and scheduled charge items, into frozen dataclasses. A handful of
queries whatever the number of events: one per distinct (metric, group keys, rate segment).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Prefetch, Q

from catalog.models import Product as ProductModel
from catalog.models import Rate as RateModel
from catalog.models import RateCard, RateTier
from core.db import hot_cursor
from customers import periods
from customers import selectors as customers_selectors
from customers.models import (
    Commit,
    CommitInvoiceItem,
    Contract,
    Customer,
    IngestAlias,
    ScheduledChargeItem,
)
from customers.models import Subscription as SubscriptionModel
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.rating import (
    InvoiceType,
    Line,
    Period,
    PricingUnit,
    Product,
    QuantityConversion,
    QuantityRounding,
    Rate,
    RateType,
    RatingInput,
    RatingResult,
    ScheduledCharge,
    Subscription,
    Tier,
    Usage,
    group_values,
    rate_invoice,
    scheduled_period,
    term_boundaries,
)
from invoicing.terms import TermsPreload, entitled_by_overrides, rate_fields, split_at
from invoicing.usage import metric_usage_by_group

# --- Model -> dataclass ----------------------------------------------------------------------------


def _product(model: ProductModel) -> Product:
    conversion = None
    if model.quantity_conversion_factor is not None and model.quantity_conversion_operation:
        conversion = QuantityConversion(
            factor=model.quantity_conversion_factor,
            operation=model.quantity_conversion_operation,
            name=model.quantity_conversion_name,
        )
    rounding = None
    if model.quantity_rounding_decimal_places is not None and model.quantity_rounding_method:
        rounding = QuantityRounding(
            decimal_places=model.quantity_rounding_decimal_places,
            method=model.quantity_rounding_method,
        )
    return Product(
        id=str(model.id),
        name=model.name,
        type=model.type,
        tags=tuple(model.tags or ()),
        pricing_group_keys=tuple(model.pricing_group_key or ()),
        presentation_group_keys=tuple(model.presentation_group_key or ()),
        quantity_conversion=conversion,
        quantity_rounding=rounding,
        composite_product_ids=tuple(str(p.id) for p in model.composite_products.all()),
        composite_tags=tuple(model.composite_tags or ()),
    )


def _rate(model: RateModel) -> Rate:
    return Rate(
        id=str(model.id),
        product_id=str(model.product_id),
        rate_type=model.rate_type,
        starting_at=model.starting_at,
        ending_before=model.ending_before,
        price=model.price,
        tiers=tuple(Tier(price=tier.price, size=tier.size) for tier in model.list_tiers),
        pricing_group_values=group_values(model.pricing_group_values),
        entitled=model.entitled,
        billing_frequency=model.billing_frequency or None,
        **rate_fields(model),
    )


def _overlapping(queryset, period: Period, *, start: str = "starting_at", end="ending_before"):
    return queryset.filter(**{f"{start}__lt": period.ending_before}).filter(
        Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gt": period.starting_at})
    )


# --- Rate segments ---------------------------------------------------------------------------------


def rate_windows(rates: Iterable[Rate], period: Period) -> list[Period]:
    """The period cut into maximal windows over which the usage rate in effect does not change.

    The engine prices a `Usage` by the rate in effect at its start (the latest-started entitled FLAT
    or TIERED rate with its pricing group values), so usage must be aggregated per such window.
    """
    rates = [r for r in rates if r.entitled and r.rate_type in (RateType.FLAT, RateType.TIERED)]
    cuts = {period.starting_at, period.ending_before}
    for rate in rates:
        for moment in (rate.starting_at, rate.ending_before):
            if moment is not None and period.starting_at < moment < period.ending_before:
                cuts.add(moment)
    ordered = sorted(cuts)

    def in_effect(moment: datetime) -> Rate | None:
        live = [rate for rate in rates if rate.in_effect_at(moment)]
        return max(live, key=lambda rate: rate.starting_at, default=None)

    windows: list[tuple[datetime, datetime, Rate | None]] = []
    for start, end in itertools.pairwise(ordered):
        rate = in_effect(start)
        if windows and windows[-1][2] is rate:
            windows[-1] = (windows[-1][0], end, rate)
        else:
            windows.append((start, end, rate))
    return [Period(start, end) for start, end, _ in windows]


# --- The rating input ------------------------------------------------------------------------------


def customer_event_ids(*, customer: Customer) -> list[str]:
    """Every `customer_id` under which the customer's events may arrive: its id and its aliases."""
    aliases = IngestAlias.objects.filter(customer=customer).values_list("alias", flat=True)
    return [str(customer.id), *aliases]


def _usage(
    *,
    customer: Customer,
    customer_ids: list[str],
    usage_products: list[tuple[ProductModel, Product]],
    rates: tuple[Rate, ...],
    period: Period,
    cuts: dict[str, tuple[datetime, ...]] | None = None,
) -> list[Usage]:
    """The usage of each USAGE product per group values and rate segment of the period.

    Each pricing group values' segments are the windows where its rate does not change; values
    without a rate are one window, the period; both also cut at the product's `cuts` (the
    engine's `term_boundaries`: overrides and access segments). One aggregate read per distinct
    (metric, keys, window); groups missing any of the product's keys are not the product's usage.
    """
    cuts = cuts or {}
    records: list[Usage] = []
    cache: dict[tuple, dict[tuple, Decimal]] = {}
    for model, product in usage_products:
        keys = (*product.pricing_group_keys, *product.presentation_group_keys)
        split = len(product.pricing_group_keys)
        product_rates = [rate for rate in rates if rate.product_id == product.id]
        term_cuts = cuts.get(product.id, ())
        partitions = {
            values: split_at(
                rate_windows(
                    [rate for rate in product_rates if rate.pricing_group_values == values], period
                ),
                term_cuts,
            )
            for values in {rate.pricing_group_values for rate in product_rates}
        }
        unpriced_windows = split_at([period], term_cuts)
        windows = sorted(
            {w for ws in partitions.values() for w in ws} | set(unpriced_windows),
            key=lambda w: (w.starting_at, w.ending_before),
        )
        for window in windows:
            cache_key = (model.billable_metric_id, keys, window)
            if cache_key not in cache:
                cache[cache_key] = metric_usage_by_group(
                    metric=model.billable_metric,
                    customer=customer,
                    customer_ids=customer_ids,
                    starting_at=window.starting_at,
                    ending_before=window.ending_before,
                    group_keys=list(keys),
                )
            for values, quantity in cache[cache_key].items():
                if any(value is None for value in values):
                    continue
                pricing = group_values(zip(keys[:split], values[:split], strict=True))
                if window not in partitions.get(pricing, unpriced_windows):
                    continue
                records.append(
                    Usage(
                        product_id=product.id,
                        starting_at=window.starting_at,
                        ending_before=window.ending_before,
                        quantity=quantity,
                        pricing_group_values=pricing,
                        presentation_group_values=group_values(
                            zip(keys[split:], values[split:], strict=True)
                        ),
                    )
                )
    records.sort(
        key=lambda u: (
            u.product_id,
            u.pricing_group_values,
            u.starting_at,
            u.presentation_group_values,
        )
    )
    return records


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


def _window_of(items, window: Period, start: str = "starting_at", end: str = "ending_before"):
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
    for the same rate card. Usage is not preloaded: it is read per invoice, when rating it."""

    def __init__(self, pairs: Iterable[tuple]):
        """`pairs`: (contract or its id, `periods.BillingPeriod`) for USAGE invoices, or
        (contract, period, invoice type) (`scheduled_billing_period` for a SCHEDULED one)."""
        self._static: dict[tuple[str, str, datetime], _Static] = {}
        self._terms = TermsPreload(())
        pairs = [(c, p, kind[0] if kind else InvoiceType.USAGE) for c, p, *kind in pairs]
        if not pairs:
            return
        contract_ids = {str(getattr(c, "pk", c)) for c, *_ in pairs}
        contracts = {str(c.pk): c for c, *_ in pairs if _is_loaded(c)}
        if len(contracts) < len(contract_ids):
            contracts.update(
                (str(c.pk), c)
                for c in Contract.objects.select_related(
                    "customer", "rate_card__fiat_credit_type"
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
        self._terms = TermsPreload([c for c, _, _ in resolved], span)
        rate_models = list(
            _overlapping(
                RateModel.objects.filter(rate_card_id__in={c.rate_card_id for c, _ in usage_pairs}),
                usage_span,
            )
            # Unused columns stay in the database: parsing timestamps is much of this read's cost.
            .defer("created_at")
            .prefetch_related(
                Prefetch(
                    "tiers",
                    queryset=RateTier.objects.filter(for_commit_rate=False).order_by("level"),
                    to_attr="list_tiers",
                )
            )
            .order_by("product_id", "starting_at", "id")
        )
        # A card prices few products with many rates (one per pricing group values): each product
        # and its metric are read once, not once per rate (half this read's time for 50 rates).
        rate_products = {
            model.pk: model
            for model in ProductModel.objects.filter(pk__in={m.product_id for m in rate_models})
            .select_related("billable_metric")
            .defer(*_UNUSED_PRODUCT_COLUMNS)
            .prefetch_related("composite_products")
        }
        for model in rate_models:
            model.product = rate_products[model.product_id]
        subscriptions = list(
            _overlapping(
                SubscriptionModel.objects.filter(
                    contract_id__in={c.pk for c, _ in usage_pairs}, archived_at__isnull=True
                ),
                usage_span,
            )
            .select_related("product")
            .prefetch_related("product__composite_products")
            .order_by("starting_at", "id")
        )
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
        for customer_id, alias in IngestAlias.objects.filter(
            customer_id__in={c.customer_id for c, _, _ in resolved}
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
                card_rates = _window_of(rates_by_card.get(contract.rate_card_id, []), window)
                converted[key] = (
                    {str(m.product_id): m.product for m in card_rates},
                    tuple(_rate(m) for m in card_rates),
                )
            product_models, rates = converted[key]
            product_models = dict(product_models)
            contract_subscriptions = _window_of(
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
            products = {pid: _product(model) for pid, model in product_models.items()}
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
                usage_products=[
                    (product_models[pid], products[pid])
                    for pid in sorted(priced, key=lambda pid: (products[pid].name, pid))
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
                subscriptions=tuple(
                    Subscription(
                        id=str(model.id),
                        product_id=str(model.product_id),
                        quantity=model.initial_quantity,
                        collection_schedule=model.collection_schedule,
                        starting_at=model.starting_at,
                        ending_before=model.ending_before,
                        is_prorated=model.is_prorated,
                        billing_frequency=model.billing_frequency or None,
                        name=model.name or None,
                    )
                    for model in contract_subscriptions
                ),
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
        """Preload for invoices whose contracts are loaded here too (their periods need them)."""
        invoices = list(invoices)
        contracts = {
            str(c.pk): c
            for c in Contract.objects.select_related(
                "customer", "rate_card__fiat_credit_type"
            ).filter(pk__in={i.contract_id for i in invoices})
        }
        pairs = []
        for invoice in invoices:
            contract = contracts[str(invoice.contract_id)]
            pairs.append((contract, _invoice_period(invoice, contract), invoice.type))
        return cls(pairs)

    def rating_input(
        self,
        contract_id,
        period_start: datetime,
        *,
        usage: bool = True,
        invoice_type: str = InvoiceType.USAGE,
    ) -> RatingInput:
        static = self._static[(str(contract_id), invoice_type, period_start)]
        window = static.period.period
        unit = static.contract.rate_card.fiat_credit_type
        rating_input = RatingInput(
            pricing_unit=PricingUnit(
                id=str(unit.id), name=unit.name, decimal_places=unit.decimal_places
            ),
            period=Period(window.starting_at, window.ending_before),
            full_period=Period(static.period.full.starting_at, static.period.full.ending_before),
            products=tuple(
                sorted(static.products.values(), key=lambda p: (p.type != "USAGE", p.name, p.id))
            ),
            rates=static.rates,
            subscriptions=static.subscriptions,
            scheduled_charges=static.scheduled_charges,
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
            )
        elsewhere = self._scheduled_elsewhere.get(str(contract_id))
        if elsewhere:
            rating_input = _without_dates(rating_input, elsewhere)
        if not usage:
            return rating_input
        usage_products = static.usage_products + entitled_by_overrides(
            static.unentitled_products, rating_input.overrides
        )
        usage_products.sort(key=lambda pair: (pair[1].name, pair[1].id))
        records = _usage(
            customer=static.contract.customer,
            customer_ids=static.customer_ids,
            usage_products=usage_products,
            rates=static.rates,
            period=window,
            cuts={
                product.id: term_boundaries(rating_input, product.id)
                for _, product in usage_products
            },
        )
        return dataclasses.replace(rating_input, usage=tuple(records))


def _without_dates(rating_input: RatingInput, dates: set[datetime]) -> RatingInput:
    """The input without the scheduled charge items and commit invoice items due on `dates`."""
    return dataclasses.replace(
        rating_input,
        scheduled_charges=tuple(
            c for c in rating_input.scheduled_charges if c.timestamp not in dates
        ),
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


def _invoice_period(invoice: Invoice, contract: Contract) -> periods.BillingPeriod:
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


# --- Invoices as shown -----------------------------------------------------------------------------


def line_item_from(line: Line, *, invoice: Invoice, position: int) -> InvoiceLineItem:
    """An engine line as an (unsaved) line item row of `invoice`."""
    return InvoiceLineItem(
        invoice=invoice,
        position=position,
        name=line.name,
        type=line.type,
        product_id=line.product_id,
        product_type=line.product_type,
        credit_type_id=line.credit_type_id or invoice.credit_type_id,
        quantity=line.quantity,
        unit_price=line.unit_price,
        total=line.total,
        starting_at=line.starting_at,
        ending_before=line.ending_before,
        group_key=line.group_key or "",
        group_value=line.group_value or "",
        pricing_group_values=dict(line.pricing_group_values),
        presentation_group_values=dict(line.presentation_group_values),
        tier_level=line.tier.level if line.tier else None,
        tier_starting_at=line.tier.starting_at if line.tier else None,
        tier_size=line.tier.size if line.tier else None,
        is_prorated=line.is_prorated,
        is_unpriced=line.is_unpriced,
        subscription_id=line.subscription_id,
        scheduled_charge_id=line.scheduled_charge_id,
        commit_id=line.commit_id,
        commit_segment_id=line.commit_segment_id,
        applied_commit_or_credit_id=line.applied_commit_or_credit_id,
        applied_commit_or_credit_type=line.applied_commit_or_credit_type or "",
        balance_remaining=line.balance_remaining,
    )


@dataclass(frozen=True)
class InvoiceView:
    """An invoice as finance staff and the API see it: frozen lines, or a draft rated on read."""

    invoice: Invoice
    lines: list[InvoiceLineItem]
    subtotal: Decimal
    total: Decimal


def invoice_rate(
    *, invoice: Invoice, now: datetime | None = None, preload: RatingPreload | None = None
) -> RatingResult:
    return rate_invoice(rating_input_for(invoice=invoice, now=now, preload=preload))


def invoice_view(
    *, invoice: Invoice, now: datetime | None = None, preload: RatingPreload | None = None
) -> InvoiceView:
    """A draft is rated now from the current aggregates (read-your-writes); others are frozen.
    A `preload` made for a page of invoices saves each draft's rate card and terms queries."""
    if invoice.status == Invoice.Status.DRAFT:
        result = invoice_rate(invoice=invoice, now=now, preload=preload)
        lines = [
            line_item_from(line, invoice=invoice, position=index)
            for index, line in enumerate(result.lines)
        ]
        return InvoiceView(invoice, lines, result.subtotal, result.total)
    lines = list(invoice.line_items.order_by("position"))
    return InvoiceView(invoice, lines, invoice.subtotal, invoice.total)


def invoice_views(*, invoices: Iterable[Invoice], now: datetime | None = None) -> list[InvoiceView]:
    """Many invoices as shown (an API page): drafts share one preload, frozen lines one query."""
    invoices = list(invoices)
    drafts = [i for i in invoices if i.status == Invoice.Status.DRAFT]
    preload = RatingPreload.for_invoices(drafts) if drafts else None
    frozen: dict = {}
    for line in InvoiceLineItem.objects.filter(
        invoice_id__in=[i.pk for i in invoices if i.status != Invoice.Status.DRAFT]
    ).order_by("invoice_id", "position"):
        frozen.setdefault(line.invoice_id, []).append(line)
    views = []
    for invoice in invoices:
        if invoice.status == Invoice.Status.DRAFT:
            views.append(invoice_view(invoice=invoice, now=now, preload=preload))
        else:
            views.append(
                InvoiceView(invoice, frozen.get(invoice.pk, []), invoice.subtotal, invoice.total)
            )
    return views


def drafts_preload(invoices: Iterable[Invoice]) -> RatingPreload | None:
    """A preload for the drafts among `invoices` (an admin list page), or None if there is none."""
    drafts = [i for i in invoices if i.status == Invoice.Status.DRAFT]
    return RatingPreload.for_invoices(drafts) if drafts else None


def contracts_scheduled_dates(*, contracts: Iterable[Contract]) -> dict:
    """{contract pk: set of datetimes}: the dates on which each contract has scheduled items to
    invoice on SCHEDULED invoices: its live scheduled charges' items and the invoice schedule
    items of the live PREPAID commits it invoices (its own, and customer-level ones naming it as
    `invoice_contract`), except dates a finalized usage invoice already billed. Empty for a
    contract that puts them on its usage invoices (`scheduled_charges_on_usage_invoices`).
    Three queries for any number of contracts."""
    contracts = list(contracts)
    result: dict = {c.pk: set() for c in contracts}
    ids = [c.pk for c in contracts if not c.scheduled_charges_on_usage_invoices]
    if not ids:
        return result
    for contract_id, moment in ScheduledChargeItem.objects.filter(
        scheduled_charge__contract_id__in=ids, scheduled_charge__archived_at__isnull=True
    ).values_list("scheduled_charge__contract_id", "timestamp"):
        result[contract_id].add(moment)
    for own, invoicing, moment in (
        CommitInvoiceItem.objects.filter(
            commit__archived_at__isnull=True, commit__type=Commit.Type.PREPAID
        )
        .filter(
            Q(commit__contract_id__in=ids)
            | Q(commit__contract__isnull=True, commit__invoice_contract_id__in=ids)
        )
        .values_list("commit__contract_id", "commit__invoice_contract_id", "timestamp")
    ):
        result[own if own is not None else invoicing].add(moment)
    # Dates a finalized usage invoice already billed: it carried the scheduled items (the flag
    # was set then, or it was finalized before scheduled invoices existed: no flag in its
    # snapshot). Billing them again on a scheduled invoice would bill them twice.
    carried = Q(rating_snapshot__scheduled_charges_on_usage_invoices=True) | Q(
        rating_snapshot__scheduled_charges_on_usage_invoices__isnull=True
    )
    dated = [pk for pk in ids if result[pk]]
    if not dated:
        return result
    billed = Invoice.objects.filter(
        carried,
        contract_id__in=dated,
        type=Invoice.Type.USAGE,
        status=Invoice.Status.FINALIZED,
        start_timestamp__lte=max(max(result[pk]) for pk in dated),
        end_timestamp__gt=min(min(result[pk]) for pk in dated),
    ).values_list("contract_id", "start_timestamp", "end_timestamp")
    for contract_id, start, end in billed:
        result[contract_id] = {m for m in result[contract_id] if not start <= m < end}
    return result


def contract_invoices(*, contract: Contract):
    """The contract's invoices, newest period first (for the contract's admin page)."""
    return (
        Invoice.objects.filter(contract=contract)
        .select_related("credit_type")
        .order_by("-start_timestamp", "-created_at")
    )


def customer_invoices(
    *,
    customer: Customer,
    status: str | None = None,
    contract_id: str | None = None,
    starting_on: datetime | None = None,
    ending_before: datetime | None = None,
    descending: bool = False,
    invoice_type: str | None = None,
):
    """The customer's invoices for the API's list, filtered on the billing period (a scheduled
    invoice's is its date) and type (Metronome's USAGE_CONSOLIDATED is our USAGE)."""
    queryset = Invoice.objects.filter(customer=customer).select_related("credit_type")
    if status:
        queryset = queryset.filter(status=status.upper())
    if invoice_type:
        kind = invoice_type.upper()
        queryset = queryset.filter(
            type=Invoice.Type.USAGE if kind == "USAGE_CONSOLIDATED" else kind
        )
    if contract_id:
        queryset = queryset.filter(contract_id=contract_id)
    if starting_on is not None:
        queryset = queryset.filter(start_timestamp__gte=starting_on)
    if ending_before is not None:
        # A period ending by then; a scheduled invoice dated before then (its date is both ends).
        queryset = queryset.filter(
            Q(type=Invoice.Type.USAGE, end_timestamp__lte=ending_before)
            | Q(type=Invoice.Type.SCHEDULED, start_timestamp__lt=ending_before)
        )
    order = ("-start_timestamp", "-id") if descending else ("start_timestamp", "id")
    return queryset.order_by(*order)


def balances_now(*, balances: Iterable, now: datetime, include_drafts: bool = True) -> dict:
    """{balance id: Decimal}: what each commit or credit holds at `now` (Metronome's `balance`):
    `customers.selectors.balances_now` minus what current drafts draw (`draft_balance_draws`)
    when `include_drafts`."""
    balances = list(balances)
    draws = draft_balance_draws(balances=balances, now=now) if include_drafts else None
    return customers_selectors.balances_now(balances=balances, now=now, draft_draws=draws)


def draft_balance_draws(*, balances: Iterable, now: datetime) -> dict[str, Decimal]:
    """{segment id: Decimal}: what the current DRAFT invoices draw from the segments of
    `balances` (Commit / Credit rows), not yet in the ledger (what `balances_now` takes off, so balances burn down in real time). Drafts whose period has started by `now`, of the
    contracts the balances may apply to, rated now (one rating per draft), oldest period first:
    what an older draft draws is taken off what a later one finds available (the ledger only
    knows finalized invoices), so two unfinalized periods never draw the same amount twice."""
    balances = list(balances)
    if not balances:
        return {}
    contract_ids = {b.contract_id for b in balances if b.contract_id is not None}
    customer_ids = {b.customer_id for b in balances if b.contract_id is None}
    drafts = list(
        # Scheduled invoices draw nothing (the engine gives them no burn-down).
        Invoice.objects.filter(
            status=Invoice.Status.DRAFT, type=Invoice.Type.USAGE, start_timestamp__lte=now
        )
        .filter(Q(contract_id__in=contract_ids) | Q(customer_id__in=customer_ids))
        .order_by("start_timestamp", "id")
    )
    if not drafts:
        return {}
    wanted = {str(b.pk) for b in balances}
    preload = RatingPreload.for_invoices(drafts)
    drawn: dict[str, Decimal] = {}
    taken: dict[str, Decimal] = {}  # every segment's draws so far, of any balance
    for invoice in drafts:
        rating_input = rating_input_for(invoice=invoice, now=now, preload=preload)
        if taken:
            rating_input = dataclasses.replace(
                rating_input,
                balances=tuple(
                    dataclasses.replace(
                        balance,
                        access_schedule=tuple(
                            dataclasses.replace(
                                segment,
                                available=max(
                                    segment.available_at_start - taken.get(segment.id, 0),
                                    Decimal(0),
                                ),
                            )
                            for segment in balance.access_schedule
                        ),
                    )
                    for balance in rating_input.balances
                ),
            )
        for draw in rate_invoice(rating_input).balance_draws:
            if draw.drawn:
                taken[draw.segment_id] = taken.get(draw.segment_id, Decimal(0)) + draw.drawn
                if draw.balance_id in wanted:
                    drawn[draw.segment_id] = drawn.get(draw.segment_id, Decimal(0)) + draw.drawn
    return drawn


# --- Late events -----------------------------------------------------------------------------------


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


# The hot-path form of the same rule for PostgreSQL: one prepared statement per ingest batch,
# answering the positions of the late events. An alias wins over a customer id, as in
# `finalized_periods_for`; an id written as a canonical UUID matches invoices of that customer
# directly (an invoice's customer exists).
_LATE_SQL = """
SELECT DISTINCT e.i
FROM json_to_recordset(%(events)s::json) AS e(i int, c text, s timestamptz)
LEFT JOIN {alias} a ON a.alias = e.c
JOIN {invoice} inv ON inv.customer_id = COALESCE(
        a.customer_id,
        CASE WHEN e.c ~ '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$'
             THEN e.c::uuid END)
    AND inv.status = %(status)s AND inv.type = %(type)s
    AND inv.start_timestamp <= e.s AND e.s < inv.end_timestamp
"""


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
    quote = connection.ops.quote_name
    sql = _LATE_SQL.format(
        alias=quote(IngestAlias._meta.db_table), invoice=quote(Invoice._meta.db_table)
    )
    batch = json.dumps(
        [
            {"i": index, "c": customer_id, "s": timestamp.isoformat()}
            for index, (customer_id, timestamp) in enumerate(events)
        ]
    )
    with hot_cursor() as cursor:
        cursor.execute(
            sql,
            {
                "events": batch,
                "status": Invoice.Status.FINALIZED.value,
                "type": Invoice.Type.USAGE.value,
            },
            prepare=True,
        )
        late = {index for (index,) in cursor.fetchall()}
    return [index in late for index in range(len(events))]


def is_late(periods_: list[tuple[datetime, datetime]], timestamp: datetime) -> bool:
    return any(start <= timestamp < end for start, end in periods_)


def customer_late_event_count(*, customer: Customer) -> int:
    """How many of the customer's events arrived after their period was finalized."""
    from metering.models import UsageEvent

    return UsageEvent.objects.filter(
        customer_id__in=customer_event_ids(customer=customer), is_late=True
    ).count()
