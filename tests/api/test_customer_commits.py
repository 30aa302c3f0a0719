"""/v1/contracts/customerCommits/* and /customerCredits/* (reference 3.8)."""

from decimal import Decimal

import pytest

from customers.models import Commit, Credit
from tests.api.conftest import UNKNOWN, USD, data, error
from tests.catalog.factories import ProductFactory
from tests.customers.factories import AccessSegmentFactory, ContractFactory, CustomerFactory

# Wide enough that "now" (balances are what is usable now) is always inside.
JAN = "2020-01-01T00:00:00Z"
NEXT_YEAR = "2100-01-01T00:00:00Z"


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Acme")


@pytest.fixture
def fixed(db):
    return ProductFactory(fixed=True, name="Prepaid commit")


@pytest.fixture
def contract(customer):
    return ContractFactory(customer=customer)


def commit_body(customer, fixed, **extra):
    return {
        "customer_id": str(customer.pk),
        "product_id": str(fixed.pk),
        "type": "PREPAID",
        "priority": 1,
        "access_schedule": {
            "schedule_items": [{"amount": 10000, "starting_at": JAN, "ending_before": NEXT_YEAR}]
        },
        **extra,
    }


def credit_body(customer, fixed, **extra):
    body = commit_body(customer, fixed, **extra)
    del body["type"]
    return body


def test_create_customer_commit(post, customer, fixed, contract):
    body = commit_body(
        customer,
        fixed,
        name="Annual prepay",
        description="Signed in Q4",
        rate_type="commit_rate",
        applicable_contract_ids=[str(contract.pk)],
        applicable_product_tags=["tokens"],
        invoice_contract_id=str(contract.pk),
        invoice_schedule={"schedule_items": [{"timestamp": JAN, "amount": 10000}]},
        uniqueness_key="c-1",
    )
    commit = Commit.objects.get(pk=data(post("/v1/contracts/customerCommits/create", body))["id"])
    assert commit.contract is None and commit.customer == customer
    assert commit.invoice_contract == contract
    assert list(commit.applicable_contracts.all()) == [contract]
    assert commit.priority == Decimal("1") and commit.rate_type == "COMMIT_RATE"
    assert commit.access_schedule.get().amount == Decimal("10000")
    assert commit.invoice_schedule.get().amount == Decimal("10000")
    assert commit.uniqueness_key == "c-1"


def test_reused_uniqueness_key_is_409_not_retried(post, customer, fixed):
    assert post(
        "/v1/contracts/customerCommits/create", commit_body(customer, fixed, uniqueness_key="k")
    )
    response = post(
        "/v1/contracts/customerCredits/create", credit_body(customer, fixed, uniqueness_key="k")
    )
    assert error(response, 409) == "uniqueness_key: 'k' was already used to create a commit."
    assert response["x-should-retry"] == "false"


def test_commit_create_errors_name_the_field(post, customer, fixed, contract):
    path = "/v1/contracts/customerCommits/create"
    body = commit_body(customer, fixed)
    del body["priority"]
    assert error(post(path, body), 400) == "priority: This field is required."
    assert "type" in error(post(path, commit_body(customer, fixed, type="MAYBE")), 400)
    invoiced = commit_body(
        customer, fixed, invoice_schedule={"schedule_items": [{"timestamp": JAN, "amount": 1}]}
    )
    assert error(post(path, invoiced), 400) == (
        "invoice_contract_id: An invoiced commit needs the contract to invoice it."
    )
    postpaid = commit_body(customer, fixed, type="POSTPAID")
    assert error(post(path, postpaid), 400) == (
        "invoice_contract_id: A postpaid commit needs the contract to invoice it."
    )
    unaligned = commit_body(customer, fixed)
    unaligned["access_schedule"]["schedule_items"][0]["starting_at"] = "2020-01-01T00:30:00Z"
    assert error(post(path, unaligned), 400).startswith(
        "access_schedule.schedule_items[0].starting_at: Must be on an hour boundary"
    )
    usage = ProductFactory(name="Usage")
    assert error(post(path, commit_body(customer, usage)), 400) == (
        "product_id: Commits and credits use a fixed product."
    )
    assert error(post(path, commit_body(customer, fixed, customer_id="nope")), 400) == (
        "customer_id: 'nope' is not a valid UUID."
    )


def test_commit_create_unknown_or_foreign_ids_are_404(post, customer, fixed):
    path = "/v1/contracts/customerCommits/create"
    assert error(post(path, commit_body(customer, fixed, customer_id=UNKNOWN)), 404) == (
        f"Customer {UNKNOWN} not found."
    )
    assert error(post(path, commit_body(customer, fixed, product_id=UNKNOWN)), 404) == (
        f"Product {UNKNOWN} not found."
    )
    foreign = ContractFactory()
    body = commit_body(customer, fixed, applicable_contract_ids=[str(foreign.pk)])
    assert error(post(path, body), 404) == f"Contract {foreign.pk} not found."
    body = commit_body(customer, fixed, invoice_contract_id=str(foreign.pk))
    assert error(post(path, body), 404) == f"Contract {foreign.pk} not found."


