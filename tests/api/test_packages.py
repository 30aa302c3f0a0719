"""/v1/packages/* and contracts made from a package (reference 3.9)."""

import pytest

from customers.models import Contract
from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import BillingProviderConfigurationFactory, CustomerFactory


@pytest.fixture
def fixed(db):
    return ProductFactory(fixed=True, name="Commit")


@pytest.fixture
def seat(db):
    return ProductFactory(subscription=True, name="Seat")


@pytest.fixture
def card(db):
    return RateCardFactory(name="Standard")


@pytest.fixture
def package(post, card, fixed, seat):
    body = {
        "name": "Starter",
        "contract_name": "Starter contract",
        "rate_card_id": str(card.pk),
        "aliases": [{"name": "starter"}],
        "duration": {"unit": "years", "value": 1},
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "CONTRACT_START"},
        "net_payment_terms_days": 45,
        "commits": [
            {
                "product_id": str(fixed.pk),
                "type": "PREPAID",
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 12000,
                            "starting_at_offset": {"unit": "DAYS", "value": 0},
                            "duration": {"unit": "MONTHS", "value": 12},
                        }
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [
                        {
                            "date_offset": {"unit": "DAYS", "value": 0},
                            "quantity": 1,
                            "unit_price": 12000,
                        }
                    ]
                },
            }
        ],
        "overrides": [
            {
                "override_specifiers": [{"product_id": str(fixed.pk)}],
                "starting_at_offset": {"unit": "MONTHS", "value": 1},
                "duration": {"unit": "WEEKS", "value": 2},
                "multiplier": 0.8,
            }
        ],
        "scheduled_charges": [
            {
                "product_id": str(fixed.pk),
                "name": "Onboarding",
                "schedule": {
                    "schedule_items": [
                        {
                            "date_offset": {"unit": "WEEKS", "value": 1},
                            "quantity": 2,
                            "unit_price": 500,
                        }
                    ]
                },
            }
        ],
        "subscriptions": [
            {
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {"product_id": str(seat.pk), "billing_frequency": "MONTHLY"},
                "initial_quantity": 5,
            }
        ],
        "uniqueness_key": "pkg-1",
    }
    return data(post("/v1/packages/create", body))


def test_get_answers_the_template_with_offsets(package, post, card, fixed):
    got = data(post("/v1/packages/get", {"package_id": package["id"]}))
    assert got["name"] == "Starter"
    assert got["contract_name"] == "Starter contract"
    assert got["rate_card_id"] == str(card.pk)
    assert got["duration"] == {"unit": "YEARS", "value": 1}
    assert got["usage_statement_schedule"] == {"frequency": "MONTHLY", "day": "CONTRACT_START"}
    assert got["net_payment_terms_days"] == 45
    assert got["uniqueness_key"] == "pkg-1"
    [commit] = got["commits"]
    assert commit["product"] == {"id": str(fixed.pk), "name": "Commit"}
    [item] = commit["access_schedule"]["schedule_items"]
    assert (item["amount"], item["duration"]) == (12000, {"unit": "MONTHS", "value": 12})
    [override] = got["overrides"]
    assert override["multiplier"] == 0.8
    assert override["starting_at_offset"] == {"unit": "MONTHS", "value": 1}
    assert got["scheduled_charges"][0]["schedule"]["schedule_items"][0]["unit_price"] == 500
    assert got["subscriptions"][0]["initial_quantity"] == 5


