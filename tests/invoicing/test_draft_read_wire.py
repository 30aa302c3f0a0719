"""A draft read's response, byte for byte, as the code before the 10,000-line speed-ups wrote it
(`draft_wire.json`, stored from that code): presentation lines of many users across two price
windows and an override window, tiers, a rate in a custom pricing unit (and its conversion),
usage without a rate, an override for one user's values only, a product with quantity rounding
and no presentation key, a composite, a prepaid commit and a credit drawn. The detail with and
without `skip_zero_qty_line_items` and the customer's list. Ids and the invoice's `created_at`
are replaced by placeholders (numbered in order of appearance) before comparing. Runs on both
event stores (`make test-chdb`).

After a deliberate change of the wire format, write the file again with
`WRITE_DRAFT_WIRE=1 pytest tests/invoicing/test_draft_read_wire.py` and review its diff."""

import json
import os
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from customers.models import Override
from invoicing.api.serializers import line_item_data, rated_line_data
from invoicing.models import Invoice
from invoicing.selectors import invoice_rate, line_items_from
from invoicing.services import contract_drafts_ensure
from tests.catalog.factories import CreditTypeConversionFactory, PricingUnitFactory
from tests.catalog.factories import ProductFactory as CatalogProductFactory
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CreditFactory,
    OverrideFactory,
)
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    RateTierFactory,
    ingest,
)

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).with_name("draft_wire.json")
START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 28, tzinfo=UTC)
USERS = 40
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _world() -> Invoice:
    """Tokens by model and user: model-0 FLAT (a price change on the 15th), model-1 TIERED,
    model-2 without a rate, model-3 FLAT in credits (2 cents each); 10% off every `tokens`
    product from the 10th, user-8 overwritten at 0.01 on model-0; seats by region (no
    presentation key, rounded to whole seats: 0.4 in `ap` to none); 5% support on `tokens`; a $20.00 commit and a
    $5.00 credit."""
    tokens = BillableMetricFactory(group_keys=[["model_name", "user_id"]])
    product = ProductFactory(
        name="Input tokens",
        billable_metric=tokens,
        pricing_group_key=["model_name"],
        presentation_group_key=["user_id"],
        quantity_conversion_factor=Decimal(1000),
        quantity_conversion_operation="DIVIDE",
        tags=["tokens"],
    )
    seats_metric = BillableMetricFactory(
        aggregation_key="seats",
        property_filters=[{"name": "seats", "exists": True}],
        event_type_filter={"in_values": ["seats"]},
        group_keys=[["region"]],
    )
    seats = ProductFactory(
        name="Seats",
        billable_metric=seats_metric,
        pricing_group_key=["region"],
        quantity_rounding_decimal_places=0,
        quantity_rounding_method="ROUND_HALF_UP",
    )
    support = CatalogProductFactory(composite=True, name="Support", composite_tags=["tokens"])
    credits = PricingUnitFactory(name="Credits", decimal_places=2)
    card = RateCardFactory()
    CreditTypeConversionFactory(
        rate_card=card, custom_credit_type=credits, fiat_per_custom_credit=Decimal(2)
    )
    model_0 = {"model_name": "model-0"}
    RateFactory(
        rate_card=card, product=product, price=Decimal("0.0375"), pricing_group_values=model_0
    )
    RateFactory(
        rate_card=card,
        product=product,
        price=Decimal("0.05"),
        pricing_group_values=model_0,
        starting_at=datetime(2026, 3, 15, tzinfo=UTC),
    )
    tiered = RateFactory(
        rate_card=card,
        product=product,
        rate_type="TIERED",
        price=None,
        pricing_group_values={"model_name": "model-1"},
    )
    RateTierFactory(rate=tiered, level=1, size=Decimal(40), price=Decimal(100))
    RateTierFactory(rate=tiered, level=2, size=None, price=Decimal(80))
    RateFactory(
        rate_card=card,
        product=product,
        price=Decimal("1.25"),
        credit_type=credits,
        pricing_group_values={"model_name": "model-3"},
    )
    for region, price in (
        ("ap", Decimal("900")),
        ("eu", Decimal("1200")),
        ("us", Decimal("1000.5")),
    ):
        RateFactory(
            rate_card=card, product=seats, price=price, pricing_group_values={"region": region}
        )
    RateFactory(rate_card=card, product=support, rate_type="PERCENTAGE", price=Decimal("0.05"))
    contract = ContractFactory(rate_card=card, starting_at=START)
    OverrideFactory(contract=contract, starting_at=datetime(2026, 3, 10, tzinfo=UTC))
    OverrideFactory(
        contract=contract,
        type=Override.Type.OVERWRITE,
        multiplier=None,
        overwrite_rate_type="FLAT",
        overwrite_price=Decimal("0.01"),
        applicable_product_tags=[],
        product=product,
        pricing_group_values=model_0,
        presentation_group_values={"user_id": "user-8"},
        starting_at=START,
    )
    commit = CommitFactory(contract=contract, customer=contract.customer, name="Commit")
    AccessSegmentFactory(commit=commit, amount=Decimal("2000"), starting_at=START)
    credit = CreditFactory(contract=contract, customer=contract.customer, name="Credit")
    AccessSegmentFactory(commit=None, credit=credit, amount=Decimal("500"), starting_at=START)
    contract_drafts_ensure(contract=contract, now=NOW)
    _events(str(contract.customer_id))
    return Invoice.objects.get(contract=contract, start_timestamp=START)


