"""Seat increases through the official SDK, strict validation on: recurring commits and credits
on a SEAT_BASED subscription (`apply_seat_increase_config`) gain the seats a v2 edit adds, and
every read shows it: the contract (v1 and v2), its balances, its seat balances and its draft.

By hand, in cents: 100.00 a seat (10000) a month; April 2026 has 30 days; seats added on 11 April
have 20 of them left. Pooled, 2 seats then 4: 20000 + 2 x 10000 x 20/30 = 33333 (333.33)
prorated, 40000 (400.00) not. Per seat: u1 and u2 10000 each, u3 (from the 11th) 6667 prorated,
10000 not. A decrease takes nothing back: this month's pool stays, next month's has fewer seats.
"""

from datetime import UTC, datetime

import pytest

from customers.periods import add_months
from tests.compat.conftest import USD
from tests.compat.test_sdk_contract_terms import _month_start

APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
APR_11 = datetime(2026, 4, 11, tzinfo=UTC)
APR_20 = datetime(2026, 4, 20, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)
JUN_1 = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def seat_offer(client):
    """Seats at 1000.00 a month each (in advance, prorated) from April 2026, a FIXED product for
    the recurring terms, and a customer."""
    seats = client.v1.contracts.products.create(name="Seats", type="SUBSCRIPTION").data.id
    card = client.v1.contracts.rate_cards.create(name="Seats card").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=seats,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=100000,
        billing_frequency="MONTHLY",
        starting_at=APR_1,
    )
    return {
        "seats": seats,
        "card": card,
        "pool": client.v1.contracts.products.create(name="Seat pool", type="FIXED").data.id,
        "customer": client.v1.customers.create(name="Acme seats").data.id,
    }


def _create(client, offer, *, kind, allocation, is_prorated, start=APR_1, end=JUN_1, **seats):
    term = {
        "product_id": offer["pool"],
        "name": "Seat pool",
        "priority": 1,
        "starting_at": start,
        "access_amount": {"credit_type_id": USD, "unit_price": 10000},
        "commit_duration": {"value": 1, "unit": "PERIODS"},
        "subscription_config": {
            "subscription_id": "seats",
            "allocation": allocation,
            "apply_seat_increase_config": {"is_prorated": is_prorated},
        },
    }
    if kind == "commit":
        term["invoice_amount"] = {"credit_type_id": USD, "unit_price": 10000, "quantity": 1}
    contract = client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=start,
        **({"ending_before": end} if end else {}),
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {"product_id": offer["seats"], "billing_frequency": "MONTHLY"},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_seat_ids": [], **seats},
            }
        ],
        **{f"recurring_{kind}s": [term]},
    ).data.id
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    return contract, shown.subscriptions[0].id


def _edit_seats(client, offer, contract, subscription, **seat_updates):
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_subscriptions=[{"subscription_id": subscription, "seat_updates": seat_updates}],
    )


def _items(balance) -> list[tuple]:
    return [(i.starting_at, i.amount) for i in balance.access_schedule.schedule_items]


@pytest.mark.parametrize("is_prorated, added", [(True, 13333), (False, 20000)])
def test_a_pooled_credit_gains_two_seats_added_on_the_11th_in_every_read(
    client, seat_offer, is_prorated, added
):
    offer = seat_offer
    contract, subscription = _create(
        client,
        offer,
        kind="credit",
        allocation="POOLED",
        is_prorated=is_prorated,
        initial_unassigned_seats=2,
    )
    _edit_seats(
        client,
        offer,
        contract,
        subscription,
        add_unassigned_seats=[{"quantity": 2, "starting_at": APR_11}],
    )
    ref = {"contract_id": contract, "customer_id": offer["customer"]}
    v2 = client.v2.contracts.retrieve(**ref).data
    (term,) = v2.recurring_credits
    assert term.subscription_config.apply_seat_increase_config.is_prorated is is_prorated
    april = next(c for c in v2.credits if _items(c)[0][0] == APR_1)
    assert _items(april) == [(APR_1, 20000), (APR_11, added)]
    assert april.recurring_credit_id == term.id
    assert april.subscription_config.allocation == "POOLED"
    assert april.subscription_config.apply_seat_increase_config.is_prorated is is_prorated

    v1 = client.v1.contracts.retrieve(**ref).data
    (v1_term,) = v1.current.recurring_credits
    assert v1_term.subscription_config.apply_seat_increase_config.is_prorated is is_prorated
    v1_april = next(c for c in v1.current.credits if c.id == april.id)
    assert _items(v1_april) == [(APR_1, 20000), (APR_11, added)]

    listed = client.v1.contracts.list_balances(
        customer_id=offer["customer"], include_contract_balances=True, covering_date=APR_20
    )
    (balance,) = [b for b in listed if b.id == april.id]
    assert _items(balance) == [(APR_1, 20000), (APR_11, added)]
    assert balance.subscription_config.apply_seat_increase_config.is_prorated is is_prorated

    (draft,) = [
        i
        for i in client.v1.customers.invoices.list(customer_id=offer["customer"], status="DRAFT")
        if i.type == "USAGE" and i.start_timestamp == APR_1
    ]
    # Seats in advance: 2 for 10 days (66667) and 4 for 20 (266667); the pool draws both parts.
    assert sorted((line.type, line.total) for line in draft.line_items) == sorted(
        [
            ("applied_commit_or_credit", -20000),
            ("applied_commit_or_credit", -added),
            ("subscription", 66667),
            ("subscription", 266667),
        ]
    )
    assert draft.total == 333334 - 20000 - added


