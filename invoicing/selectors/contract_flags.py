"""What a contract has, read with the contract itself: one EXISTS per kind of term in the
contract's own query, so that a draft read skips the reads of the terms its contract does not
have (most contracts have no discounts, professional services, usage filters, aliases...).

The flags are read in the same request as the terms would be, never kept across requests: a term
added a moment ago is read by the next draft read (read-your-writes). A contract loaded without
them (a caller's own object) has every term read, as before."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from customers.models import (
    Commit,
    Contract,
    ContractUsageFilter,
    Credit,
    Discount,
    IngestAlias,
    Override,
    ProfessionalService,
    ScheduledCharge,
)
from customers.models import Subscription as SubscriptionModel


def _live(model, **scope) -> Exists:
    return Exists(model.objects.filter(archived_at__isnull=True, **scope))


def _flags() -> dict[str, Exists]:
    contract = OuterRef("pk")
    own_or_customer = Q(contract_id=contract) | Q(
        contract__isnull=True, customer_id=OuterRef("customer_id")
    )
    return {
        # Its own commits and credits, its customer's customer-level ones, the customer-level
        # commits it invoices (`customers.selectors.balance_terms_many`'s scope, or wider).
        "holds_commits": Exists(
            Commit.objects.filter(archived_at__isnull=True).filter(
                own_or_customer | Q(contract__isnull=True, invoice_contract_id=contract)
            )
        ),
        "holds_credits": Exists(
            Credit.objects.filter(archived_at__isnull=True).filter(own_or_customer)
        ),
        "holds_overrides": _live(Override, contract_id=contract),
        "holds_subscriptions": _live(SubscriptionModel, contract_id=contract),
        "holds_scheduled_charges": _live(ScheduledCharge, contract_id=contract),
        "holds_discounts": _live(Discount, contract_id=contract),
        "holds_pro_services": _live(ProfessionalService, contract_id=contract),
        "holds_usage_filters": Exists(ContractUsageFilter.objects.filter(contract_id=contract)),
        "holds_aliases": Exists(IngestAlias.objects.filter(customer_id=OuterRef("customer_id"))),
    }


def with_term_flags(queryset: QuerySet[Contract]) -> QuerySet[Contract]:
    """The contracts, each with a `holds_<term>` flag per kind of term (see `any_holds`)."""
    return queryset.annotate(**_flags())


def any_holds(contracts: Iterable[Contract], term: str) -> bool:
    """Whether any of the contracts may have `term` ("commits", "overrides", ...): False only
    when every one was loaded by `with_term_flags` and has none."""
    return any(getattr(contract, f"holds_{term}", True) for contract in contracts)
