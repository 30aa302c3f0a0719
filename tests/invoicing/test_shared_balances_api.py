"""Balances more than one invoice may draw, end to end over the API: a customer-level credit two
contracts share, a contract's commit its own unfinalized older draft draws, a parent's commit its
children share. The drafts, the balances list and the ledger show one split, the one the draw
order gives (period start, then children by contract id, then contract id), and finalization
makes that split whichever invoice is finalized first."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import BalanceLedgerEntry, Contract
from invoicing.models import Invoice
from invoicing.selectors import invoice_views
from invoicing.services import (
    InvoiceStateError,
    contract_drafts_ensure,
    invoice_finalize,
    invoices_finalize_due,
)
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
    """`amount` tokens of the contract's project on the 10th of `day`'s month."""
    _tokens_at(contract, amount, day.replace(day=10))


def _tokens_at(contract: Contract, amount: int, moment: datetime) -> None:
    ingest(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": _iso(moment),
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


def test_the_second_contract_finalized_first_leaves_the_first_its_share(post, api_client, world):
    """The same month, the second contract's invoice finalized by hand first: it draws the $300
    its draft showed (the first's $700 stays reserved for the first's draft, which still shows
    it), then the first's, due, draws $700."""
    first, second = _two_contracts(post, world)
    credit = _customer_credit(post, world)
    _tokens(first, 700, MARCH)
    _tokens(second, 600, MARCH)
    invoice_finalize(invoice=_invoice(second), now=datetime(2026, 4, 1, 1, tzinfo=UTC))
    assert (_invoice(second).status, _invoice(second).total) == ("FINALIZED", Decimal(30000))
    one = _read(api_client, first)
    assert (one["status"], one["total"], _applied(one)) == ("DRAFT", 0, [-70000])
    listed = _ok(
        api_client.get(
            f"/v1/customers/{world['customer'].pk}/invoices",
            {"starting_on": _iso(MARCH), "ending_before": _iso(APRIL)},
        )
    )
    assert sorted((i["contract_id"], i["status"], i["total"]) for i in listed) == sorted(
        [(str(first.pk), "DRAFT", 0), (str(second.pk), "FINALIZED", 30000)]
    )
    assert _balances(post, world["customer"])[credit]["balance"] == 0
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert _invoice(first).total == Decimal(0)
    row = _balances(post, world["customer"])[credit]
    assert (row["balance"], _deductions(row)) == (
        0,
        sorted([(-70000, str(first.pk)), (-30000, str(second.pk))]),
    )


def test_the_last_contract_in_the_order_expires_a_shared_credit(post, api_client, world):
    """A $1,000.00 customer credit ending with March; $300 and $200 of usage. Finalized in the
    order, the first does not expire it (the second may still draw it); the second expires the
    $500 left. Once, whatever the order."""
    first, second = _two_contracts(post, world)
    body = {
        "customer_id": str(world["customer"].pk),
        "product_id": world["fixed"],
        "priority": 1,
        "access_schedule": {
            "schedule_items": [
                {"amount": 100000, "starting_at": _iso(MARCH), "ending_before": _iso(APRIL)}
            ]
        },
    }
    credit = _ok(post("/v1/contracts/customerCredits/create", body))["id"]
    _tokens(first, 300, MARCH)
    _tokens(second, 200, MARCH)
    expired = BalanceLedgerEntry.Type.CREDIT_EXPIRATION
    invoice_finalize(invoice=_invoice(first), now=datetime(2026, 4, 3, tzinfo=UTC))
    entries = BalanceLedgerEntry.objects.filter(credit_id=credit)
    assert sorted(entries.values_list("type", "amount")) == [(CREDIT_DEDUCTION, Decimal(-30000))]
    invoice_finalize(invoice=_invoice(second), now=datetime(2026, 4, 3, tzinfo=UTC))
    assert sorted(entries.values_list("type", "amount", "invoice_id")) == sorted(
        [
            (CREDIT_DEDUCTION, Decimal(-30000), _invoice(first).pk),
            (CREDIT_DEDUCTION, Decimal(-20000), _invoice(second).pk),
            (expired, Decimal(-50000), _invoice(second).pk),
        ]
    )


