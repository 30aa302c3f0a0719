"""The domain events customers records in the outbox (`core.outbox`), for the apps above to hear.

Each is recorded inside the transaction of the change it describes. Payloads carry ids as strings;
a handler reads the rows it needs. Types are Metronome's notification names.
"""

from __future__ import annotations

from datetime import datetime

from core import outbox

from ..models import Commit, Contract, Credit


def contract_event(type_: str, contract: Contract, now: datetime, **payload) -> None:
    """`contract.create`, `contract.edit` (with `ending_moved` when its end changed) or
    `contract.archive` (with `void_invoices`)."""
    outbox.record(
        type=type_,
        subject_id=contract.pk,
        customer_id=contract.customer_id,
        occurred_at=now,
        payload={
            "contract_id": str(contract.pk),
            "customer_id": str(contract.customer_id),
            **payload,
        },
    )


def balance_event(action: str, balance: Commit | Credit, now: datetime) -> None:
    """`commit.create|edit` or `credit.create|edit` for a commit or credit (contract-level or
    customer-level)."""
    kind = "commit" if isinstance(balance, Commit) else "credit"
    invoice_contract_id = getattr(balance, "invoice_contract_id", None)
    outbox.record(
        type=f"{kind}.{action}",
        subject_id=balance.pk,
        customer_id=balance.customer_id,
        occurred_at=now,
        payload={
            f"{kind}_id": str(balance.pk),
            "customer_id": str(balance.customer_id),
            "contract_id": str(balance.contract_id) if balance.contract_id else None,
            "invoice_contract_id": str(invoice_contract_id) if invoice_contract_id else None,
        },
    )
