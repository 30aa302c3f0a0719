"""The quickstart world (shared/reference/metronome-quickstart.txt), loaded by `manage.py seed_demo`.

Every object has a fixed id derived from its name, so loading twice finds what the first run made
and changes nothing.
"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction

from catalog.models import BillableMetric, PricingUnit, Product, Rate, RateCard, RateTier
from customers.models import Contract, Customer, IngestAlias, Subscription
from dashboards.models import CompanyProfile
from invoicing.services import contract_drafts_ensure

NAMESPACE = uuid.UUID("6f1c7a52-6d0e-4c61-9a43-3d1f1b0f6a10")
RATES_START = datetime(2024, 1, 1, tzinfo=UTC)


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


def _get_or_create(model, key: str, /, **fields):
    """Create the object with its fixed id once; an existing one is left exactly as it is."""
    obj = model.objects.filter(pk=demo_id(key)).first()
    if obj is not None:
        return obj, False
    obj = model(pk=demo_id(key), **fields)
    obj.full_clean()
    obj.save()
    return obj, True


def _rate(rate_card, product, key: str, *, tiers=(), **fields):
    rate, created = _get_or_create(
        Rate, key, rate_card=rate_card, product=product, starting_at=RATES_START, **fields
    )
    if created:
        for level, (size, price) in enumerate(tiers, start=1):
            RateTier.objects.create(rate=rate, level=level, size=size, price=price)
    return rate


@transaction.atomic
def demo_world_load(*, now: datetime) -> list[str]:
    """Load the demo world; returns what was created (empty when everything already existed)."""
    created: list[str] = []
    usd = PricingUnit.usd_cents()

    tokens, new = _get_or_create(
        BillableMetric,
        "metric:input-tokens",
        name="Input Tokens",
        aggregation_type=BillableMetric.AggregationType.SUM,
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        property_filters=[{"name": "num_tokens", "exists": True}],
        group_keys=[["model_name"], ["model_name", "user_id"]],
    )
    created += ["metric Input Tokens"] if new else []
    output, new = _get_or_create(
        BillableMetric,
        "metric:output-tokens",
        name="Output Tokens",
        aggregation_type=BillableMetric.AggregationType.SUM,
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["output_tokens"]},
        property_filters=[{"name": "num_tokens", "exists": True}],
        group_keys=[["model_name"]],
    )
    created += ["metric Output Tokens"] if new else []

    per_million = {
        "quantity_conversion_factor": Decimal(1_000_000),
        "quantity_conversion_operation": Product.ConversionOperation.DIVIDE,
        "quantity_conversion_name": "per million tokens",
        "display_unit": "1M tokens",
    }
    input_product, new = _get_or_create(
        Product,
        "product:input-tokens",
        name="Input Tokens",
        type=Product.Type.USAGE,
        billable_metric=tokens,
        pricing_group_key=["model_name"],
        presentation_group_key=["user_id"],
        tags=["tokens"],
        **per_million,
    )
    created += ["product Input Tokens"] if new else []
    output_product, new = _get_or_create(
        Product,
        "product:output-tokens",
        name="Output Tokens",
        type=Product.Type.USAGE,
        billable_metric=output,
        tags=["tokens"],
        **per_million,
    )
    created += ["product Output Tokens"] if new else []
    platform_fee, new = _get_or_create(
        Product, "product:platform-fee", name="Platform fee", type=Product.Type.SUBSCRIPTION
    )
    created += ["product Platform fee"] if new else []

    card, new = _get_or_create(
        RateCard,
        "rate-card:standard",
        name="Standard Rate Card",
        description="List prices for every customer.",
        fiat_credit_type=usd,
    )
    created += ["rate card Standard Rate Card"] if new else []
    _rate(
        card,
        input_product,
        "rate:input-tokens:model-A",
        rate_type=Rate.RateType.FLAT,
        price=Decimal(150),
        pricing_group_values={"model_name": "model-A"},
    )
    _rate(
        card,
        input_product,
        "rate:input-tokens:model-B",
        rate_type=Rate.RateType.FLAT,
        price=Decimal(30),
        pricing_group_values={"model_name": "model-B"},
    )
    # Graduated per million output tokens: the first million at $1.00, the next at $0.80, then $0.60.
    _rate(
        card,
        output_product,
        "rate:output-tokens",
        rate_type=Rate.RateType.TIERED,
        tiers=[(Decimal(1), Decimal(100)), (Decimal(1), Decimal(80)), (None, Decimal(60))],
    )
    _rate(
        card,
        platform_fee,
        "rate:platform-fee",
        rate_type=Rate.RateType.SUBSCRIPTION,
        price=Decimal(50000),
        billing_frequency="MONTHLY",
        quantity=Decimal(1),
        is_prorated=True,
    )

    acme, new = _get_or_create(
        Customer,
        "customer:acme-ai",
        name="Acme AI",
        billing_name="Acme AI, Inc.",
        billing_address="100 Innovation Way\nSuite 400\nAustin, TX 78701",
        billing_email="accounts-payable@acme-ai.example",
    )
    created += ["customer Acme AI"] if new else []
    if not IngestAlias.objects.filter(alias="acme-prod").exists():
        IngestAlias.objects.create(customer=acme, alias="acme-prod")
        created.append("ingest alias acme-prod")

    first_of_month = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    contract, new = _get_or_create(
        Contract,
        "contract:acme-ai",
        customer=acme,
        name="Acme AI - Standard",
        rate_card=card,
        starting_at=first_of_month,
        usage_statement_frequency="MONTHLY",
        usage_statement_day=Contract.StatementDay.FIRST_OF_MONTH,
        net_payment_terms_days=30,
    )
    created += ["contract Acme AI - Standard"] if new else []
    _, new = _get_or_create(
        Subscription,
        "subscription:acme-ai:platform-fee",
        contract=contract,
        product=platform_fee,
        name="Platform fee",
        billing_frequency="MONTHLY",
        collection_schedule=Subscription.CollectionSchedule.ADVANCE,
        is_prorated=True,
        initial_quantity=Decimal(1),
        starting_at=contract.starting_at,
    )
    created += ["subscription Platform fee"] if new else []
    if not CompanyProfile.objects.exists():
        CompanyProfile.objects.create(
            name="Demo Billing Co.",
            address="1 Market Street\nSan Francisco, CA 94105\nUnited States",
            tax_id="EIN 12-3456789",
            email="billing@demo-billing.example",
            payment_instructions=(
                "Bank transfer: Demo Bank, account 000123456789, routing 121000248\n"
                "Or pay by card from the link in the invoice email."
            ),
            invoice_number_prefix="INV-",
        )
        created.append("company profile Demo Billing Co.")
    # The contract was made with its fixed id rather than through customers.services, so its
    # current draft invoice is made here, as contract_create would (once: it is then there).
    if contract_drafts_ensure(contract=contract, now=now):
        created.append("draft invoice of the current period")
    return created
