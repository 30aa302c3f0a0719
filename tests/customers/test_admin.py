"""The Customers admin: a customer page shows its aliases and contracts; a contract page shows and
edits every term, with each term's own rows under it; the rate card's products offer a test event."""

import warnings
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.paginator import UnorderedObjectListWarning
from django.http import HttpResponse
from django.test import override_settings
from django.urls import NoReverseMatch, path, reverse

from catalog import money
from customers import admin as customers_admin
from customers.models import Commit, Contract, Customer, Override
from tests.catalog.admin_posts import management, page_errors, split_datetime
from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory, RateTierFactory
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CommitInvoiceItemFactory,
    ContractFactory,
    CreditFactory,
    CustomerFactory,
    IngestAliasFactory,
    OverrideFactory,
    ScheduledChargeFactory,
    ScheduledChargeItemFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
TERMS = ("commits", "credits", "overrides", "scheduled_charges", "subscriptions")


# ---------------------------------------------------------------------------------------------
# Customers


def customer_data(name: str, aliases: list[str]) -> dict[str, str]:
    data = {
        "name": name,
        "external_id": "",
        "salesforce_account_id": "",
        "custom_fields": "{}",
        **management("ingest_aliases", total=len(aliases)),
        **management("billing_provider_configurations", total=0),
        **management("contracts", total=0),
    }
    for index, alias in enumerate(aliases):
        data[f"ingest_aliases-{index}-alias"] = alias
    return data


def test_a_customer_is_created_with_its_aliases(admin_client):
    response = admin_client.post(
        reverse("admin:customers_customer_add"), customer_data("Acme AI", ["acme-prod", "acme-eu"])
    )

    assert response.status_code == 302, page_errors(response)
    customer = Customer.objects.get(name="Acme AI")
    assert sorted(customer.ingest_aliases.values_list("alias", flat=True)) == [
        "acme-eu",
        "acme-prod",
    ]


def test_an_alias_of_another_customer_is_refused_in_the_admin(admin_client):
    IngestAliasFactory(alias="acme-prod", customer=CustomerFactory(name="Acme AI"))

    response = admin_client.post(
        reverse("admin:customers_customer_add"), customer_data("Globex", ["acme-prod"])
    )

    assert response.status_code == 200
    assert page_errors(response) == [
        "The ingest alias 'acme-prod' already belongs to customer 'Acme AI'."
    ]
    assert not Customer.objects.filter(name="Globex").exists()


def test_the_customer_page_shows_aliases_and_linked_contracts(admin_client):
    customer = CustomerFactory(name="Acme AI")
    IngestAliasFactory(customer=customer, alias="acme-prod")
    contract = ContractFactory(customer=customer, name="Acme 2026")

    response = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))

    html = response.content.decode()
    assert 'value="acme-prod"' in html
    assert reverse("admin:customers_contract_change", args=[contract.pk]) in html
    assert "Acme 2026" in html
    assert reverse("admin:customers_contract_add") + f"?customer={customer.pk}" in html


def test_the_customer_list_shows_aliases_and_searches_them(admin_client):
    IngestAliasFactory(alias="acme-prod", customer=CustomerFactory(name="Acme AI"))
    CustomerFactory(name="Globex")

    response = admin_client.get(reverse("admin:customers_customer_changelist") + "?q=acme-prod")

    assert [c.name for c in response.context["cl"].result_list] == ["Acme AI"]
    assert "acme-prod" in response.content.decode()


def test_the_customer_autocomplete_pages_customers_by_name(admin_client):
    for name in ("Carol", "Alice", "Bob"):
        CustomerFactory(name=name)
    url = reverse("admin:autocomplete") + (
        "?app_label=customers&model_name=contract&field_name=customer&term="
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnorderedObjectListWarning)
        response = admin_client.get(url)

    assert response.status_code == 200
    names = [row["text"] for row in response.json()["results"]]
    assert names == ["Alice", "Bob", "Carol"]


def test_archived_customers_are_hidden_until_asked_for(admin_client):
    CustomerFactory(name="Active")
    CustomerFactory(name="Gone", archived_at=FEB)
    url = reverse("admin:customers_customer_changelist")

    default = [c.name for c in admin_client.get(url).context["cl"].result_list]
    archived = [c.name for c in admin_client.get(url + "?archived=yes").context["cl"].result_list]

    assert (default, archived) == (["Active"], ["Gone"])


