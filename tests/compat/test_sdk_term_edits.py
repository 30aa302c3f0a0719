"""contracts/edit's update_recurring_commits, update_recurring_credits and update_discounts
through the official SDK, strict validation on: the edit's answer, the edit history, and the
commits and drafts that follow."""

from datetime import UTC, datetime, timedelta

import metronome
import pytest

from tests.compat import test_sdk_contract_terms as terms_sdk
from tests.compat.conftest import USD
from tests.compat.test_sdk_contract_terms import _contract, _invoices, _lines, _month_start

offer = terms_sdk.offer  # the same world: a per-call product, FIXED products, a customer


def _next(moment: datetime) -> datetime:
    return _month_start(moment + timedelta(days=32))


def test_recurring_commit_and_credit_updates_reach_the_next_period(client, offer):
    start = offer["start"]
    contract = _contract(
        client,
        offer,
        recurring_commits=[
            {
                "product_id": offer["fixed"],
                "name": "Monthly commit",
                "priority": 1,
                "starting_at": start,
                "access_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
                "invoice_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "proration": "NONE",
            }
        ],
        recurring_credits=[
            {
                "product_id": offer["fixed"],
                "name": "Monthly credit",
                "priority": 1,
                "starting_at": start,
                "access_amount": {"credit_type_id": USD, "unit_price": 100, "quantity": 1},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "proration": "NONE",
            }
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (commit_term,) = shown.recurring_commits
    (credit_term,) = shown.recurring_credits
    answer = client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_recurring_commits=[
            {
                "recurring_commit_id": commit_term.id,
                "access_amount": {"unit_price": 2000},
                "invoice_amount": {"unit_price": 1800},
            }
        ],
        update_recurring_credits=[
            {
                "recurring_credit_id": credit_term.id,
                "access_amount": {"quantity": 3},
                "rate_type": "LIST_RATE",
                "proration_rounding": None,
            }
        ],
    ).data
    (commit_change,) = answer.edit.update_recurring_commits
    assert (commit_change.id, commit_change.access_amount.unit_price) == (commit_term.id, 2000)
    assert commit_change.invoice_amount.unit_price == 1800
    (credit_change,) = answer.edit.update_recurring_credits
    assert (credit_change.access_amount.quantity, credit_change.rate_type) == (3, "LIST_RATE")

    history = client.v2.contracts.get_edit_history(
        contract_id=contract, customer_id=offer["customer"]
    ).data
    assert history[-1].update_recurring_commits[0].access_amount.unit_price == 2000

    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    nxt = _next(start)
    amounts = sorted(
        (c.name, i.starting_at, i.amount)
        for c in [*shown.commits, *(shown.credits or [])]
        for i in c.access_schedule.schedule_items
    )
    assert amounts == [
        ("Monthly commit", start, 1000),
        ("Monthly commit", nxt, 2000),
        ("Monthly credit", start, 100),
        ("Monthly credit", nxt, 300),
    ]
    purchases = {i.start_timestamp: _lines(i) for i in _invoices(client, offer, "SCHEDULED")}
    assert purchases == {
        start: [("commit_purchase", "Monthly commit", 1000)],
        nxt: [("commit_purchase", "Monthly commit", 1800)],
    }
    assert shown.recurring_commits[0].access_amount.unit_price == 2000


def test_a_discount_update_through_the_sdk(client, offer):
    start = offer["start"]
    contract = _contract(
        client,
        offer,
        discounts=[
            {
                "product_id": offer["discount"],
                "name": "Launch discount",
                "schedule": {"schedule_items": [{"timestamp": start, "amount": 300}]},
            }
        ],
    )
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"call-{n}",
                "customer_id": "acme-terms",
                "event_type": "api_call",
                "timestamp": start.isoformat(),
                "properties": {"user_id": "u1"},
            }
            for n in range(5)
        ]
    )
    (discount,) = client.v2.contracts.retrieve(
        contract_id=contract, customer_id=offer["customer"]
    ).data.discounts
    answer = client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        extra_body={
            "update_discounts": [
                {
                    "id": discount.id,
                    "name": "Loyalty discount",
                    "schedule": {"schedule_items": [{"timestamp": start, "amount": 120}]},
                }
            ]
        },
    ).data
    (change,) = answer.edit.update_discounts
    assert (change.id, change.name) == (discount.id, "Loyalty discount")
    assert [(i.timestamp, i.amount) for i in change.schedule.schedule_items] == [(start, 120)]
    (draft,) = _invoices(client, offer, "USAGE")
    assert _lines(draft) == [
        ("discount", "Loyalty discount", -120),
        ("usage", "API calls", 500),
    ]
    assert draft.total == 380

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v2.contracts.edit(
            contract_id=contract,
            customer_id=offer["customer"],
            extra_body={
                "update_refund_invoices": [
                    {"invoice_id": draft.id, "date": datetime.now(UTC).isoformat()}
                ]
            },
        )
    assert refused.value.body["message"].startswith(
        "update_refund_invoices: Refund invoices do not exist in this product"
    )


def test_a_manual_entry_split_among_seats(client, offer):
    contract = _contract(
        client,
        offer,
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {"product_id": offer["seats"], "billing_frequency": "MONTHLY"},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_seat_ids": ["u1", "u2"]},
            }
        ],
        recurring_credits=[
            {
                "product_id": offer["fixed"],
                "name": "Seat credit",
                "priority": 1,
                "starting_at": offer["start"],
                "access_amount": {"credit_type_id": USD, "unit_price": 250},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "subscription_config": {
                    "subscription_id": "seats",
                    "allocation": "INDIVIDUAL",
                    "apply_seat_increase_config": {"is_prorated": False},
                },
            }
        ],
    )
    seats = client.v1.contracts.list_seat_balances(
        contract_id=contract, customer_id=offer["customer"], include_credits_and_commits=True
    ).data
    u1 = next(s for s in seats if s.seat_id == "u1")
    (credit,) = [c for c in u1.credits if c.start_date == offer["start"]]
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    segment = next(c for c in shown.credits if c.id == credit.id).access_schedule.schedule_items[0]

    client.v1.contracts.add_manual_balance_entry(
        id=credit.id,
        segment_id=segment.id,
        customer_id=offer["customer"],
        contract_id=contract,
        amount=100,
        reason="Goodwill",
        per_group_amounts={"u1": 30, "u2": 70},
    )
    seats = client.v1.contracts.list_seat_balances(
        contract_id=contract, customer_id=offer["customer"], covering_date=offer["start"]
    ).data
    assert [(s.seat_id, [b.balance for b in s.balances]) for s in seats] == [
        ("u1", [280]),
        ("u2", [320]),
    ]
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.add_manual_balance_entry(
            id=credit.id,
            segment_id=segment.id,
            customer_id=offer["customer"],
            amount=100,
            reason="Goodwill",
            per_group_amounts={"u1": 30, "u2": 60},
        )
    assert refused.value.body["message"] == (
        "per_group_amounts: The amounts add up to 90, not the amount 100."
    )
