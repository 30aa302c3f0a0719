"""A draft with many presentation values (one line per user, the quickstart's `user_id`): read
through the API, every line is priced as if it were rated on its own (its quantity times its
model's price, rounded once, half up), tier parts add up, and the read makes the same number of
queries whatever the number of lines. Runs on both event stores (`make test-chdb`)."""

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.db.models import signals
from django.test.utils import CaptureQueriesContext

from core.renderers import ExactJSONRenderer, rendered_now
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import events_late, invoice_rate, line_item_from, line_items_from
from invoicing.services import contract_drafts_ensure
from metering.services import usage_events_ingest
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    RateTierFactory,
)

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 20, tzinfo=UTC)
FLAT_PRICE = Decimal("0.0375")  # cents per thousand tokens: most lines round
TIERS = ((Decimal("40"), Decimal("100")), (None, Decimal("80")))


def _world():
    """model-0 FLAT, model-1 TIERED (40 units at 100, then 80), model-2 without a rate."""
    metric = BillableMetricFactory(group_keys=[["model_name", "user_id"]])
    product = ProductFactory(
        billable_metric=metric,
        pricing_group_key=["model_name"],
        presentation_group_key=["user_id"],
        quantity_conversion_factor=Decimal(1000),
        quantity_conversion_operation="DIVIDE",
    )
    card = RateCardFactory()
    RateFactory(
        rate_card=card,
        product=product,
        price=FLAT_PRICE,
        pricing_group_values={"model_name": "model-0"},
    )
    tiered = RateFactory(
        rate_card=card,
        product=product,
        rate_type="TIERED",
        price=None,
        pricing_group_values={"model_name": "model-1"},
    )
    for level, (size, price) in enumerate(TIERS, start=1):
        RateTierFactory(rate=tiered, level=level, size=size, price=price)
    contract = ContractFactory(rate_card=card, starting_at=START)
    contract_drafts_ensure(contract=contract, now=NOW)
    return contract, Invoice.objects.get(contract=contract, start_timestamp=START)


def _events(contract, users: range) -> dict[tuple[str, str], Decimal]:
    """Two events per user (user u on model u % 3); the tokens each (model, user) used."""
    events, used = [], defaultdict(Decimal)
    for user in users:
        model = f"model-{user % 3}"
        for n in range(2):
            tokens = Decimal(f"{(user * 7919 + n * 104729) % 9000 + 1}.25")
            used[(model, f"user-{user}")] += tokens
            events.append(
                {
                    "transaction_id": f"t-{user}-{n}",
                    "customer_id": str(contract.customer_id),
                    "event_type": "tokens_usage",
                    "timestamp": f"2026-03-{2 + user % 17:02d}T{n + 3:02d}:15:00Z",
                    "properties": {
                        "model_name": model,
                        "user_id": f"user-{user}",
                        "num_tokens": str(tokens),
                    },
                }
            )
    for first in range(0, len(events), 100):
        usage_events_ingest(events=events[first : first + 100], now=NOW, is_late=events_late)
    return used


