"""What a contract has, read with the contract itself: one EXISTS per kind of term in the
contract's own query, so that a draft read skips the reads of the terms its contract does not
have (most contracts have no discounts, professional services, usage filters, aliases...).

The flags are read in the same request as the terms would be, never kept across requests: a term
added a moment ago is read by the next draft read (read-your-writes). A contract loaded without
them (a caller's own object) has every term read, as before."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

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
from invoicing.models import Invoice


def exists_sql(table: str, condition: str) -> RawSQL:
    """EXISTS a row of `table` (as `t`) meeting `condition` about the outer query's row.

    Written as SQL: the ORM's `Exists(...)` subqueries took longer to build and compile than
    the query they are in (nine in the contract's: ten times its cost), in every draft read."""
    return RawSQL(f'EXISTS (SELECT 1 FROM "{table}" t WHERE {condition})', ())


def _exists(model, condition: str) -> RawSQL:
    """EXISTS a live row of `model` meeting `condition`."""
    archived = "t.archived_at IS NULL AND " if _has_field(model, "archived_at") else ""
    return exists_sql(model._meta.db_table, archived + condition)


def _or(exists: RawSQL, condition: str) -> RawSQL:
    return RawSQL(f"({exists.sql} OR {condition})", ())


def _has_field(model, name: str) -> bool:
    return any(field.name == name for field in model._meta.get_fields())


@functools.cache
def _flags() -> dict[str, RawSQL]:
    contract = f'"{Contract._meta.db_table}"."id"'
    customer = f'"{Contract._meta.db_table}"."customer_id"'
    own = f"t.contract_id = {contract}"
    # A child contract (account hierarchy) may draw its ancestors' shared commits and credits,
    # however far up: it is taken to hold some (its balances are read, as before the flags).
    child = f'"{Contract._meta.db_table}"."parent_contract_id" IS NOT NULL'
    return {
        # Its own commits and credits, its customer's customer-level ones, the customer-level
        # commits it invoices (`customers.selectors.balance_terms_many`'s scope, or wider).
        "holds_commits": _or(
            _exists(
                Commit,
                f"({own} OR (t.contract_id IS NULL AND (t.customer_id = {customer} "
                f"OR t.invoice_contract_id = {contract})))",
            ),
            child,
        ),
        "holds_credits": _or(
            _exists(Credit, f"({own} OR (t.contract_id IS NULL AND t.customer_id = {customer}))"),
            child,
        ),
        "holds_overrides": _exists(Override, own),
        "holds_subscriptions": _exists(SubscriptionModel, own),
        "holds_scheduled_charges": _exists(ScheduledCharge, own),
        "holds_discounts": _exists(Discount, own),
        "holds_pro_services": _exists(ProfessionalService, own),
        "holds_usage_filters": _exists(ContractUsageFilter, own),
        "holds_aliases": _exists(IngestAlias, f"t.customer_id = {customer}"),
        # Child contracts (account hierarchy) that may draw its shared balances.
        "holds_children": exists_sql(Contract._meta.db_table, f"t.parent_contract_id = {contract}"),
        # Another usage draft may share its balances (`draw_order`): its customer has a second
        # one (an earlier period's, another contract's), or it is in an account hierarchy.
        "holds_shared_drafts": RawSQL(
            f'("{Contract._meta.db_table}"."parent_contract_id" IS NOT NULL'
            f' OR EXISTS (SELECT 1 FROM "{Contract._meta.db_table}" t'
            f" WHERE t.parent_contract_id = {contract})"
            f' OR EXISTS (SELECT 1 FROM "{Invoice._meta.db_table}" t'
            f" WHERE t.customer_id = {customer} AND t.status = 'DRAFT' AND t.type = 'USAGE'"
            " LIMIT 1 OFFSET 1))",
            (),
        ),
    }


def with_term_flags(queryset: QuerySet[Contract]) -> QuerySet[Contract]:
    """The contracts, each with a `holds_<term>` flag per kind of term (see `any_holds`)."""
    return queryset.annotate(**_flags())


def with_children_flag(queryset: QuerySet[Contract]) -> QuerySet[Contract]:
    """The contracts with their `holds_children` flag only (account hierarchy: whether a
    contract is a parent), in the same query."""
    return queryset.annotate(holds_children=_flags()["holds_children"])


def invoices_with_contracts(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """The invoices with what rating a draft needs of its contract, in the same query: the
    contract, its customer, rate card and pricing unit, and its flags (`contract_of` puts them
    on the contract), so that `RatingPreload.for_invoices` reads no contract."""
    return queryset.select_related(
        "contract__customer", "contract__rate_card__fiat_credit_type"
    ).annotate(**{f"contract_{name}": flag for name, flag in _flags().items()})


def contract_of(invoice: Invoice) -> Contract | None:
    """The invoice's contract with its flags, if `invoices_with_contracts` loaded them."""
    if not Invoice.contract.is_cached(invoice) or not hasattr(invoice, "contract_holds_commits"):
        return None
    contract = invoice.contract
    for name in _flags():
        setattr(contract, name, getattr(invoice, f"contract_{name}"))
    return contract


def any_holds(contracts: Iterable[Contract], term: str) -> bool:
    """Whether any of the contracts may have `term` ("commits", "overrides", ...): False only
    when every one was loaded by `with_term_flags` and has none."""
    return any(getattr(contract, f"holds_{term}", True) for contract in contracts)
