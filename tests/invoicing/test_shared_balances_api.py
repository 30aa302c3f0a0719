"""Balances more than one invoice may draw, end to end over the API: a customer-level credit two
contracts share, a contract's commit its own unfinalized older draft draws, a parent's commit its
children share. The drafts, the balances list and the ledger show one split, the one the draw
order gives (period start, then children by contract id, then contract id), and finalization
makes that split whichever invoice is finalized first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import BalanceLedgerEntry, Contract
from invoicing.models import Invoice
from invoicing.services import invoices_finalize_due
from tests.invoicing.factories import CustomerFactory, ProductFactory, RateFactory, ingest

pytestmark = pytest.mark.django_db

JAN, FEB, MARCH, APRIL = (datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3, 4))
UNTIL = "2028-01-01T00:00:00Z"
CREDIT_DEDUCTION = BalanceLedgerEntry.Type.CREDIT_AUTOMATED_INVOICE_DEDUCTION
COMMIT_DEDUCTION = BalanceLedgerEntry.Type.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def post(api_client):
    def _post(path: str, body: dict):
        return api_client.post(path, body, format="json")

    return _post


def _ok(response) -> dict | list:
    assert response.status_code == 200, response.content
    return response.json()["data"]


@pytest.fixture
def world(db):
    """Tokens at $1.00 (100 cents) each on one rate card, and a fixed product for balances."""
    rate = RateFactory(price=Decimal("100"), product__name="Tokens")
    rate.product.billable_metric.group_keys = [["project"]]
    rate.product.billable_metric.save()
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Balance product")
    return {"card": str(rate.rate_card_id), "fixed": str(fixed.pk), "customer": CustomerFactory()}


def _schedule(amount: int, start: datetime) -> dict:
    return {
        "schedule_items": [{"amount": amount, "starting_at": _iso(start), "ending_before": UNTIL}]
    }


def _contract(post, world, *, customer=None, start=MARCH, **more) -> Contract:
    """A contract billing the usage of its own project (a usage filter on `project`: each
    contract of the customer bills its own events)."""
    customer = customer or world["customer"]
    project = str(uuid.uuid4())
    body = {
        "customer_id": str(customer.pk),
        "rate_card_id": world["card"],
        "starting_at": _iso(start),
        "usage_filter": {"group_key": "project", "group_values": [project]},
        **more,
    }
    contract = Contract.objects.get(pk=_ok(post("/v1/contracts/create", body))["id"])
    contract.project = project
    return contract


def _two_contracts(post, world) -> tuple[Contract, Contract]:
    """Two contracts of the customer, in contract id order (the order they draw in)."""
    first, second = _contract(post, world), _contract(post, world)
    return tuple(sorted([first, second], key=lambda c: str(c.pk)))


def _customer_credit(post, world, amount: int = 100000, start=MARCH) -> str:
    body = {
        "customer_id": str(world["customer"].pk),
        "product_id": world["fixed"],
        "priority": 1,
        "access_schedule": _schedule(amount, start),
    }
    return _ok(post("/v1/contracts/customerCredits/create", body))["id"]


def _tokens(contract: Contract, amount: int, day: datetime) -> None:
    ingest(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": _iso(day.replace(day=10)),
                "properties": {"num_tokens": str(amount), "project": contract.project},
            }
        ]
    )


def _invoice(contract: Contract, start: datetime = MARCH) -> Invoice:
    return Invoice.objects.get(contract=contract, type=Invoice.Type.USAGE, start_timestamp=start)


def _read(api_client, contract: Contract, start: datetime = MARCH) -> dict:
    invoice = _invoice(contract, start)
    return _ok(api_client.get(f"/v1/customers/{contract.customer_id}/invoices/{invoice.pk}"))


def _applied(invoice: dict) -> list:
    return [
        line["total"]
        for line in invoice["line_items"]
        if line["type"] == "applied_commit_or_credit"
    ]


def _balances(post, customer, **flags) -> dict:
    rows = _ok(
        post(
            "/v1/contracts/customerBalances/list",
            {
                "customer_id": str(customer.pk),
                "include_contract_balances": True,
                "include_balance": True,
                "include_ledgers": True,
                **flags,
            },
        )
    )
    return {row["id"]: row for row in rows}


def _deductions(row: dict, kind=CREDIT_DEDUCTION) -> list:
    return sorted(
        (entry["amount"], entry["contract_id"]) for entry in row["ledger"] if entry["type"] == kind
    )


# --- 1. A customer-level balance two contracts share ----------------------------------------------


def test_a_customer_credit_two_contracts_draw_in_one_month_is_spent_once(post, api_client, world):
    """$1,000.00 customer-level credit; March usage $700 on the first contract (by contract id),
    $600 on the second. The drafts show the split the draw order gives: the first draws $700,
    the second $300 and pays $300. The balances list says $0 left. Finalized, the ledger loses
    $700 + $300 = $1,000, never more."""
    first, second = _two_contracts(post, world)
    credit = _customer_credit(post, world)
    _tokens(first, 700, MARCH)
    _tokens(second, 600, MARCH)
    one, two = _read(api_client, first), _read(api_client, second)
    assert (one["total"], _applied(one)) == (0, [-70000])
    assert (two["total"], _applied(two)) == (30000, [-30000])
    assert _balances(post, world["customer"])[credit]["balance"] == 0
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert (_invoice(first).total, _invoice(second).total) == (Decimal(0), Decimal(30000))
    row = _balances(post, world["customer"])[credit]
    assert row["balance"] == 0
    assert _deductions(row) == sorted([(-70000, str(first.pk)), (-30000, str(second.pk))])
