"""Threshold billing's further terms through the official SDK, strict validation on: a
discounted auto-recharge in a custom pricing unit with threshold balance specifiers and a
commit limited by specifiers, shown by v1 and v2 contract reads and edited; the purchase
invoice in fiat at the card's conversion times the payment fraction."""

from datetime import UTC, datetime

import pytest

from tests.catalog.factories import PricingUnitFactory


@pytest.fixture
def offer(client):
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    cloud = str(PricingUnitFactory(name="Cloud credits", decimal_places=2).pk)
    metric = client.v1.billable_metrics.create(
        name="Calls", event_type_filter={"in_values": ["api_call"]}, aggregation_type="COUNT"
    ).data.id
    calls = client.v1.contracts.products.create(
        name="API calls", type="USAGE", billable_metric_id=metric
    ).data.id
    card = client.v1.contracts.rate_cards.create(
        name="Cloud",
        credit_type_conversions=[{"custom_credit_type_id": cloud, "fiat_per_custom_credit": 40}],
    ).data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=calls,
        entitled=True,
        rate_type="FLAT",
        price=1,
        credit_type_id=cloud,
        starting_at=start,
    )
    return {
        "start": start,
        "cloud": cloud,
        "calls": calls,
        "card": card,
        "fixed": client.v1.contracts.products.create(name="Top-up", type="FIXED").data.id,
        "customer": client.v1.customers.create(name="Acme", ingest_aliases=["acme-th"]).data.id,
    }


def test_a_discounted_recharge_in_a_custom_unit_round_trips_and_is_invoiced_in_fiat(client, offer):
    exclude = [
        {
            "exclude": [
                {"custom_field_filters": [{"entity": "Commit", "key": "kind", "value": "promo"}]}
            ]
        }
    ]
    specifiers = [{"product_id": offer["calls"]}]
    contract = client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        prepaid_balance_threshold_configuration={
            "commit": {"product_id": offer["fixed"], "name": "Top-up", "specifiers": specifiers},
            "is_enabled": True,
            "payment_gate_config": {"payment_gate_type": "NONE"},
            "threshold_amount": 10,
            "recharge_to_amount": 50,
            "custom_credit_type_id": offer["cloud"],
            "discount_configuration": {"payment_fraction": 0.5},
            "threshold_balance_specifiers": exclude,
        },
    ).data.id

    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    config = shown.prepaid_balance_threshold_configuration
    assert config.custom_credit_type_id == offer["cloud"]
    assert config.discount_configuration.payment_fraction == 0.5
    assert [s.to_dict() for s in config.threshold_balance_specifiers] == exclude
    assert [s.to_dict() for s in config.commit.specifiers] == specifiers
    (bought,) = shown.commits
    assert bought.access_schedule.credit_type.id == offer["cloud"]
    assert [i.amount for i in bought.access_schedule.schedule_items] == [50]
    assert [s.to_dict() for s in bought.specifiers] == specifiers
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert v1.prepaid_balance_threshold_configuration.discount_configuration.payment_fraction == 0.5
    # 50 cloud credits at 40 cents, half paid: 1000 cents.
    (purchase,) = [
        invoice
        for invoice in client.v1.customers.invoices.list(
            customer_id=offer["customer"], status="DRAFT"
        )
        if invoice.type == "SCHEDULED"
    ]
    assert [
        (line.type, line.quantity, line.unit_price, line.total) for line in purchase.line_items
    ] == [("commit_purchase", 50, 20, 1000)]

    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_prepaid_balance_threshold_configuration={
            "discount_configuration": {"payment_fraction": None},
            "threshold_balance_specifiers": None,
        },
    )
    config = client.v2.contracts.retrieve(
        contract_id=contract, customer_id=offer["customer"]
    ).data.prepaid_balance_threshold_configuration
    assert config.discount_configuration is None
    assert config.threshold_balance_specifiers is None
    assert config.custom_credit_type_id == offer["cloud"]
