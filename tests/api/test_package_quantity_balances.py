"""A package's commits and credits drawn down by QUANTITY (prepaid units of usage products), in
the SDK's package shape (`access_schedule.access_type`): shown back, refused by field as a
contract's would be (so the package is refused, not the contracts made from it), and a contract
made from the package equals the same terms given directly: the same draft and the same
balances, unit for unit."""

import pytest

from customers.models import Commit, Credit
from invoicing.models import Invoice
from tests.api.conftest import data, error
from tests.api.test_quantity_balances import _lines, _start, _use, world  # noqa: F401
from tests.catalog.factories import PricingUnitFactory
from tests.customers.factories import CustomerFactory

YEAR = {"unit": "YEARS", "value": 1}
DAY_ZERO = {"unit": "DAYS", "value": 0}


def _offsets(amount) -> dict:
    return {"amount": amount, "starting_at_offset": DAY_ZERO, "duration": YEAR}


def _terms(world) -> dict:  # noqa: F811
    """A QUANTITY commit of 1,000 units of API calls or storage (priority 1), a QUANTITY credit
    of 200 API calls (priority 2) and a SPEND credit of $5.00 (priority 3), all for a year."""
    return {
        "commits": [
            {
                "product_id": str(world["fixed"].pk),
                "type": "PREPAID",
                "name": "1,000 units",
                "priority": 1,
                "applicable_product_ids": [str(world["calls"].pk), str(world["storage"].pk)],
                "access_schedule": {"access_type": "QUANTITY", "schedule_items": [_offsets(1000)]},
            }
        ],
        "credits": [
            {
                "product_id": str(world["fixed"].pk),
                "name": "200 calls",
                "priority": 2,
                "specifiers": [{"product_id": str(world["calls"].pk)}],
                "access_schedule": {"access_type": "QUANTITY", "schedule_items": [_offsets(200)]},
            },
            {
                "product_id": str(world["fixed"].pk),
                "name": "Welcome credit",
                "priority": 3,
                "access_schedule": {"access_type": "SPEND", "schedule_items": [_offsets(500)]},
            },
        ],
    }


def _dated(world) -> dict:  # noqa: F811
    """The same terms as a contract's own: each offset placed at the contract's start."""
    start = _start()
    terms = _terms(world)
    for term in (*terms["commits"], *terms["credits"]):
        (item,) = term["access_schedule"]["schedule_items"]
        item.pop("starting_at_offset")
        item.pop("duration")
        item["starting_at"] = start.isoformat()
        item["ending_before"] = start.replace(year=start.year + 1).isoformat()
    return terms


def _package(post, world, **terms) -> str:  # noqa: F811
    body = {"name": "Prepaid units", "rate_card_id": str(world["card"].pk), **terms}
    return data(post("/v1/packages/create", body))["id"]


def _contract(post, customer, **body) -> str:
    return data(
        post(
            "/v1/contracts/create",
            {"customer_id": str(customer.pk), "starting_at": _start().isoformat(), **body},
        )
    )["id"]


def _draft(get, customer, contract_id) -> dict:
    invoice = Invoice.objects.get(contract_id=contract_id, type="USAGE", start_timestamp=_start())
    return data(get(f"/v1/customers/{customer.pk}/invoices/{invoice.pk}"))


def _balances(post, customer) -> list[tuple]:
    listed = data(
        post(
            "/v1/contracts/customerBalances/list",
            {
                "customer_id": str(customer.pk),
                "include_contract_balances": True,
                "include_balance": True,
            },
        )
    )
    return sorted(
        (
            b["name"],
            b["access_schedule"]["access_type"],
            [i["amount"] for i in b["access_schedule"]["schedule_items"]],
            b["balance"],
        )
        for b in listed
    )


def test_a_package_shows_its_quantity_commit_and_credit(post, world):  # noqa: F811
    package = _package(post, world, **_terms(world))
    shown = data(post("/v1/packages/get", {"package_id": package}))
    (commit,) = shown["commits"]
    assert commit["access_schedule"]["access_type"] == "QUANTITY"
    assert commit["applicable_product_ids"] == [str(world["calls"].pk), str(world["storage"].pk)]
    assert [c["access_schedule"]["access_type"] for c in shown["credits"]] == ["QUANTITY", "SPEND"]


