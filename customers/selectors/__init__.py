"""Reads of customers and contracts for the API and the admin."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from catalog.models import BillableMetric, Package

from .. import periods
from ..models import (
    BillingProviderConfiguration,
    Contract,
    ContractConfigurationChange,
    ContractTransition,
    Customer,
    NamedScheduleSegment,
)

# Commits and credits, their ledger and balances (customers/selectors/balances.py).
from .balances import (  # noqa: F401
    AUTOMATED,
    BALANCE_PREFETCH,
    LEDGER,
    ROLLOVER_TYPES,
    CommitExpiration,
    balance_ledger,
    balance_terms_many,
    balances_for_rating,
    balances_for_rating_many,
    balances_from_terms,
    balances_now,
    customer_balances,
    prepaid_commit_expirations,
    segments_left_at,
)
from .configurations import (  # noqa: F401
    ScheduleEntry,
    contract_configuration_at,
    contract_configuration_schedule,
    contracts_revenue_systems_at,
    customer_revenue_system_configurations,
)
from .hierarchy import (  # noqa: F401
    Payer,
    contract_ancestors,
    contract_descendants,
    contract_payers,
)
from .ledger import LedgerRows, ledger_rows, segment_available  # noqa: F401
from .spend_trackers import (  # noqa: F401
    commit_purchase_spends,
    spend_tracker_accumulated,
    spend_tracker_live,
    spend_trackers_accumulated,
)

CONTRACT_PREFETCH = (
    "commits__access_schedule",
    "commits__invoice_schedule",
    "commits__applicable_products",
    "commits__product",
    "commits__credit_type",
    "commits__rolled_over_from",
    "commits__recurring",
    "credits__access_schedule",
    "credits__applicable_products",
    "credits__product",
    "credits__credit_type",
    "credits__rolled_over_from",
    "credits__recurring",
    "overrides__tiers",
    "overrides__product",
    "overrides__overwrite_credit_type",
    "scheduled_charges__schedule_items",
    "scheduled_charges__product",
    "subscriptions__product",
    "usage_filters",
    "edits",
    "subscriptions__quantities",
    "discounts__schedule_items",
    "discounts__product",
    "professional_services",
    "spend_trackers",
    "recurring_balances__product",
    "recurring_balances__applicable_products",
    "configuration_changes__billing_provider_configuration",
    "configuration_changes__revenue_system_configuration",
)


def customers_queryset() -> QuerySet[Customer]:
    return Customer.objects.prefetch_related("ingest_aliases")


def customer_has_stripe(customer: Customer) -> bool:
    """Whether the customer has an active Stripe billing provider configuration (where a
    STRIPE payment gate charges)."""
    return customer.billing_provider_configurations.filter(
        billing_provider="stripe", archived_at__isnull=True
    ).exists()


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
    return Contract.objects.select_related(
        "customer",
        "rate_card",
        "transition_in",
        "transition_out",
        "billing_provider_configuration",
        "revenue_system_configuration",
    ).prefetch_related(*CONTRACT_PREFETCH)


def customer_current_period(
    *, customer: Customer, now: datetime
) -> tuple[datetime, datetime, Contract] | None:
    """The customer's current billing period: the usage statement period (`periods`)
    containing `now` of its contract in effect (not archived, started, not ended; the earliest
    started when several overlap), widened to whole UTC hours (usage is read from hourly
    aggregates). None without a contract in effect."""
    contract = (
        Contract.objects.active()
        .filter(customer=customer, starting_at__lte=now)
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=now))
        .select_related("rate_card")
        .order_by("starting_at", "created_at", "id")
        .first()
    )
    if contract is None:
        return None
    billing = periods.period_containing(periods.schedule_for(contract), now)
    if billing is None:
        return None
    return (
        periods.floor_hour(billing.starting_at),
        periods.ceil_hour(billing.ending_before),
        contract,
    )


def contract_transitions(*, contract: Contract) -> list[ContractTransition]:
    """The transitions a contract takes part in: the one it came from, then the one it went to
    (at most one each)."""
    result = []
    for name in ("transition_in", "transition_out"):
        try:
            result.append(getattr(contract, name))
        except ContractTransition.DoesNotExist:
            continue
    return result


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


# --- Named schedules --------------------------------------------------------------------------------


def named_schedule_segments(
    *,
    owner: dict,
    name: str,
    covering_date: datetime | None = None,
    properties: dict | None = None,
) -> list:
    """The segments of one named schedule, in time order; with `covering_date`, only the one in
    effect then (if any)."""
    rows = NamedScheduleSegment.objects.filter(name=name, **owner)
    if "contract" in owner:
        rows = rows.filter(properties=properties or {})
    if covering_date is not None:
        rows = rows.filter(starting_at__lte=covering_date).filter(
            Q(ending_before__isnull=True) | Q(ending_before__gt=covering_date)
        )
    return list(rows.order_by("starting_at"))


def contract_named_schedules(
    *,
    customer: Customer,
    contract: Contract | None = None,
    name: str | None = None,
    covering_date: datetime | None = None,
    properties: dict | None = None,
) -> list[dict]:
    """The named schedules of a customer's contracts (one contract's with `contract`), each
    {contract_id, schedule_name, properties, segments}, by contract then name; `properties`
    keeps the schedules whose properties include them."""
    rows = NamedScheduleSegment.objects.filter(contract__customer=customer)
    if contract is not None:
        rows = rows.filter(contract=contract)
    if name:
        rows = rows.filter(name=name)
    if covering_date is not None:
        rows = rows.filter(starting_at__lte=covering_date).filter(
            Q(ending_before__isnull=True) | Q(ending_before__gt=covering_date)
        )
    schedules: dict[tuple, dict] = {}
    for row in rows.order_by("contract_id", "name", "starting_at"):
        if properties and any(row.properties.get(k) != v for k, v in properties.items()):
            continue
        key = (str(row.contract_id), row.name, tuple(sorted(row.properties.items())))
        schedules.setdefault(
            key,
            {
                "contract_id": row.contract_id,
                "schedule_name": row.name,
                "properties": row.properties,
                "segments": [],
            },
        )["segments"].append(row)
    return list(schedules.values())


def contract_edits(*, contract: Contract) -> list:
    """The contract's edits and amendments, oldest first (getEditHistory)."""
    return list(contract.edits.order_by("created_at", "id"))


