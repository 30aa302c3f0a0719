"""The balance ledger: what invoicing writes at finalization, manual entries, and the reads the
rating selector and the API build on."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers import selectors, services
from customers.models import BalanceLedgerEntry, Commit
from invoicing.rating import BalanceDraw, Period
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CommitInvoiceItemFactory,
    ContractFactory,
    CreditFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
INVOICE = "11111111-1111-4111-8111-111111111111"
INVOICE_2 = "22222222-2222-4222-8222-222222222222"
T = BalanceLedgerEntry.Type


def _draw(segment, *, drawn, remaining, expires=False, kind=None, available=None):
    balance = segment.commit or segment.credit
    return BalanceDraw(
        balance_id=str(balance.pk),
        balance_type=kind or balance.type,
        segment_id=str(segment.pk),
        credit_type_id=None,
        available=Decimal(available if available is not None else segment.amount),
        drawn=Decimal(drawn),
        remaining=Decimal(remaining),
        expires=expires,
    )


def test_record_draws_writes_one_deduction_per_segment():
    segment = AccessSegmentFactory(amount=Decimal("10000"))
    entries = services.balance_ledger_record_draws(
        invoice_id=INVOICE, draws=[_draw(segment, drawn="2500", remaining="7500")], now=FEB
    )
    assert [(e.type, e.amount, e.timestamp) for e in entries] == [
        (T.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-2500"), FEB)
    ]
    row = BalanceLedgerEntry.objects.get()
    assert row.commit_id == segment.commit_id and row.segment_id == segment.pk
    assert str(row.invoice_id) == INVOICE


def test_finalizing_twice_does_not_write_twice():
    segment = AccessSegmentFactory(amount=Decimal("10000"))
    draws = [_draw(segment, drawn="2500", remaining="7500")]
    services.balance_ledger_record_draws(invoice_id=INVOICE, draws=draws, now=FEB)
    again = services.balance_ledger_record_draws(invoice_id=INVOICE, draws=draws, now=FEB)
    assert again == []
    assert BalanceLedgerEntry.objects.count() == 1
    assert selectors.segment_available(segments=[segment])[segment.pk] == Decimal("7500")


def test_record_draws_accepts_plain_dicts_and_skips_zero_draws():
    segment = AccessSegmentFactory(amount=Decimal("100"))
    draw = {
        "balance_id": str(segment.commit_id),
        "balance_type": "PREPAID",
        "segment_id": str(segment.pk),
        "drawn": "0",
        "remaining": "100",
        "expires": False,
    }
    assert services.balance_ledger_record_draws(invoice_id=INVOICE, draws=[draw], now=FEB) == []


def test_expiring_segment_records_what_is_left_at_its_end():
    credit = CreditFactory()
    segment = AccessSegmentFactory(
        commit=None, credit=credit, amount=Decimal("500"), ending_before=FEB
    )
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[_draw(segment, drawn="120.5", remaining="379.5", expires=True)],
        now=FEB,
    )
    rows = list(
        BalanceLedgerEntry.objects.order_by("type").values_list("type", "amount", "timestamp")
    )
    assert rows == [
        (T.CREDIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-120.5"), FEB),
        (T.CREDIT_EXPIRATION, Decimal("-379.5"), FEB),
    ]
    assert selectors.segment_available(segments=[segment])[segment.pk] == Decimal("0")


def test_postpaid_end_is_a_trueup():
    commit = CommitFactory(type=Commit.Type.POSTPAID)
    segment = AccessSegmentFactory(commit=commit, amount=Decimal("1000"), ending_before=FEB)
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[_draw(segment, drawn="400", remaining="600", expires=True)],
        now=FEB,
    )
    assert set(BalanceLedgerEntry.objects.values_list("type", "amount")) == {
        (T.POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-400")),
        (T.POSTPAID_COMMIT_TRUEUP, Decimal("-600")),
    }


def test_record_draws_refuses_a_segment_of_another_balance():
    segment = AccessSegmentFactory()
    other = CommitFactory()
    draw = _draw(segment, drawn="1", remaining="0")
    draw = {**draw.__dict__, "balance_id": str(other.pk)}
    with pytest.raises(ValidationError):
        services.balance_ledger_record_draws(invoice_id=INVOICE, draws=[draw], now=FEB)


def test_void_gives_back_what_the_invoice_drew():
    segment = AccessSegmentFactory(amount=Decimal("10000"))
    services.balance_ledger_record_draws(
        invoice_id=INVOICE, draws=[_draw(segment, drawn="2500", remaining="7500")], now=FEB
    )
    services.balance_ledger_invoice_voided(invoice_id=INVOICE, now=MAR)
    services.balance_ledger_invoice_voided(invoice_id=INVOICE, now=MAR)
    assert set(BalanceLedgerEntry.objects.values_list("type", "amount")) == {
        (T.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-2500")),
        (T.PREPAID_COMMIT_CREDITED, Decimal("2500")),
    }
    assert selectors.segment_available(segments=[segment])[segment.pk] == Decimal("10000")


def test_manual_entry_adds_and_draws_down():
    segment = AccessSegmentFactory(amount=Decimal("10000"), starting_at=JAN)
    commit = segment.commit
    entry = services.balance_manual_entry_add(
        balance_id=commit.pk,
        segment_id=segment.pk,
        amount=Decimal("-1234.5"),
        reason="Goodwill correction",
        customer=commit.customer,
        now=FEB,
    )
    assert (entry.type, entry.amount, entry.timestamp) == (
        T.PREPAID_COMMIT_MANUAL,
        Decimal("-1234.5"),
        JAN,
    )
    assert entry.contract_id == commit.contract_id
    assert selectors.segment_available(segments=[segment])[segment.pk] == Decimal("8765.5")


def test_manual_entry_of_a_credit_and_its_errors():
    credit = CreditFactory()
    segment = AccessSegmentFactory(commit=None, credit=credit, amount=Decimal("50"))
    entry = services.balance_manual_entry_add(
        balance_id=credit.pk,
        segment_id=segment.pk,
        amount=Decimal("25"),
        reason="Top-up",
        customer=credit.customer,
        now=FEB,
        uniqueness_key="k1",
    )
    assert entry.type == T.CREDIT_MANUAL
    with pytest.raises(services.BalanceKeyInUse):
        services.balance_manual_entry_add(
            balance_id=credit.pk,
            segment_id=segment.pk,
            amount=Decimal("25"),
            reason="Top-up",
            customer=credit.customer,
            now=FEB,
            uniqueness_key="k1",
        )
    other = CommitFactory()
    with pytest.raises(ValidationError) as exc:
        services.balance_manual_entry_add(
            balance_id=credit.pk,
            segment_id=segment.pk,
            amount=Decimal("1"),
            reason="x",
            customer=other.customer,
            now=FEB,
        )
    assert "id" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.balance_manual_entry_add(
            balance_id=credit.pk,
            segment_id=AccessSegmentFactory().pk,
            amount=Decimal("1"),
            reason="x",
            customer=credit.customer,
            now=FEB,
        )
    assert "segment_id" in exc.value.message_dict


def test_segment_available_counts_every_entry_whatever_its_date_in_one_query(
    django_assert_num_queries,
):
    first = AccessSegmentFactory(amount=Decimal("10000"))
    second = AccessSegmentFactory(amount=Decimal("300"))
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[_draw(first, drawn="1000", remaining="9000")],
        now=FEB,
        timestamp=FEB,
    )
    services.balance_ledger_record_draws(
        invoice_id=INVOICE_2,
        draws=[_draw(first, drawn="2000", remaining="7000", available="9000")],
        now=MAR,
        timestamp=MAR,
    )
    services.balance_manual_entry_add(
        balance_id=second.commit_id,
        segment_id=second.pk,
        amount=Decimal("0.25"),
        reason="Rounding",
        customer=second.commit.customer,
        now=FEB,
        timestamp=datetime(2026, 6, 1, tzinfo=UTC),
    )
    with django_assert_num_queries(1):
        held = selectors.segment_available(segments=[first, second])
    # The March deduction counts for a February invoice too: finalized, it never changes.
    assert held == {first.pk: Decimal("7000"), second.pk: Decimal("300.25")}


def test_balances_for_rating_shapes_contract_and_customer_level_terms():
    contract = ContractFactory()
    other_contract = ContractFactory(customer=contract.customer)
    own = CommitFactory(contract=contract, priority=Decimal("2"), rate_type="COMMIT_RATE")
    own_segment = AccessSegmentFactory(commit=own, amount=Decimal("10000"))
    CommitInvoiceItemFactory(commit=own, timestamp=JAN, amount=Decimal("10000"))
    everywhere = CreditFactory(contract=None, customer=contract.customer)
    AccessSegmentFactory(commit=None, credit=everywhere, amount=Decimal("500"))
    elsewhere = CreditFactory(contract=None, customer=contract.customer)
    elsewhere.applicable_contracts.set([other_contract])
    AccessSegmentFactory(commit=None, credit=elsewhere)
    archived = CreditFactory(contract=contract, archived_at=JAN)
    AccessSegmentFactory(commit=None, credit=archived)
    later = CreditFactory(contract=contract)
    AccessSegmentFactory(
        commit=None,
        credit=later,
        starting_at=datetime(2026, 5, 1, tzinfo=UTC),
        ending_before=datetime(2026, 6, 1, tzinfo=UTC),
    )
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[_draw(own_segment, drawn="1500", remaining="8500")],
        now=FEB,
        timestamp=FEB,
    )

    result = selectors.balances_for_rating(contract=contract, period=Period(FEB, MAR))

    assert [b["id"] for b in result] == [str(own.pk), str(everywhere.pk)]
    first, second = result
    assert first["type"] == "PREPAID" and first["priority"] == Decimal("2")
    assert first["rate_type"] == "COMMIT_RATE" and first["is_customer_level"] is False
    assert first["invoice_schedule"] == (
        {
            "id": str(own.invoice_schedule.get().pk),
            "timestamp": JAN,
            "unit_price": Decimal("10000"),
            "quantity": Decimal(1),
        },
    )
    assert first["access_schedule"][0]["available"] == Decimal("8500")
    assert first["access_schedule"][0]["amount"] == Decimal("10000")
    assert second["type"] == "CREDIT" and second["is_customer_level"] is True
    assert second["access_schedule"][0]["available"] == Decimal("500")
    # Every finalized draw counts, whatever its date: a January invoice rated now (a draft
    # regenerated after the February one was finalized) finds what February drew gone.
    again = selectors.balances_for_rating(contract=contract, period=(JAN, FEB))
    assert again[0]["access_schedule"][0]["available"] == Decimal("8500")


def test_balances_for_rating_gives_postpaid_drawn_before():
    contract = ContractFactory()
    commit = CommitFactory(contract=contract, type=Commit.Type.POSTPAID)
    segment = AccessSegmentFactory(commit=commit, amount=Decimal("1000"))
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[_draw(segment, drawn="400", remaining="600")],
        now=FEB,
        timestamp=FEB,
    )
    (balance,) = selectors.balances_for_rating(contract=contract, period=(FEB, MAR))
    assert balance["drawn_before"] == Decimal("400")
    assert balance["access_schedule"][0]["available"] == Decimal("600")


def test_ledger_lists_segment_start_then_entries():
    segment = AccessSegmentFactory(amount=Decimal("10000"), starting_at=JAN)
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[_draw(segment, drawn="2500", remaining="7500")],
        now=FEB,
        timestamp=FEB,
    )
    rows = selectors.balance_ledger(balance=segment.commit)
    assert [(r["type"], r["amount"], r["timestamp"]) for r in rows] == [
        (T.PREPAID_COMMIT_SEGMENT_START, Decimal("10000"), JAN),
        (T.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-2500"), FEB),
    ]


def test_balances_now_counts_active_segments_only_and_never_goes_negative():
    commit = CommitFactory()
    AccessSegmentFactory(commit=commit, amount=Decimal("100"), starting_at=JAN, ending_before=FEB)
    active = AccessSegmentFactory(
        commit=commit, amount=Decimal("200"), starting_at=FEB, ending_before=MAR
    )
    when = datetime(2026, 2, 15, tzinfo=UTC)
    assert selectors.balances_now(balances=[commit], now=when) == {commit.pk: Decimal("200")}
    services.balance_manual_entry_add(
        balance_id=commit.pk,
        segment_id=active.pk,
        amount=Decimal("-500"),
        reason="Clawback",
        customer=commit.customer,
        now=when,
    )
    assert selectors.balances_now(balances=[commit], now=when) == {commit.pk: Decimal("0")}


def test_balances_now_subtracts_the_draft_draws_it_is_given():
    commit = CommitFactory()
    segment = AccessSegmentFactory(commit=commit, amount=Decimal("200"))
    when = datetime(2026, 2, 15, tzinfo=UTC)
    assert selectors.balances_now(
        balances=[commit], now=when, draft_draws={segment.pk: Decimal("30.25")}
    ) == {commit.pk: Decimal("169.75")}
    assert selectors.balances_now(
        balances=[commit], now=when, draft_draws={str(segment.pk): Decimal("30.25")}
    ) == {commit.pk: Decimal("169.75")}
    assert selectors.balances_now(balances=[commit], now=when) == {commit.pk: Decimal("200")}


def test_invoicings_balances_now_subtracts_live_draft_draws(monkeypatch):
    import invoicing.selectors.balances

    commit = CommitFactory()
    segment = AccessSegmentFactory(commit=commit, amount=Decimal("200"))
    calls = []

    def draft_balance_draws(*, balances, now, rated=None):
        calls.append((list(balances), now))
        return {segment.pk: Decimal("30.25")}

    monkeypatch.setattr(invoicing.selectors.balances, "draft_balance_draws", draft_balance_draws)
    when = datetime(2026, 2, 15, tzinfo=UTC)
    held = invoicing.selectors.balances_now(balances=[commit], now=when)
    assert held == {commit.pk: Decimal("169.75")}
    assert calls == [([commit], when)]
    assert invoicing.selectors.balances_now(balances=[commit], now=when, include_drafts=False) == {
        commit.pk: Decimal("200")
    }
