"""Contract terms on the database side of invoicing: a prepaid commit, a credit and an override
loaded from the ORM into the draft's lines; finalization writes the ledger once; the next period
starts from what is left; drafts burn balances down in real time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import (
    AccessSegment,
    BalanceLedgerEntry,
    Commit,
    CommitInvoiceItem,
    Credit,
    Override,
)
from invoicing.models import Invoice
from invoicing.rating import rate_invoice, rating_input_from_json
from invoicing.selectors import balances_now, draft_balance_draws, invoice_view, rating_input_for
from invoicing.services import (
    contract_drafts_ensure,
    invoice_finalize,
    invoice_void,
    invoices_finalize_due,
)
from tests.invoicing.factories import ContractFactory, ProductFactory, RateFactory, ingest

pytestmark = pytest.mark.django_db

LEDGER = BalanceLedgerEntry.Type


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _world(*, price="150"):
    """A contract from 2026-01-01 with one USAGE product at `price` cents per token."""
    rate = RateFactory(price=Decimal(price), product__name="Input Tokens")
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 1, 1))
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Commit product")
    return contract, rate.product, fixed


def _tokens(contract, amount: str, when: str):
    ingest(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": when,
                "properties": {"num_tokens": amount},
            }
        ]
    )


def _draft(contract, start):
    contract_drafts_ensure(contract=contract, now=start)
    return Invoice.objects.get(contract=contract, type=Invoice.Type.USAGE, start_timestamp=start)


def _commit(contract, product, *, amount="1000", invoice_at=None, **fields):
    commit = Commit.objects.create(
        customer=contract.customer,
        contract=contract,
        product=product,
        name="Prepaid commitment",
        priority=Decimal(1),
        **fields,
    )
    segment = AccessSegment.objects.create(
        commit=commit,
        amount=Decimal(amount),
        starting_at=t(2026, 1, 1),
        ending_before=t(2027, 1, 1),
    )
    if invoice_at is not None:
        CommitInvoiceItem.objects.create(
            commit=commit, timestamp=invoice_at, amount=Decimal(amount)
        )
    return commit, segment


def _lines(view):
    return [
        (line.type, line.total, line.balance_remaining)
        for line in view.lines
        if line.type != "usage" or line.total
    ]


def test_prepaid_commit_purchase_is_on_its_scheduled_invoice_and_burns_down_the_usage_draft():
    contract, _product, fixed = _world()
    commit, segment = _commit(contract, fixed, invoice_at=t(2026, 3, 1))
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # 10 x 150 = 1500

    view = invoice_view(invoice=draft, now=t(2026, 3, 6))
    scheduled = Invoice.objects.get(contract=contract, type=Invoice.Type.SCHEDULED)
    purchase = invoice_view(invoice=scheduled, now=t(2026, 3, 6))

    assert _lines(view) == [
        ("usage", Decimal("1500"), None),
        ("applied_commit_or_credit", Decimal("-1000"), Decimal("0")),
    ]
    assert view.lines[-1].commit_segment_id == str(segment.pk)
    assert (view.subtotal, view.total) == (Decimal("1500"), Decimal("500"))
    assert scheduled.start_timestamp == scheduled.end_timestamp == t(2026, 3, 1)
    assert _lines(purchase) == [("commit_purchase", Decimal("1000"), None)]
    assert purchase.lines[0].commit_id == str(commit.pk)
    assert (purchase.subtotal, purchase.total) == (Decimal("1000"), Decimal("1000"))


def test_prepaid_commit_makes_a_purchase_line_and_burns_down_the_draft():
    contract, _product, fixed = _world()
    contract.scheduled_charges_on_usage_invoices = True
    contract.save(update_fields=["scheduled_charges_on_usage_invoices"])
    commit, segment = _commit(contract, fixed, invoice_at=t(2026, 3, 1))
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # 10 x 150 = 1500

    view = invoice_view(invoice=draft, now=t(2026, 3, 6))

    assert _lines(view) == [
        ("usage", Decimal("1500"), None),
        ("commit_purchase", Decimal("1000"), None),
        ("applied_commit_or_credit", Decimal("-1000"), Decimal("0")),
    ]
    applied = view.lines[-1]
    assert applied.applied_commit_or_credit_id == str(commit.pk)
    assert applied.applied_commit_or_credit_type == "PREPAID"
    assert applied.commit_segment_id == str(segment.pk)
    assert view.subtotal == Decimal("2500")
    assert view.total == Decimal("1500")


def test_finalization_writes_the_ledger_once_and_the_next_period_starts_from_what_is_left():
    contract, _product, fixed = _world()
    commit, segment = _commit(contract, fixed, amount="2000")
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # 1500 drawn, 500 left

    invoice_finalize(invoice=draft, now=t(2026, 4, 3))
    invoice_finalize(invoice=draft, now=t(2026, 4, 4))

    entries = list(BalanceLedgerEntry.objects.filter(commit=commit))
    assert [(e.type, e.amount, e.timestamp, e.invoice_id) for e in entries] == [
        (
            LEDGER.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
            Decimal("-1500"),
            t(2026, 4, 1),
            draft.pk,
        )
    ]
    frozen = Invoice.objects.get(pk=draft.pk)
    applied = frozen.line_items.get(type="applied_commit_or_credit")
    assert (applied.total, applied.balance_remaining) == (Decimal("-1500"), Decimal("500"))
    assert str(applied.applied_commit_or_credit_id) == str(commit.pk)
    assert str(applied.commit_segment_id) == str(segment.pk)
    assert frozen.total == Decimal("0")
    # The snapshot re-rates to the same invoice (terms included).
    assert rate_invoice(rating_input_from_json(frozen.rating_snapshot)).total == frozen.total

    april = Invoice.objects.get(contract=contract, start_timestamp=t(2026, 4, 1))
    _tokens(contract, "10", "2026-04-05T10:00:00Z")
    view = invoice_view(invoice=april, now=t(2026, 4, 6))
    assert _lines(view)[-1] == ("applied_commit_or_credit", Decimal("-500"), Decimal("0"))
    assert view.total == Decimal("1000")


def test_a_credit_expiring_in_the_period_records_its_remainder_at_expiry():
    contract, _product, fixed = _world()
    credit = Credit.objects.create(
        customer=contract.customer, contract=contract, product=fixed, name="Promo", priority=1
    )
    AccessSegment.objects.create(
        credit=credit, amount=Decimal(5000), starting_at=t(2026, 1, 1), ending_before=t(2026, 3, 16)
    )
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # drawn: 1500
    _tokens(contract, "10", "2026-03-20T10:00:00Z")  # after expiry: paid

    view = invoice_view(invoice=draft, now=t(2026, 3, 21))
    assert view.total == Decimal("1500")
    invoice_finalize(invoice=draft, now=t(2026, 4, 3))

    entries = BalanceLedgerEntry.objects.filter(credit=credit).order_by("type")
    assert [(e.type, e.amount, e.timestamp) for e in entries] == [
        (LEDGER.CREDIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-1500"), t(2026, 4, 1)),
        (LEDGER.CREDIT_EXPIRATION, Decimal("-3500"), t(2026, 3, 16)),
    ]


def test_an_overwrite_override_prices_the_draft_from_its_start():
    contract, product, _ = _world()
    Override.objects.create(
        contract=contract,
        type="OVERWRITE",
        product=product,
        starting_at=t(2026, 3, 16),
        overwrite_rate_type="FLAT",
        overwrite_price=Decimal(100),
    )
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # 10 x 150
    _tokens(contract, "10", "2026-03-20T10:00:00Z")  # 10 x 100

    view = invoice_view(invoice=draft, now=t(2026, 3, 21))

    assert [(line.starting_at, line.unit_price, line.total) for line in view.lines] == [
        (t(2026, 3, 1), Decimal(150), Decimal(1500)),
        (t(2026, 3, 16), Decimal(100), Decimal(1000)),
    ]
    assert view.total == Decimal(2500)


def test_a_multiplier_override_on_a_contract_with_a_credit_draws_the_discounted_charge():
    contract, product, fixed = _world()
    Override.objects.create(
        contract=contract,
        type="MULTIPLIER",
        product=product,
        starting_at=t(2026, 1, 1),
        multiplier=Decimal("0.5"),
    )
    credit = Credit.objects.create(
        customer=contract.customer, contract=contract, product=fixed, name="Promo", priority=1
    )
    AccessSegment.objects.create(
        credit=credit, amount=Decimal(600), starting_at=t(2026, 1, 1), ending_before=t(2027, 1, 1)
    )
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # 10 x 75 = 750, 600 from the credit

    view = invoice_view(invoice=draft, now=t(2026, 3, 6))

    assert _lines(view) == [
        ("usage", Decimal("750"), None),
        ("applied_commit_or_credit", Decimal("-600"), Decimal("0")),
    ]
    assert view.total == Decimal("150")


def test_drafts_burn_balances_down_in_real_time():
    contract, _product, fixed = _world()
    commit, segment = _commit(contract, fixed, amount="2000")
    _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")

    assert draft_balance_draws(balances=[commit], now=t(2026, 3, 6)) == {
        str(segment.pk): Decimal(1500)
    }
    assert balances_now(balances=[commit], now=t(2026, 3, 6)) == {commit.pk: Decimal(500)}
    assert balances_now(balances=[commit], now=t(2026, 3, 6), include_drafts=False) == {
        commit.pk: Decimal(2000)
    }


def test_the_invoice_api_shows_applications_and_commit_ids(api_client):
    contract, _product, fixed = _world()
    commit, _ = _commit(contract, fixed, amount="2000")
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")

    response = api_client.get(f"/v1/customers/{contract.customer_id}/invoices/{draft.pk}")

    assert response.status_code == 200
    lines = response.json()["data"]["line_items"]
    applied = [line for line in lines if line["type"] == "applied_commit_or_credit"]
    assert applied == [
        {
            **applied[0],
            "total": -1500,
            "applied_commit_or_credit": {"id": str(commit.pk), "type": "PREPAID"},
        }
    ]


def test_rating_input_carries_the_contract_terms():
    contract, product, fixed = _world()
    commit, _segment = _commit(contract, fixed, amount="2000", rate_type="COMMIT_RATE")
    contract.multiplier_override_prioritization = "EXPLICIT"
    contract.save()
    Override.objects.create(
        contract=contract,
        type="MULTIPLIER",
        product=product,
        starting_at=t(2026, 3, 10),
        ending_before=t(2026, 3, 20),
        multiplier=Decimal("0.9"),
        priority=Decimal(1),
    )
    draft = _draft(contract, t(2026, 3, 1))

    rating_input = rating_input_for(invoice=draft)

    assert [b.id for b in rating_input.balances] == [str(commit.pk)]
    assert rating_input.balances[0].rate_type == "COMMIT_RATE"
    assert rating_input.balances[0].access_schedule[0].available == Decimal(2000)
    assert [(o.type, o.multiplier, o.product_id) for o in rating_input.overrides] == [
        ("MULTIPLIER", Decimal("0.9"), str(product.pk))
    ]
    assert rating_input.multiplier_override_prioritization == "EXPLICIT"


def test_usage_is_split_at_the_term_boundaries():
    contract, product, _ = _world()
    Override.objects.create(
        contract=contract,
        type="MULTIPLIER",
        product=product,
        starting_at=t(2026, 3, 10),
        ending_before=t(2026, 3, 20),
        multiplier=Decimal("0.5"),
    )
    draft = _draft(contract, t(2026, 3, 1))
    for day in (5, 15, 25):
        _tokens(contract, "10", f"2026-03-{day:02d}T10:00:00Z")

    rating_input = rating_input_for(invoice=draft)

    assert [(u.starting_at, u.ending_before, u.quantity) for u in rating_input.usage] == [
        (t(2026, 3, 1), t(2026, 3, 10), Decimal(10)),
        (t(2026, 3, 10), t(2026, 3, 20), Decimal(10)),
        (t(2026, 3, 20), t(2026, 4, 1), Decimal(10)),
    ]
    assert rate_invoice(rating_input).total == Decimal(1500 + 750 + 1500)


def test_one_finalization_batch_with_two_periods_of_a_contract_draws_each_cent_once():
    contract, _product, fixed = _world()
    commit, _ = _commit(contract, fixed, amount="2000")
    contract_drafts_ensure(contract=contract, now=t(2026, 2, 15))
    _tokens(contract, "10", "2026-01-05T10:00:00Z")  # January: 1500 drawn
    _tokens(contract, "10", "2026-02-05T10:00:00Z")  # February: 500 left to draw

    assert invoices_finalize_due(now=t(2026, 3, 20)) == 2

    january, february = Invoice.objects.filter(contract=contract, status="FINALIZED").order_by(
        "start_timestamp"
    )
    assert (january.total, february.total) == (Decimal(0), Decimal(1000))
    deductions = BalanceLedgerEntry.objects.filter(commit=commit).order_by("timestamp")
    assert [(e.amount, e.invoice_id) for e in deductions] == [
        (Decimal(-1500), january.pk),
        (Decimal(-500), february.pk),
    ]


def test_voiding_an_invoice_gives_its_draws_back():
    contract, _product, fixed = _world()
    commit, _ = _commit(contract, fixed, amount="2000")
    draft = _draft(contract, t(2026, 3, 1))
    _tokens(contract, "10", "2026-03-05T10:00:00Z")
    invoice = invoice_finalize(invoice=draft, now=t(2026, 4, 3)).invoice
    assert balances_now(balances=[commit], now=t(2026, 4, 5), include_drafts=False) == {
        commit.pk: Decimal(500)
    }

    invoice_void(invoice=invoice, now=t(2026, 4, 5))

    assert balances_now(balances=[commit], now=t(2026, 4, 6), include_drafts=False) == {
        commit.pk: Decimal(2000)
    }
    credited = BalanceLedgerEntry.objects.get(commit=commit, type=LEDGER.PREPAID_COMMIT_CREDITED)
    assert (credited.amount, credited.invoice_id) == (Decimal(1500), invoice.pk)


def test_two_unfinalized_periods_do_not_draw_the_same_balance_twice():
    contract, _product, fixed = _world()
    commit, segment = _commit(contract, fixed, amount="2000")
    contract_drafts_ensure(contract=contract, now=t(2026, 4, 2))  # March still a draft
    _tokens(contract, "10", "2026-03-05T10:00:00Z")  # March draws 1500
    _tokens(contract, "10", "2026-04-01T10:00:00Z")  # April draws the 500 left

    assert draft_balance_draws(balances=[commit], now=t(2026, 4, 2)) == {
        str(segment.pk): Decimal(2000)
    }
    assert balances_now(balances=[commit], now=t(2026, 4, 2)) == {commit.pk: Decimal(0)}