# --- 2. A contract's own older draft --------------------------------------------------------------


def test_an_older_unfinalized_draft_draws_the_commit_first(post, api_client, world):
    """A $1,000.00 commit; January's draft (its period over, not finalized yet) draws $800 of
    its $800; February's shows the $200 left: it draws $200 and charges $300 of its $500. The
    balances list agrees ($0 left). February finalized by hand first draws $200; January, due,
    $800."""
    commit = {
        "product_id": world["fixed"],
        "type": "PREPAID",
        "priority": 1,
        "access_schedule": _schedule(100000, JAN),
    }
    contract = _contract(post, world, start=JAN, commits=[commit])
    _tokens(contract, 800, JAN)
    _tokens(contract, 500, FEB)

    contract_drafts_ensure(contract=contract, now=datetime(2026, 2, 15, tzinfo=UTC))
    january, february = _read(api_client, contract, JAN), _read(api_client, contract, FEB)
    assert (january["total"], _applied(january)) == (0, [-80000])
    assert (february["total"], _applied(february)) == (30000, [-20000])
    [row] = _balances(post, world["customer"]).values()
    assert row["balance"] == 0
    invoice_finalize(invoice=_invoice(contract, FEB), now=datetime(2026, 3, 2, tzinfo=UTC))
    assert _invoice(contract, FEB).total == Decimal(30000)
    assert _read(api_client, contract, JAN)["total"] == 0
    invoices_finalize_due(now=datetime(2026, 3, 3, tzinfo=UTC))
    assert (_invoice(contract, JAN).status, _invoice(contract, JAN).total) == (
        "FINALIZED",
        Decimal(0),
    )
    [row] = _balances(post, world["customer"]).values()
    assert (row["balance"], _deductions(row, COMMIT_DEDUCTION)) == (
        0,
        [(-80000, str(contract.pk)), (-20000, str(contract.pk))],
    )


# --- 3. A parent finalized before its children ----------------------------------------------------


def test_a_parent_finalized_by_hand_first_draws_what_its_draft_showed(post, api_client, world):
    """A parent's $1,000.00 commit shared with its children, ending with March. Child A (the
    smaller contract id) uses $300, child B $500, the parent $100. The drafts: A draws $300, B
    $500, the parent $100 (last in the order). The parent's invoice finalized by hand first
    draws $100 and expires the $100 no draft draws; the children's, due, draw $300 and $500."""
    commit = {
        "product_id": world["fixed"],
        "type": "PREPAID",
        "priority": 1,
        "access_schedule": {
            "schedule_items": [
                {"amount": 100000, "starting_at": _iso(MARCH), "ending_before": _iso(APRIL)}
            ]
        },
        "hierarchy_configuration": {"child_access": {"type": "ALL"}},
    }
    parent = _contract(post, world, commits=[commit])
    link = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
    children = [
        _contract(post, world, customer=CustomerFactory(), hierarchy_configuration=link)
        for _ in range(2)
    ]
    a, b = sorted(children, key=lambda c: str(c.pk))
    _tokens(a, 300, MARCH)
    _tokens(b, 500, MARCH)
    _tokens(parent, 100, MARCH)
    drafts = [_read(api_client, c) for c in (a, b, parent)]
    assert [(d["total"], _applied(d)) for d in drafts] == [
        (0, [-30000]),
        (0, [-50000]),
        (0, [-10000]),
    ]
    invoice_finalize(invoice=_invoice(parent), now=datetime(2026, 4, 1, 1, tzinfo=UTC))
    frozen = _read(api_client, parent)
    assert (frozen["status"], frozen["total"], _applied(frozen)) == ("FINALIZED", 0, [-10000])
    assert [_applied(_read(api_client, c)) for c in (a, b)] == [[-30000], [-50000]]
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert [(_invoice(c).status, _invoice(c).total) for c in (a, b)] == [
        ("FINALIZED", Decimal(0)),
        ("FINALIZED", Decimal(0)),
    ]
    row = _balances(post, parent.customer)[str(parent.commits.get().pk)]
    expired = BalanceLedgerEntry.Type.PREPAID_COMMIT_EXPIRATION
    assert _deductions(row, COMMIT_DEDUCTION) == sorted(
        [(-30000, str(a.pk)), (-50000, str(b.pk)), (-10000, str(parent.pk))]
    )
    assert _deductions(row, expired) == [(-10000, str(parent.pk))]


