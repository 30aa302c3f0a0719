"""setRateCardProductsOrder / moveRateCardProducts: the card's products in a chosen order, which
the price book (getRates) and the contract's invoices follow."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure
from tests.api.conftest import UNKNOWN, data, error
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    ingest,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def card(db):
    card = RateCardFactory()
    metric = BillableMetricFactory(group_keys=[])
    products = {}
    for name in ("Alpha", "Beta", "Gamma"):
        products[name] = ProductFactory(name=name, billable_metric=metric)
        RateFactory(rate_card=card, product=products[name], price=Decimal(1))
    card.products = products
    return card


def _rate_names(post, card) -> list[str]:
    rates = data(
        post(
            "/v1/contract-pricing/rate-cards/getRates",
            {"rate_card_id": str(card.pk), "at": "2026-02-01T00:00:00Z"},
        )
    )
    return [rate["product_name"] for rate in rates]


def test_set_order_then_move(card, post):
    ids = {name: str(p.pk) for name, p in card.products.items()}
    assert _rate_names(post, card) == ["Alpha", "Beta", "Gamma"]
    response = post(
        "/v1/contract-pricing/rate-cards/setRateCardProductsOrder",
        {"rate_card_id": str(card.pk), "product_order": [ids["Gamma"]]},
    )
    assert data(response) == {"id": str(card.pk)}
    assert _rate_names(post, card) == ["Gamma", "Alpha", "Beta"]
    moved = post(
        "/v1/contract-pricing/rate-cards/moveRateCardProducts",
        {
            "rate_card_id": str(card.pk),
            "product_moves": [
                {"product_id": ids["Beta"], "position": 0},
                {"product_id": ids["Gamma"], "position": 5},
            ],
        },
    )
    assert data(moved) == {"id": str(card.pk)}
    assert _rate_names(post, card) == ["Beta", "Alpha", "Gamma"]


def test_the_draft_invoice_follows_the_order(card, post, db):
    contract = ContractFactory(rate_card=card, starting_at=START)
    ingest(
        [
            {
                "transaction_id": f"t{i}",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-01-05T10:00:00Z",
                "properties": {"num_tokens": "2"},
            }
            for i in range(1)
        ]
        # one event: every product of the card measures the same metric
    )
    contract_drafts_ensure(contract=contract, now=datetime(2026, 1, 6, tzinfo=UTC))
    invoice = contract.invoices.get(start_timestamp=START)

    def names():
        return [line.name for line in invoice_view(invoice=invoice).lines]

    assert names() == ["Alpha", "Beta", "Gamma"]
    ids = [str(card.products[n].pk) for n in ("Gamma", "Alpha", "Beta")]
    post(
        "/v1/contract-pricing/rate-cards/setRateCardProductsOrder",
        {"rate_card_id": str(card.pk), "product_order": ids},
    )
    invoice.contract.rate_card.refresh_from_db()
    assert names() == ["Gamma", "Alpha", "Beta"]


def test_order_errors(card, post):
    other = ProductFactory(name="Elsewhere")
    url = "/v1/contract-pricing/rate-cards/setRateCardProductsOrder"
    assert error(
        post(url, {"rate_card_id": str(card.pk), "product_order": [str(other.pk)]}), 400
    ) == (f"product_order[0]: Product {other.pk} has no rate on rate card '{card}'.")
    alpha = str(card.products["Alpha"].pk)
    assert error(
        post(url, {"rate_card_id": str(card.pk), "product_order": [alpha, alpha]}), 400
    ) == (f"product_order[1]: Product {alpha} is listed twice.")
    assert error(post(url, {"rate_card_id": UNKNOWN, "product_order": [alpha]}), 404)
    move = "/v1/contract-pricing/rate-cards/moveRateCardProducts"
    assert (
        error(
            post(
                move,
                {
                    "rate_card_id": str(card.pk),
                    "product_moves": [{"product_id": alpha, "position": -1}],
                },
            ),
            400,
        )
        == "product_moves[0].position: Must be at least 0."
    )
