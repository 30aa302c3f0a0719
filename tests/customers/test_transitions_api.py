"""`transition` on POST /v1/contracts/create: validation, `transitions` on contract get, and the
rollover seen through include_balance / include_ledgers."""

from decimal import Decimal

import pytest

from customers.models import BalanceLedgerEntry, Commit, Contract, ContractTransition
from tests.catalog.factories import PackageFactory, ProductFactory, RateCardFactory, usd_cents
from tests.customers.factories import ContractFactory, CustomerFactory

UNKNOWN = "00000000-0000-4000-8000-000000000000"
OLD_START = "2026-01-01T00:00:00Z"
RENEWAL = "2026-06-01T00:00:00Z"  # in the past: the rollover happens at once
NEW_END = "2030-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def _usd(db):
    return usd_cents()


@pytest.fixture
def post(api_client):
    def _post(path: str, body: dict):
        return api_client.post(path, body, format="json")

    return _post


def _data(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()["data"]


def _error(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert set(response.json()) == {"message"}
    return response.json()["message"]


@pytest.fixture
def card(db):
    return RateCardFactory()


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Acme")


@pytest.fixture
def old(post, customer, card):
    """A 2026 contract with a $100.00 prepaid commit (half of what is left rolls over) and a
    $10.00 credit without a rollover fraction."""
    fixed = ProductFactory(fixed=True, name="Commitment")
    body = {
        "customer_id": str(customer.pk),
        "rate_card_id": str(card.pk),
        "starting_at": OLD_START,
        "commits": [
            {
                "product_id": str(fixed.pk),
                "type": "PREPAID",
                "name": "Annual commit",
                "priority": 5,
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
                "invoice_schedule": {"schedule_items": [{"timestamp": OLD_START, "amount": 10000}]},
            }
        ],
        "credits": [
            {
                "product_id": str(fixed.pk),
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 1000,
                            "starting_at": OLD_START,
                            "ending_before": "2027-01-01T00:00:00Z",
                        }
                    ]
                },
            }
        ],
    }
    return Contract.objects.get(pk=_data(post("/v1/contracts/create", body))["id"])


def _renew(customer, card, old, **transition):
    return {
        "customer_id": str(customer.pk),
        "rate_card_id": str(card.pk),
        "starting_at": RENEWAL,
        "ending_before": NEW_END,
        "transition": {"from_contract_id": str(old.pk), "type": "RENEWAL", **transition},
    }


def _get(post, contract, version="v2", **flags):
    body = {"customer_id": str(contract.customer_id), "contract_id": str(contract.pk), **flags}
    return _data(post(f"/{version}/contracts/get", body))


def test_renewal_shows_on_both_contracts_and_ends_the_old_one(post, customer, card, old):
    new_id = _data(post("/v1/contracts/create", _renew(customer, card, old)))["id"]

    expected = [{"type": "RENEWAL", "from_contract_id": str(old.pk), "to_contract_id": new_id}]
    new = Contract.objects.get(pk=new_id)
    assert _get(post, old)["transitions"] == expected
    assert _get(post, new)["transitions"] == expected
    v1 = _get(post, new, "v1")
    assert v1["current"]["transitions"] == v1["initial"]["transitions"] == expected
    assert _get(post, old)["ending_before"] == RENEWAL


def test_contract_get_without_transitions_lists_none(post, old):
    assert _get(post, old)["transitions"] == []


def test_renewal_rolls_half_the_commit_over_and_shows_it_in_balances_and_ledgers(
    post, customer, card, old
):
    new_id = _data(post("/v1/contracts/create", _renew(customer, card, old)))["id"]
    new = Contract.objects.get(pk=new_id)
    old_commit = Commit.objects.get(contract=old)

    got = _get(post, new, include_balance=True, include_ledgers=True)
    [rolled] = got["commits"]
    assert got["credits"] == []  # the credit has no rollover fraction
    assert rolled["type"] == "PREPAID"
    assert rolled["name"] == "Annual commit" and rolled["priority"] == 5
    assert rolled["rolled_over_from"] == {
        "commit_id": str(old_commit.pk),
        "contract_id": str(old.pk),
    }
    assert "invoice_schedule" not in rolled
    assert rolled["access_schedule"]["schedule_items"][0]["amount"] == 5000
    assert rolled["access_schedule"]["schedule_items"][0]["starting_at"] == RENEWAL
    assert rolled["access_schedule"]["schedule_items"][0]["ending_before"] == NEW_END
    assert rolled["balance"] == 5000
    assert [(e["type"], e["amount"], e["new_contract_id"]) for e in rolled["ledger"]] == [
        ("PREPAID_COMMIT_ROLLOVER", 5000, new_id)
    ]

    before = _get(post, old, include_balance=True, include_ledgers=True)
    [commit] = before["commits"]
    assert commit["balance"] == 0
    assert [(e["type"], e["amount"]) for e in commit["ledger"]] == [
        ("PREPAID_COMMIT_SEGMENT_START", 10000),
        ("PREPAID_COMMIT_ROLLOVER", -10000),
    ]
    assert commit["ledger"][1]["new_contract_id"] == new_id
    assert commit["ledger"][1]["timestamp"] == RENEWAL


