"""A threshold commit's priority, rate_type, rollover_fraction and (auto-recharge) duration
through the official SDK, strict validation on: given on contract create, shown by v1 and v2
reads, carried by the commit bought, changed and cleared by a v2 edit."""

from datetime import UTC, datetime

import metronome
import pytest


@pytest.fixture
def offer(client):
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    metric = client.v1.billable_metrics.create(
        name="Calls", event_type_filter={"in_values": ["api_call"]}, aggregation_type="COUNT"
    ).data.id
    calls = client.v1.contracts.products.create(
        name="API calls", type="USAGE", billable_metric_id=metric
    ).data.id
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=calls,
        entitled=True,
        rate_type="FLAT",
        price=2,
        commit_rate={"rate_type": "FLAT", "price": 1},
        starting_at=start,
    )
    return {
        "start": start,
        "card": card,
        "fixed": client.v1.contracts.products.create(name="Top-up", type="FIXED").data.id,
        "customer": client.v1.customers.create(name="Acme", ingest_aliases=["acme-tc"]).data.id,
    }


def test_an_auto_recharge_commit_keeps_priority_rate_type_rollover_and_duration(client, offer):
    contract = client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        prepaid_balance_threshold_configuration={
            "commit": {
                "product_id": offer["fixed"],
                "name": "Top-up",
                "priority": 7,
                "rate_type": "COMMIT_RATE",
                "rollover_fraction": 0.25,
                "duration": {"unit": "MONTHS", "value": 2},
            },
            "is_enabled": True,
            "payment_gate_config": {"payment_gate_type": "NONE"},
            "threshold_amount": 100,
            "recharge_to_amount": 500,
        },
    ).data.id

    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    commit = shown.prepaid_balance_threshold_configuration.commit
    assert (commit.priority, commit.rate_type, commit.rollover_fraction) == (7, "COMMIT_RATE", 0.25)
    assert commit.duration.to_dict() == {"unit": "MONTHS", "value": 2}
    (bought,) = shown.commits
    assert (bought.priority, bought.rate_type, bought.rollover_fraction) == (
        7,
        "COMMIT_RATE",
        0.25,
    )
    (segment,) = bought.access_schedule.schedule_items
    assert segment.amount == 500
    months = (segment.ending_before.year - segment.starting_at.year) * 12 + (
        segment.ending_before.month - segment.starting_at.month
    )
    assert months == 2
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert v1.prepaid_balance_threshold_configuration.commit.priority == 7

    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_prepaid_balance_threshold_configuration={
            "commit": {"priority": None, "rate_type": "LIST_RATE", "duration": None}
        },
    )
    commit = client.v2.contracts.retrieve(
        contract_id=contract, customer_id=offer["customer"]
    ).data.prepaid_balance_threshold_configuration.commit
    assert (commit.priority, commit.rate_type, commit.rollover_fraction, commit.duration) == (
        None,
        "LIST_RATE",
        0.25,
        None,
    )


def test_a_spend_threshold_commit_keeps_its_priority(client, offer):
    contract = client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        spend_threshold_configuration={
            "commit": {"product_id": offer["fixed"], "priority": 3},
            "is_enabled": True,
            "payment_gate_config": {"payment_gate_type": "NONE"},
            "threshold_amount": 1000,
        },
    ).data.id
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert shown.spend_threshold_configuration.commit.priority == 3


def test_a_bad_threshold_commit_field_is_refused_by_name(client, offer):
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=offer["customer"],
            rate_card_id=offer["card"],
            starting_at=offer["start"],
            prepaid_balance_threshold_configuration={
                "commit": {"product_id": offer["fixed"], "rollover_fraction": 1.5},
                "is_enabled": True,
                "payment_gate_config": {"payment_gate_type": "NONE"},
                "threshold_amount": 100,
                "recharge_to_amount": 500,
            },
        )
    assert refused.value.body["message"].startswith(
        "prepaid_balance_threshold_configuration.commit.rollover_fraction:"
    )
