"""Seat increases end to end over HTTP: a recurring credit pooled over a SEAT_BASED subscription
(apply_seat_increase_config) gains the seats a v2 edit adds, stored and shown as given, and the
April draft follows at once. By hand, in cents: 100.00 a seat (10000) a month; April 2026 has 30
days; two seats added on 11 April have 20 left: 20000 + 2 x 10000 x 20/30 = 33333 (333.33)
prorated, 40000 (400.00) not. Seats cost 1000.00 a month each, in advance, prorated: 2 seats for
10 days (66667) and 4 for 20 (266667), 333334 before the credits."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import Credit
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from tests.api.conftest import USD, data, error
from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory
from tests.customers.factories import CustomerFactory

APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def world(db):
    seats = ProductFactory(subscription=True, name="Seats")
    card = RateCardFactory(name="Card")
    RateFactory(
        rate_card=card,
        product=seats,
        rate_type="SUBSCRIPTION",
        price=Decimal(100000),
        billing_frequency="MONTHLY",
        starting_at=APR_1,
    )
    return {
        "customer": CustomerFactory(name="Acme"),
        "card": card,
        "seats": seats,
        "pool": ProductFactory(fixed=True, name="Seat pool"),
    }


def _contract(post, world, *, is_prorated: bool, allocation="POOLED", **seat_config) -> str:
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": "2026-04-01T00:00:00Z",
        "ending_before": "2026-06-01T00:00:00Z",
        "subscriptions": [
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {
                    "product_id": str(world["seats"].pk),
                    "billing_frequency": "MONTHLY",
                },
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {
                    "seat_group_key": "user_id",
                    "initial_seat_ids": [],
                    "initial_unassigned_seats": 2,
                    **seat_config,
                },
            }
        ],
        "recurring_credits": [
            {
                "product_id": str(world["pool"].pk),
                "name": "Seat pool",
                "priority": 1,
                "starting_at": "2026-04-01T00:00:00Z",
                "access_amount": {"credit_type_id": USD, "unit_price": 10000},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "subscription_config": {
                    "subscription_id": "seats",
                    "allocation": allocation,
                    "apply_seat_increase_config": {"is_prorated": is_prorated},
                },
            }
        ],
    }
    return data(post("/v1/contracts/create", body))["id"]


def _add_two_seats(post, world, contract: str, **more):
    shown = data(
        post(
            "/v2/contracts/get",
            {"contract_id": contract, "customer_id": str(world["customer"].pk)},
        )
    )
    return post(
        "/v2/contracts/edit",
        {
            "contract_id": contract,
            "customer_id": str(world["customer"].pk),
            "update_subscriptions": [
                {
                    "subscription_id": shown["subscriptions"][0]["id"],
                    "seat_updates": {
                        "add_unassigned_seats": [
                            {"quantity": 2, "starting_at": "2026-04-11T00:00:00Z"}
                        ]
                    },
                }
            ],
            **more,
        },
    )


def _april_credit(contract: str) -> list[tuple]:
    credit = Credit.objects.get(contract_id=contract, recurrence_start=APR_1)
    return [(s.starting_at.day, s.amount) for s in credit.access_schedule.all()]


def _april_draft(contract: str):
    invoice = Invoice.objects.get(contract_id=contract, type="USAGE", start_timestamp=APR_1)
    return invoice_view(invoice=invoice)


@pytest.mark.parametrize("is_prorated, added", [(True, 13333), (False, 20000)])
def test_two_seats_added_on_the_11th_top_up_the_pool_and_the_draft_follows(
    post, world, is_prorated, added
):
    contract = _contract(post, world, is_prorated=is_prorated)
    assert _april_credit(contract) == [(1, Decimal(20000))]
    assert _april_draft(contract).total == Decimal(200000 - 20000)  # April's 2 seats, in advance

    data(_add_two_seats(post, world, contract))
    assert _april_credit(contract) == [(1, Decimal(20000)), (11, Decimal(added))]
    draft = _april_draft(contract)
    assert [(line.type, line.total) for line in draft.lines if line.type != "subscription"] == [
        ("applied_commit_or_credit", Decimal(-20000)),
        ("applied_commit_or_credit", Decimal(-added)),
    ]
    assert draft.total == Decimal(333334 - 20000 - added)


@pytest.mark.parametrize("is_prorated", [True, False])
def test_the_setting_is_stored_and_returned_as_given_in_v1_and_v2(post, world, is_prorated):
    contract = _contract(post, world, is_prorated=is_prorated)
    ref = {"contract_id": contract, "customer_id": str(world["customer"].pk)}
    v1 = data(post("/v1/contracts/get", ref))
    v2 = data(post("/v2/contracts/get", ref))
    for shown in (v1["current"], v1["initial"], v2):
        (term,) = shown["recurring_credits"]
        assert term["subscription_config"]["apply_seat_increase_config"] == {
            "is_prorated": is_prorated
        }


def test_a_replayed_edit_adds_the_seats_once(post, world):
    contract = _contract(post, world, is_prorated=True)
    data(_add_two_seats(post, world, contract, uniqueness_key="seats-0411"))
    message = error(_add_two_seats(post, world, contract, uniqueness_key="seats-0411"), 409)
    assert "uniqueness_key" in message
    assert _april_credit(contract) == [(1, Decimal(20000)), (11, Decimal(13333))]


def test_a_recurring_credit_on_a_subscription_needs_is_prorated(post, world):
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": "2026-04-01T00:00:00Z",
        "recurring_credits": [
            {
                "product_id": str(world["pool"].pk),
                "priority": 1,
                "starting_at": "2026-04-01T00:00:00Z",
                "access_amount": {"credit_type_id": USD, "unit_price": 10000},
                "commit_duration": {"value": 1},
                "subscription_config": {
                    "subscription_id": "seats",
                    "apply_seat_increase_config": {},
                },
            }
        ],
    }
    message = error(post("/v1/contracts/create", body), 400)
    assert message.startswith(
        "recurring_credits[0].subscription_config.apply_seat_increase_config.is_prorated"
    )