def test_supersede_is_accepted_and_rolls_nothing_over(post, customer, card, old):
    body = _renew(customer, card, old, type="SUPERSEDE")
    new_id = _data(post("/v1/contracts/create", body))["id"]

    assert _get(post, Contract.objects.get(pk=new_id))["commits"] == []
    assert ContractTransition.objects.get().type == "SUPERSEDE"
    assert not BalanceLedgerEntry.objects.exists()


def test_future_invoice_behavior_is_stored(post, customer, card, old):
    body = _renew(customer, card, old, future_invoice_behavior={"trueup": "REMOVE"})
    _data(post("/v1/contracts/create", body))

    assert ContractTransition.objects.get().future_invoice_trueup == "REMOVE"


def test_a_retry_with_the_same_uniqueness_key_does_not_roll_over_twice(post, customer, card, old):
    body = _renew(customer, card, old) | {"uniqueness_key": "renewal-2026"}
    _data(post("/v1/contracts/create", body))

    again = post("/v1/contracts/create", body)

    assert _error(again, 409) == (
        "uniqueness_key: 'renewal-2026' was already used to create a contract."
    )
    assert Commit.objects.filter(rolled_over_from__isnull=False).count() == 1
    assert BalanceLedgerEntry.objects.count() == 1


def test_a_package_contract_may_follow_another(post, customer, card, old):
    package = PackageFactory(rate_card=card)
    body = {
        "customer_id": str(customer.pk),
        "package_id": str(package.pk),
        "starting_at": RENEWAL,
        "transition": {"from_contract_id": str(old.pk), "type": "RENEWAL"},
    }
    new_id = _data(post("/v1/contracts/create", body))["id"]

    assert ContractTransition.objects.get().to_contract_id.hex == new_id.replace("-", "")
    assert Commit.objects.get(contract_id=new_id).access_schedule.get().amount == Decimal("5000")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"from_contract_id": UNKNOWN},
            f"transition.from_contract_id: No contract {UNKNOWN}.",
        ),
        ({"from_contract_id": "nope"}, "transition.from_contract_id: 'nope' is not a valid UUID."),
        ({"type": "UPSELL"}, "transition.type: 'UPSELL' is not one of RENEWAL, SUPERSEDE."),
        (
            {"future_invoice_behavior": {"trueup": "LATER"}},
            "transition.future_invoice_behavior.trueup: 'LATER' is not one of REMOVE, AS_IS.",
        ),
        ({"type": None}, "transition.type: This field may not be null."),
    ],
)
def test_transition_field_errors(post, customer, card, old, change, message):
    body = _renew(customer, card, old)
    body["transition"] |= change
    if change.get("type", "") is None:
        del body["transition"]["type"]
        message = "transition.type: This field is required."

    assert _error(post("/v1/contracts/create", body), 400) == message
    assert not ContractTransition.objects.exists()
    assert Contract.objects.count() == 1


def test_transition_from_another_customers_contract(post, card, old):
    stranger = CustomerFactory()
    body = _renew(stranger, card, old)

    assert _error(post("/v1/contracts/create", body), 400) == (
        f"transition.from_contract_id: Contract {old.pk} belongs to another customer."
    )


def test_transition_from_an_archived_contract(post, customer, card, old):
    old.archived_at = old.starting_at
    old.save()

    assert _error(post("/v1/contracts/create", _renew(customer, card, old)), 400) == (
        f"transition.from_contract_id: Contract {old.pk} is archived; it cannot be transitioned."
    )


def test_transition_from_a_contract_already_followed(post, customer, card, old):
    first = _data(post("/v1/contracts/create", _renew(customer, card, old)))["id"]
    body = _renew(customer, card, old) | {"starting_at": "2026-09-01T00:00:00Z"}

    assert _error(post("/v1/contracts/create", body), 400) == (
        f"transition.from_contract_id: Contract {old.pk} already transitioned to contract {first}."
    )


def test_transition_must_start_after_the_earlier_contract(post, customer, card):
    old = ContractFactory(customer=customer, rate_card=card)  # starts 2026-01-01
    body = _renew(customer, card, old) | {"starting_at": "2025-12-01T00:00:00Z"}

    assert _error(post("/v1/contracts/create", body), 400) == (
        f"starting_at: A contract that follows another starts after it: contract {old.pk} "
        "starts at 2026-01-01T00:00:00+00:00."
    )


def test_renewal_starts_on_the_hour(post, customer, card, old):
    body = _renew(customer, card, old) | {"starting_at": "2026-06-01T00:30:00Z"}

    assert _error(post("/v1/contracts/create", body), 400) == (
        "starting_at: A renewal's dates are on the hour (commits roll over on the hour)."
    )
