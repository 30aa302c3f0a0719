"""Every admin page answers for a superuser; the index shows Offering and Customers in order; a
rate card with tiered rates can be typed in through the admin; money shows as money; archived
rows stay hidden unless asked for.

The page tests walk `admin.site._registry`, so a model another app registers later is covered
the moment it is registered (with a `<Model>Factory` in `tests/<app>/factories.py`).
"""

import importlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from catalog.models import RateCard, RateTier
from tests.catalog.admin_posts import page_errors, rate_card_data, rate_rows
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    RateTierFactory,
)

pytestmark = pytest.mark.django_db

# Apps whose models may be registered before their factories exist (other engineers' work, or
# third-party admins); their instances are made by hand below where that is simple.
MANUAL_APPS = {"metering", "invoicing", "django_q", "auth", "axes"}
FACTORY_MODULES = {
    "catalog": "tests.catalog.factories",
    "customers": "tests.customers.factories",
    "core": "tests.core.factories",
    "metering": "tests.metering.factories",
    "invoicing": "tests.invoicing.factories",
    "audit": "tests.audit.factories",
    "notifications": "tests.notifications.factories",
    "dashboards": "tests.dashboards.factories",
    "payments": "tests.payments.factories",
}
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _factory_for(model):
    module_name = FACTORY_MODULES.get(model._meta.app_label)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, f"{model.__name__}Factory", None)


def _by_hand(model):
    """An instance of a model without a factory, or None when that is not simple."""
    label = model._meta.label
    if label == "auth.User":
        return User.objects.create_user(username=f"finance-{uuid.uuid4().hex[:8]}")
    if label == "auth.Group":
        return Group.objects.create(name="Finance")
    if label == "django_q.Schedule":
        return model.objects.create(func="math.floor", args="1", name="floor")
    if label in ("django_q.Success", "django_q.Failure"):
        return model.objects.create(
            id=uuid.uuid4().hex,
            name="task",
            func="math.floor",
            started=timezone.now(),
            stopped=timezone.now(),
            success=label == "django_q.Success",
        )
    if label == "django_q.OrmQ":
        from django_q.signing import SignedPackage

        package = {"id": uuid.uuid4().hex, "name": "task", "func": "math.floor", "args": (1,)}
        return model.objects.create(key="billing", payload=SignedPackage.dumps(package))
    if model._meta.app_label == "axes":  # django-axes' login attempts and lockouts
        fields = {"username": "finance", "ip_address": "10.0.0.1", "path_info": "/admin/login/"}
        if label == "axes.AccessAttempt":
            fields.update(get_data="", post_data="", failures_since_start=5)
        return model.objects.create(user_agent="browser", http_accept="text/html", **fields)
    if label == "metering.UsageEvent":
        return model.objects.create(
            transaction_id="smoke-1",
            customer_id="acme-prod",
            event_type="tokens_usage",
            timestamp=datetime(2026, 1, 5, tzinfo=UTC),
            received_at=datetime(2026, 1, 5, tzinfo=UTC),
            properties={"num_tokens": "10"},
        )
    return None


