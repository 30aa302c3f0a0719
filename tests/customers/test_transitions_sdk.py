"""A renewal through the official SDK (strict response validation): `transition` on create, and
`transitions`, `rolled_over_from` and the `*_ROLLOVER` ledger entries read back by its models."""

import pytest
from metronome import Metronome

from core.models import ApiToken
from tests.catalog.factories import ProductFactory, RateCardFactory, usd_cents
from tests.customers.factories import CustomerFactory

OLD_START = "2026-01-01T00:00:00Z"
RENEWAL = "2026-06-01T00:00:00Z"


@pytest.fixture
def client(live_server, transactional_db):
    usd_cents()
    _, raw = ApiToken.generate(name="sdk")
    sdk = Metronome(
        base_url=live_server.url, bearer_token=raw, max_retries=0, _strict_response_validation=True
    )
    yield sdk
    sdk.close()


def test_a_renewal_reads_back_through_the_sdk(client):
    customer = CustomerFactory()
    card = RateCardFactory()
    fixed = ProductFactory(fixed=True)
    old = client.v1.contracts.create(
        customer_id=str(customer.pk),
        rate_card_id=str(card.pk),
        starting_at=OLD_START,
        commits=[
            {
                "product_id": str(fixed.pk),
                "type": "PREPAID",
                "rollover_fraction": 0.5,
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 10000,
                            "starting_at": OLD_START,
                            "ending_before": "2027-01-01T00:00:00Z",
                        }
                    ]
                },
            }
        ],
    ).data.id

    new = client.v1.contracts.create(
        customer_id=str(customer.pk),
        rate_card_id=str(card.pk),
        starting_at=RENEWAL,
        ending_before="2030-01-01T00:00:00Z",
        transition={"from_contract_id": old, "type": "RENEWAL"},
    ).data.id

    got = client.v2.contracts.retrieve(
        contract_id=new, customer_id=str(customer.pk), include_balance=True, include_ledgers=True
    ).data
    assert [(t.type, t.from_contract_id, t.to_contract_id) for t in got.transitions] == [
        ("RENEWAL", old, new)
    ]
    [rolled] = got.commits
    assert rolled.rolled_over_from.contract_id == old
    assert rolled.balance == 5000
    assert [(entry.type, entry.amount) for entry in rolled.ledger] == [
        ("PREPAID_COMMIT_ROLLOVER", 5000)
    ]
    v1 = client.v1.contracts.retrieve(
        contract_id=old, customer_id=str(customer.pk), include_ledgers=True
    ).data
    assert [t.to_contract_id for t in v1.current.transitions] == [new]
    assert [entry.type for entry in v1.current.commits[0].ledger] == [
        "PREPAID_COMMIT_SEGMENT_START",
        "PREPAID_COMMIT_ROLLOVER",
    ]
    assert v1.current.commits[0].ledger[1].new_contract_id == new
