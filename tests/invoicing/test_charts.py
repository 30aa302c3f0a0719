"""Chart data: usage by day per pricing group values in the product's unit, and spend so far
day by day (the draft rated with the events up to each day's end) against the previous period."""

from datetime import UTC, datetime

import pytest

from catalog.models import Product
from invoicing.selectors import contract_spend_to_date, contract_usage_by_day, invoice_rate
from tests.invoicing.test_admin import march, world  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 21, 12, tzinfo=UTC)


def zeros_but(length: int, **days: str) -> list[str]:
    values = ["0"] * length
    for day, value in days.items():
        values[int(day.removeprefix("d")) - 1] = value
    return values


def test_usage_by_day_is_stacked_by_pricing_group_values_in_the_products_unit(world):  # noqa: F811
    product = Product.objects.get(name="Input Tokens")

    chart = contract_usage_by_day(contract=world.contract, product=product, now=NOW).as_json()

    assert chart["unit"] == "million tokens"
    assert chart["stacked"] is True
    assert chart["labels"][0] == "Mar 1" and chart["labels"][-1] == "Mar 21"
    assert chart["datasets"] == [
        {"label": "model_name=model-A", "data": zeros_but(21, d2="1", d9="0.5", d11="2")},
        {"label": "model_name=model-B", "data": zeros_but(21, d20="3")},
    ]


def test_spend_so_far_climbs_to_the_drafts_total_beside_the_previous_period(world):  # noqa: F811
    chart = contract_spend_to_date(contract=world.contract, now=NOW).as_json()

    this, previous = chart["datasets"]
    assert chart["unit"] == "$"
    assert this["label"] == "This period (Mar 1 to Mar 31, 2026)"
    # $1.50 per million of model-A, $0.30 per million of model-B.
    assert this["data"] == (["0"] + ["1.5"] * 7 + ["2.25"] * 2 + ["5.25"] * 9 + ["6.15"] * 2)
    assert (
        this["data"][-1] == "6.15" == f"{invoice_rate(invoice=march(world), now=NOW).total / 100}"
    )
    assert previous["label"] == "Previous period (Feb 1 to Feb 28, 2026)"
    assert previous["data"] == ["0"] * 27 + ["10.5"]  # 7 million model-A tokens on Feb 28
    assert len(chart["labels"]) == 31