def test_a_contract_from_the_package_places_every_date_from_its_start(package, post):
    customer = CustomerFactory()
    body = {
        "customer_id": str(customer.pk),
        "package_id": package["id"],
        "starting_at": "2024-01-31T00:00:00Z",
    }
    created = data(post("/v1/contracts/create", body))
    got = data(
        post("/v2/contracts/get", {"contract_id": created["id"], "customer_id": str(customer.pk)})
    )
    assert got["package_id"] == package["id"]
    assert got["name"] == "Starter contract"
    assert got["ending_before"] == "2025-01-31T00:00:00Z"
    assert got["net_payment_terms_days"] == 45
    assert got["usage_statement_schedule"]["billing_anchor_date"] == "2024-01-31T00:00:00Z"
    [segment] = got["commits"][0]["access_schedule"]["schedule_items"]
    assert (segment["starting_at"], segment["ending_before"], segment["amount"]) == (
        "2024-01-31T00:00:00Z",
        "2025-01-31T00:00:00Z",
        12000,
    )
    [override] = got["overrides"]
    assert (override["starting_at"], override["ending_before"]) == (
        "2024-02-29T00:00:00Z",
        "2024-03-14T00:00:00Z",
    )
    [item] = got["scheduled_charges"][0]["schedule"]["schedule_items"]
    assert (item["timestamp"], item["amount"]) == ("2024-02-07T00:00:00Z", 1000)
    assert got["subscriptions"][0]["quantity_schedule"][0]["quantity"] == 5
    listed = post("/v1/packages/listContractsOnPackage", {"package_id": package["id"]}).json()
    assert listed == {
        "data": [
            {
                "contract_id": created["id"],
                "customer_id": str(customer.pk),
                "starting_at": "2024-01-31T00:00:00Z",
                "ending_before": "2025-01-31T00:00:00Z",
                "archived_at": None,
            }
        ],
        "next_page": None,
    }


def test_contract_from_package_alias(package, post):
    customer = CustomerFactory()
    body = {
        "customer_id": str(customer.pk),
        "package_alias": "starter",
        "starting_at": "2024-01-01T00:00:00Z",
    }
    created = data(post("/v1/contracts/create", body))
    got = data(
        post("/v2/contracts/get", {"contract_id": created["id"], "customer_id": str(customer.pk)})
    )
    assert got["package_id"] == package["id"]


def test_a_package_contract_takes_no_other_terms(package, post, card):
    customer = CustomerFactory()
    body = {
        "customer_id": str(customer.pk),
        "package_id": package["id"],
        "starting_at": "2024-01-01T00:00:00Z",
        "rate_card_id": str(card.pk),
    }
    assert error(post("/v1/contracts/create", body), 400) == (
        "rate_card_id: Not allowed with package_id: the package sets it "
        "(only customer_id, starting_at, uniqueness_key, custom_fields, transition, "
        "billing_provider_configuration, revenue_system_configuration, "
        "hierarchy_configuration and, for a CUSTOM_DATE package, "
        "usage_statement_schedule.billing_anchor_date)."
    )


def _package_contract(package, customer, billing: dict) -> dict:
    return {
        "customer_id": str(customer.pk),
        "package_id": package["id"],
        "starting_at": "2024-01-01T00:00:00Z",
        "billing_provider_configuration": billing,
    }


def test_a_package_contract_takes_the_customers_billing_provider_configuration(package, post):
    config = BillingProviderConfigurationFactory(billing_provider_customer_id="cus_Pkg1")
    customer = config.customer
    by_provider = {"billing_provider": "stripe", "delivery_method": "direct_to_billing_provider"}
    created = data(post("/v1/contracts/create", _package_contract(package, customer, by_provider)))
    contract = Contract.objects.get(pk=created["id"])
    assert (str(contract.package_id), contract.billing_provider_configuration) == (
        package["id"],
        config,
    )
    assert contract.billing_provider == "stripe"
    got = data(
        post("/v2/contracts/get", {"contract_id": created["id"], "customer_id": str(customer.pk)})
    )
    assert got["customer_billing_provider_configuration"]["id"] == str(config.pk)
    by_id = {"billing_provider_configuration_id": str(config.pk)}
    body = {**_package_contract(package, customer, by_id), "starting_at": "2025-01-01T00:00:00Z"}
    again = data(post("/v1/contracts/create", body))
    assert Contract.objects.get(pk=again["id"]).billing_provider_configuration == config


def test_a_package_contract_with_a_billing_configuration_the_customer_lacks_is_refused(
    package, post
):
    customer = CustomerFactory()
    other = BillingProviderConfigurationFactory()
    by_id = {"billing_provider_configuration_id": str(other.pk)}
    assert error(
        post("/v1/contracts/create", _package_contract(package, customer, by_id)), 404
    ) == (
        f"Billing provider configuration {other.pk} not found among the active ones of "
        f"customer {customer.pk}."
    )
    by_provider = {"billing_provider": "stripe"}
    body = _package_contract(package, customer, by_provider)
    assert error(post("/v1/contracts/create", body), 400) == (
        f"billing_provider_configuration: Customer {customer.pk} has no active stripe "
        "configuration delivered by direct_to_billing_provider (set one with "
        "setCustomerBillingProviderConfigurations)."
    )
    assert not Contract.objects.filter(customer=customer).exists()


