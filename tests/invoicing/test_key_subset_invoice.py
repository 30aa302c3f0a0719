"""A draft priced by a subset of the metric's key set: unique users per region, not per region
and day."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.models import Invoice
from invoicing.selectors import invoice_rate
from invoicing.services import contract_drafts_ensure
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    ProductFactory,
    RateFactory,
    ingest,
)

pytestmark = pytest.mark.django_db


def test_unique_users_priced_per_region_from_a_region_and_day_metric():
    metric = BillableMetricFactory(
        aggregation_type="UNIQUE",
        aggregation_key="user",
        event_type_filter={"in_values": ["login"]},
        group_keys=[["region", "day"]],
    )
    product = ProductFactory(billable_metric=metric, pricing_group_key=["region"])
    rate = RateFactory(product=product, price=Decimal("100"), pricing_group_values={"region": "eu"})
    contract = ContractFactory(
        rate_card=rate.rate_card, starting_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    contract_drafts_ensure(contract=contract, now=datetime(2026, 3, 20, tzinfo=UTC))
    ingest(
        [
            {
                "transaction_id": f"login-{n}",
                "customer_id": str(contract.customer_id),
                "event_type": "login",
                "timestamp": f"2026-03-{day:02d}T10:00:00Z",
                "properties": {"region": "eu", "day": str(day), "user": user},
            }
            for n, (day, user) in enumerate([(2, "alice"), (3, "alice"), (3, "bob")])
        ]
    )
    draft = Invoice.objects.get(contract=contract, start_timestamp=datetime(2026, 3, 1, tzinfo=UTC))

    result = invoice_rate(invoice=draft, now=datetime(2026, 3, 20, tzinfo=UTC))

    assert [(line.quantity, line.total) for line in result.lines if line.quantity] == [
        (Decimal("2"), Decimal("200"))
    ]
    assert result.total == Decimal("200")
