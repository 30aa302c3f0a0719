"""`proration_rounding` on recurring commits and credits through the official SDK, strict
validation on: taken on contract create, shown by the contract, changed by a v2 edit (the
balances not yet started follow), kept by a package; the prorated amounts rounded as it says.

The recurring terms start on the 11th of next month, so their first month is cut: 1000 cents
times the days left over the month's days (20 of 30 is 666.666..., 21 of 31 is 677.419...)."""

import calendar
from datetime import UTC, datetime, timedelta

import metronome
import pytest

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"

# By the length of next month: 1000 x (days - 10) / days, worked out by hand.
CEILING_2 = {28: 642.86, 29: 655.18, 30: 666.67, 31: 677.42}  # 642.857.., 655.172.., 677.419..
HALF_UP_0 = {28: 643, 29: 655, 30: 667, 31: 677}


@pytest.fixture
def offer(client):
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (start + timedelta(days=32)).replace(day=1)
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    return {
        "start": start,
        "first": next_month + timedelta(days=10),
        "days": calendar.monthrange(next_month.year, next_month.month)[1],
        "card": card,
        "fixed": client.v1.contracts.products.create(name="Commitment", type="FIXED").data.id,
        "customer": client.v1.customers.create(name="Acme").data.id,
    }


def _recurring(offer, name: str, **more) -> dict:
    return {
        "product_id": offer["fixed"],
        "name": name,
        "priority": 1,
        "starting_at": offer["first"],
        "access_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
        "commit_duration": {"value": 1, "unit": "PERIODS"},
        "proration": "FIRST_AND_LAST",
        **more,
    }


def _first(balances, name: str, offer):
    (made,) = [
        b
        for b in balances
        if b.name == name and b.access_schedule.schedule_items[0].starting_at == offer["first"]
    ]
    return made