def _events(customer_id: str) -> None:
    """Three events per user (user u on model u % 4, on days that fall before and after the
    override and the price change), one user with zero tokens, and seats in two regions."""
    events = []
    for user in range(USERS):
        for n in range(3):
            tokens = "0" if user == 11 else f"{(user * 7919 + n * 104729) % 9000 + 1}.25"
            events.append(
                {
                    "transaction_id": f"t-{user}-{n}",
                    "customer_id": customer_id,
                    "event_type": "tokens_usage",
                    "timestamp": f"2026-03-{2 + (user + 9 * n) % 25:02d}T{n + 3:02d}:15:00Z",
                    "properties": {
                        "model_name": f"model-{user % 4}",
                        "user_id": f"user-{user}",
                        "num_tokens": tokens,
                    },
                }
            )
    for n, (region, seats) in enumerate(
        (("eu", "2.5"), ("us", "3"), ("us", "0.25"), ("ap", "0.4"))
    ):
        events.append(
            {
                "transaction_id": f"s-{n}",
                "customer_id": customer_id,
                "event_type": "seats",
                "timestamp": f"2026-03-0{3 + n}T08:00:00Z",
                "properties": {"region": region, "seats": seats},
            }
        )
    for first in range(0, len(events), 100):
        ingest(events[first : first + 100], now=NOW)


def _normalized(content: bytes) -> str:
    """The response text with each id replaced by `<id N>` (N: order of first appearance) and
    each invoice's `created_at` by `<created_at>`."""
    text = re.sub(r'"created_at":"[^"]*"', '"created_at":"<created_at>"', content.decode())
    seen: dict[str, int] = {}
    return UUID.sub(lambda m: f"<id {seen.setdefault(m.group(), len(seen))}>", text)


def test_a_rich_draft_reads_byte_for_byte_as_before(api_client):
    invoice = _world()
    base = f"/v1/customers/{invoice.customer_id}/invoices"

    responses = {
        "detail": api_client.get(f"{base}/{invoice.id}"),
        "detail skip zero": api_client.get(f"{base}/{invoice.id}?skip_zero_qty_line_items=true"),
        "list": api_client.get(base),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 200)
    found = {name: _normalized(r.content) for name, r in responses.items()}
    if os.environ.get("WRITE_DRAFT_WIRE"):
        FIXTURE.write_text(json.dumps(found, indent=1) + "\n")
    assert found == json.loads(FIXTURE.read_text())


def test_a_drafts_engine_lines_are_written_as_their_rows_would_be():
    """Drafts are written from the engine's lines, finalized invoices from their rows: both
    adapters give the same line objects for every kind of line."""
    invoice = _world()
    result = invoice_rate(invoice=invoice, now=NOW)
    credit_type = {"id": str(invoice.credit_type_id), "name": invoice.credit_type.name}
    units = {u.id: {"id": u.id, "name": u.name} for u in result.custom_units}

    from_rows = [
        line_item_data(row, credit_type) for row in line_items_from(result.lines, invoice=invoice)
    ]

    assert [rated_line_data(line, credit_type, units) for line in result.lines] == from_rows
    assert len(from_rows) == 100


def test_the_stored_draft_has_every_kind_of_line():
    """The fixture is the rich draft it claims to be (a guard for when it is written again)."""
    detail = json.loads(json.loads(FIXTURE.read_text())["detail"], parse_float=Decimal)["data"]
    lines = detail["line_items"]
    users = {
        line["presentation_group_values"]["user_id"]
        for line in lines
        if "presentation_group_values" in line
    }

    assert len(lines) == 100
    assert len(users) == USERS - 1  # one used no tokens: no line
    assert {line["type"] for line in lines} == {
        "usage",
        "cpu_conversion",
        "applied_commit_or_credit",
    }
    assert "CompositeProductListItem" in {line["product_type"] for line in lines}
    assert any("tier" in line for line in lines)
    assert any(line["credit_type"]["name"] == "Credits" for line in lines)
    assert any(line["total"] == 0 and "unit_price" not in line for line in lines)
    assert any(line["quantity"] == 0 for line in lines)
    assert {Decimal(line["unit_price"]) for line in lines if "unit_price" in line} >= {
        Decimal("0.01"),
        Decimal("0.0375"),
        Decimal("0.045"),
    }