# --- A customer-level POSTPAID commit -------------------------------------------------------------


@pytest.mark.parametrize("invoicer", [0, 1])
def test_a_customer_postpaid_commit_is_trued_up_once(post, api_client, world, invoicer):
    """A $1,000.00 POSTPAID customer commit for March, invoiced on one of the two contracts;
    $300 and $200 of usage (drawn from it and paid on each invoice). The invoicing contract's
    invoice trues up the $500 nobody drew, once (it used to true up on both), whichever
    contract draws first. It is finalized after the other contract's (by hand before it:
    refused, that draft's draw may still grow)."""
    contracts = _two_contracts(post, world)
    body = {
        "customer_id": str(world["customer"].pk),
        "product_id": world["fixed"],
        "type": "POSTPAID",
        "priority": 1,
        "invoice_contract_id": str(contracts[invoicer].pk),
        "access_schedule": {
            "schedule_items": [
                {"amount": 100000, "starting_at": _iso(MARCH), "ending_before": _iso(APRIL)}
            ]
        },
        "invoice_schedule": {"schedule_items": [{"timestamp": _iso(APRIL), "amount": 100000}]},
    }
    _ok(post("/v1/contracts/customerCommits/create", body))
    _tokens(contracts[0], 300, MARCH)
    _tokens(contracts[1], 200, MARCH)

    def trued_up(read: dict) -> list:
        return [line["total"] for line in read["line_items"] if line["type"] == "postpaid_trueup"]

    expected = [[], []]
    expected[invoicer] = [50000]
    drafts = [_read(api_client, c) for c in contracts]
    assert [trued_up(d) for d in drafts] == expected
    assert [_applied(d) for d in drafts] == [[-30000], [-20000]]
    with pytest.raises(InvoiceStateError):
        invoice_finalize(
            invoice=_invoice(contracts[invoicer]), now=datetime(2026, 4, 3, tzinfo=UTC)
        )
    invoice_finalize(
        invoice=_invoice(contracts[1 - invoicer]), now=datetime(2026, 4, 3, tzinfo=UTC)
    )
    invoice_finalize(invoice=_invoice(contracts[invoicer]), now=datetime(2026, 4, 3, tzinfo=UTC))
    frozen = [_read(api_client, c) for c in contracts]
    assert [(f["status"], trued_up(f)) for f in frozen] == [
        ("FINALIZED", expected[0]),
        ("FINALIZED", expected[1]),
    ]
    assert [f["total"] for f in frozen] == [30000 + sum(expected[0]), 20000 + sum(expected[1])]


# --- A customer-level POSTPAID commit another contract draws after its invoicer ------------------

MID = datetime(2026, 3, 15, tzinfo=UTC)


def _trued_up(read: dict) -> list:
    return [line["total"] for line in read["line_items"] if line["type"] == "postpaid_trueup"]


def _late(contract: Contract, amount: int, day: int) -> None:
    """`amount` tokens of the contract's project on March `day`."""
    _tokens_at(contract, amount, MARCH.replace(day=day))


@pytest.fixture
def straddled(post, world):
    """A $1,000.00 POSTPAID customer commit for March invoiced on contract A (monthly periods
    from the 1st); contract B's periods run from the 15th (March 15 - April 15: after A's in
    the draw order, and B's draws of March are known only once its invoice is). A uses $300,
    B $200 by April 3."""
    a = _contract(post, world)
    b = _contract(
        post,
        world,
        start=MID,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
    )
    body = {
        "customer_id": str(world["customer"].pk),
        "product_id": world["fixed"],
        "type": "POSTPAID",
        "priority": 1,
        "invoice_contract_id": str(a.pk),
        "access_schedule": {
            "schedule_items": [
                {"amount": 100000, "starting_at": _iso(MARCH), "ending_before": _iso(APRIL)}
            ]
        },
        "invoice_schedule": {"schedule_items": [{"timestamp": _iso(APRIL), "amount": 100000}]},
    }
    _ok(post("/v1/contracts/customerCommits/create", body))
    _tokens(a, 300, MARCH)
    _late(b, 200, 20)
    return a, b


