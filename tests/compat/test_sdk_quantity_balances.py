"""Commits and credits drawn down by QUANTITY (prepaid units) through the official SDK, strict
validation on: a contract made with one, the draft covering units, balance lists and the net
balance filtered by access_type; packages with QUANTITY commits and credits (a contract made from
one equals the same terms given directly); balance alerts counting units (access_type QUANTITY)
beside money alerts that never count them."""

from datetime import UTC, datetime

import metronome
import pytest
from django.utils import timezone

from notifications.services import customer_alerts_evaluate
from tests.compat import test_sdk_contract_terms as terms_sdk
from tests.compat import test_sdk_package_terms as package_sdk
from tests.compat.conftest import USD
from tests.compat.test_sdk_package_terms import offer  # noqa: F401 (a fixture)

FROM = datetime(2020, 1, 1, tzinfo=UTC)
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)
NULL_CREDIT_TYPE = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def contract(client, world):
    """A contract with a QUANTITY commit of 3 units of API calls (priority 1) and a SPEND credit
    of 100 cents (priority 2)."""
    fixed = client.v1.contracts.products.create(name="Prepaid units", type="FIXED")
    created = client.v1.contracts.create(
        customer_id=world["customer"].id,
        rate_card_id=world["rate_card"],
        starting_at=FROM,
        commits=[
            {
                "product_id": fixed.data.id,
                "type": "PREPAID",
                "name": "3 units",
                "priority": 1,
                "applicable_product_ids": [world["product"]],
                "access_schedule": {
                    "access_type": "QUANTITY",
                    "schedule_items": [{"amount": 3, "starting_at": FROM, "ending_before": UNTIL}],
                },
            }
        ],
        credits=[
            {
                "product_id": fixed.data.id,
                "name": "Welcome credit",
                "priority": 2,
                "access_schedule": {
                    "access_type": "SPEND",
                    "credit_type_id": USD,
                    "schedule_items": [
                        {"amount": 100, "starting_at": FROM, "ending_before": UNTIL}
                    ],
                },
            }
        ],
    )
    return {"id": created.data.id, "customer": world["customer"].id}


def _use(client, tokens: int) -> None:
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"quantity-{tokens}",
                "customer_id": "acme@example.com",
                "event_type": "api_call",
                "timestamp": timezone.now().replace(minute=0, second=0, microsecond=0).isoformat(),
                "properties": {"tokens": tokens, "region": "eu"},
            }
        ]
    )


def test_a_contract_with_a_quantity_commit_shows_its_access_type(client, contract):
    got = client.v2.contracts.retrieve(contract_id=contract["id"], customer_id=contract["customer"])
    (commit,) = got.data.commits
    assert commit.access_schedule.access_type == "QUANTITY"
    assert [item.amount for item in commit.access_schedule.schedule_items] == [3]
    (credit,) = got.data.credits
    assert credit.access_schedule.access_type == "SPEND"


def test_the_draft_covers_units_and_lists_filter_by_access_type(client, contract):
    customer = contract["customer"]
    _use(client, 5000)  # 5 units of API calls (1,000 tokens each) at 250: 1250
    now = timezone.now()
    (draft,) = [
        invoice
        for invoice in client.v1.customers.invoices.list(customer_id=customer, status="DRAFT")
        if invoice.type == "USAGE" and invoice.start_timestamp <= now < invoice.end_timestamp
    ]
    invoice = client.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    # 3 units covered (750), 2 billed (500) of which the SPEND credit pays 100.
    assert [(li.type, li.quantity, li.total) for li in invoice.line_items] == [
        ("usage", 3, 750),
        ("usage", 2, 500),
        ("applied_commit_or_credit", 3, -750),
        ("applied_commit_or_credit", None, -100),
    ]
    assert invoice.total == 400

    quantity = client.v1.contracts.list_balances(
        customer_id=customer,
        access_type="QUANTITY",
        include_contract_balances=True,
        include_balance=True,
    ).data
    assert [(b.name, b.access_schedule.access_type, b.balance) for b in quantity] == [
        ("3 units", "QUANTITY", 0)
    ]
    spend = client.v1.contracts.list_balances(
        customer_id=customer, access_type="SPEND", include_contract_balances=True
    ).data
    assert [b.name for b in spend] == ["Welcome credit"]
    commits = client.v1.customers.commits.list(
        customer_id=customer, access_type="QUANTITY", include_contract_commits=True
    ).data
    assert [c.name for c in commits] == ["3 units"]


def test_net_balance_by_access_type(client, contract):
    customer = contract["customer"]
    units = client.v1.contracts.get_net_balance(customer_id=customer, access_type="QUANTITY").data
    assert (units.balance, units.credit_type_id) == (3, NULL_CREDIT_TYPE)
    money = client.v1.contracts.get_net_balance(customer_id=customer, access_type="SPEND").data
    assert (money.balance, money.credit_type_id) == (100, USD)


