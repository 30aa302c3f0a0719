"""Usage reads for rating: the ingest ids a customer's events arrive under, each USAGE product's
rate windows, and one usage read per window set shared by the invoices that need it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from catalog.models import Product as ProductModel
from customers.models import (
    Customer,
    IngestAlias,
)
from invoicing.rating import (
    Period,
    Product,
    Rate,
    Usage,
    group_values,
)
from invoicing.terms import split_at
from invoicing.usage import (
    metric_usage_by_group,
    metric_usage_running,
)

from .engine_inputs import rate_windows


def customer_event_ids(*, customer: Customer) -> list[str]:
    """Every `customer_id` under which the customer's events may arrive: its id and its aliases."""
    aliases = IngestAlias.objects.filter(customer=customer).values_list("alias", flat=True)
    return [str(customer.id), *aliases]


@dataclass(frozen=True)
class _ProductWindows:
    """Where a USAGE product's usage is read: each pricing group values' rate segments (cut at
    the product's term boundaries), and the windows of values without a rate."""

    model: ProductModel
    product: Product
    keys: tuple[str, ...]
    split: int
    windows: list[Period]
    partitions: dict
    unpriced_windows: list[Period]
    filtered: list = dataclasses.field(default_factory=list)

    def only(self, window: Period) -> tuple[str, list[str]] | None:
        """The usage filter in effect over the window (group key, values kept), if any."""
        return next(
            (
                (f.group_key, list(f.group_values))
                for f in self.filtered
                if f.in_effect_at(window.starting_at)
            ),
            None,
        )

    def records(self, window: Period, quantities, ending_before: datetime) -> Iterator[Usage]:
        """The product's usage of `window` (read up to `ending_before`) per group values;
        groups missing any of the product's keys are not the product's usage."""
        split = self.split
        pricing_keys = self.keys[:split]
        # Presentation values in `group_values` order (pairs sorted by key), the order found once.
        presentation_keys = sorted(enumerate(self.keys[split:]), key=lambda pair: pair[1])
        # Few pricing group values, many presentation values: each pricing prefix decided once,
        # its records made from its first (`evolve`). Made in the order of their values (a
        # ClickHouse store answers in no order), the records are nearly in the order the input
        # keeps them in (`_sorted_usage`): sorted Usage by Usage, they took 100 ms at 10,000.
        prefix_usage: dict[tuple, Usage | None] = {}
        for values in sorted(values for values in quantities if None not in values):
            quantity = quantities[values]
            prefix = values[:split]
            if prefix not in prefix_usage:
                pricing = group_values(zip(pricing_keys, prefix, strict=True))
                kept = window in self.partitions.get(pricing, self.unpriced_windows)
                prefix_usage[prefix] = (
                    Usage(
                        product_id=self.product.id,
                        starting_at=window.starting_at,
                        ending_before=ending_before,
                        quantity=quantity,
                        pricing_group_values=pricing,
                    )
                    if kept
                    else None
                )
            usage = prefix_usage[prefix]
            if usage is None:
                continue
            yield usage.evolve(
                quantity=quantity,
                presentation_group_values=tuple(
                    (key, str(values[split + index])) for index, key in presentation_keys
                ),
            )


def _product_windows(
    usage_products: list[tuple[ProductModel, Product]],
    rates: tuple[Rate, ...],
    period: Period,
    cuts: dict[str, tuple[datetime, ...]],
    usage_filters: list | None = None,
) -> list[_ProductWindows]:
    """Where each USAGE product's usage is read. Windows also cut where the contract's usage
    filter changes (`usage_filters`), for products whose metric has the filter's group key."""
    usage_filters = usage_filters or []
    filter_cuts = tuple(
        moment
        for usage_filter in usage_filters
        for moment in (usage_filter.starting_at, usage_filter.ending_before)
        if moment is not None and period.starting_at < moment < period.ending_before
    )
    found = []
    for model, product in usage_products:
        product_rates = [rate for rate in rates if rate.product_id == product.id]
        filtered = [f for f in usage_filters if f.group_key in model.billable_metric.all_group_keys]
        term_cuts = tuple(sorted({*cuts.get(product.id, ()), *(filter_cuts if filtered else ())}))
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
        found.append(
            _ProductWindows(
                model=model,
                product=product,
                keys=(*product.pricing_group_keys, *product.presentation_group_keys),
                split=len(product.pricing_group_keys),
                windows=windows,
                partitions=partitions,
                unpriced_windows=unpriced_windows,
                filtered=filtered,
            )
        )
    return found