def _draft(api_client, invoice) -> dict:
    response = api_client.get(f"/v1/customers/{invoice.customer_id}/invoices/{invoice.id}")
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content, parse_float=Decimal)["data"]


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def test_a_draft_of_300_users_prices_each_line_as_on_its_own(api_client):
    contract, invoice = _world()
    used = _events(contract, range(300))

    data = _draft(api_client, invoice)

    lines = data["line_items"]
    by_model = defaultdict(list)
    for line in lines:
        by_model[line["pricing_group_values"]["model_name"]].append(line)
    flat = {line["presentation_group_values"]["user_id"]: line for line in by_model["model-0"]}
    expected_flat = {
        user: tokens / 1000 for (model, user), tokens in used.items() if model == "model-0"
    }
    assert len(flat) == len(expected_flat) == 100
    for user, quantity in expected_flat.items():
        line = flat[user]
        assert (Decimal(line["quantity"]), Decimal(line["unit_price"])) == (quantity, FLAT_PRICE)
        assert Decimal(line["total"]) == _cents(quantity * FLAT_PRICE)
        assert (line["group_key"], line["group_value"]) == ("user_id", user)
    unpriced = {line["presentation_group_values"]["user_id"]: line for line in by_model["model-2"]}
    assert {user: Decimal(line["quantity"]) for user, line in unpriced.items()} == {
        user: tokens / 1000 for (model, user), tokens in used.items() if model == "model-2"
    }
    assert {Decimal(line["total"]) for line in unpriced.values()} == {Decimal(0)}
    # Tiered: each user's tier parts add up to its quantity, each tier's parts to the tier.
    tiered_used = {user: t / 1000 for (model, user), t in used.items() if model == "model-1"}
    parts = defaultdict(Decimal)
    per_tier = defaultdict(Decimal)
    for line in by_model["model-1"]:
        quantity, level = Decimal(line["quantity"]), line["tier"]["level"]
        parts[line["presentation_group_values"]["user_id"]] += quantity
        per_tier[level] += quantity
        assert Decimal(line["unit_price"]) == TIERS[level - 1][1]
        assert Decimal(line["total"]) == _cents(quantity * TIERS[level - 1][1])
    assert dict(parts) == tiered_used
    assert per_tier[1] == TIERS[0][0]
    assert per_tier[2] == sum(tiered_used.values()) - TIERS[0][0]
    total = sum(Decimal(line["total"]) for line in lines)
    assert Decimal(data["total"]) == Decimal(data["subtotal"]) == total
    assert total == Decimal("73070")


def test_a_draft_read_makes_as_many_queries_for_400_lines_as_for_3(
    api_client, django_assert_max_num_queries
):
    contract, invoice = _world()
    _events(contract, range(3))
    _draft(api_client, invoice)
    with CaptureQueriesContext(connection) as few:
        assert len(_draft(api_client, invoice)["line_items"]) == 3
    _events(contract, range(3, 300))

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(_draft(api_client, invoice)["line_items"]) == 400


def test_the_invoice_renderer_writes_decimals_digit_for_digit():
    rendered = ExactJSONRenderer().render(
        {
            "total": Decimal("12345678901234567.123456789"),
            "price": Decimal("0.0000015"),
            "at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            "count": 3,
        }
    )

    assert rendered == (
        b'{"total":12345678901234567.123456789,"price":0.0000015,'
        b'"at":"2026-03-01T09:30:00Z","count":3}'
    )


def test_the_invoice_renderer_writes_integers_past_64_bits():
    assert ExactJSONRenderer().render({"total": 10**25}) == b'{"total":10000000000000000000000000}'


def test_an_answer_rendered_in_the_view_is_sent_as_it_was_written():
    for data in ({"total": Decimal("0.0000015"), "at": START}, {"total": 10**25}):
        assert ExactJSONRenderer().render(rendered_now(data)) == ExactJSONRenderer().render(data)


def test_a_drafts_line_rows_hold_every_field_as_the_model_builds_them():
    contract, invoice = _world()
    _events(contract, range(2))
    result = invoice_rate(invoice=invoice, now=NOW)

    rows = line_items_from(result.lines, invoice=invoice)

    built = [
        line_item_from(line, invoice=invoice, position=i) for i, line in enumerate(result.lines)
    ]
    fields = [f.attname for f in InvoiceLineItem._meta.concrete_fields if f.attname != "id"]
    assert [[getattr(row, name) for name in fields] for row in rows] == [
        [getattr(row, name) for name in fields] for row in built
    ]
    reference = InvoiceLineItem(
        invoice=invoice,
        name=result.lines[0].name,
        type=result.lines[0].type,
        total=result.lines[0].total,
    )
    assert set(vars(rows[0])) == set(vars(reference))
    assert rows[0].invoice is invoice
    assert len({row.pk for row in rows}) == len(rows) == 2
    assert not signals.pre_init.has_listeners(InvoiceLineItem)
    assert not signals.post_init.has_listeners(InvoiceLineItem)
