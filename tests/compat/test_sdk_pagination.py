"""Every list endpoint paged through the SDK with limit=1 until the end."""

from datetime import UTC, datetime

from tests.compat.conftest import START


def _pages(first) -> list[list[str]]:
    """Each page's item ids, following the SDK's own cursor handling to the last page."""
    return [[_key(item) for item in page.data] for page in first.iter_pages()]


def _key(item) -> str:
    for name in ("id", "contract_id"):
        if getattr(item, name, None):
            return getattr(item, name)
    return f"{item.product_id}:{item.pricing_group_values}"


def _one_per_page(first, expected: list[str]) -> None:
    pages = _pages(first)
    assert all(len(page) == 1 for page in pages), pages
    assert [page[0] for page in pages] == expected


def test_pricing_units(client):
    extra = [client.v1.pricing_units.create(name=f"unit {i}").data.id for i in range(2)]
    ids = [u.id for u in client.v1.pricing_units.list()]
    assert set(extra) <= set(ids)
    _one_per_page(client.v1.pricing_units.list(limit=1), ids)


def test_billable_metrics_and_customer_billable_metrics(client, world):
    second = client.v1.billable_metrics.create(name="Calls", aggregation_type="COUNT").data.id
    _one_per_page(client.v1.billable_metrics.list(limit=1), [world["metric"], second])
    product = client.v1.contracts.products.create(
        name="Calls", type="USAGE", billable_metric_id=second
    ).data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=world["rate_card"],
        product_id=product,
        entitled=True,
        rate_type="FLAT",
        price=1,
        starting_at=START,
    )
    customer = world["customer"].id
    client.v1.contracts.create(
        customer_id=customer, rate_card_id=world["rate_card"], starting_at=START
    )
    pages = _pages(client.v1.customers.list_billable_metrics(customer_id=customer, limit=1))
    assert sorted(p[0] for p in pages) == sorted([world["metric"], second])
    assert all(len(p) == 1 for p in pages)


def test_customers(client, world):
    others = [client.v1.customers.create(name=f"C{i}").data.id for i in range(2)]
    _one_per_page(client.v1.customers.list(limit=1), [world["customer"].id, *others])


def test_products(client, world):
    fee = client.v1.contracts.products.create(name="Fee", type="FIXED").data.id
    _one_per_page(client.v1.contracts.products.list(limit=1), [world["product"], fee])


def test_rate_cards(client, world):
    other = client.v1.contracts.rate_cards.create(name="Other").data.id
    _one_per_page(client.v1.contracts.rate_cards.list(limit=1), [world["rate_card"], other])


def test_rates(client, world):
    first = client.v1.contracts.rate_cards.rates.list(
        rate_card_id=world["rate_card"], at=datetime(2024, 2, 1, tzinfo=UTC), limit=1
    )
    pages = _pages(first)
    assert [len(p) for p in pages] == [1, 1]


def test_rate_schedule_by_hand(client, world):
    seen, cursor = [], None
    while True:
        page = client.v1.contracts.rate_cards.retrieve_rate_schedule(
            rate_card_id=world["rate_card"],
            starting_at=START,
            limit=1,
            **({"next_page": cursor} if cursor else {}),
        )
        assert len(page.data) == 1
        seen.append(page.data[0].pricing_group_values["region"])
        cursor = page.next_page
        if not cursor:
            break
    assert sorted(seen) == ["eu", "us"]


def test_contracts_v1_and_v2(client, world):
    customer = world["customer"].id
    ids = [
        client.v1.contracts.create(
            customer_id=customer, rate_card_id=world["rate_card"], starting_at=START, name=f"K{i}"
        ).data.id
        for i in range(3)
    ]
    _one_per_page(client.v1.contracts.list(customer_id=customer, limit=1), ids)
    _one_per_page(client.v2.contracts.list(customer_id=customer, limit=1), ids)


def test_packages_and_contracts_on_package(client, world):
    packages = [
        client.v1.packages.create(name=f"P{i}", rate_card_id=world["rate_card"]).data.id
        for i in range(2)
    ]
    _one_per_page(client.v1.packages.list(limit=1), packages)
    customer = world["customer"].id
    contracts = [
        client.v1.contracts.create(
            customer_id=customer, package_id=packages[0], starting_at=START
        ).data.id
        for _ in range(2)
    ]
    _one_per_page(
        client.v1.packages.list_contracts_on_package(package_id=packages[0], limit=1), contracts
    )