def test_a_postpaid_true_up_waits_for_a_later_draft_that_draws_the_commit(api_client, straddled):
    """Golden, by hand: $300 (A) + $200 (B) drawn by April 3, $200 more of B's March usage after.
    A's invoice is not finalized while B's draft may still draw the commit (by hand: refused,
    naming B's invoice; when due: left a draft); B's usage is charged as it is drawn, and A's
    true-up is the $1,000.00 less all $700.00 drawn: $300.00. $1,000.00 billed in all (it used
    to be $1,200.00: A's true-up froze B's $200.00 estimate)."""
    a, b = straddled
    with pytest.raises(InvoiceStateError) as refused:
        invoice_finalize(invoice=_invoice(a), now=datetime(2026, 4, 3, tzinfo=UTC))
    assert str(_invoice(b, MID).pk) in refused.value.messages[0]
    assert invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC)) == 0
    assert _invoice(a).status == Invoice.Status.DRAFT
    _late(b, 200, 25)  # B's late March usage: its draft is open until April 15
    assert _trued_up(_read(api_client, a)) == [30000]
    assert invoices_finalize_due(now=datetime(2026, 4, 20, tzinfo=UTC)) == 2
    ra, rb = _read(api_client, a), _read(api_client, b, MID)
    assert (ra["status"], ra["total"], _trued_up(ra)) == ("FINALIZED", 60000, [30000])
    assert (rb["status"], rb["total"], _trued_up(rb)) == ("FINALIZED", 40000, [])
    assert ra["total"] + rb["total"] == 100000


def test_a_postpaid_true_up_is_finalized_once_the_later_draft_is(api_client, straddled):
    """B finalized by hand first: A's invoice then finalizes at once, counting B's frozen draw."""
    a, b = straddled
    invoice_finalize(invoice=_invoice(b, MID), now=datetime(2026, 4, 16, tzinfo=UTC))
    invoice_finalize(invoice=_invoice(a), now=datetime(2026, 4, 16, tzinfo=UTC))
    ra, rb = _read(api_client, a), _read(api_client, b, MID)
    assert (ra["total"], _trued_up(ra), rb["total"]) == (80000, [50000], 20000)


def test_the_draft_the_list_and_finalization_show_one_true_up(api_client, straddled):
    """The single draft's read, the list read and finalization load the same drafts (those
    after the invoice in the draw order too): A's draft shows the true-up it is finalized
    with ($1,000.00 - $300.00 - B's $200.00)."""
    a, b = straddled
    customer = a.customer_id
    listed = _ok(api_client.get(f"/v1/customers/{customer}/invoices"))
    in_list = next(i for i in listed if i["id"] == str(_invoice(a).pk))
    draft = _read(api_client, a)
    assert _trued_up(draft) == _trued_up(in_list) == [50000]
    # B's turn rated first on a page rates A for its draws: A is still shown in its own turn.
    views = invoice_views(invoices=[_invoice(b, MID), _invoice(a)], now=None)
    assert [view.total for view in views] == [Decimal("20000"), Decimal("80000")]
    invoice_finalize(invoice=_invoice(b, MID), now=datetime(2026, 4, 16, tzinfo=UTC))
    invoice_finalize(invoice=_invoice(a), now=datetime(2026, 4, 16, tzinfo=UTC))
    assert _trued_up(_read(api_client, a)) == _trued_up(draft)


