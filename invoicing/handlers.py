"""What invoicing does when customers (below it) tells it something happened (`core.outbox`).

Each handler is idempotent and takes `event.occurred_at` as `now`, so running it again (after a
failure, from the `core.dispatch_outbox` schedule) gives the same drafts.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from core.models import DomainEvent
from core.outbox import handles
from customers.models import Contract, ContractTransition

from .payment_gates import payment_gates_invoice_added
from .services import (
    contract_drafts_ensure,
    contract_drafts_fit,
    contract_invoices_archive,
    contract_transition_roll_over,
)
from .threshold_billing import contract_thresholds_check


def _contract(contract_id) -> Contract | None:
    return Contract.objects.select_related("rate_card").filter(pk=contract_id).first()


@handles("contract.create")
def contract_created(event: DomainEvent) -> None:
    """Its drafts exist from the start. Following another contract: that one's drafts are
    fitted to its new end first, then a RENEWAL that has started rolls over (what the earlier
    contract's drafts draw is not rolled over), then the new contract's drafts are made (they
    show the rolled-over balances)."""
    contract = _contract(event.payload["contract_id"])
    if contract is None:
        return
    if event.payload.get("transition_from_contract_id"):
        source = _contract(event.payload["transition_from_contract_id"])
        if source is not None:
            contract_drafts_fit(contract=source, now=event.occurred_at)
        transition = ContractTransition.objects.filter(to_contract=contract).first()
        if transition is not None:
            contract_transition_roll_over(transition=transition, now=event.occurred_at)
    contract_drafts_ensure(contract=contract, now=event.occurred_at)
    _thresholds(contract, event)
    _sql_metric_drafts_warm(contract)


def _sql_metric_drafts_warm(contract: Contract) -> None:
    """Drafts priced by a SQL metric are read once by a task (`tasks.warm_sql_metric_drafts`)
    that keeps their periods' hours, off the request path: a contract made over existing
    events would otherwise have its first draft read read its whole period."""
    if not contract.rate_card.rates.filter(product__billable_metric__sql__gt="").exists():
        return
    from django_q.tasks import async_task

    transaction.on_commit(
        partial(async_task, "invoicing.tasks.warm_sql_metric_drafts", [str(contract.pk)])
    )


def _thresholds(contract: Contract, event: DomainEvent) -> None:
    """An enabled threshold configuration is evaluated at once (its schedule does it later)."""
    if (contract.prepaid_balance_threshold_configuration or {}).get("is_enabled") or (
        contract.spend_threshold_configuration or {}
    ).get("is_enabled"):
        contract_thresholds_check(contract=contract, now=event.occurred_at)


@handles("contract.edit")
def contract_edited(event: DomainEvent) -> None:
    """Drafts follow an edit: an end moved earlier removes the usage drafts after it and cuts the
    one spanning it; otherwise the missing drafts are made and scheduled drafts kept in step."""
    contract = _contract(event.payload["contract_id"])
    if contract is None:
        return
    if event.payload.get("ending_moved"):
        contract_drafts_fit(contract=contract, now=event.occurred_at)
    else:
        contract_drafts_ensure(contract=contract, now=event.occurred_at)
    payment_gates_invoice_added(contract=contract, now=event.occurred_at)
    _thresholds(contract, event)


@handles("contract.archive")
def contract_archived(event: DomainEvent) -> None:
    """An archived contract's drafts are cancelled; its finalized invoices are voided when the
    archive asked for it."""
    contract = _contract(event.payload["contract_id"])
    if contract is None:
        return
    contract_invoices_archive(
        contract=contract,
        void_invoices=bool(event.payload.get("void_invoices")),
        now=event.occurred_at,
    )


@handles("commit.create", "commit.edit", "credit.create", "credit.edit")
def balance_changed(event: DomainEvent) -> None:
    """A commit or credit changed: the drafts of the contract that invoices it (a customer-level
    commit's `invoice_contract`, whose scheduled drafts carry its purchase) and, after an edit on
    its own page, of the contract it belongs to. A contract-level balance made with its contract
    needs nothing more: the contract's own event makes its drafts."""
    payload = event.payload
    ids = []
    if payload.get("invoice_contract_id"):
        ids.append(payload["invoice_contract_id"])
    if event.type.endswith(".edit") and payload.get("contract_id"):
        ids.append(payload["contract_id"])
    for contract_id in dict.fromkeys(ids):
        contract = _contract(contract_id)
        if contract is not None and contract.archived_at is None:
            contract_drafts_ensure(contract=contract, now=event.occurred_at)
