"""Packages in the admin: "Create contract from this package" (changelist action and page button)
makes the same contract as the service the API uses for package_id, then opens it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from catalog import services as catalog_services
from customers import services
from customers.models import Contract
from tests.catalog.admin_posts import split_datetime
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import BillingProviderConfigurationFactory, CustomerFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def package(db):
    fixed = ProductFactory(name="Platform", fixed=True)
    return catalog_services.package_create(
        name="Starter",
        contract_name="Starter contract",
        rate_card=RateCardFactory(name="Standard"),
        duration_unit="YEARS",
        duration_value=1,
        usage_statement_frequency="MONTHLY",
        usage_statement_day="CONTRACT_START",
        net_payment_terms_days=45,
        terms={
            "commits": [
                {
                    "product_id": str(fixed.pk),
                    "type": "PREPAID",
                    "name": "Prepaid",
                    "priority": 2,
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
            "credits": [
                {
                    "product_id": str(fixed.pk),
                    "name": "Welcome credit",
                    "access_schedule": {
                        "schedule_items": [
                            {
                                "amount": 500,
                                "starting_at_offset": {"unit": "WEEKS", "value": 1},
                                "duration": {"unit": "MONTHS", "value": 1},
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
        },
    )


def create_url(package) -> str:
    return reverse("admin:customers_contract_from_package", args=[package.pk])


def form_data(customer, starting_at=START, uniqueness_key="") -> dict:
    return {
        "customer": str(customer.pk),
        **split_datetime("starting_at", starting_at),
        "uniqueness_key": uniqueness_key,
    }


def snapshot(contract: Contract) -> dict:
    """Everything a contract copies from a package, without ids, creators and creation times."""
    return {
        "rate_card": contract.rate_card_id,
        "package": contract.package_id,
        "name": contract.name,
        "dates": (contract.starting_at, contract.ending_before),
        "schedule": (
            contract.usage_statement_frequency,
            contract.usage_statement_day,
            contract.net_payment_terms_days,
            contract.multiplier_override_prioritization,
        ),
        "commits": [
            (
                c.product_id,
                c.type,
                c.name,
                c.priority,
                c.rate_type,
                c.credit_type_id,
                [(s.amount, s.starting_at, s.ending_before) for s in c.access_schedule.all()],
                [
                    (i.timestamp, i.total, i.unit_price, i.quantity)
                    for i in c.invoice_schedule.all()
                ],
            )
            for c in contract.commits.order_by("name")
        ],
        "credits": [
            (
                c.product_id,
                c.name,
                c.priority,
                [(s.amount, s.starting_at, s.ending_before) for s in c.access_schedule.all()],
            )
            for c in contract.credits.order_by("name")
        ],
        "overrides": [
            (o.product_id, o.type, o.multiplier, o.starting_at, o.ending_before)
            for o in contract.overrides.order_by("starting_at")
        ],
        "scheduled_charges": [
            (
                charge.product_id,
                charge.name,
                [
                    (i.timestamp, i.total, i.unit_price, i.quantity)
                    for i in charge.schedule_items.order_by("timestamp")
                ],
            )
            for charge in contract.scheduled_charges.order_by("name")
        ],
    }


def test_the_form_creates_the_contract_the_service_makes_and_opens_it(admin_client, package):
    customer = CustomerFactory(name="Acme AI")

    response = admin_client.post(create_url(package), form_data(customer, uniqueness_key="k-1"))

    made = Contract.objects.get(customer=customer)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:customers_contract_change", args=[made.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Contract “Starter contract” was created from package “Starter”."
    ]
    assert made.uniqueness_key == "k-1"
    by_service = services.contract_create_from_package(
        customer=CustomerFactory(), package=package, starting_at=START, now=timezone.now()
    )
    assert snapshot(made) == snapshot(by_service)


def test_the_copied_terms_are_dated_from_the_contract_start(admin_client, package):
    customer = CustomerFactory()

    admin_client.post(create_url(package), form_data(customer))

    got = snapshot(Contract.objects.get(customer=customer))
    assert got["dates"] == (START, datetime(2027, 3, 1, tzinfo=UTC))
    assert got["schedule"] == ("MONTHLY", "CONTRACT_START", 45, "LOWEST_MULTIPLIER")
    assert got["commits"][0][6] == [(Decimal("12000"), START, datetime(2027, 3, 1, tzinfo=UTC))]
    assert got["commits"][0][7] == [(START, Decimal("12000"), Decimal("12000"), Decimal("1"))]
    assert got["credits"][0][3] == [
        (Decimal("500"), datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 4, 8, tzinfo=UTC))
    ]
    assert got["overrides"] == [
        (
            got["commits"][0][0],
            "MULTIPLIER",
            Decimal("0.8"),
            datetime(2026, 4, 1, tzinfo=UTC),
            datetime(2026, 4, 15, tzinfo=UTC),
        )
    ]
    assert got["scheduled_charges"][0][2] == [
        (datetime(2026, 3, 8, tzinfo=UTC), Decimal("1000"), Decimal("500"), Decimal("2"))
    ]


def test_the_changelist_action_opens_the_form_for_one_package(admin_client, package):
    response = admin_client.post(
        reverse("admin:catalog_package_changelist"),
        {"action": "create_contract", "_selected_action": [str(package.pk)]},
    )

    assert response.status_code == 302
    assert response["Location"] == create_url(package)
    page = admin_client.get(create_url(package))
    assert page.status_code == 200
    assert "Create contract from package “Starter”" in page.content.decode()


def test_the_action_refuses_several_packages(admin_client, package):
    other = catalog_services.package_create(name="Other", rate_card=RateCardFactory())

    response = admin_client.post(
        reverse("admin:catalog_package_changelist"),
        {"action": "create_contract", "_selected_action": [str(package.pk), str(other.pk)]},
        follow=True,
    )

    assert "Select exactly one package to create a contract from." in response.content.decode()
    assert not Contract.objects.exists()


def test_the_package_page_has_the_button(admin_client, package):
    html = admin_client.get(
        reverse("admin:catalog_package_change", args=[package.pk])
    ).content.decode()

    assert f'href="{create_url(package)}">Create contract from this package</a>' in html


def test_an_archived_package_is_refused_clearly(admin_client, package):
    catalog_services.package_archive(package=package, now=timezone.now())
    customer = CustomerFactory()

    response = admin_client.post(create_url(package), form_data(customer))

    assert response.status_code == 200
    assert "This package is archived; new contracts cannot use it." in response.content.decode()
    assert not Contract.objects.exists()


def test_a_start_off_the_hour_is_refused_with_the_term_named(admin_client, package):
    customer = CustomerFactory()

    response = admin_client.post(
        create_url(package), form_data(customer, starting_at=START.replace(minute=30))
    )

    assert response.status_code == 200
    assert list(response.context["form"].non_field_errors()) == [
        "commits[0].access_schedule.schedule_items[0].starting_at: "
        "Must be on an hour boundary (minutes and seconds zero, UTC).",
        "commits[0].access_schedule.schedule_items[0].ending_before: "
        "Must be on an hour boundary (minutes and seconds zero, UTC).",
    ]
    assert "Must be on an hour boundary" in response.content.decode()
    assert not Contract.objects.exists()


def test_a_used_uniqueness_key_is_refused_on_its_field(admin_client, package):
    services.contract_create_from_package(
        customer=CustomerFactory(),
        package=package,
        starting_at=START,
        now=timezone.now(),
        uniqueness_key="k-1",
    )
    customer = CustomerFactory()

    response = admin_client.post(create_url(package), form_data(customer, uniqueness_key="k-1"))

    assert response.status_code == 200
    assert response.context["form"].errors["uniqueness_key"] == [
        "Contract with this Uniqueness key already exists."
    ]
    assert not Contract.objects.filter(customer=customer).exists()


def test_the_form_sends_the_contracts_invoices_to_a_configuration_of_the_customer(
    admin_client, package
):
    config = BillingProviderConfigurationFactory(billing_provider_customer_id="cus_Pkg9")
    html = admin_client.get(f"{create_url(package)}?customer={config.customer_id}").content
    assert f'<option value="{config.pk}">Stripe cus_Pkg9</option>'.encode() in html
    assert b"admin_extra/billing_configurations.js" in html
    data = {**form_data(config.customer), "billing_provider_configuration": str(config.pk)}
    response = admin_client.post(create_url(package), data)
    assert response.status_code == 302
    contract = Contract.objects.get(customer=config.customer)
    assert (contract.billing_provider_configuration, contract.billing_provider) == (
        config,
        "stripe",
    )


def test_the_form_refuses_a_configuration_of_another_customer(admin_client, package):
    customer = CustomerFactory()
    other = BillingProviderConfigurationFactory()
    data = {**form_data(customer), "billing_provider_configuration": str(other.pk)}
    response = admin_client.post(create_url(package), data)
    assert response.status_code == 200
    assert response.context["form"].errors["billing_provider_configuration"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Contract.objects.filter(customer=customer).exists()
