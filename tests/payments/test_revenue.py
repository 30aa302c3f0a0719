import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import AccessSegment, BalanceLedgerEntry, Commit, CommitInvoiceItem
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_void, invoices_finalize_due
from payments.revenue import allocate, month_bounds, revenue_schedule
from tests.invoicing.factories import (
    ContractFactory,
    InvoiceFactory,
    InvoiceLineItemFactory,
    ProductFactory,
    RateFactory,
    ingest,
)

MARCH, APRIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


@given(
    total=st.integers(min_value=-(10**9), max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=40),
)
def test_allocation_adds_up_exactly_and_each_part_is_within_a_cent(total, weights):
    parts = allocate(Decimal(total), [Decimal(w) for w in weights], 0)
    assert sum(parts) == Decimal(total)
    whole = sum(weights) or len(weights)
    for part, weight in zip(parts, weights if sum(weights) else [1] * len(weights), strict=True):
        assert abs(part - Decimal(total) * weight / whole) < 1


def test_allocation_in_a_two_decimal_unit():
    assert allocate(Decimal("10.00"), [Decimal(1)] * 3, 2) == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]


def _line(invoice, kind, total, **fields):
    return InvoiceLineItemFactory(invoice=invoice, type=kind, total=Decimal(total), **fields)


def _by_category(rows):
    totals = defaultdict(Decimal)
    for row in rows:
        totals[row.category] += row.amount
    return dict(totals)


@pytest.mark.django_db
def test_usage_is_recognized_on_the_days_it_was_used():
    product = ProductFactory()
    contract = ContractFactory()
    ingest(
        [
            {
                "transaction_id": f"t{n}",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": stamp,
                "properties": {"num_tokens": tokens, "model_name": "m"},
            }
            for n, (stamp, tokens) in enumerate(
                [
                    ("2026-03-03T10:00:00Z", 100),
                    ("2026-03-03T11:00:00Z", 100),
                    ("2026-03-20T09:00:00Z", 100),
                ]
            )
        ],
        now=datetime(2026, 3, 21, tzinfo=UTC),
    )
    invoice = InvoiceFactory(
        contract=contract, status="FINALIZED", number=7, issued_at=APRIL, total=Decimal("1000")
    )
    _line(invoice, "usage", "1000", product=product, starting_at=MARCH, ending_before=APRIL)
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    assert [(r.day, r.category, r.amount) for r in rows] == [
        (date(2026, 3, 3), "usage", Decimal("667")),
        (date(2026, 3, 20), "usage", Decimal("333")),
    ]


@pytest.mark.django_db
def test_subscriptions_are_ratable_and_credits_are_contra_revenue_on_the_usage_days():
    contract = ContractFactory()
    invoice = InvoiceFactory(
        contract=contract, status="FINALIZED", number=8, issued_at=APRIL, total=Decimal("3000")
    )
    _line(invoice, "subscription", "3100", starting_at=MARCH, ending_before=APRIL)
    _line(
        invoice,
        "applied_commit_or_credit",
        "-100",
        applied_commit_or_credit_type="CREDIT",
        starting_at=MARCH,
        ending_before=APRIL,
    )
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    subscription = [r.amount for r in rows if r.category == "subscription"]
    assert subscription == [Decimal("100")] * 31
    assert _by_category(rows) == {
        "subscription": Decimal("3100"),
        "contra_revenue": Decimal("-100"),
    }


@pytest.mark.django_db
def test_a_commit_purchase_is_deferred_revenue_drawn_down_by_usage():
    contract = ContractFactory()
    purchase = InvoiceFactory(
        contract=contract,
        type="SCHEDULED",
        start_timestamp=datetime(2026, 3, 5, tzinfo=UTC),
        end_timestamp=datetime(2026, 3, 5, tzinfo=UTC),
        status="FINALIZED",
        number=9,
        issued_at=datetime(2026, 3, 5, tzinfo=UTC),
        total=Decimal("5000"),
    )
    _line(purchase, "commit_purchase", "5000", starting_at=None, ending_before=None)
    usage = InvoiceFactory(
        contract=contract, status="FINALIZED", number=10, issued_at=APRIL, total=Decimal("200")
    )
    _line(usage, "usage", "1200", starting_at=MARCH, ending_before=APRIL)
    _line(
        usage,
        "applied_commit_or_credit",
        "-1000",
        applied_commit_or_credit_type="PREPAID",
        starting_at=MARCH,
        ending_before=APRIL,
    )
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    assert _by_category(rows) == {
        "deferred_revenue": Decimal("5000"),
        "usage": Decimal("1200"),
        "deferred_revenue_drawdown": Decimal("-1000"),
    }
    assert [r.day for r in rows if r.category == "deferred_revenue"] == [date(2026, 3, 5)]


