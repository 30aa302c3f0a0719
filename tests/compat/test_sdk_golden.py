"""Golden invoices driven only through the official SDK in strict mode: the metrics, products,
rate card and rates (addRates, in the file's order: a later-starting rate is a price change),
the customer, its contracts with their overrides, the events (ingest, the view's clock frozen an
hour after each event), then the draft read back through the SDK; finalized by the service (the
API has no finalize call) and read back frozen. The lines must equal the file's.

The cases are those of issue 17 (override targets, price changes, presentation tiers, composite
charges) and the older ones they touch; numbers cross the SDK as floats, so a case's values must
print exactly as floats do (they all do).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from invoicing.models import Invoice
from invoicing.services import invoice_finalize
from tests.invoicing.golden_support import (
    GOLDEN_DIR,
    canonical_line,
    case_metrics,
    load_case,
    parse_time,
)
from tests.invoicing.golden_world import sort_key

ingest_view = pytest.importorskip("metering.api.ingest")

CASES = [
    "01_seed_model_pricing",
    "05_tiers_with_presentation_breakdown",
    "09_price_change_mid_period",
    "10_tiered_price_change_cumulative",
    "22_rate_starts_mid_period",
    "33_two_multipliers_lowest_wins",
    "70_override_specifier_needs_all_its_tags",
    "71_override_for_one_presentation_value",
    "72_promotion_inside_an_open_rate_through_add_rates",
    "73_composite_minimum",
    "74_composite_tiered_percentage",
    "75_composite_scoped_to_the_customer",
]


def _number(value):
    """A golden number (a string) as the SDK takes it."""
    if value is None:
        return None
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _dropped(data: dict, *keys) -> dict:
    return {key: value for key, value in data.items() if key not in keys and value is not None}


class SdkWorld:
    """The case built through the SDK; `ids` maps golden ids to the ids the API gave."""

    def __init__(self, client, case):
        self.client = client
        self.case = case
        self.ids: dict[str, str] = {}

    def build(self) -> str:
        client = self.client
        for golden_id, metric in case_metrics(self.case).items():
            created = client.v1.billable_metrics.create(
                **_dropped(metric, "id", "aggregation_key"),
                **(
                    {"aggregation_key": metric["aggregation_key"]}
                    if metric.get("aggregation_key")
                    else {}
                ),
            )
            self.ids[golden_id] = created.data.id
        for product in self.case["products"]:
            self.ids[product["id"]] = client.v1.contracts.products.create(
                **self._product(product)
            ).data.id
        customer = self.case["customer"]
        self.ids[customer["id"]] = client.v1.customers.create(
            name=customer["name"], ingest_aliases=customer.get("ingest_aliases") or []
        ).data.id
        main = self._contract(self.case["contract"], self.case["rate_card"], self.case["rates"])
        for other in self.case.get("other_contracts") or ():
            self._contract(other, other["rate_card"], other["rates"])
        return main

    def _product(self, data: dict) -> dict:
        fields = {"name": data["name"], "type": data["type"], "tags": data.get("tags") or []}
        if data.get("billable_metric_id"):
            fields["billable_metric_id"] = self.ids[data["billable_metric_id"]]
            fields["pricing_group_key"] = data.get("pricing_group_key") or []
            fields["presentation_group_key"] = data.get("presentation_group_key") or []
        conversion = data.get("quantity_conversion")
        if conversion:
            fields["quantity_conversion"] = {
                "conversion_factor": _number(conversion["conversion_factor"]),
                "operation": conversion["operation"],
                **({"name": conversion["name"]} if conversion.get("name") else {}),
            }
        rounding = data.get("quantity_rounding")
        if rounding:
            fields["quantity_rounding"] = {
                "decimal_places": int(rounding["decimal_places"]),
                "rounding_method": rounding["rounding_method"],
            }
        if data["type"] == "COMPOSITE":
            fields["composite_product_ids"] = [
                self.ids[pid] for pid in data.get("composite_product_ids") or ()
            ]
            fields["composite_tags"] = data.get("composite_tags") or []
        return fields

    def _rate(self, data: dict) -> dict:
        rate = {
            "product_id": self.ids[data["product_id"]],
            "entitled": data.get("entitled", True),
            "rate_type": data["rate_type"],
            "starting_at": data["starting_at"],
        }
        if data.get("ending_before"):
            rate["ending_before"] = data["ending_before"]
        if data.get("price") is not None:
            rate["price"] = _number(data["price"])
        if data.get("tiers"):
            rate["tiers"] = [
                _dropped({"price": _number(t["price"]), "size": _number(t.get("size"))})
                for t in data["tiers"]
            ]
        if data.get("pricing_group_values"):
            rate["pricing_group_values"] = data["pricing_group_values"]
        # Composite charges' minimum and scope are not in the SDK's params: extra fields.
        if data.get("composite_minimum") is not None:
            rate["composite_minimum"] = _number(data["composite_minimum"])
        if data.get("composite_scope"):
            rate["composite_scope"] = data["composite_scope"]
        return rate

    def _override(self, data: dict) -> dict:
        override = _dropped(data, "id", "multiplier", "priority", "product_id")
        for key in ("multiplier", "priority"):
            if data.get(key) is not None:
                override[key] = _number(data[key])
        if data.get("product_id"):
            override["product_id"] = self.ids[data["product_id"]]
        if data.get("override_specifiers"):
            override["override_specifiers"] = [
                {
                    **spec,
                    **(
                        {"product_id": self.ids[spec["product_id"]]} if "product_id" in spec else {}
                    ),
                }
                for spec in data["override_specifiers"]
            ]
        return override

    def _contract(self, data: dict, card: dict, rates: list[dict]) -> str:
        client = self.client
        self.ids[card["id"]] = client.v1.contracts.rate_cards.create(name=card["name"]).data.id
        client.v1.contracts.rate_cards.rates.add_many(
            rate_card_id=self.ids[card["id"]], rates=[self._rate(rate) for rate in rates]
        )
        fields = {
            "customer_id": self.ids[self.case["customer"]["id"]],
            "rate_card_id": self.ids[card["id"]],
            "starting_at": data["starting_at"],
            "usage_statement_schedule": data.get("usage_statement_schedule")
            or {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        }
        if data.get("ending_before"):
            fields["ending_before"] = data["ending_before"]
        if data.get("overrides"):
            fields["overrides"] = [self._override(o) for o in data["overrides"]]
        if data.get("multiplier_override_prioritization"):
            fields["multiplier_override_prioritization"] = data[
                "multiplier_override_prioritization"
            ]
        self.ids[data["id"]] = client.v1.contracts.create(**fields).data.id
        return self.ids[data["id"]]

    def golden_id(self, real_id: str | None) -> str | None:
        reverse = {value: key for key, value in self.ids.items()}
        return reverse.get(real_id, real_id)

    def line(self, item) -> dict:
        """An SDK invoice line item in the golden files' shape."""
        tier = item.tier
        return {
            "name": item.name,
            "type": item.type,
            "product_id": self.golden_id(item.product_id),
            "quantity": None if item.quantity is None else str(item.quantity),
            "unit_price": None if item.unit_price is None else str(item.unit_price),
            "total": str(item.total),
            "starting_at": item.starting_at.isoformat(),
            "ending_before": item.ending_before.isoformat() if item.ending_before else None,
            "pricing_group_values": item.pricing_group_values or {},
            "presentation_group_values": item.presentation_group_values or {},
            "group_key": item.group_key,
            "group_value": item.group_value,
            "tier": None
            if tier is None
            else {"level": int(tier.level), "starting_at": tier.starting_at, "size": tier.size},
            "is_prorated": bool(item.is_prorated),
        }


