"""A small video-transcoding world for the customer-facing tests, with amounts a person can check.

December 2026, a monthly contract of Globex from December 1:
- Video transcoding (seconds, billed in minutes: divide by 60), priced by resolution, shown by
  team. 1080p is tiered: first 2 minutes at $1.00, next 3 at $0.80, then $0.50; 720p $0.40 a
  minute; 480p free ($0.00); 4k has no rate (usage without a price).
  Events: 1080p/marketing 420 s (7 min: $2.00 + $2.40 + $1.00 = $5.40), 720p/sales 180 s
  (3 min: $1.20), 480p/sales 60 s ($0.00), 4k/marketing 60 s (no price).
- Platform fee: $500.00 a month, in advance.
- A $10.00 credit.
Subtotal $506.60, credit -$10.00, total due $496.60.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from catalog.models import Product, Rate, RateTier
from customers.models import Contract, Customer
from dashboards.models import CompanyProfile
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    usd_cents,
)
from tests.customers.factories import (
    AccessSegmentFactory,
    ContractFactory,
    CreditFactory,
    CustomerFactory,
    SubscriptionFactory,
)
from tests.invoicing.factories import ingest

DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)

EVENTS = [
    ("1080p", "marketing", 420, 3),
    ("720p", "sales", 180, 4),
    ("480p", "sales", 60, 5),
    ("4k", "marketing", 60, 6),
]


@dataclass
class VideoWorld:
    customer: Customer
    contract: Contract
    transcoding: Product
    platform_fee: Product

    def december(self) -> Invoice:
        return Invoice.objects.get(contract=self.contract, start_timestamp=DEC, type="USAGE")


def company_profile() -> CompanyProfile:
    return CompanyProfile.objects.create(
        name="Initech Billing LLC",
        address="500 Market Street\nSan Francisco, CA 94105",
        tax_id="US-12-3456789",
        email="billing@initech.example",
        payment_instructions="Bank transfer to IBAN US00 1234 5678\nReference the invoice number.",
        invoice_number_prefix="INV-",
    )


def event(customer: Customer, resolution: str, team: str, seconds: int, day: int, n: int = 0):
    return {
        "transaction_id": f"{customer.pk}-{resolution}-{team}-{day}-{n}",
        "customer_id": str(customer.pk),
        "event_type": "transcode",
        "timestamp": f"2026-12-{day:02d}T10:00:00Z",
        "properties": {"resolution": resolution, "team": team, "seconds": seconds},
    }


def video_world(*, events: bool = True, now: datetime = datetime(2026, 12, 20, tzinfo=UTC)):
    usd = usd_cents()
    metric = BillableMetricFactory(
        name="Transcoding seconds",
        aggregation_type="SUM",
        aggregation_key="seconds",
        event_type_filter={"in_values": ["transcode"]},
        property_filters=[{"name": "seconds", "exists": True}],
        group_keys=[["resolution", "team"]],
    )
    transcoding = ProductFactory(
        name="Video transcoding",
        billable_metric=metric,
        pricing_group_key=["resolution"],
        presentation_group_key=["team"],
        quantity_conversion_factor=Decimal(60),
        quantity_conversion_operation="DIVIDE",
        display_unit="minutes",
    )
    platform_fee = ProductFactory(name="Platform fee", subscription=True)
    card = RateCardFactory(name="Video list prices")
    tiered = Rate.objects.create(
        rate_card=card,
        product=transcoding,
        rate_type="TIERED",
        starting_at=DEC,
        credit_type=usd,
        pricing_group_values={"resolution": "1080p"},
    )
    for level, (size, price) in enumerate([(2, 100), (3, 80), (None, 50)], start=1):
        RateTier.objects.create(rate=tiered, level=level, size=size, price=price)
    for resolution, price in (("720p", 40), ("480p", 0)):
        Rate.objects.create(
            rate_card=card,
            product=transcoding,
            rate_type="FLAT",
            price=Decimal(price),
            starting_at=DEC,
            credit_type=usd,
            pricing_group_values={"resolution": resolution},
        )
    Rate.objects.create(
        rate_card=card,
        product=platform_fee,
        rate_type="SUBSCRIPTION",
        price=Decimal(50000),
        billing_frequency="MONTHLY",
        quantity=Decimal(1),
        starting_at=DEC,
        credit_type=usd,
    )
    customer = CustomerFactory(
        name="Globex",
        billing_name="Globex Corporation",
        billing_address="1 Main Street\nSpringfield, OR 97477",
        billing_email="ap@globex.example",
    )
    contract = ContractFactory(customer=customer, rate_card=card, starting_at=DEC)
    SubscriptionFactory(contract=contract, product=platform_fee, starting_at=DEC)
    credit = CreditFactory(contract=contract, customer=customer, name="Welcome credit")
    AccessSegmentFactory(
        credit=credit, commit=None, amount=Decimal(1000), starting_at=DEC, ending_before=JAN
    )
    contract_drafts_ensure(contract=contract, now=now)
    if events:
        ingest(
            [
                event(customer, resolution, team, seconds, day)
                for resolution, team, seconds, day in EVENTS
            ]
        )
    return VideoWorld(customer, contract, transcoding, platform_fee)