AMOUNTS = st.integers(min_value=-50_000, max_value=500_000)
KINDS = st.sampled_from(["usage", "subscription", "scheduled", "applied_commit_or_credit"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    invoices=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=200),
            st.integers(min_value=1, max_value=90),
            st.lists(st.tuples(KINDS, AMOUNTS), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=5,
    )
)
@pytest.mark.django_db
def test_the_schedule_adds_up_to_the_invoices_totals_to_the_cent(invoices):
    Invoice.objects.all().delete()
    made = []
    for offset, length, lines in invoices:
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=offset)
        end = start + timedelta(days=length)
        invoice = InvoiceFactory(
            contract=ContractFactory(starting_at=datetime(2025, 1, 1, tzinfo=UTC)),
            start_timestamp=start,
            end_timestamp=end,
            status="FINALIZED",
            number=len(made) + 1,
            issued_at=end,
            total=sum(Decimal(amount) for _, amount in lines),
        )
        for kind, amount in lines:
            _line(
                invoice,
                kind,
                amount,
                applied_commit_or_credit_type="CREDIT" if kind.startswith("applied") else "",
                starting_at=start,
                ending_before=end,
            )
        made.append(invoice)
    rows = []
    for month in [f"2026-{n:02d}" for n in range(1, 13)] + ["2027-01", "2027-02"]:
        start, end = month_bounds(month)
        rows += revenue_schedule(starting_at=start, ending_before=end)
    assert sum(row.amount for row in rows) == sum(invoice.total for invoice in made)
    per_invoice = defaultdict(Decimal)
    for row in rows:
        per_invoice[row.invoice_id] += row.amount
    assert {str(i.pk): i.total for i in made if i.total} == {
        k: v for k, v in per_invoice.items() if v
    }


@pytest.mark.django_db
def test_void_and_draft_invoices_are_left_out():
    contract = ContractFactory()
    for status in ("DRAFT", "VOID"):
        invoice = InvoiceFactory(
            contract=contract,
            status=status,
            number=None if status == "DRAFT" else 11,
            issued_at=None if status == "DRAFT" else APRIL,
        )
        _line(invoice, "subscription", "3100", starting_at=MARCH, ending_before=APRIL)
    assert revenue_schedule(starting_at=MARCH, ending_before=APRIL) == []


@pytest.mark.django_db
def test_the_command_writes_csv():
    contract = ContractFactory(customer__name="Acme")
    invoice = InvoiceFactory(
        contract=contract, status="FINALIZED", number=12, issued_at=APRIL, total=Decimal("3100")
    )
    line = _line(invoice, "subscription", "3100", starting_at=MARCH, ending_before=APRIL)
    out = io.StringIO()
    call_command("revenue_schedule", "--month", "2026-03", "--format", "csv", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "date,category,amount,pricing_unit,customer_id,customer_name,contract_id,invoice_id,"
        "invoice_number,line_id,line_name,line_type,product_id"
    )
    assert len(lines) == 32
    assert lines[1] == (
        f"2026-03-01,subscription,100,USD (cents),{contract.customer_id},Acme,{contract.pk},"
        f"{invoice.pk},12,{line.pk},Input Tokens,subscription,"
    )


def test_the_command_refuses_a_bad_month():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--month: '2026-13' is not a month as YYYY-MM"):
        call_command("revenue_schedule", "--month", "2026-13")


# --- Breakage: an unused prepaid commit balance that expires -------------------------------------

DEFERRED = ("deferred_revenue", "deferred_revenue_drawdown", "deferred_revenue_expiration")


def _t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _commit_world(*, paid="5000", granted="5000"):
    """A contract at 150 cents a token with a prepaid commit usable from March 1 to 15,
    bought on March 1 for `paid` (none: given for free); 10 tokens on March 5 (1500, drawn) and
    10 on March 20 (after the expiry, invoiced). Every invoice of March finalized."""
    rate = RateFactory(price=Decimal("150"), product__name="Input Tokens")
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=_t(2026, 1, 1))
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Commit product")
    commit = Commit.objects.create(
        customer=contract.customer, contract=contract, product=fixed, name="Prepaid 2026"
    )
    AccessSegment.objects.create(
        commit=commit, amount=Decimal(granted), starting_at=MARCH, ending_before=_t(2026, 3, 16)
    )
    if paid is not None:
        CommitInvoiceItem.objects.create(commit=commit, timestamp=MARCH, amount=Decimal(paid))
    contract_drafts_ensure(contract=contract, now=MARCH)
    for n, day in enumerate((5, 20)):
        ingest(
            [
                {
                    "transaction_id": f"{contract.pk}-{n}",
                    "customer_id": str(contract.customer_id),
                    "event_type": "tokens_usage",
                    "timestamp": f"2026-03-{day:02d}T10:00:00Z",
                    "properties": {"num_tokens": "10"},
                }
            ],
            now=_t(2026, 3, 21),
        )
    invoices_finalize_due(now=_t(2026, 4, 3))
    return contract, commit


