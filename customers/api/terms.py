"""Validated contract-term bodies -> the services' term specs (ids resolved: 404 when unknown)."""

from __future__ import annotations

from decimal import Decimal

from catalog.models import PricingUnit, Product
from core.api import get_or_404
from customers import services
from customers.hierarchy import child_access_normal
from customers.models import Override

from . import hierarchy, specifiers


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _product(pk, field: str) -> Product:
    return get_or_404(Product, pk, field=field, label="Product")


def _unit(pk, field: str) -> PricingUnit | None:
    return get_or_404(PricingUnit, pk, field=field, label="Pricing unit") if pk else None


def _items(items: list[dict]) -> list[services.InvoiceItemSpec]:
    return [
        services.InvoiceItemSpec(
            timestamp=item["timestamp"],
            amount=item.get("amount"),
            unit_price=item.get("unit_price"),
            quantity=item.get("quantity"),
        )
        for item in items
    ]


def _recurring(schedule: dict | None) -> services.RecurringScheduleSpec | None:
    recurring = (schedule or {}).get("recurring_schedule")
    return None if recurring is None else services.RecurringScheduleSpec(**recurring)


def _balance(term: dict, where: str) -> dict:
    access = term["access_schedule"]
    return {
        "product": _product(term["product_id"], _at(where, "product_id")),
        "access_schedule": [
            services.SegmentSpec(
                amount=item["amount"],
                starting_at=item["starting_at"],
                ending_before=item["ending_before"],
            )
            for item in access["schedule_items"]
        ],
        "credit_type": _unit(
            access.get("credit_type_id"), _at(where, "access_schedule.credit_type_id")
        ),
        "name": term.get("name", ""),
        "description": term.get("description", ""),
        "priority": term.get("priority", Decimal(0)),
        "rate_type": term.get("rate_type", "LIST_RATE"),
        "applicable_products": [
            _product(pk, _at(where, "applicable_product_ids"))
            for pk in term.get("applicable_product_ids", [])
        ],
        "applicable_product_tags": term.get("applicable_product_tags", []),
        "specifiers": specifiers.stored(term, where),
        "rollover_fraction": term.get("rollover_fraction"),
        "access_type": access.get("access_type", "SPEND"),
        "child_access": hierarchy.child_access(term),
    }


def _counts_as_discounted(term: dict) -> bool | None:
    """spend_tracker_attributes.counts_as_discounted (None: not given)."""
    return (term.get("spend_tracker_attributes") or {}).get("counts_as_discounted")


def commits(terms: list[dict], key: str = "commits") -> list[services.CommitSpec]:
    return [
        services.CommitSpec(
            **_balance(term, f"{key}[{index}]"),
            type=term["type"],
            invoice_schedule=_items((term.get("invoice_schedule") or {}).get("schedule_items", [])),
            invoice_recurring=_recurring(term.get("invoice_schedule")),
            counts_as_discounted=_counts_as_discounted(term),
        )
        for index, term in enumerate(terms)
    ]


def credits(terms: list[dict], key: str = "credits") -> list[services.CreditSpec]:
    return [
        services.CreditSpec(**_balance(term, f"{key}[{index}]")) for index, term in enumerate(terms)
    ]


def _override_type(term: dict) -> str:
    if term.get("type"):
        return term["type"]
    if term.get("overwrite_rate"):
        return "OVERWRITE"
    if term.get("tiers"):
        return "TIERED"
    return "MULTIPLIER"


def overrides(terms: list[dict], key: str = "overrides") -> list[services.OverrideSpec]:
    specs = []
    for index, term in enumerate(terms):
        where = f"{key}[{index}]"
        specifiers = term.get("override_specifiers") or []
        specifier = specifiers[0] if specifiers else {}
        product_id = term.get("product_id") or specifier.get("product_id")
        kind = _override_type(term)
        overwrite = term.get("overwrite_rate") or {}
        multiplier = term.get("multiplier")
        if kind == "MULTIPLIER" and multiplier is None and "entitled" in term:
            multiplier = Decimal(1)  # an entitlement-only override leaves the price as it is
        specs.append(
            services.OverrideSpec(
                starting_at=term["starting_at"],
                ending_before=term.get("ending_before"),
                type=kind,
                product=_product(product_id, _at(where, "product_id")) if product_id else None,
                applicable_product_tags=term.get("applicable_product_tags")
                or specifier.get("product_tags", []),
                tags_match=Override.TagsMatch.ALL if specifiers else Override.TagsMatch.ANY,
                pricing_group_values=specifier.get("pricing_group_values", {}),
                presentation_group_values=specifier.get("presentation_group_values", {}),
                billing_frequency=specifier.get("billing_frequency", ""),
                commit_ids=[
                    *specifier.get("commit_ids", []),
                    *specifier.get("any_commit_or_credit_ids", []),
                ],
                multiplier=multiplier,
                overwrite_rate_type=overwrite.get("rate_type", ""),
                overwrite_price=overwrite.get("price"),
                overwrite_credit_type=_unit(
                    overwrite.get("credit_type_id"), _at(where, "overwrite_rate.credit_type_id")
                ),
                overwrite_tiers=[(t.get("size"), t["price"]) for t in overwrite.get("tiers", [])],
                tiers=[(t.get("size"), t["multiplier"]) for t in term.get("tiers", [])],
                entitled=term.get("entitled"),
                priority=term.get("priority"),
                is_commit_specific=term.get("is_commit_specific", False),
                target=term.get("target", ""),
            )
        )
    return specs


