"""rating_input_for: a contract's period loaded from the database equals the golden reference."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import periods
from invoicing.models import Invoice
from invoicing.rating import Period, Rate, rate_invoice
from invoicing.selectors import (
    invoice_view,
    line_item_from,
    rate_windows,
    rating_input_for,
)
from tests.invoicing.factories import ingest
from tests.invoicing.golden_support import canonical_line, case_paths, load_case, parse_time
from tests.invoicing.golden_world import build_world, line_item_as_case, sort_key

NOW = datetime(2026, 4, 5, tzinfo=UTC)


def store_events(world, case):
    ingest([world.event(data) for data in case["events"]])


def case_billing_period(world, case):
    schedule = periods.schedule_for(world.contract)
    return periods.period_containing(schedule, parse_time(case["period"]["starting_at"]))


@pytest.mark.django_db
@pytest.mark.parametrize("path", case_paths(), ids=lambda path: path.stem)
def test_rating_input_from_the_database_rates_as_the_golden_case(path):
    case = load_case(path)
    world = build_world(case)
    store_events(world, case)
    billing_period = case_billing_period(world, case)
    assert (billing_period.starting_at.isoformat(), billing_period.ending_before.isoformat()) == (
        parse_time(case["period"]["starting_at"]).isoformat(),
        parse_time(case["period"]["ending_before"]).isoformat(),
    )
    result = rate_invoice(rating_input_for(contract=world.contract, period=billing_period, now=NOW))
    invoice = Invoice(credit_type_id=world.contract.rate_card.fiat_credit_type_id)
    got = [
        canonical_line(line_item_as_case(line_item_from(line, invoice=invoice, position=i), world))
        for i, line in enumerate(result.lines)
    ]
    expected = [canonical_line(line) for line in case["expected"]["lines"]]
    assert sorted(got, key=sort_key) == sorted(expected, key=sort_key)
    assert str(result.subtotal) == case["expected"]["subtotal"]
    assert str(result.total) == case["expected"]["total"]


@pytest.mark.django_db
def test_rating_input_takes_a_handful_of_queries_whatever_the_events():
    case = load_case(case_paths()[16])  # composite: usage, subscription, scheduled charge
    world = build_world(case)
    store_events(world, case)
    billing_period = case_billing_period(world, case)
    with CaptureQueriesContext(connection) as few:
        rating_input_for(contract=world.contract, period=billing_period, now=NOW)
    ingest(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": "acme-prod",
                "event_type": "tokens_usage",
                "timestamp": f"2026-03-02T{i % 24:02d}:00:00Z",
                "properties": {"num_tokens": "1", "user_id": f"user-{i}"},
            }
            for i in range(50)
        ],
        now=datetime(2026, 3, 3, tzinfo=UTC),
    )
    with CaptureQueriesContext(connection) as many:
        rating_input_for(contract=world.contract, period=billing_period, now=NOW)
    assert len(many.captured_queries) == len(few.captured_queries)
    # 14 (18): the case's contract puts scheduled items on its usage invoice, which costs one query
    # for the dates already on a SCHEDULED invoice (not billed twice); the rate card's products
    # are read once beside its rates (not once per rate); 18 with the contracts' usage filters,
    # discounts, professional service billings and subscription quantities (one query each).
    assert len(few.captured_queries) <= 18


@pytest.mark.django_db
def test_rating_input_for_an_invoice_uses_its_period_and_schedule_period():
    case = load_case(case_paths()[12])  # partial first period
    world = build_world(case)
    invoice = Invoice.objects.create(
        customer=world.customer,
        contract=world.contract,
        credit_type_id=world.contract.rate_card.fiat_credit_type_id,
        start_timestamp=parse_time(case["period"]["starting_at"]),
        end_timestamp=parse_time(case["period"]["ending_before"]),
    )
    rating_input = rating_input_for(invoice=invoice, now=NOW)
    assert rating_input.period.starting_at == invoice.start_timestamp
    assert rating_input.full_period.starting_at.day == 1
    assert invoice_view(invoice=invoice, now=NOW).total == rate_invoice(rating_input).total


def test_rate_windows_split_where_a_rate_starts_or_ends():
    period = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    rates = [
        Rate(
            product_id="p",
            rate_type="FLAT",
            price=Decimal(1),
            starting_at=datetime(2026, 1, 1, tzinfo=UTC),
            ending_before=datetime(2026, 3, 10, tzinfo=UTC),
        ),
        Rate(
            product_id="p",
            rate_type="FLAT",
            price=Decimal(2),
            starting_at=datetime(2026, 3, 20, tzinfo=UTC),
        ),
    ]
    assert [(w.starting_at, w.ending_before) for w in rate_windows(rates, period)] == [
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)),
        (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC)),
        (datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    ]


@pytest.mark.django_db
def test_a_period_starting_inside_an_hour_counts_only_its_own_events():
    from invoicing.selectors import invoice_view
    from invoicing.services import contract_drafts_ensure
    from tests.invoicing.factories import ContractFactory, RateFactory

    rate = RateFactory(price=Decimal(7))
    start = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=start)
    contract_drafts_ensure(contract=contract, now=start)
    ingest(
        [
            {
                "transaction_id": f"tx-{minute}",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": f"2026-03-10T09:{minute:02d}:00Z",
                "properties": {"num_tokens": "10", "model_name": "m"},
            }
            for minute in (15, 45)
        ],
        now=datetime(2026, 3, 10, 10, tzinfo=UTC),
    )
    draft = Invoice.objects.get(contract=contract)
    assert draft.start_timestamp == start
    view = invoice_view(invoice=draft)
    assert [(line.quantity, line.total) for line in view.lines] == [(Decimal(10), Decimal(70))]
