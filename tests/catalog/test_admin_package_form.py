"""The package add form checks its terms JSON as `/v1/packages/create` does (the API's
serializers and term checks): a problem is shown on the terms field, named by its path; good
terms are stored as the API stores them, so a contract made from the package gets them. A
Finance viewer may not add a package."""

import json

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from catalog.models import Package
from roles.definitions import FINANCE_ADMIN, FINANCE_VIEWER
from tests.catalog.admin_posts import page_errors
from tests.catalog.factories import ProductFactory, RateCardFactory

pytestmark = pytest.mark.django_db

OFFSET_0 = {"unit": "DAYS", "value": 0}


def _page(card, terms) -> dict:
    return {
        "name": "Per seat",
        "rate_card": str(card.pk),
        "aliases": "",
        "duration_unit": "",
        "duration_value": "",
        "usage_statement_frequency": "MONTHLY",
        "usage_statement_day": "FIRST_OF_MONTH",
        "net_payment_terms_days": "30",
        "multiplier_override_prioritization": "LOWEST_MULTIPLIER",
        "terms": json.dumps(terms),
        "uniqueness_key": "",
    }


def _seat_terms(seats, fixed) -> dict:
    return {
        "subscriptions": [
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {"product_id": str(seats.pk), "billing_frequency": "MONTHLY"},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_unassigned_seats": 1},
            }
        ],
        "recurring_credits": [
            {
                "product_id": str(fixed.pk),
                "priority": 1,
                "access_amount": {"unit_price": 250},
                "commit_duration": {"value": 1},
                "starting_at_offset": OFFSET_0,
                "proration_rounding": {
                    "access": {"decimal_places": -2, "rounding_method": "FLOOR"}
                },
                "subscription_config": {
                    "subscription_id": "seats",
                    "allocation": "INDIVIDUAL",
                    "apply_seat_increase_config": {"is_prorated": False},
                },
            }
        ],
    }