def test_create_customer_credit(post, customer, fixed):
    body = credit_body(customer, fixed, name="Welcome", applicable_product_ids=[str(fixed.pk)])
    credit = Credit.objects.get(pk=data(post("/v1/contracts/customerCredits/create", body))["id"])
    assert credit.contract is None and credit.name == "Welcome"
    assert list(credit.applicable_products.all()) == [fixed]
    assert list(credit.applicable_contracts.all()) == []


def test_list_commits_is_a_body_cursor_page(post, customer, fixed, contract):
    path = "/v1/contracts/customerCommits/create"
    first = data(post(path, commit_body(customer, fixed, name="First")))["id"]
    second = data(post(path, commit_body(customer, fixed, name="Second")))["id"]
    own = AccessSegmentFactory(commit__contract=contract).commit
    body = {"customer_id": str(customer.pk), "limit": 1}
    page = post("/v1/contracts/customerCommits/list", body).json()
    assert [c["id"] for c in page["data"]] == [first] and page["next_page"]
    page = post("/v1/contracts/customerCommits/list", {**body, "next_page": page["next_page"]})
    assert [c["id"] for c in page.json()["data"]] == [second]
    assert page.json()["next_page"] is None
    both = post(
        "/v1/contracts/customerCommits/list",
        {"customer_id": str(customer.pk), "include_contract_commits": True},
    ).json()
    assert [c["id"] for c in both["data"]] == [first, second, str(own.pk)]
    listed = both["data"][0]
    assert listed["type"] == "PREPAID" and listed["product"] == {
        "id": str(fixed.pk),
        "name": "Prepaid commit",
    }
    assert "contract" not in listed and "balance" not in listed and "ledger" not in listed
    assert listed["access_schedule"]["credit_type"]["id"] == USD
    assert both["data"][2]["contract"] == {"id": str(contract.pk)}


def test_list_commits_with_balance_and_ledger(post, customer, fixed):
    created = data(post("/v1/contracts/customerCommits/create", commit_body(customer, fixed)))
    commit = Commit.objects.get(pk=created["id"])
    segment = commit.access_schedule.get()
    response = post(
        "/v1/contracts/addManualBalanceLedgerEntry",
        {
            "id": str(commit.pk),
            "segment_id": str(segment.pk),
            "customer_id": str(customer.pk),
            "amount": -2500.5,
            "reason": "Migration",
        },
    )
    assert response.status_code == 200 and response.json() == {}
    page = post(
        "/v1/contracts/customerCommits/list",
        {
            "customer_id": str(customer.pk),
            "include_balance": True,
            "include_ledgers": True,
            "covering_date": "2026-06-01T00:00:00Z",
        },
    ).json()
    (listed,) = page["data"]
    assert listed["balance"] == 7499.5
    assert listed["ledger"] == [
        {
            "type": "PREPAID_COMMIT_SEGMENT_START",
            "amount": 10000,
            "timestamp": JAN,
            "segment_id": str(segment.pk),
        },
        {
            "type": "PREPAID_COMMIT_MANUAL",
            "amount": -2500.5,
            "timestamp": JAN,
            "segment_id": str(segment.pk),
            "reason": "Migration",
        },
    ]


def test_list_filters_by_dates_and_id(post, customer, fixed):
    created = data(post("/v1/contracts/customerCommits/create", commit_body(customer, fixed)))["id"]
    path = "/v1/contracts/customerCommits/list"
    ref = {"customer_id": str(customer.pk)}
    assert post(path, {**ref, "covering_date": "2101-01-01T00:00:00Z"}).json()["data"] == []
    assert post(path, {**ref, "starting_at": "2100-01-01T00:00:00Z"}).json()["data"] == []
    assert post(path, {**ref, "effective_before": JAN}).json()["data"] == []
    assert len(post(path, {**ref, "commit_id": created}).json()["data"]) == 1
    assert post(path, {**ref, "commit_id": UNKNOWN}).json()["data"] == []


def test_list_credits(post, customer, fixed):
    created = data(post("/v1/contracts/customerCredits/create", credit_body(customer, fixed)))
    page = post(
        "/v1/contracts/customerCredits/list",
        {"customer_id": str(customer.pk), "include_balance": True},
    ).json()
    assert [(c["id"], c["type"], c["balance"]) for c in page["data"]] == [
        (created["id"], "CREDIT", 10000)
    ]


def test_list_errors(post, customer):
    path = "/v1/contracts/customerCommits/list"
    assert error(post(path, {}), 400) == "customer_id: This field is required."
    assert error(post(path, {"customer_id": UNKNOWN}), 404) == f"Customer {UNKNOWN} not found."
    ref = {"customer_id": str(customer.pk)}
    assert error(post(path, {**ref, "limit": 0}), 400).startswith("limit:")
    assert error(post(path, {**ref, "next_page": "garbage!"}), 400) == (
        "next_page: Not a cursor this server issued."
    )
    assert error(post(path, {**ref, "include_balance": "yes"}), 400) == (
        "include_balance: Must be true or false."
    )
    assert error(post(path, {**ref, "access_type": "UNITS"}), 400).startswith("access_type:")