def test_archived_package_makes_no_contracts(package, post):
    assert data(post("/v1/packages/archive", {"package_id": package["id"]})) == package
    customer = CustomerFactory()
    body = {
        "customer_id": str(customer.pk),
        "package_id": package["id"],
        "starting_at": "2024-01-01T00:00:00Z",
    }
    assert error(post("/v1/contracts/create", body), 400) == (
        "package_id: This package is archived; new contracts cannot use it."
    )
    assert error(post("/v1/packages/archive", {"package_id": package["id"]}), 400) == (
        "This package is already archived."
    )


def test_list_archive_filter_and_paging(package, post, card, api_client):
    other = data(post("/v1/packages/create", {"name": "Other", "rate_card_id": str(card.pk)}))
    data(post("/v1/packages/archive", {"package_id": other["id"]}))
    assert [p["id"] for p in data(post("/v1/packages/list"))] == [package["id"]]
    assert [p["id"] for p in data(post("/v1/packages/list", {"archive_filter": "ARCHIVED"}))] == [
        other["id"]
    ]
    first = api_client.post(
        "/v1/packages/list?limit=1", {"archive_filter": "ALL"}, format="json"
    ).json()
    assert [p["id"] for p in first["data"]] == [package["id"]]
    assert first["next_page"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"rate_card_id": "RC"}, 400, "name: This field is required."),
        ({"name": "P"}, 400, "rate_card_id: Give either rate_card_id or rate_card_alias."),
        ({"name": "P", "rate_card_id": UNKNOWN}, 404, f"Rate card {UNKNOWN} not found."),
        ({"name": "P", "rate_card_alias": "nope"}, 404, "No rate card has the alias 'nope'."),
        (
            {"name": "P", "rate_card_id": "RC", "duration": {"unit": "DECADES", "value": 1}},
            400,
            "duration.unit: 'DECADES' is not one of DAYS, WEEKS, MONTHS, YEARS.",
        ),
        (
            {"name": "P", "rate_card_id": "RC", "spend_trackers": [{"alias": "t"}]},
            400,
            "spend_trackers[0].applicable_spend_specifiers: This field is required.; "
            "spend_trackers[0].credit_type_id: This field is required.; "
            "spend_trackers[0].reset_frequency: This field is required.",
        ),
        (
            {
                "name": "P",
                "rate_card_id": "RC",
                "scheduled_charges": [
                    {
                        "product_id": "SEAT",
                        "schedule": {
                            "schedule_items": [
                                {
                                    "date_offset": {"unit": "DAYS", "value": 1},
                                    "quantity": 1,
                                    "unit_price": 1,
                                }
                            ]
                        },
                    }
                ],
            },
            400,
            "product_id: Scheduled charges use a fixed product.",
        ),
    ],
)
def test_create_errors(post, card, seat, body, status, message):
    body = {k: (str(card.pk) if v == "RC" else v) for k, v in body.items()}
    for charge in body.get("scheduled_charges", []):
        charge["product_id"] = str(seat.pk)
    assert error(post("/v1/packages/create", body), status) == message


def test_a_reused_package_uniqueness_key_is_409(package, post, card):
    response = post(
        "/v1/packages/create",
        {"name": "Again", "rate_card_id": str(card.pk), "uniqueness_key": "pkg-1"},
    )
    assert error(response, 409) == "uniqueness_key: 'pkg-1' was already used to create a package."
    assert response["x-should-retry"] == "false"


def test_get_unknown_package(post):
    assert (
        error(post("/v1/packages/get", {"package_id": UNKNOWN}), 404)
        == f"Package {UNKNOWN} not found."
    )
    assert error(post("/v1/packages/listContractsOnPackage", {"package_id": UNKNOWN}), 404)