def test_prorated_amounts_are_rounded_as_configured_and_follow_an_edit(client, offer):
    contract = client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        recurring_commits=[
            _recurring(
                offer,
                "Monthly commit",
                invoice_amount={"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
                proration_rounding={
                    "access": {"decimal_places": 2, "rounding_method": "CEILING"},
                    "invoice": {"decimal_places": -2, "rounding_method": "FLOOR"},
                },
            )
        ],
        recurring_credits=[
            _recurring(
                offer,
                "Monthly credit",
                proration_rounding={"access": {"decimal_places": -3, "rounding_method": "CEILING"}},
            )
        ],
    ).data.id
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (commit_term,) = shown.recurring_commits
    assert commit_term.proration_rounding.to_dict() == {
        "access": {"decimal_places": 2, "rounding_method": "CEILING"},
        "invoice": {"decimal_places": -2, "rounding_method": "FLOOR"},
    }
    (credit_term,) = shown.recurring_credits
    assert credit_term.proration_rounding.to_dict() == {
        "access": {"decimal_places": -3, "rounding_method": "CEILING"}
    }
    commit = _first(shown.commits, "Monthly commit", offer)
    assert commit.access_schedule.schedule_items[0].amount == CEILING_2[offer["days"]]
    assert [i.amount for i in commit.invoice_schedule.schedule_items] == [600]
    credit = _first(shown.credits, "Monthly credit", offer)
    assert credit.access_schedule.schedule_items[0].amount == 1000

    # The commit has not started: it follows the new rounding; the invoice's is cleared.
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_recurring_commits=[
            {
                "recurring_commit_id": commit_term.id,
                "proration_rounding": {
                    "access": {"decimal_places": 0, "rounding_method": "HALF_UP"},
                    "invoice": None,
                },
            }
        ],
        update_recurring_credits=[
            {"recurring_credit_id": credit_term.id, "proration_rounding": None}
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert shown.recurring_commits[0].proration_rounding.to_dict() == {
        "access": {"decimal_places": 0, "rounding_method": "HALF_UP"}
    }
    assert shown.recurring_credits[0].proration_rounding is None
    commit = _first(shown.commits, "Monthly commit", offer)
    assert commit.access_schedule.schedule_items[0].amount == HALF_UP_0[offer["days"]]
    # Without a rounding: half up to the cent, as before.
    assert [i.amount for i in commit.invoice_schedule.schedule_items] == [HALF_UP_0[offer["days"]]]
    credit = _first(shown.credits, "Monthly credit", offer)
    assert credit.access_schedule.schedule_items[0].amount == HALF_UP_0[offer["days"]]

    (edit,) = client.v2.contracts.get_edit_history(
        contract_id=contract, customer_id=offer["customer"]
    ).data
    # The history says what the edit sent: the invoice rounding cleared.
    assert edit.update_recurring_commits[0].proration_rounding.to_dict() == {
        "access": {"decimal_places": 0, "rounding_method": "HALF_UP"},
        "invoice": None,
    }


def test_a_package_keeps_the_rounding_and_its_contracts_get_it(client, offer):
    package = client.v1.packages.create(
        name="Rounded",
        rate_card_id=offer["card"],
        recurring_commits=[
            {
                "product_id": offer["fixed"],
                "name": "Monthly commit",
                "priority": 1,
                "access_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "starting_at_offset": {"unit": "DAYS", "value": 0},
                "proration_rounding": {
                    "access": {"decimal_places": -2, "rounding_method": "FLOOR"},
                    "invoice": {"decimal_places": 0, "rounding_method": "HALF_UP"},
                },
            }
        ],
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    assert shown.recurring_commits[0].proration_rounding.to_dict() == {
        "access": {"decimal_places": -2, "rounding_method": "FLOOR"},
        "invoice": {"decimal_places": 0, "rounding_method": "HALF_UP"},
    }
    made = client.v1.contracts.create(
        customer_id=offer["customer"], package_id=package, starting_at=offer["first"]
    ).data.id
    contract = client.v2.contracts.retrieve(contract_id=made, customer_id=offer["customer"]).data
    assert contract.recurring_commits[0].proration_rounding.access.rounding_method == "FLOOR"
    # The package's contract starts on the 11th: its first month is cut, 1000 x 20/30 -> 600.
    commit = _first(contract.commits, "Monthly commit", offer)
    assert commit.access_schedule.schedule_items[0].amount == 600


@pytest.mark.parametrize(
    "key, rounding, message",
    [
        (
            "recurring_credits",
            {"invoice": {"decimal_places": 0, "rounding_method": "FLOOR"}},
            "recurring_credits[0].proration_rounding.invoice: Credits are not invoiced.",
        ),
        (
            "recurring_commits",
            {"access": {"decimal_places": -27, "rounding_method": "FLOOR"}},
            "recurring_commits[0].proration_rounding.access.decimal_places: Must be at least -26.",
        ),
        (
            "recurring_commits",
            {"access": {"decimal_places": 1.5, "rounding_method": "FLOOR"}},
            "recurring_commits[0].proration_rounding.access.decimal_places: Use at most 0 "
            "decimal places.",
        ),
    ],
)
def test_a_bad_rounding_is_refused_by_field(client, offer, key, rounding, message):
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=offer["customer"],
            rate_card_id=offer["card"],
            starting_at=offer["start"],
            **{key: [_recurring(offer, "Bad", proration_rounding=rounding)]},
        )
    assert refused.value.body["message"] == message


def test_a_recurring_credit_added_by_an_edit_keeps_its_rounding(client, offer):
    contract = client.v1.contracts.create(
        customer_id=offer["customer"], rate_card_id=offer["card"], starting_at=offer["start"]
    ).data.id
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        add_recurring_credits=[
            _recurring(
                offer,
                "Added credit",
                proration_rounding={"access": {"decimal_places": 2, "rounding_method": "CEILING"}},
            )
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert shown.recurring_credits[0].proration_rounding.to_dict() == {
        "access": {"decimal_places": 2, "rounding_method": "CEILING"}
    }
    credit = _first(shown.credits, "Added credit", offer)
    assert credit.access_schedule.schedule_items[0].amount == CEILING_2[offer["days"]]
    (edit,) = client.v2.contracts.get_edit_history(
        contract_id=contract, customer_id=offer["customer"]
    ).data
    assert edit.add_recurring_credits[0].proration_rounding.access.rounding_method == "CEILING"
