"""A package's SEAT_BASED subscription (Metronome's `quantity_management_mode` and `seat_config`)
and the recurring commits and credits tied to it, through the official SDK, strict validation on:
the package round trips, and a contract made from it equals, line for line and seat for seat, the
same contract given directly, before and after seats are added; its seat endpoints answer."""

import metronome
import pytest

from tests.compat import test_sdk_contract_terms as contract_terms
from tests.compat.conftest import USD

offer = contract_terms.offer  # the same offering: seats at 1000 a month, calls at 100
_calls, _lines = contract_terms._calls, contract_terms._lines

OFFSET_0 = {"unit": "DAYS", "value": 0}


def _subscription(offer, seat_config: dict) -> dict:
    return {
        "temporary_id": "seats",
        "collection_schedule": "ADVANCE",
        "proration": {"is_prorated": False},
        "subscription_rate": {"product_id": offer["seats"], "billing_frequency": "MONTHLY"},
        "quantity_management_mode": "SEAT_BASED",
        "seat_config": seat_config,
    }


def _recurring(offer, name: str, unit_price: int, allocation: str) -> dict:
    return {
        "product_id": offer["fixed"],
        "name": name,
        "priority": 1 if allocation == "INDIVIDUAL" else 2,
        "access_amount": {"credit_type_id": USD, "unit_price": unit_price},
        "commit_duration": {"value": 1, "unit": "PERIODS"},
        "proration": "NONE",
        "starting_at_offset": OFFSET_0,
        "subscription_config": {
            "subscription_id": "seats",
            "allocation": allocation,
            "apply_seat_increase_config": {"is_prorated": False},
        },
    }


def _terms(offer) -> dict:
    """Per seat: a 250 credit of its own (INDIVIDUAL) and 100 into a pooled commit (POOLED)."""
    return {
        "recurring_credits": [_recurring(offer, "Seat credit", 250, "INDIVIDUAL")],
        "recurring_commits": [_recurring(offer, "Pooled commit", 100, "POOLED")],
    }


def _snapshot(client, offer, customer: str, contract: str) -> tuple:
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=customer).data
    (subscription,) = shown.subscriptions
    seats = client.v1.contracts.get_subscription_seats_history(
        contract_id=contract, customer_id=customer, subscription_id=subscription.id
    ).data
    quantities = client.v1.contracts.retrieve_subscription_quantity_history(
        contract_id=contract, customer_id=customer, subscription_id=subscription.id
    ).data
    balances = client.v1.contracts.list_seat_balances(
        contract_id=contract, customer_id=customer
    ).data
    drafts = sorted(
        (i.type, i.start_timestamp, _lines(i), i.total)
        for i in client.v1.customers.invoices.list(customer_id=customer, status="DRAFT")
    )
    return (
        subscription.quantity_management_mode,
        subscription.seat_config.seat_group_key,
        [(h.starting_at, sorted(h.assigned_seat_ids), h.total_quantity) for h in seats],
        [(h.starting_at, [d.quantity for d in h.data]) for h in quantities.history],
        [(s.seat_id, [(b.starting_balance, b.balance) for b in s.balances]) for s in balances],
        drafts,
    )


def _add_seats(client, customer: str, contract: str, seats: list[str], at) -> None:
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=customer).data
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=customer,
        update_subscriptions=[
            {
                "subscription_id": shown.subscriptions[0].id,
                "seat_updates": {"add_seat_ids": [{"seat_ids": seats, "starting_at": at}]},
            }
        ],
    )