def test_the_admin_finalize_action_names_the_invoice_a_true_up_waits_for(admin_client, straddled):
    a, b = straddled
    response = admin_client.post(
        reverse("admin:invoicing_invoice_changelist"),
        {"action": "finalize_selected", "_selected_action": [str(_invoice(a).pk)]},
        follow=True,
    )
    assert "may still draw: the true-up" in response.content.decode()
    assert str(_invoice(b, MID).pk) in response.content.decode()
    assert _invoice(a).status == Invoice.Status.DRAFT


@pytest.mark.parametrize("by_hand", [False, True])
@pytest.mark.parametrize(("late", "billed"), [(0, 100000), (200, 100000), (600, 110000)])
def test_a_postpaid_commit_bills_the_commitment_or_the_usage(
    api_client, straddled, by_hand, late, billed
):
    """Total billed for the commit's window = max($1,000.00, usage drawn): $300 (A) + $200 (B)
    + B's late March usage, arriving after A's invoice was asked to finalize (when due, or by
    hand), whichever way the invoices are then finalized."""
    a, b = straddled
    if by_hand:
        with contextlib.suppress(InvoiceStateError):
            invoice_finalize(invoice=_invoice(a), now=datetime(2026, 4, 3, tzinfo=UTC))
    else:
        invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    _late(b, late, 25)
    if by_hand:
        invoice_finalize(invoice=_invoice(b, MID), now=datetime(2026, 4, 16, tzinfo=UTC))
        invoice_finalize(invoice=_invoice(a), now=datetime(2026, 4, 16, tzinfo=UTC))
    else:
        invoices_finalize_due(now=datetime(2026, 4, 20, tzinfo=UTC))
    ra, rb = _read(api_client, a), _read(api_client, b, MID)
    assert (ra["status"], rb["status"]) == ("FINALIZED", "FINALIZED")
    assert ra["total"] + rb["total"] == billed


def _postpaid(post, world, invoicer: Contract, amount: int = 100000, ending=APRIL) -> None:
    """A POSTPAID customer commit of `amount` cents from March 1 to `ending`, invoiced on
    `invoicer`."""
    body = {
        "customer_id": str(world["customer"].pk),
        "product_id": world["fixed"],
        "type": "POSTPAID",
        "priority": 1,
        "invoice_contract_id": str(invoicer.pk),
        "access_schedule": {
            "schedule_items": [
                {"amount": amount, "starting_at": _iso(MARCH), "ending_before": _iso(ending)}
            ]
        },
        "invoice_schedule": {"schedule_items": [{"timestamp": _iso(ending), "amount": amount}]},
    }
    _ok(post("/v1/contracts/customerCommits/create", body))


def test_a_postpaid_true_up_waits_for_an_earlier_draft_too(post, api_client, world):
    """The contract drawing before the invoicer in the draw order (same period, smaller id)
    gets $400 of late March usage after the invoicer's invoice was asked to finalize by hand:
    refused, then finalized with it when due. $300 + $200 + $400 = $900 of usage under a
    $1,000.00 minimum: $1,000.00 billed (it used to be $1,400.00)."""
    first, invoicer = _two_contracts(post, world)
    _postpaid(post, world, invoicer)
    _tokens(first, 200, MARCH)
    _tokens(invoicer, 300, MARCH)
    with pytest.raises(InvoiceStateError) as refused:
        invoice_finalize(invoice=_invoice(invoicer), now=datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert str(_invoice(first).pk) in refused.value.messages[0]
    _tokens_at(first, 400, datetime(2026, 3, 25, tzinfo=UTC))
    assert invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC)) == 2
    totals = [_read(api_client, c)["total"] for c in (first, invoicer)]
    assert totals == [60000, 40000]


