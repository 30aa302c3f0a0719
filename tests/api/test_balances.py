"""/v1/contracts/customerBalances/*, addManualBalanceLedgerEntry, and include_balance /
include_ledgers on contract get (reference 3.8)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers import services
from tests.api.conftest import UNKNOWN, USD, data, error
from tests.catalog.factories import PricingUnitFactory
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    ContractFactory,
    CreditFactory,
    CustomerFactory,
)

# Wide enough that "now" is always inside: balances are what is usable now.
START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2100, 1, 1, tzinfo=UTC)
INVOICE = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Acme")


@pytest.fixture
def contract(customer):
    return ContractFactory(customer=customer, starting_at=START)


def _segment(term, amount: str, **extra):
    owner = {"credit": term, "commit": None} if term.type == "CREDIT" else {"commit": term}
    return AccessSegmentFactory(
        amount=Decimal(amount), starting_at=START, ending_before=END, **owner, **extra
    )


@pytest.fixture
def terms(customer, contract):
    """A customer-level commit (10000), a customer-level credit (500) and a contract credit (70)."""
    commit = CommitFactory(contract=None, customer=customer, priority=Decimal(1))
    credit = CreditFactory(contract=None, customer=customer)
    own = CreditFactory(contract=contract)
    return {
        "commit": _segment(commit, "10000"),
        "credit": _segment(credit, "500"),
        "own": _segment(own, "70"),
    }


def test_list_balances_is_the_union_of_commits_and_credits(post, customer, terms):
    path = "/v1/contracts/customerBalances/list"
    body = {"customer_id": str(customer.pk), "include_balance": True}
    page = post(path, body).json()
    assert [(b["type"], b["balance"]) for b in page["data"]] == [
        ("PREPAID", 10000),
        ("CREDIT", 500),
    ]
    assert page["next_page"] is None
    everything = post(path, {**body, "include_contract_balances": True}).json()["data"]
    assert [b["balance"] for b in everything] == [10000, 500, 70]


def test_list_balances_pages_with_limit_one(post, customer, terms):
    path = "/v1/contracts/customerBalances/list"
    body = {"customer_id": str(customer.pk), "include_contract_balances": True, "limit": 1}
    seen, cursor = [], None
    for _ in range(4):
        page = post(path, {**body, **({"next_page": cursor} if cursor else {})}).json()
        seen += [b["id"] for b in page["data"]]
        cursor = page["next_page"]
        if cursor is None:
            break
    expected = [str(t.commit_id or t.credit_id) for t in terms.values()]
    assert seen == expected


def test_list_balances_excludes_zero_balances(post, customer, terms):
    segment = terms["credit"]
    services.balance_manual_entry_add(
        balance_id=segment.credit_id,
        segment_id=segment.pk,
        amount=Decimal("-500"),
        reason="Used up",
        customer=customer,
        now=START,
    )
    page = post(
        "/v1/contracts/customerBalances/list",
        {"customer_id": str(customer.pk), "exclude_zero_balances": True},
    ).json()
    assert [b["id"] for b in page["data"]] == [str(terms["commit"].commit_id)]


def test_list_balances_errors(post, customer):
    path = "/v1/contracts/customerBalances/list"
    assert error(post(path, {"customer_id": UNKNOWN}), 404) == f"Customer {UNKNOWN} not found."
    assert error(post(path, {"customer_id": str(customer.pk), "id": "x"}), 400) == (
        "id: 'x' is not a valid UUID."
    )


def test_net_balance_sums_every_balance_in_the_unit(post, customer, terms):
    path = "/v1/contracts/customerBalances/getNetBalance"
    net = data(post(path, {"customer_id": str(customer.pk)}))
    assert net == {"balance": 10570, "credit_type_id": USD}
    segment = terms["commit"]
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[
            {
                "balance_id": str(segment.commit_id),
                "balance_type": "PREPAID",
                "segment_id": str(segment.pk),
                "drawn": "1234.5",
                "remaining": "8765.5",
                "expires": False,
            }
        ],
        now=START,
    )
    assert data(post(path, {"customer_id": str(customer.pk)}))["balance"] == 9335.5
    only_credits = {"customer_id": str(customer.pk), "filters": [{"balance_types": ["CREDIT"]}]}
    assert data(post(path, only_credits))["balance"] == 570
    by_id = {"customer_id": str(customer.pk), "filters": [{"ids": [str(segment.commit_id)]}]}
    assert data(post(path, by_id))["balance"] == 8765.5
    drafts = {"customer_id": str(customer.pk), "invoice_inclusion_mode": "FINALIZED_AND_DRAFT"}
    assert data(post(path, drafts))["balance"] == 9335.5  # no draft draws anything here


def test_net_balance_in_another_unit(post, customer, terms):
    unit = PricingUnitFactory()
    credit = CreditFactory(contract=None, customer=customer, credit_type=unit)
    _segment(credit, "3")
    body = {"customer_id": str(customer.pk), "credit_type_id": str(unit.pk)}
    net = data(post("/v1/contracts/customerBalances/getNetBalance", body))
    assert net == {"balance": 3, "credit_type_id": str(unit.pk)}


def test_net_balance_errors(post, customer):
    path = "/v1/contracts/customerBalances/getNetBalance"
    assert error(post(path, {"customer_id": UNKNOWN}), 404) == f"Customer {UNKNOWN} not found."
    body = {"customer_id": str(customer.pk), "credit_type_id": UNKNOWN}
    assert error(post(path, body), 404) == f"Pricing unit {UNKNOWN} not found."
    body = {"customer_id": str(customer.pk), "filters": [{"balance_types": ["GIFT"]}]}
    assert error(post(path, body), 400).startswith("filters[0].balance_types")
    body = {"customer_id": str(customer.pk), "invoice_inclusion_mode": "ALL"}
    assert error(post(path, body), 400).startswith("invoice_inclusion_mode:")


def _manual(customer, segment, **extra):
    term = segment.commit or segment.credit
    return {
        "id": str(term.pk),
        "segment_id": str(segment.pk),
        "customer_id": str(customer.pk),
        "amount": 25,
        "reason": "Goodwill",
        **extra,
    }


def test_manual_entry_answers_200_empty_and_moves_the_balance(post, customer, terms, contract):
    path = "/v1/contracts/addManualBalanceLedgerEntry"
    response = post(path, _manual(customer, terms["credit"]))
    assert response.status_code == 200 and response.json() == {}
    body = _manual(customer, terms["own"], contract_id=str(contract.pk), amount=-0.5)
    assert post(path, body).status_code == 200
    net = data(
        post("/v1/contracts/customerBalances/getNetBalance", {"customer_id": str(customer.pk)})
    )
    assert net["balance"] == 10594.5


def test_manual_entry_errors(post, customer, terms, contract):
    path = "/v1/contracts/addManualBalanceLedgerEntry"
    body = _manual(customer, terms["commit"], uniqueness_key="m-1")
    assert post(path, body).status_code == 200
    response = post(path, body)
    assert error(response, 409) == "uniqueness_key: 'm-1' was already used for a ledger entry."
    assert response["x-should-retry"] == "false"
    assert error(post(path, _manual(customer, terms["commit"], id=UNKNOWN)), 404) == (
        f"Commit or credit {UNKNOWN} not found."
    )
    stranger = CustomerFactory()
    assert error(post(path, _manual(stranger, terms["commit"])), 404).startswith("Commit or credit")
    other_segment = str(terms["credit"].pk)
    assert error(post(path, _manual(customer, terms["commit"], segment_id=other_segment)), 404) == (
        f"Segment {other_segment} not found."
    )
    # A customer-level balance is not the contract's.
    with_contract = _manual(customer, terms["commit"], contract_id=str(contract.pk))
    assert error(post(path, with_contract), 404).startswith("Commit or credit")
    no_reason = _manual(customer, terms["commit"])
    del no_reason["reason"]
    assert error(post(path, no_reason), 400) == "reason: This field is required."
    assert error(post(path, _manual(customer, terms["commit"], reason=" ")), 400) == (
        "reason: This field may not be blank."
    )
    assert error(post(path, _manual(customer, terms["commit"], amount="ten")), 400).startswith(
        "amount:"
    )


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_contract_get_includes_balance_and_ledgers(post, customer, contract, terms, version):
    segment = terms["own"]
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[
            {
                "balance_id": str(segment.credit_id),
                "balance_type": "CREDIT",
                "segment_id": str(segment.pk),
                "drawn": "20",
                "remaining": "50",
                "expires": False,
            }
        ],
        now=START,
        contract=contract,
    )
    ref = {"contract_id": str(contract.pk), "customer_id": str(customer.pk)}
    plain = data(post(f"/{version}/contracts/get", ref))
    terms_ = plain["current"] if version == "v1" else plain
    assert "balance" not in terms_["credits"][0] and "ledger" not in terms_["credits"][0]
    full = data(
        post(f"/{version}/contracts/get", {**ref, "include_balance": True, "include_ledgers": True})
    )
    (credit,) = (full["current"] if version == "v1" else full)["credits"]
    assert credit["balance"] == 50
    assert credit["ledger"] == [
        {
            "type": "CREDIT_SEGMENT_START",
            "amount": 70,
            "timestamp": "2020-01-01T00:00:00Z",
            "segment_id": str(segment.pk),
        },
        {
            "type": "CREDIT_AUTOMATED_INVOICE_DEDUCTION",
            "amount": -20,
            "timestamp": "2020-01-01T00:00:00Z",
            "segment_id": str(segment.pk),
            "invoice_id": INVOICE,
            "contract_id": str(contract.pk),
        },
    ]


JUNK = [None, 0, -1, 1.5, 1e30, "x", "", True, [], [1], ["x"], {}, {"a": 1}, [{}], [{"a": None}]]


def _junk_bodies(customer, contract, terms, fixed_id):
    segment = terms["commit"]
    schedule = {
        "schedule_items": [
            {
                "amount": 1,
                "starting_at": "2020-01-01T00:00:00Z",
                "ending_before": "2021-01-01T00:00:00Z",
            }
        ]
    }
    term = {
        "customer_id": str(customer.pk),
        "product_id": fixed_id,
        "priority": 1,
        "access_schedule": schedule,
        "applicable_contract_ids": [str(contract.pk)],
        "applicable_product_tags": ["a"],
        "uniqueness_key": "u",
    }
    listing = {
        "customer_id": str(customer.pk),
        "covering_date": "2020-06-01T00:00:00Z",
        "include_balance": True,
        "include_ledgers": True,
        "limit": 1,
    }
    return [
        (
            "/v1/contracts/customerCommits/create",
            {
                **term,
                "type": "PREPAID",
                "invoice_contract_id": str(contract.pk),
                "invoice_schedule": {
                    "schedule_items": [{"timestamp": "2020-01-01T00:00:00Z", "amount": 1}]
                },
            },
        ),
        ("/v1/contracts/customerCredits/create", term),
        ("/v1/contracts/customerCommits/list", {**listing, "include_contract_commits": True}),
        ("/v1/contracts/customerCredits/list", {**listing, "include_contract_credits": True}),
        ("/v1/contracts/customerBalances/list", {**listing, "exclude_zero_balances": True}),
        (
            "/v1/contracts/customerBalances/getNetBalance",
            {
                "customer_id": str(customer.pk),
                "credit_type_id": USD,
                "filters": [{"balance_types": ["CREDIT"], "ids": [str(segment.commit_id)]}],
                "invoice_inclusion_mode": "FINALIZED",
            },
        ),
        (
            "/v1/contracts/addManualBalanceLedgerEntry",
            {
                **_manual(customer, segment),
                "timestamp": "2020-01-01T00:00:00Z",
                "uniqueness_key": "m",
            },
        ),
    ]


def _leaves(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _leaves(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _leaves(item, (*prefix, index))


def _replaced(value, path, junk):
    if not path:
        return junk
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replaced(v, rest, junk) if k == head else v) for k, v in value.items()}
    return [(_replaced(v, rest, junk) if i == head else v) for i, v in enumerate(value)]


def test_junk_anywhere_in_a_balance_request_is_a_4xx_with_a_message(
    api_client, customer, contract, terms
):
    fixed_id = str(terms["commit"].commit.product_id)
    checked = 0
    for path, body in _junk_bodies(customer, contract, terms, fixed_id):
        for where in _leaves(body):
            for junk in JUNK:
                response = api_client.post(path, _replaced(body, where, junk), format="json")
                assert response.status_code < 500, (path, where, junk, response.content)
                if response.status_code >= 400:
                    assert set(response.json()) == {"message"}, (path, where, junk)
                checked += 1
    assert checked > 500