def _sorted_usage(records: list[Usage]) -> tuple[Usage, ...]:
    return tuple(
        sorted(
            records,
            key=lambda u: (
                u.product_id,
                u.pricing_group_values,
                u.starting_at,
                u.presentation_group_values,
            ),
        )
    )


def usage_for_windows(
    *,
    customer: Customer,
    customer_ids: list[str],
    usage_products: list[tuple[ProductModel, Product]],
    rates: tuple[Rate, ...],
    period: Period,
    cuts: dict[str, tuple[datetime, ...]] | None = None,
    usage_filters: list | None = None,
    shared=None,
) -> tuple[Usage, ...]:
    """The usage of each USAGE product per group values and rate segment of the period.

    Each pricing group values' segments are the windows where its rate does not change; values
    without a rate are one window, the period; both also cut at the product's `cuts` (the
    engine's `term_boundaries`: overrides and access segments) and where the contract's usage
    filter changes (`usage_filters`: each window counts only the events the filter in effect
    keeps). One aggregate read per distinct (metric, keys, window, filter), unless an unfiltered
    window's `shared(metric, keys, window)` has it (a batch's read).
    """
    records: list[Usage] = []
    cache: dict[tuple, dict[tuple, Decimal]] = {}
    for found in _product_windows(usage_products, rates, period, cuts or {}, usage_filters):
        for window in found.windows:
            only = found.only(window)
            cache_key = (found.model.billable_metric_id, found.keys, window, str(only))
            if cache_key not in cache and shared is not None and only is None:
                cache[cache_key] = shared(found.model.billable_metric, found.keys, window)
            if cache.get(cache_key) is None:
                cache[cache_key] = metric_usage_by_group(
                    metric=found.model.billable_metric,
                    customer=customer,
                    customer_ids=customer_ids,
                    starting_at=window.starting_at,
                    ending_before=window.ending_before,
                    group_keys=list(found.keys),
                    only=only,
                )
            records.extend(found.records(window, cache[cache_key], window.ending_before))
    return _sorted_usage(records)


def usage_so_far(
    *,
    customer: Customer,
    customer_ids: list[str],
    usage_products: list[tuple[ProductModel, Product]],
    rates: tuple[Rate, ...],
    period: Period,
    cuts: dict[str, tuple[datetime, ...]],
    cutoffs: list[datetime],
) -> list[tuple[Usage, ...]]:
    """`usage_for_windows` as of each of the increasing `cutoffs` inside the period: the usage of
    the period's events before the cutoff (a window the cutoff falls in ends at it). One running
    aggregate read per distinct (metric, keys, window), whatever the number of cutoffs."""
    per_cutoff: list[list[Usage]] = [[] for _ in cutoffs]
    cache: dict[tuple, list] = {}
    for found in _product_windows(usage_products, rates, period, cuts):
        for window in found.windows:
            inner = [c for c in cutoffs if window.starting_at < c < window.ending_before]
            cache_key = (found.model.billable_metric_id, found.keys, window)
            if cache_key not in cache:
                cache[cache_key] = metric_usage_running(
                    metric=found.model.billable_metric,
                    customer=customer,
                    customer_ids=customer_ids,
                    starting_at=window.starting_at,
                    cutoffs=[*inner, window.ending_before],
                    group_keys=list(found.keys),
                )
            running = cache[cache_key]
            for index, cutoff in enumerate(cutoffs):
                if cutoff <= window.starting_at:
                    continue
                if cutoff >= window.ending_before:
                    quantities, end = running[-1], window.ending_before
                else:
                    quantities, end = running[inner.index(cutoff)], cutoff
                per_cutoff[index].extend(found.records(window, quantities, end))
    return [_sorted_usage(records) for records in per_cutoff]
