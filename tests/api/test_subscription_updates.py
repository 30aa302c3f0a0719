"""Subscription quantities and seats changed over time through /v2/contracts/edit
(update_subscriptions): the quantity and seat histories, and the January draft split where the
quantity changes (3100 a month, prorated: a 31-day January makes 100 a unit a day)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory
from tests.customers.factories import CustomerFactory

JAN = "2026-01-01T00:00:00Z"
JAN_17 = "2026-01-17T00:00:00Z"
JAN_25 = "2026-01-25T00:00:00Z"


@pytest.fixture
def world(db):
    seats = ProductFactory(subscription=True, name="Seats")
    card = RateCardFactory(name="Card")
    RateFactory(
        rate_card=card,
        product=seats,
        rate_type="SUBSCRIPTION",
        price=Decimal(3100),
        billing_frequency="MONTHLY",
        starting_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return {"customer": CustomerFactory(name="Acme"), "card": card, "seats": seats}


def _contract(post, world, **subscription) -> tuple[str, str]:
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": JAN,
        "ending_before": "2027-01-01T00:00:00Z",
        "subscriptions": [
            {
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {
                    "product_id": str(world["seats"].pk),
                    "billing_frequency": "MONTHLY",
                },
                **subscription,
            }
        ],
    }
    contract_id = data(post("/v1/contracts/create", body))["id"]
    shown = data(
        post(
            "/v2/contracts/get",
            {"contract_id": contract_id, "customer_id": str(world["customer"].pk)},
        )
    )
    return contract_id, shown["subscriptions"][0]["id"]


def _edit(post, world, contract_id, *updates):
    return post(
        "/v2/contracts/edit",
        {
            "contract_id": contract_id,
            "customer_id": str(world["customer"].pk),
            "update_subscriptions": list(updates),
        },
    )


def _ref(world, contract_id, subscription_id) -> dict:
    return {
        "contract_id": contract_id,
        "customer_id": str(world["customer"].pk),
        "subscription_id": subscription_id,
    }


def _january_subscription_lines(contract_id) -> list[tuple]:
    invoice = Invoice.objects.get(
        contract_id=contract_id, type="USAGE", start_timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return [
        (line.starting_at.day, line.quantity, line.total)
        for line in invoice_view(invoice=invoice).lines
        if line.type == "subscription"
    ]


def test_quantity_set_then_changed_by_a_delta_and_the_draft_follows(post, world):
    contract_id, sub = _contract(post, world, initial_quantity=2)
    assert _january_subscription_lines(contract_id) == [(1, Decimal(2), Decimal(6200))]

    data(
        _edit(
            post,
            world,
            contract_id,
            {"subscription_id": sub, "quantity_updates": [{"starting_at": JAN_17, "quantity": 5}]},
        )
    )
    # 2 units for 16 days (3200), 5 for 15 days (7500).
    assert _january_subscription_lines(contract_id) == [
        (1, Decimal(2), Decimal(3200)),
        (17, Decimal(5), Decimal(7500)),
    ]
    data(
        _edit(
            post,
            world,
            contract_id,
            {
                "subscription_id": sub,
                "quantity_updates": [{"starting_at": JAN_25, "quantity_delta": -1}],
            },
        )
    )
    history = data(
        post("/v1/contracts/getSubscriptionQuantityHistory", _ref(world, contract_id, sub))
    )["history"]
    assert [(h["starting_at"], h["data"]) for h in history] == [
        (JAN, [{"quantity": 2, "unit_price": 3100, "total": 6200}]),
        (JAN_17, [{"quantity": 5, "unit_price": 3100, "total": 15500}]),
        (JAN_25, [{"quantity": 4, "unit_price": 3100, "total": 12400}]),
    ]
    # 5 units for 8 days (4000), then 4 for the last 7 (2800).
    assert _january_subscription_lines(contract_id) == [
        (1, Decimal(2), Decimal(3200)),
        (17, Decimal(5), Decimal(4000)),
        (25, Decimal(4), Decimal(2800)),
    ]


def test_seats_removed_and_unassigned_seats_added(post, world):
    contract_id, sub = _contract(
        post,
        world,
        quantity_management_mode="SEAT_BASED",
        seat_config={
            "seat_group_key": "user_id",
            "initial_seat_ids": ["u1", "u2"],
            "initial_unassigned_seats": 1,
        },
    )
    data(
        _edit(
            post,
            world,
            contract_id,
            {
                "subscription_id": sub,
                "seat_updates": {
                    "remove_seat_ids": [{"seat_ids": ["u2"], "starting_at": JAN_17}],
                    "add_unassigned_seats": [{"quantity": 2, "starting_at": JAN_17}],
                },
            },
        )
    )
    history = post(
        "/v1/contracts/getSubscriptionSeatsHistory", _ref(world, contract_id, sub)
    ).json()
    assert history == {
        "data": [
            {
                "starting_at": JAN,
                "ending_before": JAN_17,
                "assigned_seat_ids": ["u1", "u2"],
                "total_quantity": 3,
            },
            {
                "starting_at": JAN_17,
                "ending_before": "2027-01-01T00:00:00Z",
                "assigned_seat_ids": ["u1"],
                "total_quantity": 4,
            },
        ],
        "next_page": None,
    }
    # 3 seats (two named, one unassigned) for 16 days (4800), then 4 for 15 days (6000).
    assert _january_subscription_lines(contract_id) == [
        (1, Decimal(3), Decimal(4800)),
        (17, Decimal(4), Decimal(6000)),
    ]


def test_subscription_update_errors(post, world):
    quantity_id, quantity_sub = _contract(post, world, initial_quantity=2)
    seats_id, seats_sub = _contract(
        post,
        world,
        quantity_management_mode="SEAT_BASED",
        seat_config={"seat_group_key": "user_id", "initial_seat_ids": ["u1"]},
    )
    seat_update = {"add_seat_ids": [{"seat_ids": ["u9"], "starting_at": JAN_17}]}
    cases = [
        (
            quantity_id,
            {"subscription_id": quantity_sub, "seat_updates": seat_update},
            "update_subscriptions[0].seat_updates: Only a SEAT_BASED subscription has seats.",
        ),
        (
            seats_id,
            {
                "subscription_id": seats_sub,
                "quantity_updates": [{"starting_at": JAN_17, "quantity": 3}],
            },
            "update_subscriptions[0].quantity_updates: A SEAT_BASED subscription's quantity "
            "is its seats.",
        ),
        (
            quantity_id,
            {"subscription_id": quantity_sub, "quantity_updates": [{"starting_at": JAN_17}]},
            "update_subscriptions[0].quantity_updates[0]: Give quantity or quantity_delta.",
        ),
        (
            seats_id,
            {
                "subscription_id": seats_sub,
                "seat_updates": {"remove_seat_ids": [{"seat_ids": ["u7"], "starting_at": JAN_17}]},
            },
            "update_subscriptions[0].seat_updates.remove_seat_ids[0].seat_ids: Seat u7 is not "
            "assigned at 2026-01-17 00:00.",
        ),
        (
            seats_id,
            {
                "subscription_id": seats_sub,
                "seat_updates": {"remove_unassigned_seats": [{"quantity": 1, "starting_at": JAN}]},
            },
            "update_subscriptions[0].seat_updates.remove_unassigned_seats[0]: Quantities cannot "
            "be negative.",
        ),
        (
            quantity_id,
            {"subscription_id": UNKNOWN, "quantity_updates": []},
            "update_subscriptions[0].subscription_id: No such subscription.",
        ),
    ]
    for contract_id, update, message in cases:
        assert error(_edit(post, world, contract_id, update), 400) == message
    # A refused edit changes nothing.
    assert _january_subscription_lines(quantity_id) == [(1, Decimal(2), Decimal(6200))]
