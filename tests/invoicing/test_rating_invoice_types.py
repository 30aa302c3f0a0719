"""The engine's invoice types (no database): a SCHEDULED invoice has only the scheduled charges
and commit purchases due at its instant; a USAGE invoice has everything else, and those too only
with `scheduled_charges_on_usage_invoices`."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from invoicing.rating import (
    LINE_STEPS,
    AccessSegment,
    Balance,
    InvoiceScheduleItem,
    InvoiceType,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    ScheduledCharge,
    Usage,
    rate_invoice,
    rating_input_from_json,
    scheduled_period,
    steps_for,
    to_json,
)

D = Decimal
USD = PricingUnit(id="2714e483-4ff1-48e4-9e25-ac732e8f24f2", name="USD (cents)")
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_10 = datetime(2026, 3, 10, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
TOKENS = Product(id="tokens", name="Tokens", type="USAGE")
SETUP = Product(id="setup", name="Setup", type="FIXED")
COMMIT = Balance(
    id="commit",
    type="PREPAID",
    product_id="commit-product",
    name="Commitment",
    priority=D(1),
    access_schedule=(
        AccessSegment(id="seg", starting_at=JAN_1, ending_before=APR_1, amount=D(500)),
    ),
    invoice_schedule=(
        InvoiceScheduleItem(timestamp=MAR_1, unit_price=D(300)),
        InvoiceScheduleItem(timestamp=MAR_10, unit_price=D(200)),
    ),
)


def march(**more) -> RatingInput:
    """March: 10 tokens at 150, a 1000 setup charge on Mar 10, a 500 commit invoiced 300 on
    Mar 1 and 200 on Mar 10 whose access ends with the period (so the usage invoice expires it)."""
    return RatingInput(
        pricing_unit=USD,
        period=more.pop("period", Period(MAR_1, APR_1)),
        products=(TOKENS, SETUP),
        rates=(Rate(product_id="tokens", rate_type="FLAT", starting_at=JAN_1, price=D(150)),),
        usage=(Usage(product_id="tokens", starting_at=MAR_1, ending_before=APR_1, quantity=D(10)),),
        scheduled_charges=(
            ScheduledCharge(id="charge", product_id="setup", timestamp=MAR_10, unit_price=D(1000)),
        ),
        balances=(COMMIT,),
        **more,
    )


def kinds(result):
    return [(line.type, line.total) for line in result.lines]


def test_a_usage_invoice_leaves_scheduled_items_to_scheduled_invoices():
    result = rate_invoice(march(scheduled_charges_on_usage_invoices=False))

    assert kinds(result) == [("usage", D(1500)), ("applied_commit_or_credit", D(-500))]
    assert (result.subtotal, result.total) == (D(1500), D(1000))
    assert [(d.drawn, d.remaining, d.expires) for d in result.balance_draws] == [
        (D(500), D(0), True)
    ]


def test_a_usage_invoice_carries_them_with_scheduled_charges_on_usage_invoices():
    result = rate_invoice(march(scheduled_charges_on_usage_invoices=True))

    assert kinds(result) == [
        ("usage", D(1500)),
        ("scheduled", D(1000)),
        ("commit_purchase", D(300)),
        ("commit_purchase", D(200)),
        ("applied_commit_or_credit", D(-500)),
    ]
    assert result.total == D(2500)


def test_inputs_without_an_invoice_type_rate_as_before_scheduled_invoices():
    legacy = to_json(march())
    del legacy["invoice_type"], legacy["scheduled_charges_on_usage_invoices"]

    assert rate_invoice(rating_input_from_json(legacy)).total == D(2500)


def test_a_scheduled_invoice_has_only_the_items_due_at_its_instant():
    result = rate_invoice(
        march(invoice_type=InvoiceType.SCHEDULED, period=scheduled_period(MAR_10))
    )

    assert kinds(result) == [("scheduled", D(1000)), ("commit_purchase", D(200))]
    assert [line.starting_at for line in result.lines] == [MAR_10, MAR_10]
    assert (result.subtotal, result.total) == (D(1200), D(1200))
    assert result.balance_draws == ()  # no draw, no expiry: the usage invoice owns those


def test_a_scheduled_invoice_ignores_the_contract_flag():
    for flag in (True, False):
        rating = march(
            invoice_type=InvoiceType.SCHEDULED,
            period=scheduled_period(MAR_1),
            scheduled_charges_on_usage_invoices=flag,
        )
        assert kinds(rate_invoice(rating)) == [("commit_purchase", D(300))]


def test_a_scheduled_period_is_the_instant_itself():
    period = scheduled_period(MAR_10)

    assert period.contains(MAR_10)
    assert not period.contains(MAR_10 + timedelta(microseconds=1))
    assert not period.contains(MAR_10 - timedelta(microseconds=1))


def test_steps_for_picks_the_steps_of_each_invoice():
    scheduled_steps = steps_for(
        march(invoice_type=InvoiceType.SCHEDULED, period=scheduled_period(MAR_1)), LINE_STEPS
    )
    usage_steps = steps_for(march(scheduled_charges_on_usage_invoices=False), LINE_STEPS)
    all_steps = steps_for(march(scheduled_charges_on_usage_invoices=True), LINE_STEPS)

    assert [step.__name__ for step in scheduled_steps] == [
        "scheduled_charge_lines",
        "pro_service_lines",
        "commit_purchase_lines",
    ]
    assert set(usage_steps) | set(scheduled_steps) == set(LINE_STEPS)
    assert not set(usage_steps) & set(scheduled_steps)
    assert list(all_steps) == list(LINE_STEPS)


def test_a_scheduled_snapshot_rerates_to_the_same_invoice():
    rating = march(invoice_type=InvoiceType.SCHEDULED, period=scheduled_period(MAR_10))
    snapshot = json.loads(json.dumps(to_json(rating)))

    assert rating_input_from_json(snapshot) == rating
    assert rate_invoice(rating_input_from_json(snapshot)) == rate_invoice(rating)


def test_an_unknown_invoice_type_is_refused():
    with pytest.raises(ValueError, match="unknown invoice type"):
        march(invoice_type="USAGE_CONSOLIDATED")