def test_a_seat_based_package_round_trips(client, offer):
    package = client.v1.packages.create(
        name="Per seat",
        rate_card_id=offer["card"],
        subscriptions=[
            _subscription(offer, {"seat_group_key": "user_id", "initial_unassigned_seats": 2})
        ],
        **_terms(offer),
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    (subscription,) = shown.subscriptions
    assert subscription.quantity_management_mode == "SEAT_BASED"
    assert subscription.seat_config.seat_group_key == "user_id"
    assert shown.recurring_credits[0].subscription_config.allocation == "INDIVIDUAL"
    assert shown.recurring_commits[0].subscription_config.allocation == "POOLED"


def test_a_contract_from_a_seat_based_package_equals_the_same_terms_given(client, offer):
    package = client.v1.packages.create(
        name="Per seat",
        rate_card_id=offer["card"],
        subscriptions=[
            _subscription(offer, {"seat_group_key": "user_id", "initial_unassigned_seats": 2})
        ],
        **_terms(offer),
    ).data.id
    from_package = offer["customer"]
    made = client.v1.contracts.create(
        customer_id=from_package, package_id=package, starting_at=offer["start"]
    ).data.id
    direct = client.v1.customers.create(name="Direct").data.id
    dated = _terms(offer)
    for term in dated["recurring_credits"] + dated["recurring_commits"]:
        del term["starting_at_offset"]
        term["starting_at"] = offer["start"]
    given = client.v1.contracts.create(
        customer_id=direct,
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        subscriptions=[
            _subscription(
                offer,
                {
                    "seat_group_key": "user_id",
                    "initial_seat_ids": [],
                    "initial_unassigned_seats": 2,
                },
            )
        ],
        **dated,
    ).data.id

    before = _snapshot(client, offer, from_package, made)
    assert before == _snapshot(client, offer, direct, given)
    # Two unassigned seats: no per-seat credit yet, 2 x 100 pooled, seats billed 2 x 1000.
    assert before[2] == [(offer["start"], [], 2)]
    assert before[4] == []
    (usage,) = [d for d in before[5] if d[0] == "USAGE"]
    assert usage[2] == [
        ("applied_commit_or_credit", "Pooled commit", -200),
        ("subscription", "Seats", 2000),
    ]

    for customer, contract in ((from_package, made), (direct, given)):
        _add_seats(client, customer, contract, ["u1", "u2"], offer["start"])
    _calls(client, offer, 3, user="u1")  # acme-terms is the package's customer: 300 of calls
    after = _snapshot(client, offer, from_package, made)
    assert after[2] == [(offer["start"], ["u1", "u2"], 4)]
    assert after[3] == [(offer["start"], [4])]
    # u1's 300 of calls draw its own 250 credit (priority 1; u2's is only for u2's usage); this
    # month's pool was made with 2 seats (200) and gains the 2 seats added from its start, in
    # full (2 x 100, a second segment), both going to the seats' 4000.
    assert after[4] == [("u1", [(250, 0)]), ("u2", [(250, 250)])]
    (usage,) = [d for d in after[5] if d[0] == "USAGE"]
    assert usage[2] == [
        ("applied_commit_or_credit", "Pooled commit", -200),
        ("applied_commit_or_credit", "Pooled commit", -200),
        ("applied_commit_or_credit", "Seat credit", -250),
        ("subscription", "Seats", 4000),
        ("usage", "API calls", 300),
    ]
    # The direct contract, with the same seats and no calls, matches seat for seat.
    direct_after = _snapshot(client, offer, direct, given)
    assert direct_after[:4] == after[:4]
    assert direct_after[4] == [("u1", [(250, 250)]), ("u2", [(250, 250)])]
    assert [d[1] for d in after[5]] == [d[1] for d in direct_after[5]]


@pytest.mark.parametrize(
    "subscription, credit_allocation, message",
    [
        (
            {"quantity_management_mode": "SEAT_BASED"},
            "POOLED",
            "subscriptions[0].seat_config: A SEAT_BASED subscription needs its seat_config.",
        ),
        (
            {"seat_config": {"seat_group_key": "user_id"}},
            "POOLED",
            "subscriptions[0].seat_config: Only a SEAT_BASED subscription has seats.",
        ),
        (
            {"quantity_management_mode": "QUANTITY_ONLY", "initial_quantity": 2},
            "INDIVIDUAL",
            "recurring_credits[0].subscription_config.allocation: A per-seat (INDIVIDUAL) "
            "allocation needs a SEAT_BASED subscription.",
        ),
        (
            {
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id"},
                "initial_quantity": 2,
            },
            "POOLED",
            "subscriptions[0].initial_quantity: A SEAT_BASED subscription's quantity is its "
            "seats: give seat_config.initial_unassigned_seats.",
        ),
    ],
)
def test_bad_seat_terms_of_a_package_are_refused_by_field(
    client, offer, subscription, credit_allocation, message
):
    base = {
        "temporary_id": "seats",
        "collection_schedule": "ADVANCE",
        "proration": {"is_prorated": False},
        "subscription_rate": {"product_id": offer["seats"], "billing_frequency": "MONTHLY"},
    }
    credit = _recurring(offer, "Seat credit", 250, credit_allocation)
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            subscriptions=[{**base, **subscription}],
            recurring_credits=[credit],
        )
    assert refused.value.body["message"] == message