# --- Subscription quantities and seats -----------------------------------------------------------------


def subscription_quantity_history(
    *,
    subscription,
    covering_date: datetime | None = None,
    starting_at: datetime | None = None,
    ending_before: datetime | None = None,
) -> list[dict]:
    """The subscription's quantity periods, oldest first: {starting_at, ending_before (None:
    until it ends), quantity, seat_ids, unassigned_seats}; `covering_date` keeps the one in
    effect then, `starting_at` / `ending_before` those overlapping the window."""
    rows = list(subscription.quantities.order_by("starting_at"))
    history = []
    for index, row in enumerate(rows):
        end = rows[index + 1].starting_at if index + 1 < len(rows) else subscription.ending_before
        history.append(
            {
                "starting_at": row.starting_at,
                "ending_before": end,
                "quantity": row.quantity,
                "seat_ids": list(row.seat_ids),
                "unassigned_seats": row.unassigned_seats,
            }
        )
    if covering_date is not None:
        history = [
            h
            for h in history
            if h["starting_at"] <= covering_date
            and (h["ending_before"] is None or covering_date < h["ending_before"])
        ]
    if starting_at is not None:
        history = [
            h for h in history if h["ending_before"] is None or h["ending_before"] > starting_at
        ]
    if ending_before is not None:
        history = [h for h in history if h["starting_at"] < ending_before]
    return history


def customer_billing_configurations(
    *, customer: Customer, include_archived: bool = False
) -> QuerySet[BillingProviderConfiguration]:
    """The customer's billing provider configurations, newest first within each provider."""
    configs = customer.billing_provider_configurations.all()
    return configs if include_archived else configs.filter(archived_at__isnull=True)


def contract_billing_configuration(
    *, contract: Contract, at: datetime | None = None
) -> BillingProviderConfiguration | None:
    """Where the contract's invoices go (those of the period starting at `at`: the configuration
    a v2 edit switched to by then): its own configuration while active; with only a provider
    chosen (the admin's field, older contracts), the customer's newest active configuration of
    that provider; otherwise nowhere."""
    config = (
        contract.billing_provider_configuration
        if at is None
        else contract_configuration_at(
            contract=contract, kind=ContractConfigurationChange.Kind.BILLING_PROVIDER, at=at
        )
    )
    if config is not None:
        return config if config.archived_at is None else None
    if not contract.billing_provider:
        return None
    return (
        BillingProviderConfiguration.objects.filter(
            customer_id=contract.customer_id,
            billing_provider=contract.billing_provider,
            archived_at__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )
