"""Commits and credits drawn down by QUANTITY (prepaid units) through the API: created on a
contract and for a customer, the draft covering units at once, the balance lists and net balance
filtered by access_type, the ledger in units after finalization, and the combinations refused."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Commit, Credit
from invoicing.models import Invoice
from invoicing.services import invoice_finalize
from tests.api.conftest import USD, data, error
from tests.catalog.factories import (
    BillableMetricFactory,
    PricingUnitFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory
from tests.invoicing.factories import ingest

NEXT_YEAR = "2100-01-01T00:00:00Z"
NULL_CREDIT_TYPE = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def world(db):
    """API calls at 2 cents each ($0.02), storage at 5 cents, and a fixed product for balances."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    card = RateCardFactory()
    products = {}
    for name, event_type, price in (("API calls", "api_call", 2), ("Storage", "storage", 5)):
        metric = BillableMetricFactory(
            aggregation_type="SUM",
            aggregation_key="units",
            event_type_filter={"in_values": [event_type]},
            property_filters=[{"name": "units", "exists": True}],
            group_keys=[],
        )
        products[event_type] = ProductFactory(name=name, billable_metric=metric)
        RateFactory(
            rate_card=card, product=products[event_type], price=Decimal(price), starting_at=start
        )
    return {
        "customer": CustomerFactory(),
        "card": card,
        "calls": products["api_call"],
        "storage": products["storage"],
        "fixed": ProductFactory(fixed=True, name="Prepaid units"),
    }


def _start() -> datetime:
    return timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _access(amount, access_type="QUANTITY") -> dict:
    return {
        "access_type": access_type,
        "schedule_items": [
            {"amount": amount, "starting_at": _start().isoformat(), "ending_before": NEXT_YEAR}
        ],
    }


def _quantity_credit(world, **extra) -> dict:
    return {
        "product_id": str(world["fixed"].pk),
        "name": "1,000 API calls",
        "priority": 1,
        "applicable_product_ids": [str(world["calls"].pk)],
        "access_schedule": _access(1000),
        **extra,
    }


def _spend_commit(world, amount=5000, priority=2) -> dict:
    return {
        "product_id": str(world["fixed"].pk),
        "name": "Spend commit",
        "type": "PREPAID",
        "priority": priority,
        "access_schedule": _access(amount, "SPEND"),
    }


def _create(post, world, **terms):
    return post(
        "/v1/contracts/create",
        {
            "customer_id": str(world["customer"].pk),
            "rate_card_id": str(world["card"].pk),
            "starting_at": _start().isoformat(),
            **terms,
        },
    )


def _use(world, units: int, n: int, event_type="api_call") -> None:
    ingest(
        [
            {
                "transaction_id": f"q{n}",
                "customer_id": str(world["customer"].pk),
                "event_type": event_type,
                "timestamp": _start().isoformat(),
                "properties": {"units": str(units)},
            }
        ],
        now=timezone.now(),
    )


def _draft(get, world, contract_id) -> dict:
    invoice = Invoice.objects.get(contract_id=contract_id, type="USAGE", start_timestamp=_start())
    return data(get(f"/v1/customers/{world['customer'].pk}/invoices/{invoice.pk}"))


def _lines(invoice: dict) -> list[tuple]:
    return [
        (line["type"], line.get("quantity"), line.get("unit_price"), line["total"])
        for line in invoice["line_items"]
    ]


def test_a_quantity_credit_covers_units_on_the_draft_at_once(post, get, world):
    contract_id = data(_create(post, world, credits=[_quantity_credit(world)]))["id"]
    _use(world, 1500, 1)
    invoice = _draft(get, world, contract_id)
    # 1,000 units covered ($20.00 drawn as units), the other 500 billed: $10.00.
    assert _lines(invoice) == [
        ("usage", 1000, 2, 2000),
        ("usage", 500, 2, 1000),
        ("applied_commit_or_credit", 1000, None, -2000),
    ]
    assert invoice["total"] == 1000
    _use(world, 100, 2)  # the draft follows the next event at once
    assert _draft(get, world, contract_id)["total"] == 1200


def test_the_credit_is_shown_with_its_access_type(post, world):
    contract_id = data(_create(post, world, credits=[_quantity_credit(world)]))["id"]
    shown = data(
        post(
            "/v2/contracts/get",
            {"contract_id": contract_id, "customer_id": str(world["customer"].pk)},
        )
    )["credits"][0]
    assert shown["access_schedule"]["access_type"] == "QUANTITY"
    assert [item["amount"] for item in shown["access_schedule"]["schedule_items"]] == [1000]
    assert Credit.objects.get(contract_id=contract_id).access_type == "QUANTITY"


