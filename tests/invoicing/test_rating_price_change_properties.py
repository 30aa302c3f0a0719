"""Properties of a price change (hypothesis): a later-starting rate splits the period's charge
exactly at its start, and the windows the catalog stores for overlapping rates
(`catalog.services.latest_started_windows`) rate every invoice as the engine rates the
overlapping rates themselves (the latest-started one wins)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import round_amount
from catalog.services import latest_started_windows
from invoicing.rating import rate_invoice
from tests.invoicing.golden_support import rating_input

D = Decimal
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MARCH_HOURS = 31 * 24

events = st.lists(st.tuples(st.integers(0, MARCH_HOURS - 1), st.integers(1, 5000)), max_size=10)
prices = st.integers(0, 500)


def _case(rates, usage):
    return {
        "pricing_unit": {"id": "usd", "name": "USD (cents)", "decimal_places": "0"},
        "metric": {
            "id": "metric",
            "name": "Calls",
            "aggregation_type": "SUM",
            "aggregation_key": "calls",
            "event_type_filter": {"in_values": ["call"]},
            "property_filters": [{"name": "calls", "exists": True}],
            "group_keys": [],
        },
        "products": [
            {
                "id": "calls",
                "name": "Calls",
                "type": "USAGE",
                "billable_metric_id": "metric",
                "quantity_conversion": {"conversion_factor": "1000", "operation": "DIVIDE"},
            }
        ],
        "rates": [
            {
                "product_id": "calls",
                "rate_type": "FLAT",
                "price": str(price),
                "starting_at": start.isoformat(),
                "ending_before": None if end is None else end.isoformat(),
            }
            for start, end, price in rates
        ],
        "customer": {"id": "cust"},
        "contract": {
            "starting_at": "2026-01-01T00:00:00Z",
            "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        },
        "period": {"starting_at": "2026-03-01T00:00:00Z", "ending_before": "2026-04-01T00:00:00Z"},
        "events": [
            {
                "transaction_id": f"tx-{index}",
                "customer_id": "cust",
                "event_type": "call",
                "timestamp": (MAR_1 + timedelta(hours=hour, minutes=index % 60)).isoformat(),
                "properties": {"calls": str(calls)},
            }
            for index, (hour, calls) in enumerate(usage)
        ],
    }


@given(usage=events, change=st.integers(1, MARCH_HOURS - 1), old=prices, new=prices)
def test_a_price_change_splits_the_periods_charge_exactly_at_its_start(usage, change, old, new):
    moment = MAR_1 + timedelta(hours=change)
    case = _case([(JAN_1, None, old), (moment, None, new)], usage)

    result = rate_invoice(rating_input(case))

    before = sum((D(calls) for hour, calls in usage if hour < change), D(0)) / 1000
    after = sum((D(calls) for hour, calls in usage if hour >= change), D(0)) / 1000
    assert result.total == round_amount(before * old) + round_amount(after * new)
    for line in result.lines:
        assert line.ending_before <= moment or line.starting_at >= moment


windows = st.lists(
    st.tuples(
        st.integers(0, 120 * 24).map(lambda hour: JAN_1 + timedelta(hours=hour)),
        st.one_of(st.none(), st.integers(1, 60 * 24)),
        prices,
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda window: window[0],
)


@settings(max_examples=60)
@given(rates=windows, usage=events)
def test_stored_windows_rate_as_the_overlapping_rates_do(rates, usage):
    overlapping = [
        (start, None if hours is None else start + timedelta(hours=hours), price)
        for start, hours, price in rates
    ]
    stored = [
        (start, end, price)
        for (_, _, price), runs in zip(
            overlapping,
            latest_started_windows([(start, end) for start, end, _ in overlapping]),
            strict=True,
        )
        for start, end in runs
    ]

    as_given = rate_invoice(rating_input(_case(overlapping, usage)))
    as_stored = rate_invoice(rating_input(_case(stored, usage)))

    assert as_stored.total == as_given.total
    assert [(line.unit_price, line.total) for line in as_stored.lines] == [
        (line.unit_price, line.total) for line in as_given.lines
    ]