def test_a_packages_recurring_quantity_credit_makes_quantity_credits(client, offer):  # noqa: F811
    package = client.v1.packages.create(
        name="Prepaid calls",
        rate_card_id=offer["card"],
        recurring_credits=[
            {
                "product_id": offer["credit"],
                "name": "500 calls a month",
                "priority": 1,
                "applicable_product_ids": [offer["calls"]],
                "access_amount": {"unit_price": 1, "quantity": 500, "access_type": "QUANTITY"},
                "commit_duration": {"value": 1},
                "starting_at_offset": {"unit": "DAYS", "value": 0},
                "proration": "NONE",
            }
        ],
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    assert shown.recurring_credits[0].access_amount.access_type == "QUANTITY"
    customer = client.v1.customers.create(name="units", ingest_aliases=["units"]).data.id
    made = client.v1.contracts.create(
        customer_id=customer, package_id=package, starting_at=offer["start"]
    ).data.id
    contract = client.v2.contracts.retrieve(contract_id=made, customer_id=customer).data
    assert contract.recurring_credits[0].access_amount.access_type == "QUANTITY"
    assert {c.access_schedule.access_type for c in contract.credits} == {"QUANTITY"}


@pytest.fixture
def seat_offer(client):
    return terms_sdk.offer.__wrapped__(client)


def test_per_seat_quantity_credits_count_units_apart(client, seat_offer):
    """A recurring QUANTITY credit of 2 calls per seat (INDIVIDUAL): u1's 3 calls at 100 use
    its 2 units (200), the third is billed; seat balances count units under the null credit
    type."""
    contract = terms_sdk._contract(
        client,
        seat_offer,
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {
                    "product_id": seat_offer["seats"],
                    "billing_frequency": "MONTHLY",
                },
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_seat_ids": ["u1", "u2"]},
            }
        ],
        recurring_credits=[
            {
                "product_id": seat_offer["fixed"],
                "name": "Seat calls",
                "priority": 1,
                "starting_at": seat_offer["start"],
                "applicable_product_ids": [seat_offer["calls"]],
                "access_amount": {"unit_price": 2, "access_type": "QUANTITY"},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "subscription_config": {
                    "subscription_id": "seats",
                    "allocation": "INDIVIDUAL",
                    "apply_seat_increase_config": {"is_prorated": False},
                },
            }
        ],
    )
    terms_sdk._calls(client, seat_offer, 3, user="u1")
    seats = client.v1.contracts.list_seat_balances(
        contract_id=contract, customer_id=seat_offer["customer"], include_credits_and_commits=True
    ).data
    assert [
        (
            s.seat_id,
            [(b.access_type, b.credit_type_id, b.starting_balance, b.balance) for b in s.balances],
        )
        for s in seats
    ] == [
        ("u1", [("QUANTITY", NULL_CREDIT_TYPE, 2, 0)]),
        ("u2", [("QUANTITY", NULL_CREDIT_TYPE, 2, 2)]),
    ]
    assert {c.access_type for s in seats for c in s.credits} == {"QUANTITY"}
    (draft,) = terms_sdk._invoices(client, seat_offer, "USAGE")
    assert draft.total == 2000 + 300 - 200  # two seats, u1's 3 calls less its 2 units


def _package_balances(offer, *, dated: bool) -> dict:  # noqa: F811
    """A QUANTITY commit of 1,000 calls (priority 1), a QUANTITY credit of 500 calls chosen by a
    specifier (2) and a SPEND credit of 300 (3), for a year: offsets in a package, dates in a
    contract."""
    start = offer["start"]

    def access(access_type: str, amount: int) -> dict:
        if dated:
            item = {
                "amount": amount,
                "starting_at": start,
                "ending_before": start.replace(year=start.year + 1),
            }
        else:
            item = {
                "amount": amount,
                "starting_at_offset": {"unit": "DAYS", "value": 0},
                "duration": {"unit": "YEARS", "value": 1},
            }
        return {"access_type": access_type, "schedule_items": [item]}

    return {
        "commits": [
            {
                "product_id": offer["commit"],
                "type": "PREPAID",
                "name": "1,000 calls",
                "priority": 1,
                "applicable_product_ids": [offer["calls"]],
                "access_schedule": access("QUANTITY", 1000),
            }
        ],
        "credits": [
            {
                "product_id": offer["credit"],
                "name": "500 calls",
                "priority": 2,
                "specifiers": [{"product_id": offer["calls"]}],
                "access_schedule": access("QUANTITY", 500),
            },
            {
                "product_id": offer["credit"],
                "name": "Welcome credit",
                "priority": 3,
                "access_schedule": access("SPEND", 300),
            },
        ],
    }