def test_balance_lists_filter_by_access_type_and_show_units_left(post, world):
    _create(post, world, credits=[_quantity_credit(world)], commits=[_spend_commit(world)])
    _use(world, 1500, 1)
    body = {
        "customer_id": str(world["customer"].pk),
        "include_contract_balances": True,
        "include_balance": True,
    }
    path = "/v1/contracts/customerBalances/list"
    quantity = post(path, {**body, "access_type": "QUANTITY"}).json()["data"]
    spend = post(path, {**body, "access_type": "SPEND"}).json()["data"]
    both = post(path, body).json()["data"]
    # The credit keeps 0 of its 1,000 units; the spend commit paid the other 500 units: 1000.
    assert [(b["name"], b["access_schedule"]["access_type"], b["balance"]) for b in quantity] == [
        ("1,000 API calls", "QUANTITY", 0)
    ]
    assert [(b["name"], b["access_schedule"]["access_type"], b["balance"]) for b in spend] == [
        ("Spend commit", "SPEND", 4000)
    ]
    assert len(both) == 2
    credits = post(
        "/v1/contracts/customerCredits/list",
        {**body, "include_contract_credits": True, "access_type": "SPEND"},
    ).json()["data"]
    assert credits == []


def test_net_balance_counts_units_for_quantity_and_money_for_spend(post, world):
    _create(post, world, credits=[_quantity_credit(world)], commits=[_spend_commit(world)])
    _use(world, 400, 1)
    path = "/v1/contracts/customerBalances/getNetBalance"
    customer = {"customer_id": str(world["customer"].pk)}
    assert data(post(path, {**customer, "access_type": "QUANTITY"})) == {
        "balance": 1000,
        "credit_type_id": NULL_CREDIT_TYPE,
    }
    assert data(
        post(
            path,
            {
                **customer,
                "access_type": "QUANTITY",
                "invoice_inclusion_mode": "FINALIZED_AND_DRAFT",
            },
        )
    ) == {"balance": 600, "credit_type_id": NULL_CREDIT_TYPE}
    assert data(post(path, customer)) == {"balance": 5000, "credit_type_id": USD}
    refused = post(path, {**customer, "access_type": "QUANTITY", "credit_type_id": USD})
    assert error(refused, 400) == (
        "credit_type_id: A QUANTITY net balance counts units: leave credit_type_id out."
    )


def test_finalizing_writes_the_ledger_in_units(post, world):
    contract_id = data(_create(post, world, credits=[_quantity_credit(world)]))["id"]
    _use(world, 1500, 1)
    invoice = Invoice.objects.get(contract_id=contract_id, type="USAGE", start_timestamp=_start())
    invoice_finalize(invoice=invoice, now=invoice.end_timestamp + timedelta(days=2))
    (listed,) = post(
        "/v1/contracts/customerCredits/list",
        {
            "customer_id": str(world["customer"].pk),
            "include_contract_credits": True,
            "include_ledgers": True,
            "include_balance": True,
        },
    ).json()["data"]
    assert [(entry["type"], entry["amount"]) for entry in listed["ledger"]] == [
        ("CREDIT_SEGMENT_START", 1000),
        ("CREDIT_AUTOMATED_INVOICE_DEDUCTION", -1000),
    ]
    assert listed["balance"] == 0


def test_one_quantity_commit_over_two_products_counts_units_of_both(post, get, world):
    commit = {
        **_spend_commit(world, priority=1),
        "name": "Units",
        "applicable_product_ids": [str(world["calls"].pk), str(world["storage"].pk)],
        "access_schedule": _access(1000),
    }
    contract_id = data(_create(post, world, commits=[commit]))["id"]
    _use(world, 600, 1)
    _use(world, 700, 2, event_type="storage")
    invoice = _draft(get, world, contract_id)
    assert _lines(invoice) == [
        ("usage", 600, 2, 1200),
        ("usage", 400, 5, 2000),
        ("usage", 300, 5, 1500),
        ("applied_commit_or_credit", 1000, None, -3200),
    ]
    assert invoice["total"] == 1500