def scheduled_charges(
    terms: list[dict], key: str = "scheduled_charges"
) -> list[services.ScheduledChargeSpec]:
    return [
        services.ScheduledChargeSpec(
            product=_product(term["product_id"], f"{key}[{index}].product_id"),
            items=_items(term["schedule"].get("schedule_items", [])),
            recurring=_recurring(term["schedule"]),
            name=term.get("name", ""),
        )
        for index, term in enumerate(terms)
    ]


def subscriptions(terms: list[dict], key: str = "subscriptions") -> list[services.SubscriptionSpec]:
    return [
        services.SubscriptionSpec(
            product=_product(
                term["subscription_rate"]["product_id"],
                f"{key}[{index}].subscription_rate.product_id",
            ),
            billing_frequency=term["subscription_rate"]["billing_frequency"],
            collection_schedule=term["collection_schedule"],
            is_prorated=term["proration"].get("is_prorated", True),
            initial_quantity=term.get("initial_quantity", Decimal(1)),
            starting_at=term.get("starting_at"),
            ending_before=term.get("ending_before"),
            name=term.get("name", ""),
            quantity_management_mode=term.get("quantity_management_mode", "QUANTITY_ONLY"),
            seat_group_key=(term.get("seat_config") or {}).get("seat_group_key", ""),
            initial_seat_ids=(term.get("seat_config") or {}).get("initial_seat_ids", []),
            initial_unassigned_seats=(term.get("seat_config") or {}).get(
                "initial_unassigned_seats", Decimal(0)
            ),
            temporary_id=term.get("temporary_id", ""),
            custom_fields=term.get("custom_fields", {}),
        )
        for index, term in enumerate(terms)
    ]


def discounts(terms: list[dict], key: str = "discounts") -> list[services.DiscountSpec]:
    return [
        services.DiscountSpec(
            product=_product(term["product_id"], f"{key}[{index}].product_id"),
            items=_items(term["schedule"].get("schedule_items", [])),
            recurring=_recurring(term["schedule"]),
            name=term.get("name", ""),
            custom_fields=term.get("custom_fields", {}),
        )
        for index, term in enumerate(terms)
    ]


def professional_services(
    terms: list[dict], key: str = "professional_services"
) -> list[services.ProfessionalServiceSpec]:
    return [
        services.ProfessionalServiceSpec(
            product=_product(term["product_id"], f"{key}[{index}].product_id"),
            unit_price=term["unit_price"],
            quantity=term["quantity"],
            max_amount=term["max_amount"],
            description=term.get("description", ""),
            custom_fields=term.get("custom_fields", {}),
        )
        for index, term in enumerate(terms)
    ]


def _schedule_changes(data: dict | None, *, segments: bool) -> services.ScheduleChanges | None:
    if data is None:
        return None
    if segments:
        added = [
            services.SegmentSpec(
                amount=i["amount"], starting_at=i["starting_at"], ending_before=i["ending_before"]
            )
            for i in data.get("add_schedule_items", [])
        ]
    else:
        added = _items(data.get("add_schedule_items", []))
    return services.ScheduleChanges(
        add=added,
        remove=[i["id"] for i in data.get("remove_schedule_items", [])],
        update=[dict(i) for i in data.get("update_schedule_items", [])],
    )


BALANCE_FIELDS = ("name", "description", "priority", "rate_type", "rollover_fraction")


def balance_updates(updates: list[dict], key: str, id_field: str) -> list[services.BalanceUpdate]:
    return [
        balance_update(update, f"{key}[{index}]", id_field) for index, update in enumerate(updates)
    ]


def balance_update(update: dict, where: str, id_field: str) -> services.BalanceUpdate:
    """One commit or credit change (`where`: how errors name it; "" at the top level)."""
    fields = {name: update[name] for name in BALANCE_FIELDS if name in update}
    if fields.get("priority", 0) is None:
        fields["priority"] = Decimal(0)
    if "applicable_product_tags" in update:
        fields["applicable_product_tags"] = update["applicable_product_tags"] or []
    if "specifiers" in update:
        fields["specifiers"] = specifiers.stored(update, where)
    if "hierarchy_configuration" in update:
        fields["child_access"] = child_access_normal(hierarchy.child_access(update))
    if update.get("product_id"):
        fields["product"] = _product(update["product_id"], _at(where, "product_id"))
    products = None
    if "applicable_product_ids" in update:
        products = [
            _product(pk, _at(where, "applicable_product_ids"))
            for pk in update["applicable_product_ids"] or []
        ]
    return services.BalanceUpdate(
        id=update[id_field],
        fields=fields,
        applicable_products=products,
        access_schedule=_schedule_changes(update.get("access_schedule"), segments=True),
        invoice_schedule=_schedule_changes(update.get("invoice_schedule"), segments=False),
    )


def scheduled_charge_updates(updates: list[dict]) -> list[services.ScheduledChargeUpdate]:
    return [
        services.ScheduledChargeUpdate(
            id=update["scheduled_charge_id"],
            invoice_schedule=_schedule_changes(update["invoice_schedule"], segments=False),
        )
        for update in updates
    ]


def customer_commit(term: dict) -> services.CommitSpec:
    """A customer-level commit body (its fields at the top level of the request)."""
    return services.CommitSpec(
        **_balance(term, ""),
        type=term["type"],
        invoice_schedule=_items((term.get("invoice_schedule") or {}).get("schedule_items", [])),
        invoice_recurring=_recurring(term.get("invoice_schedule")),
        counts_as_discounted=_counts_as_discounted(term),
    )


def customer_credit(term: dict) -> services.CreditSpec:
    return services.CreditSpec(**_balance(term, ""))
