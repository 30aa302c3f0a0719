"""A golden case (tests/invoicing/golden/*.json) built as database rows through the ORM.

Golden ids are readable names ("prod-input-tokens"); the database uses UUIDs. `World.ids` maps
each golden id to its row's id so expected lines can be compared after translating product ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog.models import BillableMetric, Product, Rate, RateCard, RateTier
from catalog.money import to_decimal
from customers.models import (
    Contract,
    Customer,
    IngestAlias,
    ScheduledCharge,
    ScheduledChargeItem,
    Subscription,
)
from tests.invoicing.factories import usd_cents
from tests.invoicing.golden_support import Case, case_metrics, parse_time


@dataclass
class World:
    contract: Contract
    customer: Customer
    ids: dict[str, str] = field(default_factory=dict)

    def event(self, data: dict[str, Any]) -> dict[str, Any]:
        """A golden event as sent to /v1/ingest (the customer's golden id becomes its real id)."""
        return {**data, "customer_id": self.ids.get(data["customer_id"], data["customer_id"])}

    def golden_id(self, real_id) -> str:
        reverse = {value: key for key, value in self.ids.items()}
        return reverse.get(str(real_id), str(real_id))


def _decimal(value) -> Decimal | None:
    return None if value is None else to_decimal(value)


def build_world(case: Case) -> World:
    unit = usd_cents()
    ids: dict[str, str] = {}
    metrics = {}
    for golden_id, data in case_metrics(case).items():
        metric = BillableMetric.objects.create(
            name=data["name"],
            aggregation_type=data["aggregation_type"],
            aggregation_key=data.get("aggregation_key") or "",
            event_type_filter=data.get("event_type_filter") or {},
            property_filters=data.get("property_filters") or [],
            group_keys=data.get("group_keys") or [],
        )
        metrics[golden_id] = metric
        ids[golden_id] = str(metric.id)
    products = {}
    for data in case["products"]:
        conversion = data.get("quantity_conversion") or {}
        rounding = data.get("quantity_rounding") or {}
        product = Product.objects.create(
            name=data["name"],
            type=data["type"],
            billable_metric=metrics.get(data.get("billable_metric_id")),
            pricing_group_key=data.get("pricing_group_key") or [],
            presentation_group_key=data.get("presentation_group_key") or [],
            tags=data.get("tags") or [],
            composite_tags=data.get("composite_tags") or [],
            quantity_conversion_factor=_decimal(conversion.get("conversion_factor")),
            quantity_conversion_operation=conversion.get("operation") or "",
            quantity_conversion_name=conversion.get("name") or "",
            quantity_rounding_decimal_places=(
                int(rounding["decimal_places"]) if rounding else None
            ),
            quantity_rounding_method=rounding.get("rounding_method") or "",
        )
        products[data["id"]] = product
        ids[data["id"]] = str(product.id)
    for data in case["products"]:
        if data.get("composite_product_ids"):
            products[data["id"]].composite_products.set(
                [products[pid] for pid in data["composite_product_ids"]]
            )
    card = _card(case["rate_card"], case["rates"], products, ids, unit)
    customer_data = case["customer"]
    customer = Customer.objects.create(name=customer_data["name"])
    ids[customer_data["id"]] = str(customer.id)
    for alias in customer_data.get("ingest_aliases") or ():
        IngestAlias.objects.create(customer=customer, alias=alias)
    contract_data = case["contract"]
    contract_end = contract_data.get("ending_before")
    contract = _contract(contract_data, customer, card, ids)
    for other in case.get("other_contracts") or ():
        other_card = _card(other["rate_card"], other["rates"], products, ids, unit)
        _contract(other, customer, other_card, ids)
    for data in contract_data.get("subscriptions") or ():
        end = data.get("ending_before") or contract_end
        subscription = Subscription.objects.create(
            contract=contract,
            product=products[data["subscription_rate"]["product_id"]],
            name=data.get("name") or "",
            billing_frequency=data["subscription_rate"].get("billing_frequency") or "MONTHLY",
            collection_schedule=data["collection_schedule"],
            is_prorated=(data.get("proration") or {}).get("is_prorated", True),
            initial_quantity=to_decimal(data.get("initial_quantity", "1")),
            starting_at=parse_time(data.get("starting_at") or contract_data["starting_at"]),
            ending_before=parse_time(end) if end else None,
        )
        ids[data["id"]] = str(subscription.id)
    for data in contract_data.get("scheduled_charges") or ():
        charge = ScheduledCharge.objects.create(
            contract=contract, product=products[data["product_id"]], name=data.get("name") or ""
        )
        ids[data["id"]] = str(charge.id)
        for item in data["schedule"]["schedule_items"]:
            ScheduledChargeItem.objects.create(
                scheduled_charge=charge,
                timestamp=parse_time(item["timestamp"]),
                amount=_decimal(item.get("amount")),
                unit_price=_decimal(item.get("unit_price")),
                quantity=_decimal(item.get("quantity")),
            )
    return World(contract=contract, customer=customer, ids=ids)


def _card(data, rates, products, ids, unit) -> RateCard:
    card = RateCard.objects.create(name=data["name"], fiat_credit_type=unit)
    ids[data["id"]] = str(card.id)
    for rate_data in rates:
        rate = Rate.objects.create(
            rate_card=card,
            product=products[rate_data["product_id"]],
            entitled=rate_data.get("entitled", True),
            rate_type=rate_data["rate_type"],
            starting_at=parse_time(rate_data["starting_at"]),
            ending_before=parse_time(rate_data["ending_before"])
            if rate_data.get("ending_before")
            else None,
            price=_decimal(rate_data.get("price")),
            pricing_group_values=rate_data.get("pricing_group_values") or {},
            billing_frequency=rate_data.get("billing_frequency") or "",
            credit_type=unit,
            composite_minimum=_decimal(rate_data.get("composite_minimum")),
            composite_scope=rate_data.get("composite_scope") or "CONTRACT",
        )
        for level, tier in enumerate(rate_data.get("tiers") or (), start=1):
            RateTier.objects.create(
                rate=rate,
                level=level,
                size=_decimal(tier.get("size")),
                price=to_decimal(tier["price"]),
            )
    return card


def _contract(data, customer, card, ids) -> Contract:
    schedule = data.get("usage_statement_schedule") or {}
    end = data.get("ending_before")
    contract = Contract.objects.create(
        customer=customer,
        rate_card=card,
        starting_at=parse_time(data["starting_at"]),
        ending_before=parse_time(end) if end else None,
        usage_statement_frequency=schedule.get("frequency", "MONTHLY"),
        usage_statement_day=schedule.get("day", "FIRST_OF_MONTH"),
        scheduled_charges_on_usage_invoices=(
            data.get("scheduled_charges_on_usage_invoices") == "ALL"
        ),
    )
    ids[data["id"]] = str(contract.id)
    return contract


def line_item_as_case(line, world: World) -> dict[str, Any]:
    """An InvoiceLineItem (saved or rated on read) in the golden files' line shape."""
    tier = None
    if line.tier_level is not None:
        tier = {
            "level": line.tier_level,
            "starting_at": line.tier_starting_at,
            "size": line.tier_size,
        }
    return {
        "name": line.name,
        "type": line.type,
        "product_id": world.golden_id(line.product_id),
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "total": line.total,
        "starting_at": line.starting_at.isoformat(),
        "ending_before": line.ending_before.isoformat() if line.ending_before else None,
        "pricing_group_values": line.pricing_group_values,
        "presentation_group_values": line.presentation_group_values,
        "group_key": line.group_key or None,
        "group_value": line.group_value or None,
        "tier": tier,
        "is_prorated": line.is_prorated,
        "is_unpriced": line.is_unpriced,
    }


def sort_key(line: dict[str, Any]):
    return repr(sorted(line.items(), key=lambda pair: pair[0]))


def case_draft(world: World, period_start):
    """The draft of the case's period. A case is one period: what the invoices before it drew is
    in its segments' `available` (the ledger), so the drafts of earlier periods that making the
    contract's drafts also makes are set aside, as void invoices (each would draw first, in the
    draw order; a void period gets no new draft)."""
    from invoicing.models import Invoice
    from invoicing.services import contract_drafts_ensure

    contract_drafts_ensure(contract=world.contract, now=period_start)
    drafts = Invoice.objects.filter(contract=world.contract, type=Invoice.Type.USAGE)
    earlier = drafts.filter(status=Invoice.Status.DRAFT, start_timestamp__lt=period_start)
    for offset, invoice in enumerate(earlier.order_by("start_timestamp")):
        invoice.status = Invoice.Status.VOID
        invoice.number = 900_000 + offset  # far from the numbers finalization takes here
        invoice.issued_at = invoice.voided_at = invoice.end_timestamp
        invoice.save(update_fields=["status", "number", "issued_at", "voided_at"])
    return drafts.get(start_timestamp=period_start)