def test_customers_are_archived_by_the_action_with_their_contracts(admin_client):
    contract = ContractFactory()
    customer = contract.customer

    admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "archive_selected", "_selected_action": [str(customer.pk)]},
    )

    customer.refresh_from_db()
    contract.refresh_from_db()
    assert customer.archived_at is not None
    assert contract.archived_at is not None


def test_archived_contracts_are_hidden_until_asked_for(admin_client):
    ContractFactory(name="Current")
    ContractFactory(name="Old", archived_at=FEB)
    url = reverse("admin:customers_contract_changelist")

    default = [c.name for c in admin_client.get(url).context["cl"].result_list]
    everything = {c.name for c in admin_client.get(url + "?archived=all").context["cl"].result_list}

    assert (default, everything) == (["Current"], {"Current", "Old"})


# ---------------------------------------------------------------------------------------------
# Contract pages


def test_the_contract_page_shows_every_term(admin_client):
    contract = ContractFactory()
    commit = CommitFactory(contract=contract, name="Prepaid 2026")
    AccessSegmentFactory(commit=commit, amount=Decimal("10000"))
    CommitInvoiceItemFactory(commit=commit, amount=Decimal("10000"))
    credit = CreditFactory(contract=contract, name="Welcome credit")
    AccessSegmentFactory(commit=None, credit=credit, amount=Decimal("2500"))
    OverrideFactory(contract=contract, multiplier=Decimal("0.9"))
    charge = ScheduledChargeFactory(contract=contract, name="Onboarding fee")
    ScheduledChargeItemFactory(scheduled_charge=charge, amount=Decimal("50000"))
    SubscriptionFactory(contract=contract, name="Platform fee")

    response = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))

    html = response.content.decode()
    prefixes = [inline.formset.prefix for inline in response.context["inline_admin_formsets"]]
    assert prefixes == [*TERMS, "edits"]
    for text in (
        "Prepaid 2026",
        "Welcome credit",
        "list price x 0.9",
        "Onboarding fee",
        "Platform fee",
        "$100.00",
        "$25.00",
        "$500.00",
    ):
        assert text in html
    # Amounts are shown (and typed) in dollars: 10000 cents is 100.
    assert 'name="commits-0-access_schedule-0-amount" value="100"' in html
    assert 'name="commits-0-invoice_schedule-0-amount" value="100"' in html
    assert 'name="credits-0-access_schedule-0-amount" value="25"' in html
    assert 'name="scheduled_charges-0-schedule_items-0-amount" value="500"' in html


def test_the_contract_page_lists_the_rate_card_products_with_their_prices(admin_client):
    rate = RateFactory(price=Decimal("150"), product=ProductFactory(name="Input Tokens"))
    tiered = RateFactory(
        rate_card=rate.rate_card, rate_type="TIERED", price=None, product=ProductFactory()
    )
    RateTierFactory(rate=tiered, level=1, size=Decimal("1000000"), price=Decimal("100"))
    RateTierFactory(rate=tiered, level=2, size=None, price=Decimal("60"))
    contract = ContractFactory(rate_card=rate.rate_card)

    response = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))

    html = response.content.decode()
    assert "Input Tokens" in html
    assert "$1.50" in html
    assert "first 1,000,000 at $1.00, then $0.60" in html


def _send_test_event(request, contract_id, product_id):
    return HttpResponse("sandbox")


urlpatterns = [
    path(
        "admin/metering/send-test-event/<uuid:contract_id>/<uuid:product_id>/",
        _send_test_event,
        name="metering_send_test_event",
    ),
]
# A URL configuration where the metering admin's sandbox page exists (in the `admin` namespace).
with_sandbox = type(
    "UrlConf",
    (),
    {"urlpatterns": [path("", (urlpatterns + admin.site.get_urls(), "admin", "admin"))]},
)


