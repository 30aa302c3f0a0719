"""The official SDK (metronome-sdk, pinned in the dev dependencies) against pytest-django's
live_server, with strict response validation and no retries."""

from datetime import UTC, datetime

import pytest
from metronome import Metronome

from core.models import ApiToken
from tests.catalog.factories import usd_cents

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(live_server, transactional_db):
    usd_cents()  # a transactional test flushes the seeded unit; put it back
    _, raw = ApiToken.generate(name="sdk")
    sdk = Metronome(
        base_url=live_server.url,
        bearer_token=raw,
        max_retries=0,
        _strict_response_validation=True,
    )
    yield sdk
    # Close keep-alive connections while this test's server thread still owns its database
    # connection; a request thread closing it later trips Django's thread-sharing check.
    sdk.close()


@pytest.fixture
def world(client):
    """Section 5's configuration: metric, product, rate card with a flat and a tiered rate,
    a customer with an alias and a monthly contract."""
    bm = client.v1.billable_metrics.create(
        name="Tokens",
        event_type_filter={"in_values": ["api_call"]},
        property_filters=[{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
        aggregation_type="SUM",
        aggregation_key="tokens",
        group_keys=[["region"]],
    )
    prod = client.v1.contracts.products.create(
        name="API calls",
        type="USAGE",
        billable_metric_id=bm.data.id,
        pricing_group_key=["region"],
        quantity_conversion={"conversion_factor": 1000, "operation": "DIVIDE"},
        quantity_rounding={"decimal_places": 0, "rounding_method": "ROUND_UP"},
    )
    rc = client.v1.contracts.rate_cards.create(name="Standard", aliases=[{"name": "std"}])
    flat = client.v1.contracts.rate_cards.rates.add(
        rate_card_id=rc.data.id,
        product_id=prod.data.id,
        entitled=True,
        rate_type="FLAT",
        price=250,
        credit_type_id=USD,
        pricing_group_values={"region": "eu"},
        starting_at=START,
    )
    tiered = client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=rc.data.id,
        rates=[
            {
                "product_id": prod.data.id,
                "entitled": True,
                "rate_type": "TIERED",
                "starting_at": START,
                "pricing_group_values": {"region": "us"},
                "tiers": [{"price": 300, "size": 100}, {"price": 200}],
            }
        ],
    )
    cust = client.v1.customers.create(name="Acme", ingest_aliases=["acme@example.com"])
    return {
        "metric": bm.data.id,
        "product": prod.data.id,
        "rate_card": rc.data.id,
        "flat": flat.data,
        "tiered": tiered.data,
        "customer": cust.data,
    }
