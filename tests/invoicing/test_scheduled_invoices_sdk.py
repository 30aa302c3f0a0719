"""Scheduled invoices through the official SDK (metronome-sdk, strict response validation): a
contract made over the API with a prepaid commit and a scheduled charge lists its SCHEDULED
invoices apart from its USAGE ones, and with scheduled_charges_on_usage_invoices "ALL" has none."""

from datetime import UTC, datetime

import pytest

from core.models import ApiToken
from tests.invoicing.factories import usd_cents

metronome = pytest.importorskip("metronome")

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(live_server, transactional_db):
    usd_cents()  # a transactional test flushes the seeded unit; put it back
    _, raw = ApiToken.generate(name="sdk")
    sdk = metronome.Metronome(
        base_url=live_server.url, bearer_token=raw, max_retries=0, _strict_response_validation=True
    )
    yield sdk
    sdk.close()


def _contract(client, **more) -> tuple[str, str]:
    fixed = client.v1.contracts.products.create(name="Onboarding", type="FIXED").data.id
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    customer = client.v1.customers.create(name="Acme").data.id
    contract = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=card,
        starting_at=START,
        commits=[
            {
                "product_id": fixed,
                "type": "PREPAID",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 3000,
                            "starting_at": START,
                            "ending_before": datetime(2027, 1, 1, tzinfo=UTC),
                        }
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [
                        {"timestamp": datetime(2026, 3, 1, tzinfo=UTC), "amount": 2000},
                        {"timestamp": datetime(2026, 4, 1, tzinfo=UTC), "amount": 1000},
                    ]
                },
            }
        ],
        scheduled_charges=[
            {
                "product_id": fixed,
                "name": "Setup",
                "schedule": {
                    "schedule_items": [
                        {"timestamp": datetime(2026, 3, 1, tzinfo=UTC), "amount": 500}
                    ]
                },
            }
        ],
        **more,
    ).data.id
    return customer, contract


def test_sdk_lists_scheduled_invoices_apart_from_usage_ones(client):
    customer, contract = _contract(client)

    scheduled = list(client.v1.customers.invoices.list(customer_id=customer, type="SCHEDULED"))
    usage = list(client.v1.customers.invoices.list(customer_id=customer, type="USAGE"))

    assert [(i.type, i.start_timestamp, i.end_timestamp, i.total) for i in scheduled] == [
        ("SCHEDULED", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), 2500),
        ("SCHEDULED", datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), 1000),
    ]
    assert [li.type for li in scheduled[0].line_items] == ["scheduled", "commit_purchase"]
    assert {i.contract_id for i in scheduled} == {contract}
    assert usage and {i.type for i in usage} == {"USAGE"}
    assert all(
        li.type not in ("scheduled", "commit_purchase") for i in usage for li in i.line_items
    )


def test_sdk_contract_with_all_has_no_scheduled_invoice(client):
    customer, _ = _contract(client, scheduled_charges_on_usage_invoices="ALL")

    assert list(client.v1.customers.invoices.list(customer_id=customer, type="SCHEDULED")) == []