def _instance(model):
    factory = _factory_for(model)
    if factory is not None:
        return factory()
    obj = _by_hand(model)
    if obj is None:
        if model._meta.app_label not in MANUAL_APPS:
            pytest.fail(f"{model._meta.label} is registered in the admin but has no factory")
        pytest.skip(f"no factory yet for {model._meta.label}")
    return obj


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_answers_200(admin_client, model):
    _instance(model)

    response = admin_client.get(_url(model, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_add_page_answers_200(admin_client, admin_user, model):
    request = RequestFactory().get("/")
    request.user = admin_user
    if not admin.site._registry[model].has_add_permission(request):
        pytest.skip(f"{model._meta.label} cannot be added in the admin")

    response = admin_client.get(_url(model, "add"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_change_page_answers_200(admin_client, model):
    obj = _instance(model)

    response = admin_client.get(_url(model, "change", obj.pk))

    assert response.status_code == 200


# ---------------------------------------------------------------------------------------------
# The index


def test_index_shows_offering_then_customers(admin_client):
    response = admin_client.get(reverse("admin:index"))

    sections = response.context["app_list"]
    assert [s["name"] for s in sections[:2]] == ["Offering", "Customers"]
    assert [m["name"] for m in sections[0]["models"]] == [
        "Billable metrics",
        "Products",
        "Rate cards",
        "Packages",
        "Pricing units",
    ]
    customers = [m["name"] for m in sections[1]["models"]]
    assert customers[:2] == ["Customers", "Contracts"]
    # Invoices, the company profile printed on them (dashboards' admin), then the contract terms
    # that have pages of their own (issue 14).
    assert customers[2:] == [
        "Invoices",
        "Company profiles",
        "Discounts",
        "Professional services",
        "Recurring commits and credits",
        "Usage filters",
        "Named schedules",
    ]
    assert apps.is_installed("invoicing")
    html = response.content.decode()
    assert html.index("Offering") < html.index("Billable metrics") < html.index("Customers")


def test_index_does_not_list_rates_commits_or_credits_in_the_sections(admin_client):
    response = admin_client.get(reverse("admin:index"))

    names = [m["name"] for s in response.context["app_list"] for m in s["models"]]
    assert "Rates" not in names
    assert "Commits" not in names
    assert "Credits" not in names


# ---------------------------------------------------------------------------------------------
# A rate card typed in through the admin


def test_a_rate_card_with_two_tiered_rates_is_created_through_the_admin(admin_client):
    metric = BillableMetricFactory(group_keys=[["model_name"]])
    tokens = ProductFactory(name="Output Tokens", billable_metric=metric, pricing_group_key=[])
    images = ProductFactory(name="Images", billable_metric=BillableMetricFactory(group_keys=[]))
    data = rate_card_data(
        "Graduated card",
        [
            rate_rows(
                0,
                product=tokens,
                rate_type="TIERED",
                tiers=[("1000000", "1"), ("1000000", "0.80"), ("", "0.60")],
            ),
            rate_rows(
                1, product=images, rate_type="TIERED", tiers=[("500", "0.025"), ("", "0.0125")]
            ),
        ],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 302, page_errors(response)
    card = RateCard.objects.get(name="Graduated card")
    stored = {
        rate.product.name: [
            (tier.level, tier.size, tier.price, tier.for_commit_rate)
            for tier in RateTier.objects.filter(rate=rate).order_by("level")
        ]
        for rate in card.rates.all()
    }
    assert stored == {
        "Output Tokens": [
            (1, Decimal("1000000"), Decimal("100"), False),
            (2, Decimal("1000000"), Decimal("80"), False),
            (3, None, Decimal("60"), False),
        ],
        "Images": [
            (1, Decimal("500"), Decimal("2.5"), False),
            (2, None, Decimal("1.25"), False),
        ],
    }
    assert set(card.rates.values_list("rate_type", flat=True)) == {"TIERED"}


def test_bad_tiers_are_refused_with_the_message_on_the_rate_card_page(admin_client):
    product = ProductFactory(billable_metric=BillableMetricFactory(group_keys=[]))
    data = rate_card_data(
        "Bad tiers",
        [rate_rows(0, product=product, rate_type="TIERED", tiers=[("", "100"), ("1000", "80")])],
    )

    response = admin_client.post(reverse("admin:catalog_ratecard_add"), data)

    assert response.status_code == 200
    assert "Tier 1 has no size, but only the last tier may be open-ended." in page_errors(response)
    assert "Tier 1 has no size, but only the last tier may be open-ended." in (
        response.content.decode()
    )
    assert not RateCard.objects.filter(name="Bad tiers").exists()


# ---------------------------------------------------------------------------------------------
# Money and archived rows


def test_a_rate_of_150_cents_shows_as_dollars_on_the_rate_card_page(admin_client):
    rate = RateFactory(price=Decimal("150"))

    response = admin_client.get(reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk]))

    html = response.content.decode()
    assert "$1.50" in html


def test_tiered_prices_show_as_dollars_on_the_rate_card_page(admin_client):
    rate = RateFactory(rate_type="TIERED", price=None)
    RateTierFactory(rate=rate, level=1, size=Decimal("1000000"), price=Decimal("100"))
    RateTierFactory(rate=rate, level=2, size=None, price=Decimal("80"))

    response = admin_client.get(reverse("admin:catalog_ratecard_change", args=[rate.rate_card.pk]))

    assert "first 1,000,000 at $1.00, then $0.80" in response.content.decode()


def test_rate_list_shows_money_not_cents(admin_client):
    RateFactory(price=Decimal("150"))

    response = admin_client.get(reverse("admin:catalog_rate_changelist"))

    html = response.content.decode()
    assert "$1.50" in html
    assert "150.000000000000" not in html


def test_archived_rows_are_hidden_unless_asked_for(admin_client):
    RateCardFactory(name="Current card")
    RateCardFactory(name="Old card", archived_at=datetime(2026, 2, 1, tzinfo=UTC))
    url = reverse("admin:catalog_ratecard_changelist")

    def names(query: str) -> set[str]:
        response = admin_client.get(url + query)
        return {card.name for card in response.context["cl"].result_list}

    assert names("") == {"Current card"}
    assert names("?archived=no") == {"Current card"}
    assert names("?archived=yes") == {"Old card"}
    assert names("?archived=all") == {"Current card", "Old card"}
