"""Manual ledger entries split among seats (`per_group_amounts`): the per-seat credits a
recurring credit of a SEAT_BASED subscription made for one period; the errors name the field."""

from decimal import Decimal

import pytest

from customers.models import BalanceLedgerEntry, Commit, Credit
from tests.api import test_term_edits as edits
from tests.api.conftest import USD, error

world = edits.world  # seats at 1000 a month; this month's start and the next ones


@pytest.fixture
def seats(world, post):
    contract = edits._contract(
        post,
        world,
        world["this"],
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {
                    "product_id": str(world["seats"].pk),
                    "billing_frequency": "MONTHLY",
                },
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_seat_ids": ["u1", "u2"]},
            }
        ],
        recurring_credits=[
            {
                "product_id": str(world["fixed"].pk),
                "name": "Seat credit",
                "priority": 1,
                "starting_at": edits._iso(world["this"]),
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
    credit = Credit.objects.get(contract_id=contract, seat_id="u1", recurrence_start=world["this"])
    return {
        "contract": contract,
        "credit": credit,
        "body": {
            "id": str(credit.pk),
            "segment_id": str(credit.access_schedule.get().pk),
            "customer_id": str(world["customer"].pk),
            "contract_id": contract,
            "amount": 100,
            "reason": "Goodwill",
        },
    }


def test_the_amount_is_entered_on_each_seats_credit(seats, post):
    body = {**seats["body"], "per_group_amounts": {"u1": 30, "u2": "70.5"}, "amount": "100.5"}
    response = post("/v1/contracts/addManualBalanceLedgerEntry", {**body, "uniqueness_key": "k-1"})
    assert (response.status_code, response.json()) == (200, {})
    entries = BalanceLedgerEntry.objects.filter(credit__contract_id=seats["contract"])
    assert sorted((e.credit.seat_id, e.amount, e.uniqueness_key) for e in entries) == [
        ("u1", Decimal("30"), "k-1"),
        ("u2", Decimal("70.5"), None),
    ]


@pytest.mark.parametrize(
    "shares, message",
    [
        ({"u1": 30, "u2": 60}, "per_group_amounts: The amounts add up to 90, not the amount 100."),
        ({"u1": 30, "u9": 70}, "per_group_amounts.u9: Seat u9 has no balance in this period."),
        ({"u1": "many"}, None),
    ],
)
def test_per_group_amount_errors(seats, post, shares, message):
    body = {**seats["body"], "per_group_amounts": shares}
    got = error(post("/v1/contracts/addManualBalanceLedgerEntry", body), 400)
    if message is None:
        assert got.startswith("per_group_amounts")
    else:
        assert got == message
    assert not BalanceLedgerEntry.objects.filter(type__endswith="MANUAL").exists()


def test_a_balance_without_seats_has_no_seat_groups(world, post):
    contract = edits._contract(
        post, world, world["this"], recurring_commits=[edits._recurring_commit(world)]
    )
    commit = Commit.objects.get(contract_id=contract, recurrence_start=world["this"])
    body = {
        "id": str(commit.pk),
        "segment_id": str(commit.access_schedule.get().pk),
        "customer_id": str(world["customer"].pk),
        "amount": 100,
        "reason": "Goodwill",
        "per_group_amounts": {"u1": 100},
    }
    assert error(post("/v1/contracts/addManualBalanceLedgerEntry", body), 400) == (
        "per_group_amounts: Only a per-seat commit or credit (made by a recurring one of a "
        "SEAT_BASED subscription with allocation INDIVIDUAL) has seat groups; this one has none."
    )