@pytest.mark.django_db
def test_an_expired_prepaid_commit_balance_is_breakage_released_from_deferred_revenue():
    contract, commit = _commit_world()
    usage = Invoice.objects.get(contract=contract, type="USAGE", start_timestamp=MARCH)
    expiration = BalanceLedgerEntry.objects.get(type="PREPAID_COMMIT_EXPIRATION")
    assert (expiration.amount, expiration.timestamp) == (Decimal("-3500"), _t(2026, 3, 16))
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    assert _by_category(rows) == {
        "deferred_revenue": Decimal("5000"),
        "usage": Decimal("3000"),
        "deferred_revenue_drawdown": Decimal("-1500"),
        "breakage": Decimal("3500"),
        "deferred_revenue_expiration": Decimal("-3500"),
    }
    breakage = [r for r in rows if r.line_type == "prepaid_commit_expiration"]
    assert [(r.day, r.category, r.amount) for r in breakage] == [
        (date(2026, 3, 15), "breakage", Decimal("3500")),
        (date(2026, 3, 15), "deferred_revenue_expiration", Decimal("-3500")),
    ]
    assert {(r.invoice_id, r.line_name, r.product_id, r.line_id) for r in breakage} == {
        (str(usage.pk), "Prepaid 2026", str(commit.product_id), "")
    }
    # Nothing stays deferred, and the schedule still adds up to what was invoiced.
    assert sum(r.amount for r in rows if r.category in DEFERRED) == 0
    invoiced = Invoice.objects.filter(status="FINALIZED").values_list("total", flat=True)
    assert sum(r.amount for r in rows) == sum(invoiced) == Decimal("6500")
    assert revenue_schedule(starting_at=APRIL, ending_before=month_bounds("2026-04")[1]) == []


@pytest.mark.django_db
def test_breakage_is_valued_at_the_price_the_commit_was_bought_for():
    _commit_world(paid="4000", granted="5000")
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    totals = _by_category(rows)
    assert (totals["breakage"], totals["deferred_revenue_expiration"]) == (
        Decimal("2800"),
        Decimal("-2800"),
    )


@pytest.mark.django_db
def test_a_commit_given_for_free_deferred_nothing_and_has_no_breakage():
    _commit_world(paid=None)
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    assert BalanceLedgerEntry.objects.filter(type="PREPAID_COMMIT_EXPIRATION").exists()
    assert not {"breakage", "deferred_revenue_expiration", "deferred_revenue"} & {
        r.category for r in rows
    }


@pytest.mark.django_db
def test_the_expiration_of_a_voided_invoice_is_no_breakage():
    contract, _ = _commit_world()
    usage = Invoice.objects.get(contract=contract, type="USAGE", start_timestamp=MARCH)
    invoice_void(invoice=usage, now=_t(2026, 4, 5))
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    assert not [r for r in rows if r.line_type == "prepaid_commit_expiration"]


@pytest.mark.django_db
def test_a_rollover_commit_expires_at_the_price_of_the_commit_it_rolled_over_from():
    contract = ContractFactory()
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Commit product")
    bought = Commit.objects.create(customer=contract.customer, product=fixed, name="2025")
    AccessSegment.objects.create(
        commit=bought, amount=Decimal(1000), starting_at=_t(2025, 1, 1), ending_before=MARCH
    )
    CommitInvoiceItem.objects.create(commit=bought, timestamp=_t(2025, 1, 1), amount=Decimal(900))
    middle = Commit.objects.create(
        customer=contract.customer, product=fixed, name="2026 H1", rolled_over_from=bought
    )
    rolled = Commit.objects.create(
        customer=contract.customer, product=fixed, name="2026 March", rolled_over_from=middle
    )
    segment = AccessSegment.objects.create(
        commit=rolled, amount=Decimal(200), starting_at=MARCH, ending_before=_t(2026, 3, 11)
    )
    invoice = InvoiceFactory(contract=contract, status="FINALIZED", number=21, issued_at=APRIL)
    BalanceLedgerEntry.objects.create(
        commit=rolled,
        segment=segment,
        type="PREPAID_COMMIT_EXPIRATION",
        amount=Decimal("-150"),
        timestamp=_t(2026, 3, 11),
        invoice_id=invoice.pk,
    )
    rows = revenue_schedule(starting_at=MARCH, ending_before=APRIL)
    # 150 of access left, bought at 900 for 1,000: 135.
    assert [(r.day, r.category, r.amount, r.line_name) for r in rows] == [
        (date(2026, 3, 10), "breakage", Decimal("135"), "2026 March"),
        (date(2026, 3, 10), "deferred_revenue_expiration", Decimal("-135"), "2026 March"),
    ]
