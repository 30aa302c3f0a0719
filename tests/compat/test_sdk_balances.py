"""Commits, credits, balances and the ledger through the official SDK, strict validation on."""

from datetime import UTC, datetime

import pytest

from tests.compat.conftest import USD

# Wide enough that "now" is always inside: balances are what is usable now.
FROM = datetime(2020, 1, 1, tzinfo=UTC)
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def setup(client, world):
    fixed = client.v1.contracts.products.create(name="Prepaid commit", type="FIXED")
    contract = client.v1.contracts.create(
        customer_id=world["customer"].id, rate_card_id=world["rate_card"], starting_at=FROM
    )
    return {"customer": world["customer"].id, "fixed": fixed.data.id, "contract": contract.data.id}


def _schedule(amount):
    return {"schedule_items": [{"amount": amount, "starting_at": FROM, "ending_before": UNTIL}]}


def test_customer_commits_credits_balances_and_ledger(client, setup):
    customer = setup["customer"]
    commit = client.v1.customers.commits.create(
        customer_id=customer,
        product_id=setup["fixed"],
        type="PREPAID",
        priority=1,
        access_schedule=_schedule(10000),
        invoice_contract_id=setup["contract"],
        invoice_schedule={"schedule_items": [{"timestamp": FROM, "amount": 10000}]},
        applicable_contract_ids=[setup["contract"]],
        rate_type="LIST_RATE",
        name="Annual prepay",
        uniqueness_key="sdk-commit",
    )
    credit = client.v1.customers.credits.create(
        customer_id=customer,
        product_id=setup["fixed"],
        priority=0,
        access_schedule=_schedule(500),
        name="Welcome credit",
        applicable_product_tags=["tokens"],
    )

    commits = client.v1.customers.commits.list(
        customer_id=customer, include_balance=True, include_ledgers=True
    )
    (listed,) = commits.data
    assert listed.id == commit.data.id and listed.type == "PREPAID"
    assert listed.product.id == setup["fixed"] and listed.name == "Annual prepay"
    assert listed.balance == 10000
    assert listed.applicable_contract_ids == [setup["contract"]]
    assert listed.invoice_contract.id == setup["contract"]
    segment_id = listed.access_schedule.schedule_items[0].id
    assert [(e.type, e.amount) for e in listed.ledger] == [("PREPAID_COMMIT_SEGMENT_START", 10000)]

    client.v1.contracts.add_manual_balance_entry(
        id=commit.data.id,
        segment_id=segment_id,
        customer_id=customer,
        amount=-2500.5,
        reason="Migrated usage",
    )
    credits = client.v1.customers.credits.list(customer_id=customer, include_balance=True)
    assert [(c.id, c.type, c.balance) for c in credits.data] == [(credit.data.id, "CREDIT", 500)]

    balances = client.v1.contracts.list_balances(
        customer_id=customer, include_balance=True, include_ledgers=True
    )
    assert [(b.id, b.balance) for b in balances.data] == [
        (commit.data.id, 7499.5),
        (credit.data.id, 500),
    ]
    manual = balances.data[0].ledger[-1]
    assert (manual.type, manual.amount, manual.reason) == (
        "PREPAID_COMMIT_MANUAL",
        -2500.5,
        "Migrated usage",
    )

    net = client.v1.contracts.get_net_balance(customer_id=customer, credit_type_id=USD)
    assert (net.data.balance, net.data.credit_type_id) == (7999.5, USD)
    only_credits = client.v1.contracts.get_net_balance(
        customer_id=customer, filters=[{"balance_types": ["CREDIT"]}]
    )
    assert only_credits.data.balance == 500


def test_lists_page_with_limit_one(client, setup):
    customer = setup["customer"]
    ids = [
        client.v1.customers.commits.create(
            customer_id=customer,
            product_id=setup["fixed"],
            type="PREPAID",
            priority=n,
            access_schedule=_schedule(100 * (n + 1)),
        ).data.id
        for n in range(2)
    ]
    ids.append(
        client.v1.customers.credits.create(
            customer_id=customer,
            product_id=setup["fixed"],
            priority=0,
            access_schedule=_schedule(1),
        ).data.id
    )
    commit_pages = client.v1.customers.commits.list(customer_id=customer, limit=1)
    assert [[c.id for c in page.data] for page in commit_pages.iter_pages()] == [
        [ids[0]],
        [ids[1]],
    ]
    credit_pages = client.v1.customers.credits.list(customer_id=customer, limit=1)
    assert [c.id for c in credit_pages] == ids[2:]
    balance_pages = client.v1.contracts.list_balances(customer_id=customer, limit=1)
    assert [[b.id for b in page.data] for page in balance_pages.iter_pages()] == [
        [pk] for pk in ids
    ]


def test_contract_get_with_balances(client, setup):
    customer = setup["customer"]
    edited = client.v2.contracts.edit(
        contract_id=setup["contract"],
        customer_id=customer,
        add_credits=[
            {"product_id": setup["fixed"], "access_schedule": _schedule(70), "priority": 1}
        ],
    )
    assert edited.data.id == setup["contract"]
    v2 = client.v2.contracts.retrieve(
        contract_id=setup["contract"],
        customer_id=customer,
        include_balance=True,
        include_ledgers=True,
    )
    (credit,) = v2.data.credits
    assert credit.balance == 70
    assert [(e.type, e.amount) for e in credit.ledger] == [("CREDIT_SEGMENT_START", 70)]
    v1 = client.v1.contracts.retrieve(
        contract_id=setup["contract"], customer_id=customer, include_balance=True
    )
    assert v1.data.current.credits[0].balance == 70