def test_each_usage_product_gets_a_send_test_event_button(admin_client):
    rate = RateFactory(product=ProductFactory(name="Input Tokens"))
    RateFactory(
        rate_card=rate.rate_card,
        product=ProductFactory(subscription=True),
        rate_type="SUBSCRIPTION",
        billing_frequency="MONTHLY",
    )
    contract = ContractFactory(rate_card=rate.rate_card)

    with override_settings(ROOT_URLCONF=with_sandbox):
        url = reverse(
            "admin:metering_send_test_event",
            kwargs={"contract_id": contract.pk, "product_id": rate.product.pk},
        )
        response = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))

    html = response.content.decode()
    assert f'href="{url}">Send test event</a>' in html
    assert html.count("Send test event") == 1


def test_the_contract_page_works_before_the_sandbox_exists(admin_client, monkeypatch):
    def no_sandbox(*args, **kwargs):
        raise NoReverseMatch("not yet")

    rate = RateFactory()
    contract = ContractFactory(rate_card=rate.rate_card)
    monkeypatch.setattr(customers_admin, "reverse", no_sandbox)

    assert customers_admin.send_test_event_url(contract, rate.product) is None
    monkeypatch.undo()
    response = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))
    assert response.status_code == 200


def contract_data(customer, rate_card, **overrides) -> dict[str, str]:
    data = {
        "customer": str(customer.pk),
        "name": "Acme 2026",
        "rate_card": str(rate_card.pk),
        "package": "",
        **split_datetime("starting_at", JAN),
        **split_datetime("ending_before", None),
        "usage_statement_frequency": "MONTHLY",
        "usage_statement_day": "FIRST_OF_MONTH",
        "net_payment_terms_days": "30",
        "billing_provider": "",
        "multiplier_override_prioritization": "LOWEST_MULTIPLIER",
        "uniqueness_key": "",
        "custom_fields": "{}",
    }
    for prefix in (*TERMS, "edits"):
        data.update(management(prefix, total=0))
    data.update(overrides)
    return data


def commit_rows(product, *, segments: list[tuple[str, datetime, datetime]]) -> dict[str, str]:
    data = {
        **management("commits", total=1),
        "commits-0-product": str(product.pk),
        "commits-0-type": "PREPAID",
        "commits-0-name": "Prepaid 2026",
        "commits-0-priority": "0",
        "commits-0-rate_type": "LIST_RATE",
        "commits-0-credit_type": money.USD_CENTS_ID,
        "commits-0-applicable_product_tags": "tokens",
        "commits-0-rollover_fraction": "",
        "commits-0-description": "",
        **management("commits-0-access_schedule", total=len(segments)),
        **management("commits-0-invoice_schedule", total=1),
        **split_datetime("commits-0-invoice_schedule-0-timestamp", JAN),
        "commits-0-invoice_schedule-0-amount": "100",
        "commits-0-invoice_schedule-0-unit_price": "",
        "commits-0-invoice_schedule-0-quantity": "",
    }
    for index, (amount, start, end) in enumerate(segments):
        row = f"commits-0-access_schedule-{index}"
        data[f"{row}-amount"] = amount
        data.update(split_datetime(f"{row}-starting_at", start))
        data.update(split_datetime(f"{row}-ending_before", end))
    return data