def test_a_customer_level_quantity_commit_and_credit(post, world):
    customer = {"customer_id": str(world["customer"].pk)}
    for path, extra in (
        ("/v1/contracts/customerCommits/create", {"type": "PREPAID"}),
        ("/v1/contracts/customerCredits/create", {}),
    ):
        created = data(post(path, {**customer, **_quantity_credit(world), **extra}))
        model = Commit if extra else Credit
        assert model.objects.get(pk=created["id"]).access_type == "QUANTITY"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"rate_type": "COMMIT_RATE"},
            "credits[0].rate_type: A QUANTITY balance covers units at the usage's own rate: use "
            "LIST_RATE.",
        ),
        (
            {"applicable_product_ids": []},
            "credits[0].applicable_product_ids: A QUANTITY balance holds units of named usage "
            "products: give applicable_product_ids (or specifiers with a product_id).",
        ),
        (
            {"applicable_product_ids": [], "applicable_product_tags": ["ai"]},
            "credits[0].applicable_product_tags: A QUANTITY balance holds units of named "
            "products: give applicable_product_ids.",
        ),
        (
            {"applicable_product_ids": [], "specifiers": [{"product_tags": ["ai"]}]},
            "credits[0].specifiers: A QUANTITY balance holds units of named products: each "
            "specifier gives a product_id.",
        ),
    ],
)
def test_refused_quantity_credits_name_the_field(post, world, change, message):
    assert error(_create(post, world, credits=[{**_quantity_credit(world), **change}]), 400) == (
        message
    )
    assert not Credit.objects.exists()


def test_a_quantity_balance_of_a_fixed_product_is_refused(post, world):
    body = _quantity_credit(world, applicable_product_ids=[str(world["fixed"].pk)])
    assert error(_create(post, world, credits=[body]), 400) == (
        "credits[0].applicable_product_ids: A QUANTITY balance holds units of usage products; "
        f"Prepaid units ({world['fixed'].pk}) is a FIXED product."
    )


def test_a_postpaid_quantity_commit_is_refused(post, world):
    body = {**_quantity_credit(world), "type": "POSTPAID"}
    assert error(_create(post, world, commits=[body]), 400) == (
        "commits[0].type: A POSTPAID commit is trued up in money: a QUANTITY commit is PREPAID."
    )


def test_a_quantity_balance_in_a_custom_unit_is_refused(post, world):
    unit = PricingUnitFactory(name="Cloud credits")
    access = {**_access(1000), "credit_type_id": str(unit.pk)}
    body = _quantity_credit(world, access_schedule=access)
    assert error(
        post(
            "/v1/contracts/customerCredits/create",
            {"customer_id": str(world["customer"].pk), **body},
        ),
        400,
    ) == (
        "access_schedule.credit_type_id: A QUANTITY balance covers usage priced in the "
        "contract's currency: leave credit_type_id out."
    )


def test_an_unknown_access_type_is_refused(post, world):
    access = {**_access(1000), "access_type": "UNITS"}
    response = _create(post, world, credits=[_quantity_credit(world, access_schedule=access)])
    assert error(response, 400).startswith("credits[0].access_schedule.access_type:")


def _recurring_credit(world, **access) -> dict:
    return {
        "product_id": str(world["fixed"].pk),
        "name": "1,000 calls a month",
        "priority": 1,
        "starting_at": _start().isoformat(),
        "commit_duration": {"value": 1, "unit": "PERIODS"},
        "applicable_product_ids": [str(world["calls"].pk)],
        "access_amount": {"unit_price": 1, "quantity": 1000, "access_type": "QUANTITY", **access},
    }


def test_a_recurring_quantity_credit_makes_quantity_credits_each_period(post, get, world):
    contract_id = data(_create(post, world, recurring_credits=[_recurring_credit(world)]))["id"]
    made = Credit.objects.filter(contract_id=contract_id).order_by("recurrence_start")
    assert {credit.access_type for credit in made} == {"QUANTITY"}
    this_month = made.first()
    assert this_month.access_schedule.get().amount == Decimal(1000)
    _use(world, 1500, 1)
    assert _draft(get, world, contract_id)["total"] == 1000  # 500 units billed at 2 cents
    shown = data(
        post(
            "/v2/contracts/get",
            {"contract_id": contract_id, "customer_id": str(world["customer"].pk)},
        )
    )["recurring_credits"][0]
    assert shown["access_amount"]["access_type"] == "QUANTITY"


def test_a_refused_recurring_quantity_credit_names_the_field(post, world):
    term = {**_recurring_credit(world), "applicable_product_ids": []}
    assert error(_create(post, world, recurring_credits=[term]), 400) == (
        "recurring_credits[0].applicable_product_ids: A QUANTITY balance holds units of named "
        "usage products: give applicable_product_ids (or specifiers with a product_id)."
    )
    term = {**_recurring_credit(world), "rate_type": "COMMIT_RATE"}
    assert error(_create(post, world, recurring_credits=[term]), 400) == (
        "recurring_credits[0].rate_type: A QUANTITY balance covers units at the usage's own "
        "rate: use LIST_RATE."
    )