def _balances(client, customer: str) -> list[tuple]:
    listed = client.v1.contracts.list_balances(
        customer_id=customer, include_contract_balances=True, include_balance=True
    ).data
    return sorted(
        (
            b.name,
            b.access_schedule.access_type,
            [i.amount for i in b.access_schedule.schedule_items],
            b.balance,
        )
        for b in listed
    )


def test_a_contract_from_a_package_with_quantity_balances_equals_the_terms_given(
    client,
    offer,  # noqa: F811
):
    """1,800 calls at 2: the commit covers 1,000 (2000), the credit 500 (1000), the SPEND credit
    pays 300 of the other 300 calls' 600: 300 due."""
    package = client.v1.packages.create(
        name="Prepaid calls", rate_card_id=offer["card"], **_package_balances(offer, dated=False)
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    assert [c.access_schedule.access_type for c in shown.commits] == ["QUANTITY"]
    assert [c.access_schedule.access_type for c in shown.credits] == ["QUANTITY", "SPEND"]
    (listed,) = [p for p in client.v1.packages.list() if p.id == package]
    assert listed.commits[0].access_schedule.access_type == "QUANTITY"

    made, direct = (
        client.v1.customers.create(name=alias, ingest_aliases=[alias]).data.id
        for alias in ("from-package", "direct")
    )
    client.v1.contracts.create(customer_id=made, package_id=package, starting_at=offer["start"])
    client.v1.contracts.create(
        customer_id=direct,
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        **_package_balances(offer, dated=True),
    )
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"calls-{alias}",
                "customer_id": alias,
                "event_type": "api_call",
                "timestamp": datetime.now(UTC).isoformat(),
                "properties": {"n": 1800},
            }
            for alias in ("from-package", "direct")
        ]
    )

    invoices = package_sdk._invoices(client, made)
    assert invoices == package_sdk._invoices(client, direct)
    (usage,) = [row for row in invoices if row[0] == "USAGE"]
    assert usage[2] == sorted(
        [
            ("API calls", "usage", 1000, 2, 2000),
            ("API calls", "usage", 500, 2, 1000),
            ("API calls", "usage", 300, 2, 600),
            ("1,000 calls", "applied_commit_or_credit", 1000, None, -2000),
            ("500 calls", "applied_commit_or_credit", 500, None, -1000),
            ("Welcome credit", "applied_commit_or_credit", None, None, -300),
        ]
    )
    assert usage[4] == 300
    assert (
        _balances(client, made)
        == _balances(client, direct)
        == [
            ("1,000 calls", "QUANTITY", [1000], 0),
            ("500 calls", "QUANTITY", [500], 0),
            ("Welcome credit", "SPEND", [300], 0),
        ]
    )


def test_a_package_quantity_credit_without_named_products_is_refused(client, offer):  # noqa: F811
    credit = _package_balances(offer, dated=False)["credits"][0]
    del credit["specifiers"]
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(name="Bad", rate_card_id=offer["card"], credits=[credit])
    assert refused.value.body["message"] == (
        "credits[0].applicable_product_ids: A QUANTITY balance holds units of named usage "
        "products: give applicable_product_ids (or specifiers with a product_id)."
    )


def test_a_quantity_alert_counts_units_and_a_money_alert_only_money(client, contract):
    """The contract holds 3 units and 100 cents. 2,000 tokens (2 units) leave 1 unit: the unit
    alert (at most 1) is in alarm; the money alert (at most 100) is too: 100 cents, not 101."""
    customer = contract["customer"]
    units = client.v1.alerts.create(
        alert_type="low_remaining_commit_balance_reached",
        name="Few units left",
        threshold=1,
        customer_id=customer,
        access_type="QUANTITY",
    ).data.id
    money = client.v1.alerts.create(
        alert_type="low_remaining_contract_credit_and_commit_balance_reached",
        name="Little money left",
        threshold=100,
        customer_id=customer,
        credit_type_id=USD,
    ).data.id
    _use(client, 2000)
    customer_alerts_evaluate(customer_id=customer, now=timezone.now(), pending=False)

    got = client.v1.customers.alerts.retrieve(alert_id=units, customer_id=customer).data
    assert (got.alert.access_type, got.alert.credit_type, got.customer_status) == (
        "QUANTITY",
        None,
        "in_alarm",
    )
    assert got.triggered_by == "The commits have 1 unit left."
    listed = {row.alert.id: row for row in client.v1.customers.alerts.list(customer_id=customer)}
    assert listed[money].alert.access_type == "SPEND"
    assert listed[money].alert.credit_type.id == USD
    assert listed[money].customer_status == "in_alarm"
    assert listed[money].triggered_by == "The commits and credits have 100 left."

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.alerts.create(
            alert_type="low_remaining_commit_percentage_reached",
            name="x",
            threshold=10,
            access_type="QUANTITY",
            credit_type_id=USD,
        )
    assert refused.value.body["message"] == (
        "credit_type_id: A QUANTITY alert counts units: leave credit_type_id out."
    )
