"""The Offering admin as finance staff use it: text instead of JSON, tiers as rows, money as money,
rules explained on the page, archived rows out of the way."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from catalog import money
from catalog.models import BillableMetric, Package, PricingUnit, Product, Rate, RateCard
from core.models import DomainEvent
from tests.catalog.admin_posts import (
    management,
    page_errors,
    rate_card_data,
    rate_rows,
    split_datetime,
)
from tests.catalog.factories import (
    BillableMetricFactory,
    PackageFactory,
    PricingUnitFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    RateTierFactory,
)

pytestmark = pytest.mark.django_db

JUN = datetime(2026, 6, 1, tzinfo=UTC)


def metric_data(**overrides) -> dict[str, str]:
    return {
        "name": "Input Tokens",
        "aggregation_type": "SUM",
        "aggregation_key": "num_tokens",
        "event_types_in": "tokens_usage, tokens_usage_v2",
        "event_types_not_in": "",
        "property_filters": "num_tokens exists\nregion in us-east, us-west\ndebug does not exist",
        "group_keys": "model_name\nmodel_name, user_id",
        **overrides,
    }


# ---------------------------------------------------------------------------------------------
# Billable metrics


def test_a_metric_typed_as_text_is_stored_as_json(admin_client):
    response = admin_client.post(reverse("admin:catalog_billablemetric_add"), metric_data())

    assert response.status_code == 302
    metric = BillableMetric.objects.get(name="Input Tokens")
    assert metric.event_type_filter == {"in_values": ["tokens_usage", "tokens_usage_v2"]}
    assert metric.property_filters == [
        {"name": "num_tokens", "exists": True},
        {"name": "region", "in_values": ["us-east", "us-west"]},
        {"name": "debug", "exists": False},
    ]
    assert metric.group_keys == [["model_name"], ["model_name", "user_id"]]


def test_a_metric_excluding_event_types_is_stored_as_not_in(admin_client):
    data = metric_data(event_types_in="", event_types_not_in="heartbeat", property_filters="")

    admin_client.post(reverse("admin:catalog_billablemetric_add"), data)

    metric = BillableMetric.objects.get(name="Input Tokens")
    assert metric.event_type_filter == {"not_in_values": ["heartbeat"]}
    assert metric.property_filters == []


def test_an_unreadable_property_filter_line_is_explained(admin_client):
    data = metric_data(property_filters="num_tokens exists\nregion maybe")

    response = admin_client.post(reverse("admin:catalog_billablemetric_add"), data)

    assert response.status_code == 200
    assert page_errors(response) == [
        'Line 2: write "<property> exists", "<property> does not exist", "<property> in a, b" '
        'or "<property> not in a, b".'
    ]


def test_a_sum_metric_without_a_key_is_refused_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_billablemetric_add"), metric_data(aggregation_key="")
    )

    assert response.context["adminform"].form.errors["aggregation_key"] == [
        "An aggregation key is required unless the aggregation is COUNT."
    ]


def test_a_group_key_set_naming_a_property_twice_is_refused(admin_client):
    data = metric_data(group_keys="model_name, model_name")

    response = admin_client.post(reverse("admin:catalog_billablemetric_add"), data)

    assert response.context["adminform"].form.errors["group_keys"] == [
        "Group key set 1 names a property twice."
    ]


def test_the_metric_page_shows_an_example_event_payload(admin_client):
    metric = BillableMetricFactory(
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[["model_name"], ["model_name", "user_id"]],
    )

    response = admin_client.get(reverse("admin:catalog_billablemetric_change", args=[metric.pk]))

    html = response.content.decode()
    assert "Example event payload" in html
    assert escape(json.dumps(metric.example_event(), indent=2)) in html
    assert '"event_type": "tokens_usage"' in json.dumps(metric.example_event(), indent=2)


def test_only_the_name_of_a_metric_changes(admin_client):
    metric = BillableMetricFactory(name="Tokens", aggregation_key="num_tokens")
    url = reverse("admin:catalog_billablemetric_change", args=[metric.pk])

    response = admin_client.post(
        url, {"name": "Input tokens", "aggregation_key": "other", "group_keys": "x"}
    )

    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.name, metric.aggregation_key) == ("Input tokens", "num_tokens")
    assert metric.group_keys == [["model_name"], ["model_name", "user_id"]]


# ---------------------------------------------------------------------------------------------
# Products


def product_data(metric, **overrides) -> dict[str, str]:
    return {
        "name": "Input Tokens",
        "type": "USAGE",
        "billable_metric": str(metric.pk),
        "tags": "tokens, ai",
        "pricing_group_key": "model_name",
        "presentation_group_key": "user_id",
        "quantity_conversion_operation": "DIVIDE",
        "quantity_conversion_factor": "1000000",
        "quantity_conversion_name": "per million tokens",
        "quantity_rounding_method": "",
        "quantity_rounding_decimal_places": "",
        "composite_tags": "",
        "is_refundable": "on",
        "custom_fields": "{}",
        **management("updates", total=0),
        **overrides,
    }


def test_a_product_typed_with_commas_is_stored_as_lists(admin_client):
    metric = BillableMetricFactory()

    response = admin_client.post(reverse("admin:catalog_product_add"), product_data(metric))

    assert response.status_code == 302, page_errors(response)
    product = Product.objects.get(name="Input Tokens")
    assert product.tags == ["tokens", "ai"]
    assert product.pricing_group_key == ["model_name"]
    assert product.presentation_group_key == ["user_id"]
    assert product.quantity_conversion_factor == Decimal("1000000")


def test_product_group_keys_outside_the_metric_are_refused_in_the_admin(admin_client):
    metric = BillableMetricFactory(group_keys=[["model_name"]])

    response = admin_client.post(
        reverse("admin:catalog_product_add"),
        product_data(metric, pricing_group_key="user_id", presentation_group_key=""),
    )

    assert response.context["adminform"].form.errors["pricing_group_key"] == [
        "Pricing and presentation group keys together must be a subset of one of the metric's "
        "group key sets (model_name)."
    ]


def test_a_subscription_product_with_a_metric_is_refused_in_the_admin(admin_client):
    metric = BillableMetricFactory()
    data = product_data(
        metric, type="SUBSCRIPTION", pricing_group_key="", presentation_group_key=""
    )
    data.update(quantity_conversion_operation="", quantity_conversion_factor="")

    response = admin_client.post(reverse("admin:catalog_product_add"), data)

    assert response.context["adminform"].form.errors["billable_metric"] == [
        "Only usage products have a billable metric; a subscription product must not have one."
    ]


def test_the_product_list_shows_type_metric_and_tags(admin_client):
    ProductFactory(
        name="Input Tokens", billable_metric=BillableMetricFactory(name="Tokens"), tags=["ai"]
    )

    response = admin_client.get(reverse("admin:catalog_product_changelist"))

    html = response.content.decode()
    for text in ("Input Tokens", "Usage", "Tokens", "ai"):
        assert text in html


# ---------------------------------------------------------------------------------------------
# Rate cards: rates inline, tiers as rows


def test_a_flat_rate_is_created_through_the_admin(admin_client):
    product = ProductFactory(billable_metric=BillableMetricFactory(group_keys=[["model_name"]]))
    product.pricing_group_key = ["model_name"]
    product.save()
    data = rate_card_data(
        "Standard",
        [rate_rows(0, product=product, price="1.50", group_values="model_name=model-A")],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 302, page_errors(response)
    rate = Rate.objects.get(rate_card__name="Standard")
    assert (rate.rate_type, rate.price) == ("FLAT", Decimal("150"))
    assert rate.pricing_group_values == {"model_name": "model-A"}
    assert rate.pricing_group_values_key == '{"model_name":"model-A"}'
    assert not rate.tiers.exists()


def test_tier_rows_on_a_flat_rate_are_refused(admin_client):
    product = ProductFactory(billable_metric=BillableMetricFactory(group_keys=[]))
    data = rate_card_data(
        "Card", [rate_rows(0, product=product, price="1.50", tiers=[("10", "0.01"), ("", "0.02")])]
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert page_errors(response) == [
        "Tier rows are only for tiered rates: choose Tiered as the rate type, or clear the tier rows."
    ]


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([("10", "100"), ("20", "80")], "The last tier must be open-ended (leave its size empty)."),
        ([("0", "100"), ("", "80")], "Tier 1: a tier size must be positive."),
        ([("10", ""), ("", "0.80")], "Tier 1 needs a price."),
        ([], "A tiered rate needs at least one tier."),
    ],
)
def test_bad_tier_rows_are_explained_on_the_rate_card_page(admin_client, tiers, message):
    product = ProductFactory(billable_metric=BillableMetricFactory(group_keys=[]))
    data = rate_card_data("Card", [rate_rows(0, product=product, rate_type="TIERED", tiers=tiers)])

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 200
    assert page_errors(response) == [message]
    assert not RateCard.objects.exists()


def test_two_overlapping_new_rates_are_refused(admin_client):
    product = ProductFactory(billable_metric=BillableMetricFactory(group_keys=[]))
    data = rate_card_data(
        "Card",
        [
            rate_rows(0, product=product, price="1.50"),
            rate_rows(1, product=product, price="1.20", starting_at=JUN),
        ],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert page_errors(response) == [
        f"Two rates for {product} with the same pricing group values overlap in time (from "
        "2026-01-01 00:00 and from 2026-06-01 00:00). End one before the other starts."
    ]


def test_a_new_rate_overlapping_a_stored_one_is_refused(admin_client):
    rate = RateFactory(price=Decimal("150"))
    data = rate_card_data(
        rate.rate_card.name,
        [
            rate_rows(0, product=rate.product, price="1.50", rate=rate),
            rate_rows(1, product=rate.product, price="1.20", starting_at=JUN),
        ],
        stored_rates=1,
    )

    response = admin_client.post(
        reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk]), data
    )

    assert page_errors(response) == [
        "Overlaps another rate for the same product and pricing group values "
        "(2026-01-01 00:00 to open-ended). End that rate first."
    ]


def test_a_price_change_ends_the_old_rate_then_adds_a_new_one(admin_client):
    rate = RateFactory(price=Decimal("150"))
    url = reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk])
    end_old = rate_card_data(
        rate.rate_card.name,
        [rate_rows(0, product=rate.product, price="1.50", rate=rate, ending_before=JUN)],
        stored_rates=1,
    )
    add_new = rate_card_data(
        rate.rate_card.name,
        [
            rate_rows(0, product=rate.product, price="1.50", rate=rate, ending_before=JUN),
            rate_rows(1, product=rate.product, price="1.20", starting_at=JUN),
        ],
        stored_rates=1,
    )

    first = admin_client.post(url, end_old)
    second = admin_client.post(url, add_new)

    assert (first.status_code, second.status_code) == (302, 302)
    stored = rate.rate_card.rates.order_by("starting_at").values_list("price", "ending_before")
    assert list(stored) == [(Decimal("150"), JUN), (Decimal("120"), None)]


def test_editing_tier_rows_replaces_the_stored_tiers_exactly(admin_client):
    rate = RateFactory(rate_type="TIERED", price=None)
    RateTierFactory(rate=rate, level=1, size=Decimal("1000"), price=Decimal("100"))
    RateTierFactory(rate=rate, level=2, size=None, price=Decimal("80"))
    data = rate_card_data(
        rate.rate_card.name,
        [
            rate_rows(
                0,
                product=rate.product,
                rate_type="TIERED",
                rate=rate,
                stored_tiers=2,
                tiers=[("500", "1.20"), ("1500", "1"), ("", "0.755")],
            )
        ],
        stored_rates=1,
    )

    response = admin_client.post(
        reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk]), data
    )

    assert response.status_code == 302, page_errors(response)
    assert list(rate.tiers.order_by("level").values_list("level", "size", "price")) == [
        (1, Decimal("500"), Decimal("120")),
        (2, Decimal("1500"), Decimal("100")),
        (3, None, Decimal("75.5")),
    ]


def test_clearing_a_middle_tier_row_renumbers_the_levels(admin_client):
    rate = RateFactory(rate_type="TIERED", price=None)
    RateTierFactory(rate=rate, level=1, size=Decimal("10"), price=Decimal("100"))
    RateTierFactory(rate=rate, level=2, size=Decimal("10"), price=Decimal("90"))
    RateTierFactory(rate=rate, level=3, size=None, price=Decimal("80"))
    data = rate_card_data(
        rate.rate_card.name,
        [
            rate_rows(
                0,
                product=rate.product,
                rate_type="TIERED",
                rate=rate,
                stored_tiers=3,
                tiers=[("10", "1"), ("", ""), ("", "0.80")],
            )
        ],
        stored_rates=1,
    )

    admin_client.post(reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk]), data)

    assert list(rate.tiers.order_by("level").values_list("level", "size", "price")) == [
        (1, Decimal("10"), Decimal("100")),
        (2, None, Decimal("80")),
    ]


def test_the_rate_page_refuses_bad_tiers_with_the_message(admin_client):
    rate = RateFactory(rate_type="TIERED", price=None)
    data = {
        "rate_card": str(rate.rate_card_id),
        "product": str(rate.product_id),
        "rate_type": "TIERED",
        "pricing_group_values": "",
        **split_datetime("starting_at", rate.starting_at),
        **split_datetime("ending_before", None),
        "price": "",
        "credit_type": money.USD_CENTS_ID,
        "billing_frequency": "",
        "quantity": "",
        "entitled": "on",
        "commit_rate_type": "",
        "commit_rate_price": "",
        **management("tiers", total=2),
        "tiers-0-level": "1",
        "tiers-0-size": "",
        "tiers-0-price": "1",
        "tiers-1-level": "2",
        "tiers-1-size": "10",
        "tiers-1-price": "0.90",
    }

    response = admin_client.post(reverse("admin:catalog_rate_change", args=[rate.pk]), data)

    assert page_errors(response) == [
        "Tier 1 has no size, but only the last tier may be open-ended."
    ]


def test_the_rate_page_stores_good_tiers(admin_client):
    rate = RateFactory(rate_type="TIERED", price=None)
    data = {
        "rate_card": str(rate.rate_card_id),
        "product": str(rate.product_id),
        "rate_type": "TIERED",
        "pricing_group_values": "",
        **split_datetime("starting_at", rate.starting_at),
        **split_datetime("ending_before", None),
        "price": "",
        "credit_type": money.USD_CENTS_ID,
        "billing_frequency": "",
        "quantity": "",
        "entitled": "on",
        "commit_rate_type": "",
        "commit_rate_price": "",
        **management("tiers", total=2),
        "tiers-0-level": "1",
        "tiers-0-size": "10",
        "tiers-0-price": "1",
        "tiers-1-level": "2",
        "tiers-1-size": "",
        "tiers-1-price": "0.90",
    }

    response = admin_client.post(reverse("admin:catalog_rate_change", args=[rate.pk]), data)

    assert response.status_code == 302, page_errors(response)
    assert list(rate.tiers.values_list("level", "size", "price")) == [
        (1, Decimal("10"), Decimal("100")),
        (2, None, Decimal("90")),
    ]


def test_the_rate_card_list_counts_rates(admin_client):
    rate = RateFactory()
    RateFactory(rate_card=rate.rate_card, starting_at=JUN, product=ProductFactory())

    response = admin_client.get(reverse("admin:catalog_ratecard_changelist"))

    card = response.context["cl"].result_list[0]
    assert card._rates == 2


# ---------------------------------------------------------------------------------------------
# Pricing units, packages, archiving


def test_the_pricing_unit_list_shows_how_money_reads(admin_client):
    PricingUnitFactory(name="credits")

    response = admin_client.get(reverse("admin:catalog_pricingunit_changelist"))

    html = response.content.decode()
    assert "$1.50" in html
    assert "150 credits" in html


def test_usd_cents_cannot_be_renamed_in_the_admin(admin_client):
    response = admin_client.get(
        reverse("admin:catalog_pricingunit_change", args=[money.USD_CENTS_ID])
    )

    assert "name" not in response.context["adminform"].form.fields


def test_the_archive_action_archives_the_selected_rows(admin_client):
    keep = RateCardFactory(name="Keep")
    old = RateCardFactory(name="Old")

    response = admin_client.post(
        reverse("admin:catalog_ratecard_changelist"),
        {"action": "archive_selected", "_selected_action": [str(old.pk)]},
    )

    assert response.status_code == 302
    old.refresh_from_db()
    keep.refresh_from_db()
    assert old.archived_at is not None
    assert keep.archived_at is None


def test_the_builtin_pricing_unit_is_never_archived(admin_client):
    credits = PricingUnitFactory()

    response = admin_client.post(
        reverse("admin:catalog_pricingunit_changelist"),
        {"action": "archive_selected", "_selected_action": [money.USD_CENTS_ID, str(credits.pk)]},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert "USD (cents): The built-in USD (cents) pricing unit cannot be archived." in shown
    assert "Archived 1." in shown
    assert PricingUnit.objects.get(pk=money.USD_CENTS_ID).archived_at is None
    assert PricingUnit.objects.get(pk=credits.pk).archived_at is not None


@pytest.mark.parametrize(
    "factory", [BillableMetricFactory, ProductFactory, PackageFactory, PricingUnitFactory]
)
def test_archived_offering_rows_are_hidden_by_default(admin_client, factory):
    shown = factory()
    hidden = factory(archived_at=datetime(2026, 2, 1, tzinfo=UTC))
    opts = factory._meta.model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    default = {obj.pk for obj in admin_client.get(url).context["cl"].result_list}
    everything = {
        obj.pk for obj in admin_client.get(url + "?archived=all").context["cl"].result_list
    }

    assert shown.pk in default and hidden.pk not in default
    assert {shown.pk, hidden.pk} <= everything


def test_a_package_is_created_in_the_admin_and_then_read_only(admin_client):
    card = RateCardFactory()
    seats = ProductFactory(subscription=True)
    subscription = {
        "collection_schedule": "ADVANCE",
        "proration": {"is_prorated": True},
        "subscription_rate": {"product_id": str(seats.pk), "billing_frequency": "MONTHLY"},
        "initial_quantity": 2,
    }
    terms = {"subscriptions": [subscription]}
    data = {
        "name": "Startup plan",
        "rate_card": str(card.pk),
        "aliases": "startup, startup-2026",
        "duration_unit": "YEARS",
        "duration_value": "1",
        "usage_statement_frequency": "MONTHLY",
        "usage_statement_day": "FIRST_OF_MONTH",
        "net_payment_terms_days": "30",
        "multiplier_override_prioritization": "LOWEST_MULTIPLIER",
        "terms": json.dumps(terms),
        "uniqueness_key": "",
    }

    created = admin_client.post(reverse("admin:catalog_package_add"), data)
    package = Package.objects.get(name="Startup plan")
    page = admin_client.get(reverse("admin:catalog_package_change", args=[package.pk]))

    assert created.status_code == 302, page_errors(created)
    assert package.aliases == ["startup", "startup-2026"]
    # Stored as the API stores it: checked, an id per term, numbers as strings.
    (stored,) = package.terms["subscriptions"]
    assert stored == {
        **subscription,
        "proration": {"is_prorated": True},
        "initial_quantity": "2",
        "id": stored["id"],
    }
    assert page.context["adminform"].form.fields == {}
    assert escape(json.dumps(package.terms, indent=2)) in page.content.decode()


SQL = (
    "SELECT COUNT(DISTINCT properties.user_id) AS value, properties.region AS region "
    "FROM events WHERE event_type = 'api_call' GROUP BY properties.region"
)


def _sql_metric_data(**overrides) -> dict[str, str]:
    return {
        **{key: "" for key in metric_data()},
        "name": "Active users",
        "sql": SQL,
        **overrides,
    }


def test_a_sql_metric_typed_in_the_admin_is_made_as_the_api_makes_it(admin_client):
    response = admin_client.post(reverse("admin:catalog_billablemetric_add"), _sql_metric_data())

    assert response.status_code == 302, response.context["adminform"].form.errors
    metric = BillableMetric.objects.get(name="Active users")
    assert (metric.sql, metric.group_keys, metric.aggregation_type) == (SQL, [["region"]], "COUNT")
    assert DomainEvent.objects.filter(
        type="billable_metric.create", subject_id=str(metric.pk)
    ).exists()
    page = admin_client.get(reverse("admin:catalog_billablemetric_change", args=[metric.pk]))
    assert b"SQL query" in page.content and b"COUNT(DISTINCT properties.user_id)" in page.content


def test_a_bad_sql_query_is_refused_in_the_admin_with_its_position(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_billablemetric_add"),
        _sql_metric_data(sql="SELECT COUNT(*) AS value FROM users"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["sql"] == ["Only the table events can be read, not users (at character 31)"]
    assert not BillableMetric.objects.filter(name="Active users").exists()


def test_a_sql_metric_takes_no_other_definition_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_billablemetric_add"),
        _sql_metric_data(aggregation_type="SUM", aggregation_key="tokens"),
    )

    assert response.status_code == 200
    message = response.context["adminform"].form.errors["sql"][0]
    assert "definition is its query" in message and "Aggregation key" in message


def test_a_metric_needs_an_aggregation_or_a_query_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_billablemetric_add"), metric_data(aggregation_type="")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["aggregation_type"] == [
        "Choose an aggregation, or give a SQL query."
    ]
