"""Rollover balances on the invoices of the renewed contract (database + rating): drawn first,
never bought again, a postpaid one trued up once; what the earlier contract's draft drew before
the renewal does not roll over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers import services
from customers.models import AccessSegment, Commit, CommitInvoiceItem, Credit
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure
from tests.invoicing.factories import ContractFactory, ProductFactory, RateFactory, ingest

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


RENEWAL = t(2026, 3, 1)
AFTER = t(2026, 3, 1, 1)


def _world():
    """A contract from 2026-01-01 (monthly) with one USAGE product at 150 cents per token."""
    rate = RateFactory(price=Decimal("150"), product__name="Input Tokens")
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 1, 1))
    contract.scheduled_charges_on_usage_invoices = True  # a purchase would show on the draft
    contract.save(update_fields=["scheduled_charges_on_usage_invoices"])
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Commitment")
    return contract, fixed


def _tokens(contract, amount: str, when: str) -> None:
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


def _balance(model, contract, product, *, amount, end, **fields):
    term = model.objects.create(
        customer=contract.customer, contract=contract, product=product, **fields
    )
    owner = "commit" if model is Commit else "credit"
    AccessSegment.objects.create(
        **{owner: term}, amount=Decimal(amount), starting_at=t(2026, 1, 1), ending_before=end
    )
    return term


def _view(contract, start, now):
    contract_drafts_ensure(contract=contract, now=now)
    draft = Invoice.objects.get(contract=contract, type=Invoice.Type.USAGE, start_timestamp=start)
    return invoice_view(invoice=draft, now=now)


def _lines(view):
    return [
        (line.type, line.total, line.applied_commit_or_credit_id)
        for line in view.lines
        if line.type != "usage" or line.total
    ]


def _renew(old, *, ending_before, credits=()):
    return services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=RENEWAL,
        ending_before=ending_before,
        now=AFTER,
        scheduled_charges_on_usage_invoices=True,
        credits=credits,
        transition=services.TransitionSpec(from_contract_id=old.pk),
    )


def test_the_rollover_commit_is_drawn_before_a_higher_priority_credit_and_never_bought():
    old, fixed = _world()
    commit = _balance(
        Commit,
        old,
        fixed,
        amount="3000",
        end=t(2027, 1, 1),
        priority=Decimal(5),
        rollover_fraction=Decimal(1),
        name="Annual commit",
    )
    CommitInvoiceItem.objects.create(commit=commit, timestamp=t(2026, 1, 1), amount=Decimal(3000))
    contract_drafts_ensure(contract=old, now=t(2026, 2, 1))
    _tokens(old, "10", "2026-02-10T10:00:00Z")  # 1500 drawn by February's (live) draft

    new = _renew(
        old,
        ending_before=t(2026, 5, 1),
        credits=[
            services.CreditSpec(
                product=fixed,
                priority=Decimal(0),
                name="Promo credit",
                access_schedule=[
                    services.SegmentSpec(
                        amount=Decimal(500), starting_at=RENEWAL, ending_before=t(2026, 5, 1)
                    )
                ],
            )
        ],
    )
    rolled = Commit.objects.get(contract=new)
    credit = Credit.objects.get(contract=new)
    assert rolled.access_schedule.get().amount == Decimal("1500")  # 3000 - February's 1500

    _tokens(new, "20", "2026-03-05T10:00:00Z")  # 3000
    march = _view(new, RENEWAL, t(2026, 3, 6))
    assert _lines(march) == [
        ("usage", Decimal("3000"), None),
        ("applied_commit_or_credit", Decimal("-1500"), str(rolled.pk)),
        ("applied_commit_or_credit", Decimal("-500"), str(credit.pk)),
    ]
    assert (march.subtotal, march.total) == (Decimal("3000"), Decimal("1000"))

    # The earlier contract's February draft still draws what it drew before the renewal.
    february = _view(old, t(2026, 2, 1), t(2026, 3, 6))
    assert _lines(february) == [
        ("usage", Decimal("1500"), None),
        ("applied_commit_or_credit", Decimal("-1500"), str(commit.pk)),
    ]
    assert not Invoice.objects.filter(contract=new).exclude(type=Invoice.Type.USAGE).exists()


def test_a_postpaid_rollover_commit_is_trued_up_once_on_the_renewed_contract():
    old, fixed = _world()
    commit = _balance(
        Commit,
        old,
        fixed,
        amount="5000",
        end=t(2026, 6, 1),
        type=Commit.Type.POSTPAID,
        rollover_fraction=Decimal(1),
        name="Postpaid commit",
    )
    contract_drafts_ensure(contract=old, now=t(2026, 2, 1))
    _tokens(old, "10", "2026-02-10T10:00:00Z")  # 1500, still paid: postpaid

    new = _renew(old, ending_before=t(2026, 5, 1))
    rolled = Commit.objects.get(contract=new)
    assert rolled.type == Commit.Type.POSTPAID
    assert rolled.access_schedule.get().amount == Decimal("3500")

    true_ups = []
    periods = [(old, t(2026, 1, 1)), (old, t(2026, 2, 1)), (new, RENEWAL), (new, t(2026, 4, 1))]
    for contract, start in periods:
        view = _view(contract, start, t(2026, 4, 15))
        true_ups += [
            (str(contract.pk), line.commit_id, line.total)
            for line in view.lines
            if line.type == "postpaid_trueup"
        ]
    assert true_ups == [(str(new.pk), str(rolled.pk), Decimal("3500"))]
    assert commit.access_schedule.get().ending_before == t(2026, 6, 1)


def test_a_transition_mid_period_cuts_the_earlier_contracts_draft():
    old, _fixed = _world()
    contract_drafts_ensure(contract=old, now=t(2026, 3, 10))
    _tokens(old, "10", "2026-03-05T10:00:00Z")  # 1500, before the new contract
    _tokens(old, "20", "2026-03-20T10:00:00Z")  # 3000, after: billed by the new contract only
    new = services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=t(2026, 3, 15),
        now=t(2026, 3, 16),
        transition=services.TransitionSpec(from_contract_id=old.pk, type="SUPERSEDE"),
    )

    drafts = Invoice.objects.filter(contract=old, type=Invoice.Type.USAGE).order_by(
        "start_timestamp"
    )
    assert [(d.start_timestamp, d.end_timestamp) for d in drafts] == [
        (t(2026, 1, 1), t(2026, 2, 1)),
        (t(2026, 2, 1), t(2026, 3, 1)),
        (t(2026, 3, 1), t(2026, 3, 15)),
    ]
    assert _view(old, t(2026, 3, 1), t(2026, 3, 21)).total == Decimal("1500")
    assert _view(new, t(2026, 3, 15), t(2026, 3, 21)).total == Decimal("3000")


def test_a_regenerated_draft_spanning_the_new_end_is_kept_and_cut():
    """Fitting keeps the regenerated draft's row (and its link to the void invoice), cut at the
    new end like a fresh draft; the draft after the end goes; the void invoice stays."""
    from invoicing.services import invoice_finalize, invoice_regenerate, invoice_void

    old, _fixed = _world()
    contract_drafts_ensure(contract=old, now=t(2026, 2, 10))
    january = Invoice.objects.get(contract=old, start_timestamp=t(2026, 1, 1))
    invoice_finalize(invoice=january, now=t(2026, 2, 10))
    invoice_void(invoice=Invoice.objects.get(pk=january.pk), now=t(2026, 2, 10))
    regenerated = invoice_regenerate(invoice=Invoice.objects.get(pk=january.pk), now=t(2026, 2, 10))
    _tokens(old, "10", "2026-01-10T10:00:00Z")  # 1500, before the new contract
    _tokens(old, "20", "2026-01-20T10:00:00Z")  # after: not the earlier contract's any more

    services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=t(2026, 1, 15),
        now=t(2026, 2, 16),
        transition=services.TransitionSpec(from_contract_id=old.pk, type="SUPERSEDE"),
    )

    usage = Invoice.objects.filter(contract=old, type=Invoice.Type.USAGE).order_by(
        "start_timestamp", "created_at"
    )
    assert [(d.pk, d.start_timestamp, d.end_timestamp, d.status) for d in usage] == [
        (january.pk, t(2026, 1, 1), t(2026, 2, 1), Invoice.Status.VOID),
        (regenerated.pk, t(2026, 1, 1), t(2026, 1, 15), Invoice.Status.DRAFT),
    ]
    assert Invoice.objects.get(pk=regenerated.pk).regenerated_from_id == january.pk
    draft = Invoice.objects.get(pk=regenerated.pk)
    assert invoice_view(invoice=draft, now=t(2026, 2, 16)).total == Decimal("1500")


def test_a_scheduled_draft_after_the_new_end_does_not_count_as_a_draft_to_cut():
    """A SCHEDULED draft dated after the earlier contract's new end is kept on purpose (the
    purchase is still due): only usage drafts running past the end are fitted, so a regenerated
    draft does not refuse a transition that cuts no usage draft."""
    from invoicing.services import invoice_finalize, invoice_regenerate, invoice_void

    old, fixed = _world()
    old.scheduled_charges_on_usage_invoices = False
    old.save(update_fields=["scheduled_charges_on_usage_invoices"])
    commit = _balance(
        Commit, old, fixed, amount="3000", end=t(2027, 1, 1), type=Commit.Type.PREPAID
    )
    CommitInvoiceItem.objects.create(commit=commit, timestamp=t(2026, 4, 1), amount=Decimal(3000))
    contract_drafts_ensure(contract=old, now=t(2026, 2, 10))
    january = Invoice.objects.get(
        contract=old, type=Invoice.Type.USAGE, start_timestamp=t(2026, 1, 1)
    )
    invoice_finalize(invoice=january, now=t(2026, 2, 10))
    invoice_void(invoice=Invoice.objects.get(pk=january.pk), now=t(2026, 2, 10))
    invoice_regenerate(invoice=Invoice.objects.get(pk=january.pk), now=t(2026, 2, 10))
    april = Invoice.objects.get(contract=old, type=Invoice.Type.SCHEDULED)

    services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=t(2026, 3, 1),
        now=t(2026, 2, 16),
        transition=services.TransitionSpec(from_contract_id=old.pk, type="SUPERSEDE"),
    )

    scheduled = Invoice.objects.get(contract=old, type=Invoice.Type.SCHEDULED)
    assert (scheduled.pk, scheduled.status, scheduled.start_timestamp) == (
        april.pk,
        Invoice.Status.DRAFT,
        t(2026, 4, 1),
    )
    usage = Invoice.objects.filter(contract=old, type=Invoice.Type.USAGE).order_by(
        "start_timestamp", "created_at"
    )
    assert [(d.start_timestamp, d.end_timestamp, d.status) for d in usage] == [
        (t(2026, 1, 1), t(2026, 2, 1), Invoice.Status.VOID),
        (t(2026, 1, 1), t(2026, 2, 1), Invoice.Status.DRAFT),
        (t(2026, 2, 1), t(2026, 3, 1), Invoice.Status.DRAFT),
    ]