def _ingest(client, monkeypatch, events):
    for data in sorted(events, key=lambda e: parse_time(e["timestamp"])):
        frozen = parse_time(data["timestamp"]) + timedelta(hours=1)
        monkeypatch.setattr(ingest_view, "timezone", SimpleNamespace(now=lambda f=frozen: f))
        client.v1.usage.ingest(usage=[data])


def _lines(world: SdkWorld, invoice) -> list:
    return sorted((canonical_line(world.line(item)) for item in invoice.line_items), key=sort_key)


@pytest.mark.parametrize("name", CASES)
def test_golden_case_through_the_sdk(client, monkeypatch, name):
    case = load_case(GOLDEN_DIR / f"{name}.json")
    world = SdkWorld(client, case)
    contract_id = world.build()
    _ingest(client, monkeypatch, case["events"])
    customer_id = world.ids[case["customer"]["id"]]
    start = parse_time(case["period"]["starting_at"])
    (draft,) = [
        invoice
        for invoice in client.v1.customers.invoices.list(customer_id=customer_id, status="DRAFT")
        if invoice.contract_id == contract_id
        and invoice.type == "USAGE"
        and invoice.start_timestamp == start
    ]
    # Metronome's line item has no is_unpriced (an unpriced line reads as no unit price, 0).
    expected = sorted(
        ({**canonical_line(line), "is_unpriced": False} for line in case["expected"]["lines"]),
        key=sort_key,
    )

    read = client.v1.customers.invoices.retrieve(customer_id=customer_id, invoice_id=draft.id)
    assert _lines(world, read.data) == expected
    assert Decimal(str(read.data.total)) == Decimal(case["expected"]["total"])

    end = parse_time(case["period"]["ending_before"])
    invoice_finalize(invoice=Invoice.objects.get(pk=draft.id), now=end + timedelta(days=2))
    frozen = client.v1.customers.invoices.retrieve(customer_id=customer_id, invoice_id=draft.id)
    assert frozen.data.status == "FINALIZED"
    assert _lines(world, frozen.data) == _lines(world, read.data)
    assert Decimal(str(frozen.data.total)) == Decimal(case["expected"]["total"])
