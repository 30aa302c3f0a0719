from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.forms.models import model_to_dict

from billing_site.demo import demo_world_load
from catalog.models import BillableMetric, Product, Rate, RateCard
from customers.models import Contract, Customer
from invoicing.models import Invoice

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def _snapshot() -> dict[str, list[dict]]:
    rows = {}
    for app_label in ("catalog", "customers", "invoicing", "dashboards"):
        for model in apps.get_app_config(app_label).get_models():
            rows[model._meta.label] = sorted(
                (model_to_dict(obj) | {"pk": str(obj.pk)} for obj in model.objects.all()),
                key=lambda row: row["pk"],
            )
    return rows


def test_seed_demo_twice_gives_the_same_rows(capsys):
    call_command("seed_demo")
    first = _snapshot()
    call_command("seed_demo")
    assert _snapshot() == first
    assert "nothing changed" in capsys.readouterr().out


def test_seed_demo_loads_the_quickstart_world():
    demo_world_load(now=NOW)

    metric = BillableMetric.objects.get(name="Input Tokens")
    assert metric.aggregation_type == "SUM"
    assert metric.aggregation_key == "num_tokens"
    assert metric.event_type_filter == {"in_values": ["tokens_usage"]}
    assert metric.group_keys == [["model_name"], ["model_name", "user_id"]]

    product = Product.objects.get(name="Input Tokens")
    assert product.type == "USAGE"
    assert product.pricing_group_key == ["model_name"]
    assert product.presentation_group_key == ["user_id"]
    assert product.quantity_conversion_operation == "DIVIDE"
    assert product.quantity_conversion_factor == Decimal(1_000_000)

    card = RateCard.objects.get(name="Standard Rate Card")
    prices = {
        rate.pricing_group_values["model_name"]: rate.price
        for rate in Rate.objects.filter(rate_card=card, product=product)
    }
    assert prices == {"model-A": Decimal(150), "model-B": Decimal(30)}

    tiered = Rate.objects.get(rate_card=card, product__name="Output Tokens")
    assert [(t.size, t.price) for t in tiered.tiers.order_by("level")] == [
        (Decimal(1), Decimal(100)),
        (Decimal(1), Decimal(80)),
        (None, Decimal(60)),
    ]
    fee = Rate.objects.get(rate_card=card, product__name="Platform fee")
    assert (fee.rate_type, fee.price, fee.billing_frequency) == (
        "SUBSCRIPTION",
        Decimal(50000),
        "MONTHLY",
    )

    acme = Customer.objects.get(name="Acme AI")
    assert list(acme.ingest_aliases.values_list("alias", flat=True)) == ["acme-prod"]
    contract = Contract.objects.get(customer=acme)
    assert contract.rate_card == card
    assert contract.starting_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert contract.usage_statement_frequency == "MONTHLY"
    assert contract.subscriptions.get().product.name == "Platform fee"
    (draft,) = Invoice.objects.filter(contract=contract)
    assert (draft.type, draft.status, draft.start_timestamp, draft.end_timestamp) == (
        "USAGE",
        "DRAFT",
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_seed_demo_fills_the_invoice_documents_seller_and_bill_to():
    from dashboards.models import CompanyProfile

    demo_world_load(now=NOW)

    profile = CompanyProfile.objects.get()
    assert (profile.name, profile.invoice_number_prefix) == ("Demo Billing Co.", "INV-")
    assert profile.payment_instructions.startswith("Bank transfer")
    acme = Customer.objects.get(name="Acme AI")
    assert (acme.billing_name, acme.billing_email) == (
        "Acme AI, Inc.",
        "accounts-payable@acme-ai.example",
    )
    assert Product.objects.get(name="Input Tokens").display_unit == "1M tokens"
