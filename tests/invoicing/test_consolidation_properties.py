"""Properties of consolidated invoices: whatever the children's usage and the parent's shared
commit, the consolidated invoice's total is exactly the sum of its constituents' totals (no
re-rounding, nothing lost or added), its lines are theirs in order, and the draft shows what
finalization freezes."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import InvoiceView, consolidated_copy, invoice_view, lines_in_total
from invoicing.services import contract_drafts_ensure, invoices_finalize_due
from tests.customers.factories import AccessSegmentFactory, CommitFactory
from tests.invoicing.factories import ContractFactory, ProductFactory, RateFactory, ingest

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=12, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(amounts, max_size=6), max_size=5), st.lists(amounts, max_size=5))
def test_a_consolidated_copy_sums_its_constituents_exactly(line_totals, subtotals):
    """Pure: the copy of any constituents has their lines, in order, and the exact sums."""
    head = Invoice(type="USAGE_CONSOLIDATED")
    shown = []
    for index, totals in enumerate(line_totals):
        member = Invoice()
        lines = [InvoiceLineItem(invoice=member, total=total, name="x") for total in totals]
        subtotal = subtotals[index] if index < len(subtotals) else Decimal(0)
        shown.append(InvoiceView(member, lines, subtotal, sum(totals, Decimal(0))))
    copy = consolidated_copy(head, shown)
    assert copy.total == sum((view.total for view in shown), Decimal(0))
    assert copy.subtotal == sum((view.subtotal for view in shown), Decimal(0))
    assert [line.total for line in copy.lines] == [t for totals in line_totals for t in totals]
    assert [line.origin_invoice_id for line in copy.lines] == [
        view.invoice.pk for view in shown for _ in view.lines
    ]
    assert [line.position for line in copy.lines] == list(range(len(copy.lines)))
    assert copy.constituents == tuple(view.invoice for view in shown)


@pytest.mark.django_db
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    usage=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=3),
    shared_cents=st.one_of(st.none(), st.integers(min_value=1, max_value=500_000)),
    price=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999.999"), places=3),
)
def test_the_consolidated_total_is_the_sum_of_its_constituents(
    django_db_blocker, usage, shared_cents, price
):
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        rate = RateFactory(price=price, product__name="Tokens")
        rate.product.billable_metric.group_keys = []
        rate.product.billable_metric.save()
        parent = ContractFactory(rate_card=rate.rate_card, starting_at=MARCH)
        if shared_cents is not None:
            commit = CommitFactory(
                contract=parent,
                customer=parent.customer,
                product=ProductFactory(type="FIXED", billable_metric=None),
                child_access={"type": "ALL"},
            )
            AccessSegmentFactory(commit=commit, amount=Decimal(shared_cents), starting_at=MARCH)
        children = [
            ContractFactory(
                rate_card=rate.rate_card,
                starting_at=MARCH,
                parent_contract=parent,
                hierarchy_payer="PARENT",
                hierarchy_usage_statement_behavior="CONSOLIDATE",
            )
            for _ in usage
        ]
        for contract in (parent, *children):
            contract_drafts_ensure(contract=contract, now=datetime(2026, 3, 20, tzinfo=UTC))
        events = [
            {
                "transaction_id": str(child.pk),
                "customer_id": str(child.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-10T00:00:00Z",
                "properties": {"num_tokens": str(tokens)},
            }
            for child, tokens in zip(children, usage, strict=True)
            if tokens
        ]
        if events:
            ingest(events, now=datetime(2026, 3, 20, tzinfo=UTC))
        head = Invoice.objects.get(contract=parent, type="USAGE_CONSOLIDATED")
        draft = invoice_view(invoice=head, now=datetime(2026, 3, 20, tzinfo=UTC))
        invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
        head.refresh_from_db()
        members = list(head.constituents.all())
        assert head.status == "FINALIZED" and {m.status for m in members} == {"FINALIZED"}
        assert len(members) == len(children)
        assert head.total == sum((m.total for m in members), Decimal(0)) == draft.total
        assert head.subtotal == sum((m.subtotal for m in members), Decimal(0))
        billed = sum((line.total for line in lines_in_total(invoice_ids=[head.pk])), Decimal(0))
        assert billed == head.total
        transaction.set_rollback(True)