@pytest.mark.parametrize("is_prorated, added", [(True, 6667), (False, 10000)])
def test_a_seat_assigned_on_the_11th_gets_its_own_commit_and_seat_balance(
    client, seat_offer, is_prorated, added
):
    offer = seat_offer
    contract, subscription = _create(
        client,
        offer,
        kind="commit",
        allocation="INDIVIDUAL",
        is_prorated=is_prorated,
        initial_seat_ids=["u1", "u2"],
    )
    _edit_seats(
        client,
        offer,
        contract,
        subscription,
        add_seat_ids=[{"seat_ids": ["u3"], "starting_at": APR_11}],
    )
    seats = client.v1.contracts.list_seat_balances(
        contract_id=contract,
        customer_id=offer["customer"],
        covering_date=APR_20,
        include_credits_and_commits=True,
    ).data
    assert sorted((s.seat_id, [b.starting_balance for b in s.balances]) for s in seats) == [
        ("u1", [10000]),
        ("u2", [10000]),
        ("u3", [added]),
    ]
    (u3,) = [s for s in seats if s.seat_id == "u3"]
    (u3_commit,) = u3.commits
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    made = next(c for c in shown.commits if c.id == u3_commit.id)
    assert _items(made) == [(APR_11, added)]
    # What is charged follows what is granted, with the same proration.
    assert [i.amount for i in made.invoice_schedule.schedule_items] == [added]
    assert made.subscription_config.allocation == "INDIVIDUAL"


def test_a_decrease_keeps_this_month_and_next_month_has_fewer_seats(client, seat_offer):
    offer = seat_offer
    this = _month_start(datetime.now(UTC))
    following = add_months(this, 1)
    contract, subscription = _create(
        client,
        offer,
        kind="credit",
        allocation="POOLED",
        is_prorated=True,
        start=this,
        end=None,
        initial_unassigned_seats=3,
    )
    _edit_seats(
        client,
        offer,
        contract,
        subscription,
        remove_unassigned_seats=[{"quantity": 2, "starting_at": following}],
    )
    credits = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"])
    assert sorted(_items(c)[0] for c in credits.data.credits) == [
        (this, 30000),  # this month keeps its 3 seats
        (following, 10000),  # next month has 1
    ]


@pytest.mark.parametrize("is_prorated", [True, False])
def test_a_contract_from_a_package_keeps_the_setting_of_its_recurring_terms(
    client, seat_offer, is_prorated
):
    offer = seat_offer
    term = {
        "product_id": offer["pool"],
        "name": "Seat pool",
        "priority": 1,
        "access_amount": {"credit_type_id": USD, "unit_price": 10000},
        "commit_duration": {"value": 1, "unit": "PERIODS"},
        "starting_at_offset": {"unit": "DAYS", "value": 0},
        "subscription_config": {
            "subscription_id": "seats",
            "allocation": "POOLED",
            "apply_seat_increase_config": {"is_prorated": is_prorated},
        },
    }
    package = client.v1.packages.create(
        name="Per seat",
        rate_card_id=offer["card"],
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {"product_id": offer["seats"], "billing_frequency": "MONTHLY"},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_unassigned_seats": 2},
            }
        ],
        recurring_credits=[term],
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    config = shown.recurring_credits[0].subscription_config
    assert config.apply_seat_increase_config.is_prorated is is_prorated
    contract = client.v1.contracts.create(
        customer_id=offer["customer"], package_id=package, starting_at=APR_1
    ).data.id
    made = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (credit_term,) = made.recurring_credits
    assert credit_term.subscription_config.apply_seat_increase_config.is_prorated is is_prorated
