"""Reads of customers and contracts for the API and the admin."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from catalog.models import BillableMetric, Package

from .models import Contract, Customer

CONTRACT_PREFETCH = (
    "commits__access_schedule",
    "commits__invoice_schedule",
    "commits__applicable_products",
    "commits__product",
    "commits__credit_type",
    "credits__access_schedule",
    "credits__applicable_products",
    "credits__product",
    "credits__credit_type",
    "overrides__tiers",
    "overrides__product",
    "overrides__overwrite_credit_type",
    "scheduled_charges__schedule_items",
    "scheduled_charges__product",
    "subscriptions__product",
)


def customers_queryset() -> QuerySet[Customer]:
    return Customer.objects.prefetch_related("ingest_aliases")


def customer_billable_metrics(
    *, customer: Customer, include_archived: bool = False
) -> QuerySet[BillableMetric]:
    """The metrics priced on the rate cards of the customer's contracts (active contracts)."""
    rate_card_ids = customer.contracts.filter(archived_at__isnull=True).values("rate_card_id")
    metrics = BillableMetric.objects.filter(
        products__rates__rate_card_id__in=rate_card_ids
    ).distinct()
    return metrics if include_archived else metrics.filter(archived_at__isnull=True)


def contracts_queryset() -> QuerySet[Contract]:
    return Contract.objects.select_related("customer", "rate_card").prefetch_related(
        *CONTRACT_PREFETCH
    )


def _dated(
    queryset: QuerySet[Contract],
    *,
    covering_date: datetime | None,
    starting_at: datetime | None,
    include_archived: bool,
) -> QuerySet[Contract]:
    if not include_archived:
        queryset = queryset.filter(archived_at__isnull=True)
    if covering_date is not None:
        queryset = queryset.filter(starting_at__lte=covering_date).filter(
            Q(ending_before__isnull=True) | Q(ending_before__gt=covering_date)
        )
    if starting_at is not None:
        queryset = queryset.filter(starting_at__gte=starting_at)
    return queryset


def contracts_list(
    *,
    customer: Customer,
    covering_date: datetime | None = None,
    starting_at: datetime | None = None,
    include_archived: bool = False,
) -> QuerySet[Contract]:
    return _dated(
        contracts_queryset().filter(customer=customer),
        covering_date=covering_date,
        starting_at=starting_at,
        include_archived=include_archived,
    )


def contracts_on_package(
    *,
    package: Package,
    covering_date: datetime | None = None,
    starting_at: datetime | None = None,
    include_archived: bool = False,
) -> QuerySet[Contract]:
    return _dated(
        Contract.objects.filter(package=package),
        covering_date=covering_date,
        starting_at=starting_at,
        include_archived=include_archived,
    )