def test_a_contract_from_the_package_equals_the_same_terms_given_directly(post, get, world):  # noqa: F811
    """Usage: 900 API calls at 2 cents and 500 units of storage at 5 cents. The commit (1)
    covers 900 calls ($18.00) and 100 units of storage ($5.00); the 200-call credit (2) finds
    no calls left; the $5.00 credit (3) pays 400 units of storage ($20.00) in part: $15.00 due."""
    package = _package(post, world, **_terms(world))
    made, direct = world["customer"], CustomerFactory()
    contracts = {
        made: _contract(post, made, package_id=package),
        direct: _contract(post, direct, rate_card_id=str(world["card"].pk), **_dated(world)),
    }
    for n, customer in enumerate(contracts):
        _use({**world, "customer": customer}, 900, 2 * n)
        _use({**world, "customer": customer}, 500, 2 * n + 1, event_type="storage")

    drafts = {c: _draft(get, c, contract) for c, contract in contracts.items()}
    assert (
        _lines(drafts[made])
        == _lines(drafts[direct])
        == [
            ("usage", 900, 2, 1800),
            ("usage", 100, 5, 500),
            ("usage", 400, 5, 2000),
            ("applied_commit_or_credit", 1000, None, -2300),
            ("applied_commit_or_credit", None, None, -500),
        ]
    )
    assert drafts[made]["total"] == drafts[direct]["total"] == 1500
    assert (
        _balances(post, made)
        == _balances(post, direct)
        == [
            ("1,000 units", "QUANTITY", [1000], 0),
            ("200 calls", "QUANTITY", [200], 200),
            ("Welcome credit", "SPEND", [500], 0),
        ]
    )
    for customer in contracts:
        assert {(c.name, c.access_type) for c in Credit.objects.filter(customer=customer)} | {
            (c.name, c.access_type) for c in Commit.objects.filter(customer=customer)
        } == {
            ("1,000 units", "QUANTITY"),
            ("200 calls", "QUANTITY"),
            ("Welcome credit", "SPEND"),
        }


def _quantity_credit(world, **change) -> dict:  # noqa: F811
    return {
        "product_id": str(world["fixed"].pk),
        "name": "Calls",
        "applicable_product_ids": [str(world["calls"].pk)],
        "access_schedule": {"access_type": "QUANTITY", "schedule_items": [_offsets(100)]},
        **change,
    }


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
def test_a_package_quantity_credit_is_refused_as_a_contracts_would_be(
    post,
    world,  # noqa: F811
    change,
    message,
):
    refused = post(
        "/v1/packages/create",
        {
            "name": "Bad",
            "rate_card_id": str(world["card"].pk),
            "credits": [_quantity_credit(world, **change)],
        },
    )
    assert error(refused, 400) == message


def test_a_package_quantity_commit_of_a_fixed_product_postpaid_or_in_a_custom_unit_is_refused(
    post,
    world,  # noqa: F811
):
    def create(commit: dict) -> str:
        body = {"name": "Bad", "rate_card_id": str(world["card"].pk), "commits": [commit]}
        return error(post("/v1/packages/create", body), 400)

    commit = {**_quantity_credit(world), "type": "PREPAID"}
    fixed = str(world["fixed"].pk)
    assert create({**commit, "applicable_product_ids": [fixed]}) == (
        "commits[0].applicable_product_ids: A QUANTITY balance holds units of usage products; "
        f"Prepaid units ({fixed}) is a FIXED product."
    )
    assert create({**commit, "type": "POSTPAID"}) == (
        "commits[0].type: A POSTPAID commit is trued up in money: a QUANTITY commit is PREPAID."
    )
    unit = str(PricingUnitFactory(name="Cloud credits").pk)
    access = {**commit["access_schedule"], "credit_type_id": unit}
    assert create({**commit, "access_schedule": access}) == (
        "commits[0].access_schedule.credit_type_id: A QUANTITY balance covers usage priced in "
        "the contract's currency: leave credit_type_id out."
    )
    access = {**commit["access_schedule"], "access_type": "UNITS"}
    assert create({**commit, "access_schedule": access}) == (
        "commits[0].access_schedule.access_type: 'UNITS' is not one of SPEND, QUANTITY."
    )


def test_a_package_naming_an_unknown_applicable_product_is_refused(post, world):  # noqa: F811
    unknown = "00000000-0000-4000-8000-000000000000"
    body = {
        "name": "Bad",
        "rate_card_id": str(world["card"].pk),
        "credits": [_quantity_credit(world, applicable_product_ids=[unknown])],
    }
    assert error(post("/v1/packages/create", body), 404) == f"Product {unknown} not found."


def test_a_package_recurring_quantity_credit_is_refused_as_a_contracts_would_be(
    post,
    world,  # noqa: F811
):
    term = {
        "product_id": str(world["fixed"].pk),
        "priority": 1,
        "rate_type": "COMMIT_RATE",
        "applicable_product_ids": [str(world["calls"].pk)],
        "access_amount": {"unit_price": 1, "quantity": 100, "access_type": "QUANTITY"},
        "commit_duration": {"value": 1},
        "starting_at_offset": DAY_ZERO,
    }
    body = {"name": "Bad", "rate_card_id": str(world["card"].pk), "recurring_credits": [term]}
    assert error(post("/v1/packages/create", body), 400) == (
        "recurring_credits[0].rate_type: A QUANTITY balance covers units at the usage's own "
        "rate: use LIST_RATE."
    )
    term = {**term, "rate_type": "LIST_RATE", "applicable_product_ids": []}
    assert error(post("/v1/packages/create", body | {"recurring_credits": [term]}), 400) == (
        "recurring_credits[0].applicable_product_ids: A QUANTITY balance holds units of named "
        "usage products: give applicable_product_ids (or specifiers with a product_id)."
    )