def test_good_terms_are_stored_as_the_api_stores_them(admin_client):
    seats, fixed = ProductFactory(subscription=True), ProductFactory(fixed=True)
    page = _page(RateCardFactory(), _seat_terms(seats, fixed))
    response = admin_client.post(reverse("admin:catalog_package_add"), page)
    assert response.status_code == 302, page_errors(response)
    terms = Package.objects.get().terms
    (subscription,) = terms["subscriptions"]
    assert subscription["quantity_management_mode"] == "SEAT_BASED"
    assert subscription["seat_config"] == {
        "seat_group_key": "user_id",
        "initial_unassigned_seats": "1",
    }
    (credit,) = terms["recurring_credits"]
    assert credit["proration_rounding"] == {
        "access": {"decimal_places": "-2", "rounding_method": "FLOOR"}
    }
    assert {"id", "priority"} <= set(credit) and credit["priority"] == "1"


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda t: t["recurring_credits"][0].pop("priority"),
            "recurring_credits[0].priority: This field is required.",
        ),
        (
            lambda t: t["recurring_credits"][0]["subscription_config"].update(
                subscription_id="nope"
            ),
            "recurring_credits[0].subscription_config.subscription_id: Name one of the "
            "package's subscriptions by its temporary_id.",
        ),
        (
            lambda t: t["recurring_credits"][0]["proration_rounding"].update(
                invoice={"decimal_places": 0, "rounding_method": "FLOOR"}
            ),
            "recurring_credits[0].proration_rounding.invoice: Credits are not invoiced.",
        ),
        (
            lambda t: t["subscriptions"][0].pop("seat_config"),
            "subscriptions[0].seat_config: A SEAT_BASED subscription needs its seat_config.",
        ),
        (
            lambda t: t.update(plans=[]),
            "plans: Not a package term (one of commits, credits, overrides, scheduled_charges, "
            "subscriptions, recurring_commits, recurring_credits, "
            "prepaid_balance_threshold_configuration, spend_threshold_configuration, "
            "spend_trackers, discounts, professional_services, reseller_royalties, "
            "hierarchy_configuration, scheduled_charges_on_usage_invoices).",
        ),
    ],
)
def test_bad_terms_are_refused_on_the_terms_field_by_path(admin_client, change, message):
    terms = _seat_terms(ProductFactory(subscription=True), ProductFactory(fixed=True))
    change(terms)
    response = admin_client.post(
        reverse("admin:catalog_package_add"), _page(RateCardFactory(), terms)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["terms"] == [message]
    assert not Package.objects.exists()


def test_a_product_of_the_wrong_type_is_refused(admin_client):
    usage = ProductFactory()
    terms = _seat_terms(ProductFactory(subscription=True), usage)
    response = admin_client.post(
        reverse("admin:catalog_package_add"), _page(RateCardFactory(), terms)
    )
    assert response.context["adminform"].form.errors["terms"] == [
        "recurring_credits[0].product_id: Recurring commits and credits use a fixed product."
    ]


def test_terms_that_are_not_an_object_are_refused(admin_client):
    response = admin_client.post(reverse("admin:catalog_package_add"), _page(RateCardFactory(), []))
    assert response.context["adminform"].form.errors["terms"] == [
        "Give the terms as a JSON object."
    ]


@pytest.mark.parametrize("role, status", [(FINANCE_ADMIN, 302), (FINANCE_VIEWER, 403)])
def test_who_may_add_a_package(client, role, status):
    user = User.objects.create_user("someone", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    page = _page(
        RateCardFactory(),
        _seat_terms(ProductFactory(subscription=True), ProductFactory(fixed=True)),
    )
    assert client.get(reverse("admin:catalog_package_add")).status_code == (
        200 if status == 302 else 403
    )
    response = client.post(reverse("admin:catalog_package_add"), page)
    assert response.status_code == status, page_errors(response) if status == 302 else ""
    assert Package.objects.exists() == (status == 302)


def test_the_package_page_says_its_seats_and_rounding_in_words(admin_client):
    seats, fixed = ProductFactory(subscription=True), ProductFactory(fixed=True, name="Seat pot")
    page = _page(RateCardFactory(), _seat_terms(seats, fixed))
    admin_client.post(reverse("admin:catalog_package_add"), page)
    package = Package.objects.get()
    shown = admin_client.get(reverse("admin:catalog_package_change", args=[package.pk]))
    text = shown.content.decode()
    assert (
        "Seat-based subscription &#x27;seats&#x27;: seats named by the event property user_id, "
        "starting with 1 unassigned seat(s)"
    ) in text
    assert (
        "prorated access amounts rounded FLOOR to -2 places, per unit of subscription "
        "&#x27;seats&#x27; (individual)"
    ) in text


def _quantity_terms(calls, fixed, **change) -> dict:
    """A QUANTITY commit of 1,500 calls and a recurring QUANTITY credit of 200 calls a month."""
    return {
        "commits": [
            {
                "product_id": str(fixed.pk),
                "type": "PREPAID",
                "name": "Prepaid calls",
                "applicable_product_ids": [str(calls.pk)],
                "access_schedule": {
                    "access_type": "QUANTITY",
                    "schedule_items": [
                        {
                            "amount": 1500,
                            "starting_at_offset": OFFSET_0,
                            "duration": {"unit": "YEARS", "value": 1},
                        }
                    ],
                },
                **change,
            }
        ],
        "recurring_credits": [
            {
                "product_id": str(fixed.pk),
                "name": "Monthly calls",
                "priority": 1,
                "specifiers": [{"product_id": str(calls.pk)}],
                "access_amount": {"unit_price": 1, "quantity": 200, "access_type": "QUANTITY"},
                "commit_duration": {"value": 1},
                "starting_at_offset": OFFSET_0,
            }
        ],
    }


def test_a_quantity_commit_is_stored_and_said_in_units(admin_client):
    calls, fixed = ProductFactory(name="API calls"), ProductFactory(fixed=True)
    page = _page(RateCardFactory(), _quantity_terms(calls, fixed))
    response = admin_client.post(reverse("admin:catalog_package_add"), page)
    assert response.status_code == 302, page_errors(response)
    package = Package.objects.get()
    assert package.terms["commits"][0]["access_schedule"]["access_type"] == "QUANTITY"
    text = admin_client.get(
        reverse("admin:catalog_package_change", args=[package.pk])
    ).content.decode()
    assert (
        "Commit &#x27;Prepaid calls&#x27; holds 1,500 units of API calls: usage draws the units "
        "used (QUANTITY)"
    ) in text
    assert "Recurring credit &#x27;Monthly calls&#x27;: 200 units of API calls each" in text
    assert "$2.00" not in text and "$15.00" not in text


def test_a_quantity_commit_at_commit_rate_is_refused_on_the_terms_field(admin_client):
    calls, fixed = ProductFactory(name="API calls"), ProductFactory(fixed=True)
    terms = _quantity_terms(calls, fixed, rate_type="COMMIT_RATE")
    response = admin_client.post(
        reverse("admin:catalog_package_add"), _page(RateCardFactory(), terms)
    )
    assert response.context["adminform"].form.errors["terms"] == [
        "commits[0].rate_type: A QUANTITY balance covers units at the usage's own rate: use "
        "LIST_RATE."
    ]
    assert not Package.objects.exists()