def test_two_true_ups_drawn_by_each_other_wait_on_each_other(post, api_client, world):
    """Each contract trues up a $1,000.00 POSTPAID commit the other draws too: each waits on
    the other (neither true-up is final while the other's draw is an estimate), so by hand
    both are refused (finalizing the other along would freeze its usage before it is due);
    when due, both are finalized together. The first gets $1,200.00 of late March usage after
    the second was asked to finalize: $1,700.00 of usage under $2,000.00 of commitments,
    $2,000.00 billed (it used to be $3,200.00: the second frozen on the first's estimate)."""
    first, second = _two_contracts(post, world)
    _postpaid(post, world, first)
    _postpaid(post, world, second)
    _tokens(first, 300, MARCH)
    _tokens(second, 200, MARCH)
    for invoicer, other in ((first, second), (second, first)):
        with pytest.raises(InvoiceStateError) as refused:
            invoice_finalize(invoice=_invoice(invoicer), now=datetime(2026, 4, 3, tzinfo=UTC))
        assert str(_invoice(other).pk) in refused.value.messages[0]
    _tokens_at(first, 1200, datetime(2026, 3, 25, tzinfo=UTC))
    assert invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC)) == 2
    frozen = [_read(api_client, c) for c in (first, second)]
    assert [f["status"] for f in frozen] == ["FINALIZED", "FINALIZED"]
    assert sum(f["total"] for f in frozen) == 200000


@pytest.mark.parametrize("late", [0, 1200])
def test_two_true_ups_drawn_by_each_other_are_not_split_across_batches(
    post, api_client, world, late
):
    """The same, due in batches of one: the second true-up is not frozen alone on the first's
    estimate, the first's waiting brings the second into its batch; with $1,200.00 of late
    usage on the first, $2,000.00 billed (it used to be $3,200.00)."""
    first, second = _two_contracts(post, world)
    _postpaid(post, world, first)
    _postpaid(post, world, second)
    _tokens(first, 300, MARCH)
    _tokens(second, 200, MARCH)
    if late:
        _tokens_at(first, late, datetime(2026, 3, 25, tzinfo=UTC))
    assert invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC), batch_size=1) == 2
    frozen = [_read(api_client, c) for c in (first, second)]
    assert [f["status"] for f in frozen] == ["FINALIZED", "FINALIZED"]
    assert sum(f["total"] for f in frozen) == 200000


def test_two_true_ups_drawn_by_each_other_are_finalized_together_when_due(post, api_client, world):
    first, second = _two_contracts(post, world)
    _postpaid(post, world, first)
    _postpaid(post, world, second)
    _tokens(first, 300, MARCH)
    _tokens(second, 200, MARCH)
    assert invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC)) == 2
    assert sum(_read(api_client, c)["total"] for c in (first, second)) == 200000


_tokens_drawn = st.integers(min_value=0, max_value=1500)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    a_usage=_tokens_drawn,
    b_early=_tokens_drawn,
    b_late=_tokens_drawn,
    e_early=_tokens_drawn,
    e_late=_tokens_drawn,
    b_invoices=st.booleans(),
    by_hand=st.booleans(),
)
def test_a_postpaid_commit_bills_max_of_commitment_and_usage(
    post, api_client, world, a_usage, b_early, b_late, e_early, e_late, b_invoices, by_hand
):
    """Property: total billed over the three invoices = max(commitment, usage drawn in the
    commit's window), for any usage (B's partly arriving after the invoicer's invoice was asked
    to finalize; E's, quarterly from February so before both in the draw order and open until
    May, partly after A and B were finalized), whichever contract invoices the commit,
    finalized by hand or when due."""
    world = {**world, "customer": CustomerFactory()}  # one customer per example
    e = _contract(
        post,
        world,
        start=FEB,
        usage_statement_schedule={"frequency": "QUARTERLY", "day": "CONTRACT_START"},
    )
    a = _contract(post, world)
    b = _contract(
        post,
        world,
        start=MID,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
    )
    invoicer, other = (b, a) if b_invoices else (a, b)
    _postpaid(post, world, invoicer)
    for contract, amount, day in ((a, a_usage, 10), (b, b_early, 20), (e, e_early, 5)):
        if amount:
            _tokens_at(contract, amount, MARCH.replace(day=day))
    ask = datetime(2026, 4, 3, tzinfo=UTC)
    if by_hand:
        with contextlib.suppress(InvoiceStateError):
            invoice_finalize(invoice=_invoice(invoicer, invoicer.starting_at), now=ask)
    else:
        invoices_finalize_due(now=ask)
    if b_late:
        _tokens_at(b, b_late, MARCH.replace(day=25))
    if by_hand:
        later = datetime(2026, 4, 16, tzinfo=UTC)
        invoice_finalize(invoice=_invoice(other, other.starting_at), now=later)
        with contextlib.suppress(InvoiceStateError):  # waits for E
            invoice_finalize(invoice=_invoice(invoicer, invoicer.starting_at), now=later)
    else:
        invoices_finalize_due(now=datetime(2026, 4, 20, tzinfo=UTC))
    if e_late:
        _tokens_at(e, e_late, MARCH.replace(day=28))
    last = datetime(2026, 5, 5, tzinfo=UTC)
    if by_hand:
        invoice_finalize(invoice=_invoice(e, FEB), now=last)
        if _invoice(invoicer, invoicer.starting_at).status == Invoice.Status.DRAFT:
            invoice_finalize(invoice=_invoice(invoicer, invoicer.starting_at), now=last)
    else:
        invoices_finalize_due(now=last)
    reads = [_read(api_client, c, c.starting_at) for c in (a, b, e)]
    assert [r["status"] for r in reads] == ["FINALIZED"] * 3
    usage = (a_usage + b_early + b_late + e_early + e_late) * 100
    assert sum(r["total"] for r in reads) == max(100000, usage)