def test_a_contract_is_created_with_a_commit_and_its_schedules(admin_client):
    customer = CustomerFactory()
    card = RateCardFactory()
    product = ProductFactory(fixed=True)
    data = contract_data(
        customer,
        card,
        **commit_rows(
            product, segments=[("100", JAN, FEB), ("50", FEB, datetime(2026, 3, 1, tzinfo=UTC))]
        ),
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 302, page_errors(response)
    commit = Commit.objects.get(contract__name="Acme 2026")
    assert commit.customer == customer
    assert commit.applicable_product_tags == ["tokens"]
    assert list(commit.access_schedule.values_list("amount", "starting_at", "ending_before")) == [
        (Decimal("10000"), JAN, FEB),
        (Decimal("5000"), FEB, datetime(2026, 3, 1, tzinfo=UTC)),
    ]
    assert list(commit.invoice_schedule.values_list("timestamp", "amount")) == [
        (JAN, Decimal("10000"))
    ]


def test_an_access_segment_off_the_hour_is_explained_on_the_contract_page(admin_client):
    data = contract_data(
        CustomerFactory(),
        RateCardFactory(),
        **commit_rows(
            ProductFactory(fixed=True),
            segments=[("10000", datetime(2026, 1, 1, 9, 30, tzinfo=UTC), FEB)],
        ),
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 200
    assert "Correct the access schedule rows below." in page_errors(response)
    assert "Must be on an hour boundary (minutes and seconds zero, UTC)." in (
        response.content.decode()
    )
    assert not Contract.objects.exists()


def test_a_tiered_overwrite_is_typed_as_tier_rows(admin_client):
    product = ProductFactory()
    data = contract_data(
        CustomerFactory(),
        RateCardFactory(),
        **management("overrides", total=1),
        **{
            "overrides-0-type": "OVERWRITE",
            "overrides-0-target": "",
            "overrides-0-product": str(product.pk),
            "overrides-0-applicable_product_tags": "",
            "overrides-0-pricing_group_values": "",
            "overrides-0-presentation_group_values": "",
            **split_datetime("overrides-0-starting_at", JAN),
            **split_datetime("overrides-0-ending_before", None),
            "overrides-0-multiplier": "",
            "overrides-0-priority": "",
            "overrides-0-overwrite_rate_type": "TIERED",
            "overrides-0-overwrite_price": "",
            "overrides-0-overwrite_credit_type": "",
            "overrides-0-entitled": "unknown",
            "overrides-0-commit_ids": "",
            **management("overrides-0-tiers", total=3),
            "overrides-0-tiers-0-size": "1000",
            "overrides-0-tiers-0-multiplier": "",
            "overrides-0-tiers-0-price": "0.90",
            "overrides-0-tiers-1-size": "",
            "overrides-0-tiers-1-multiplier": "",
            "overrides-0-tiers-1-price": "0.70",
        },
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 302, page_errors(response)
    override = Override.objects.get()
    assert list(override.tiers.values_list("level", "size", "multiplier", "price")) == [
        (1, Decimal("1000"), None, Decimal("90")),
        (2, None, None, Decimal("70")),
    ]


def test_an_override_naming_products_with_all_its_tags_and_a_frequency(admin_client):
    data = contract_data(
        CustomerFactory(),
        RateCardFactory(),
        **management("overrides", total=1),
        **{
            "overrides-0-type": "MULTIPLIER",
            "overrides-0-applicable_product_tags": "gpu, inference",
            "overrides-0-tags_match": "ALL",
            "overrides-0-billing_frequency": "QUARTERLY",
            **split_datetime("overrides-0-starting_at", JAN),
            **split_datetime("overrides-0-ending_before", None),
            "overrides-0-multiplier": "0.5",
            "overrides-0-entitled": "unknown",
            **management("overrides-0-tiers", total=0),
        },
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert response.status_code == 302, page_errors(response)
    override = Override.objects.get()
    assert (override.applicable_product_tags, override.tags_match, override.billing_frequency) == (
        ["gpu", "inference"],
        "ALL",
        "QUARTERLY",
    )
    assert override.is_specifier


def test_tier_rows_on_a_plain_multiplier_are_refused(admin_client):
    data = contract_data(
        CustomerFactory(),
        RateCardFactory(),
        **management("overrides", total=1),
        **{
            "overrides-0-type": "MULTIPLIER",
            "overrides-0-applicable_product_tags": "tokens",
            **split_datetime("overrides-0-starting_at", JAN),
            **split_datetime("overrides-0-ending_before", None),
            "overrides-0-multiplier": "0.9",
            "overrides-0-entitled": "unknown",
            **management("overrides-0-tiers", total=1),
            "overrides-0-tiers-0-size": "",
            "overrides-0-tiers-0-multiplier": "0.5",
        },
    )

    response = admin_client.post(reverse("admin:customers_contract_add"), data)

    assert page_errors(response) == [
        "Tier rows are only for tiered multipliers or a tiered overwrite: change the type, or "
        "clear the tier rows."
    ]


def test_the_commit_list_shows_money(admin_client):
    commit = CommitFactory(name="Prepaid")
    AccessSegmentFactory(commit=commit, amount=Decimal("123456"))

    response = admin_client.get(reverse("admin:customers_commit_changelist"))

    assert "$1,234.56" in response.content.decode()