def test_a_true_up_waits_for_a_draft_of_its_batch_that_waits(post, api_client, world):
    """The first contract trues up a commit for March 1-15 the second draws (the third, with
    periods from the 15th, does not); the second trues up one for March that the third draws.
    When the first two are due, the second waits on the third's draft, so the first waits too
    (the second's draw is still an estimate): both stay drafts until the third is due, then
    the three are finalized: $2,000.00 billed for $700.00 of usage under two $1,000.00
    commitments."""
    first, second = _two_contracts(post, world)
    third = _contract(
        post,
        world,
        start=MID,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
    )
    _postpaid(post, world, first, ending=MID)
    _postpaid(post, world, second)
    for contract, day in ((first, 10), (second, 10), (third, 20)):
        _tokens_at(contract, 200, MARCH.replace(day=day))
    assert invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC)) == 0
    assert {_invoice(first).status, _invoice(second).status} == {Invoice.Status.DRAFT}
    _tokens_at(second, 100, MARCH.replace(day=20))
    assert invoices_finalize_due(now=datetime(2026, 4, 20, tzinfo=UTC)) == 3
    reads = [_read(api_client, c, c.starting_at) for c in (first, second, third)]
    assert sum(r["total"] for r in reads) == 200000


def test_a_draft_trueing_up_nothing_leaves_the_commit_to_an_open_earlier_draft(
    post, api_client, world
):
    """E (quarterly, February to May) draws before L (invoicing a $1,000.00 POSTPAID commit for
    March) and M in the draw order. M, last in the order, is finalized on April 3 while E is
    open: it does not expire the commit's remainder, E may still draw it. E gets $300.00 of
    late March usage: $300 + $200 + $400 = $900 of usage under the minimum, $1,000.00 billed
    (it used to be $1,300.00: M expired what E then drew)."""
    e = _contract(
        post,
        world,
        start=FEB,
        usage_statement_schedule={"frequency": "QUARTERLY", "day": "CONTRACT_START"},
    )
    l_, m = _two_contracts(post, world)
    _postpaid(post, world, l_)
    _tokens_at(l_, 300, MARCH.replace(day=10))
    _tokens_at(m, 200, MARCH.replace(day=10))
    _tokens_at(e, 100, MARCH.replace(day=10))
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert _invoice(m).status == Invoice.Status.FINALIZED
    assert _invoice(l_).status == Invoice.Status.DRAFT
    _tokens_at(e, 300, MARCH.replace(day=20))
    invoices_finalize_due(now=datetime(2026, 5, 5, tzinfo=UTC))
    reads = [_read(api_client, c, s) for c, s in ((l_, MARCH), (m, MARCH), (e, FEB))]
    assert [r["status"] for r in reads] == ["FINALIZED"] * 3
    assert sum(r["total"] for r in reads) == 100000
