"""Model -> wire dicts for the offering, shaped like the SDK's response models (strict-valid)."""

from __future__ import annotations

from datetime import datetime

from catalog import money
from catalog.api import package_terms
from catalog.models import BillableMetric, Package, PricingUnit, Product, Rate, RateCard
from catalog.selectors import ProductState, product_initial_state, product_state_at, product_updates
from core.api import format_timestamp as ts

num = money.to_json_number


def _drop_none(data: dict) -> dict:
    return {key: value for key, value in data.items() if value is not None}


def credit_type_json(unit: PricingUnit) -> dict:
    return {"id": str(unit.pk), "name": unit.name}


def pricing_unit_json(unit: PricingUnit) -> dict:
    return {"id": str(unit.pk), "name": unit.name, "is_currency": unit.is_currency}


def billable_metric_json(metric: BillableMetric) -> dict:
    if metric.sql:
        return {
            "id": str(metric.pk),
            "name": metric.name,
            "sql": metric.sql,
            "group_keys": [list(keys) for keys in metric.group_keys or []],
            "custom_fields": _string_map(metric.custom_fields),
            "archived_at": ts(metric.archived_at),
        }
    etf = metric.event_type_filter or {}
    return {
        "id": str(metric.pk),
        "name": metric.name,
        "aggregation_type": metric.aggregation_type,
        "aggregation_key": metric.aggregation_key or None,
        "event_type_filter": {k: list(v) for k, v in etf.items() if v is not None},
        "property_filters": [_drop_none(dict(rule)) for rule in metric.property_filters or []],
        "group_keys": [list(keys) for keys in metric.group_keys or []],
        "custom_fields": _string_map(metric.custom_fields),
        "archived_at": ts(metric.archived_at),
    }


def customer_billable_metric_json(metric: BillableMetric) -> dict:
    """The customer listing adds Metronome's legacy group_by / aggregate / aggregate_keys."""
    data = billable_metric_json(metric)
    data["group_by"] = metric.all_group_keys
    data["aggregate"] = metric.aggregation_type.lower()
    data["aggregate_keys"] = [metric.aggregation_key] if metric.aggregation_key else []
    return data


def _string_map(value) -> dict:
    return {str(k): str(v) for k, v in (value or {}).items()}


# --- Products --------------------------------------------------------------------------------------


def _state_fields(state: ProductState) -> dict:
    data = {
        "name": state.name,
        "billable_metric_id": str(state.billable_metric_id) if state.billable_metric_id else None,
        "pricing_group_key": list(state.pricing_group_key),
        "presentation_group_key": list(state.presentation_group_key),
        "quantity_conversion": _conversion(state),
        "quantity_rounding": _rounding(state),
        "tags": list(state.tags),
        "is_refundable": state.is_refundable,
        "exclude_free_usage": state.exclude_free_usage,
    }
    if state.type == Product.Type.COMPOSITE:
        data["composite_product_ids"] = [str(pk) for pk in state.composite_product_ids]
        data["composite_tags"] = list(state.composite_tags)
    return data


def _conversion(state: ProductState) -> dict | None:
    if state.quantity_conversion_factor is None:
        return None
    data = {
        "conversion_factor": num(state.quantity_conversion_factor),
        "operation": state.quantity_conversion_operation,
    }
    if state.quantity_conversion_name:
        data["name"] = state.quantity_conversion_name
    return data


def _rounding(state: ProductState) -> dict | None:
    if state.quantity_rounding_decimal_places is None:
        return None
    return {
        "decimal_places": state.quantity_rounding_decimal_places,
        "rounding_method": state.quantity_rounding_method,
    }


def _update_json(product: Product, update) -> dict:
    changes = update.changes or {}
    data: dict = {
        "created_at": ts(update.created_at),
        "created_by": update.created_by or "api",
        "starting_at": ts(update.starting_at),
    }
    for key, value in changes.items():
        if key == "quantity_conversion" and value:
            value = {
                "conversion_factor": num(money.to_decimal(str(value["conversion_factor"]))),
                "operation": value["operation"],
                **({"name": value["name"]} if value.get("name") else {}),
            }
        elif key == "quantity_rounding" and value:
            value = {
                "decimal_places": int(value["decimal_places"]),
                "rounding_method": value["rounding_method"],
            }
        data[key] = value
    return data


def product_json(product: Product, *, now: datetime) -> dict:
    initial = product_initial_state(product=product)
    current = product_state_at(product=product, at=now)
    return {
        "id": str(product.pk),
        "type": product.type,
        "initial": {
            "created_at": ts(product.created_at),
            "created_by": product.created_by or "api",
            **_state_fields(initial),
        },
        "current": {
            "created_at": ts(product.created_at),
            "created_by": product.created_by or "api",
            **_state_fields(current),
        },
        "updates": [_update_json(product, u) for u in product_updates(product=product)],
        "archived_at": ts(product.archived_at),
        "custom_fields": _string_map(product.custom_fields),
    }


# --- Rate cards and rates ------------------------------------------------------------------------------


def rate_card_json(rate_card: RateCard) -> dict:
    return {
        "id": str(rate_card.pk),
        "name": rate_card.name,
        "description": rate_card.description,
        "created_at": ts(rate_card.created_at),
        "created_by": rate_card.created_by or "api",
        "aliases": [
            _drop_none(
                {
                    "name": alias.name,
                    "starting_at": ts(alias.starting_at),
                    "ending_before": ts(alias.ending_before),
                }
            )
            for alias in rate_card.aliases.all()
        ],
        "fiat_credit_type": credit_type_json(rate_card.fiat_credit_type),
        "credit_type_conversions": [
            {
                "custom_credit_type": credit_type_json(conversion.custom_credit_type),
                "fiat_per_custom_credit": format(
                    money.normalize(conversion.fiat_per_custom_credit), "f"
                ),
            }
            for conversion in rate_card.credit_type_conversions.all()
        ],
        "custom_fields": _string_map(rate_card.custom_fields),
        "archived_at": ts(rate_card.archived_at),
    }


def _tiers(rate: Rate, *, for_commit_rate: bool) -> list[dict]:
    tiers = [t for t in rate.tiers.all() if t.for_commit_rate == for_commit_rate]
    tiers.sort(key=lambda t: t.level)
    return [_drop_none({"price": num(t.price), "size": num(t.size)}) for t in tiers]


def commit_rate_json(rate: Rate) -> dict | None:
    if not rate.commit_rate_type:
        return None
    data = {"rate_type": rate.commit_rate_type}
    if rate.commit_rate_type == "TIERED":
        data["tiers"] = _tiers(rate, for_commit_rate=True)
    else:
        data["price"] = num(rate.commit_rate_price)
    return data


def rate_json(rate: Rate) -> dict:
    """The stored rate as addRate answers it (and as `rate` inside getRates entries)."""
    data = {
        "rate_type": rate.rate_type,
        "credit_type": credit_type_json(rate.credit_type),
        "pricing_group_values": _string_map(rate.pricing_group_values),
    }
    if rate.rate_type in Rate.TIERED_TYPES:
        data["tiers"] = _tiers(rate, for_commit_rate=False)
    else:
        data["price"] = num(rate.price)
    if rate.rate_type == Rate.RateType.SUBSCRIPTION:
        data["quantity"] = num(rate.quantity)
        data["is_prorated"] = rate.is_prorated
    if rate.rate_type in Rate.COMPOSITE_TYPES:
        data["composite_minimum"] = num(rate.composite_minimum)
        data["composite_scope"] = rate.composite_scope
    commit_rate = commit_rate_json(rate)
    if commit_rate is not None:
        data["commit_rate"] = commit_rate
    return _drop_none(data)


def rate_entry_json(rate: Rate, *, at: datetime) -> dict:
    """One getRates / getRateSchedule entry: the rate with its product and validity."""
    state = product_state_at(product=rate.product, at=at)
    data = {
        "product_id": str(rate.product_id),
        "product_name": state.name,
        "product_tags": list(state.tags),
        "product_custom_fields": _string_map(rate.product.custom_fields),
        "entitled": rate.entitled,
        "rate": rate_json(rate),
        "starting_at": ts(rate.starting_at),
        "ending_before": ts(rate.ending_before),
        "pricing_group_values": _string_map(rate.pricing_group_values),
        "commit_rate": commit_rate_json(rate),
        "billing_frequency": rate.billing_frequency or None,
    }
    return _drop_none(data)


# --- Packages ---------------------------------------------------------------------------------------------


def _offset(value: dict | None) -> dict | None:
    if not value:
        return None
    return {"unit": value["unit"], "value": int(value["value"])}


def _named(model, pk, cache: dict) -> dict:
    key = str(pk)
    if key not in cache:
        obj = model.objects.filter(pk=pk).first()
        cache[key] = {"id": key, "name": obj.name if obj else ""}
    return cache[key]


def _unit(pk, cache: dict) -> dict:
    key = str(pk or money.USD_CENTS_ID)
    if key not in cache:
        unit = PricingUnit.objects.filter(pk=key).first()
        cache[key] = {"id": key, "name": unit.name if unit else ""}
    return cache[key]


def _package_balance(term: dict, products: dict, units: dict, *, is_commit: bool) -> dict:
    access = term.get("access_schedule") or {}
    data = {
        "id": term["id"],
        "product": _named(Product, term["product_id"], products),
        "access_schedule": {
            "access_type": access.get("access_type", "SPEND"),
            "credit_type": _unit(access.get("credit_type_id"), units),
            "schedule_items": [
                {
                    "id": item["id"],
                    "amount": num(money.to_decimal(item["amount"])),
                    "starting_at_offset": _offset(item["starting_at_offset"]),
                    "duration": _offset(item["duration"]),
                }
                for item in access.get("schedule_items", [])
            ],
        },
        "applicable_product_ids": term.get("applicable_product_ids"),
        "applicable_product_tags": term.get("applicable_product_tags"),
        "name": term.get("name"),
        "description": term.get("description"),
        "priority": num(money.to_decimal(term["priority"])) if "priority" in term else None,
        "rate_type": term.get("rate_type"),
        "custom_fields": term.get("custom_fields"),
        "specifiers": term.get("specifiers") or None,
    }
    if is_commit:
        data["type"] = term["type"]
        if term.get("rollover_fraction") is not None:
            data["rollover_fraction"] = num(money.to_decimal(term["rollover_fraction"]))
        schedule = term.get("invoice_schedule")
        if schedule:
            data["invoice_schedule"] = {
                **_package_schedule(schedule, units),
                "do_not_invoice": bool(schedule.get("do_not_invoice", False)),
            }
    return _drop_none(data)


def _package_invoice_item(item: dict) -> dict:
    return {
        "id": item["id"],
        "date_offset": _offset(item["date_offset"]),
        "quantity": num(money.to_decimal(item["quantity"])),
        "unit_price": num(money.to_decimal(item["unit_price"])),
    }


def _package_override(term: dict, products: dict, units: dict) -> dict:
    specifiers = [
        _drop_none(
            {
                "product_id": spec.get("product_id"),
                "product_tags": spec.get("product_tags"),
                "pricing_group_values": spec.get("pricing_group_values"),
                "presentation_group_values": spec.get("presentation_group_values"),
                "billing_frequency": spec.get("billing_frequency"),
            }
        )
        for spec in term.get("override_specifiers") or []
    ]
    overwrite = term.get("overwrite_rate")
    data = {
        "id": term["id"],
        "override_specifiers": specifiers,
        "starting_at_offset": _offset(term["starting_at_offset"]),
        "duration": _offset(term.get("duration")),
        "type": term.get("type", "MULTIPLIER"),
        "entitled": term.get("entitled"),
        "is_commit_specific": term.get("is_commit_specific"),
        "multiplier": num(money.to_decimal(term["multiplier"])) if "multiplier" in term else None,
        "priority": num(money.to_decimal(term["priority"])) if "priority" in term else None,
        "target": term.get("target"),
    }
    if overwrite:
        data["overwrite_rate"] = _drop_none(
            {
                "rate_type": overwrite["rate_type"],
                "credit_type": _unit(overwrite.get("credit_type_id"), units),
                "price": num(money.to_decimal(overwrite["price"]))
                if overwrite.get("price") is not None
                else None,
                "tiers": [_json_tier(t) for t in overwrite.get("tiers") or []] or None,
            }
        )
    if term.get("tiers"):
        data["override_tiers"] = [
            _drop_none(
                {
                    "multiplier": num(money.to_decimal(t["multiplier"])),
                    "size": num(money.to_decimal(t["size"])) if t.get("size") is not None else None,
                }
            )
            for t in term["tiers"]
        ]
    return _drop_none(data)


def _json_tier(tier: dict) -> dict:
    return _drop_none(
        {
            "price": num(money.to_decimal(tier["price"])),
            "size": num(money.to_decimal(tier["size"])) if tier.get("size") is not None else None,
        }
    )


def _package_scheduled_charge(term: dict, products: dict, units: dict) -> dict:
    schedule = term.get("schedule") or {}
    return _drop_none(
        {
            "id": term["id"],
            "product": _named(Product, term["product_id"], products),
            "name": term.get("name"),
            "custom_fields": term.get("custom_fields"),
            "schedule": _package_schedule(schedule, units),
        }
    )


def _package_schedule(schedule: dict, units: dict) -> dict:
    data = {
        "credit_type": _unit(schedule.get("credit_type_id"), units),
        "schedule_items": [_package_invoice_item(i) for i in schedule.get("schedule_items", [])],
    }
    recurring = schedule.get("recurring_schedule")
    if recurring:
        data["recurring_schedule"] = package_terms.registered()["recurring_schedule"].present(
            recurring
        )
    return data


def _seat_config(config: dict | None) -> dict | None:
    if not config:
        return None
    return {
        "seat_group_key": config["seat_group_key"],
        "initial_unassigned_seats": num(
            money.to_decimal(config.get("initial_unassigned_seats", 0))
        ),
    }


def _package_subscription(term: dict, products: dict) -> dict:
    proration = term.get("proration") or {}
    return _drop_none(
        {
            "id": term["id"],
            "collection_schedule": term["collection_schedule"],
            "proration": {
                "is_prorated": proration.get("is_prorated", True),
                "invoice_behavior": proration.get("invoice_behavior") or "BILL_IMMEDIATELY",
            },
            "subscription_rate": {
                "billing_frequency": term["subscription_rate"]["billing_frequency"],
                "product": _named(Product, term["subscription_rate"]["product_id"], products),
            },
            "initial_quantity": num(money.to_decimal(term["initial_quantity"]))
            if term.get("initial_quantity") is not None
            else None,
            "name": term.get("name"),
            "temporary_id": term.get("temporary_id"),
            "description": term.get("description"),
            "quantity_management_mode": term.get("quantity_management_mode", "QUANTITY_ONLY"),
            "seat_config": _seat_config(term.get("seat_config")),
            "starting_at_offset": _offset(term.get("starting_at_offset")),
            "duration": _offset(term.get("duration")),
        }
    )


def package_json(package: Package) -> dict:
    terms = package.terms or {}
    products: dict = {}
    units: dict = {}
    data = {
        "id": str(package.pk),
        "name": package.name,
        "created_at": ts(package.created_at),
        "created_by": package.created_by or "api",
        "archived_at": ts(package.archived_at),
        "rate_card_id": str(package.rate_card_id),
        "aliases": [_drop_none(dict(a)) for a in package.aliases or []],
        "contract_name": package.contract_name or None,
        "duration": {"unit": package.duration_unit, "value": package.duration_value}
        if package.duration_unit
        else None,
        "multiplier_override_prioritization": package.multiplier_override_prioritization,
        "net_payment_terms_days": package.net_payment_terms_days,
        "usage_statement_schedule": {
            "frequency": package.usage_statement_frequency,
            "day": package.usage_statement_day,
        },
        "commits": [
            _package_balance(t, products, units, is_commit=True) for t in terms.get("commits", [])
        ],
        "credits": [
            _package_balance(t, products, units, is_commit=False) for t in terms.get("credits", [])
        ],
        "overrides": [_package_override(t, products, units) for t in terms.get("overrides", [])],
        "scheduled_charges": [
            _package_scheduled_charge(t, products, units)
            for t in terms.get("scheduled_charges", [])
        ],
        "subscriptions": [
            _package_subscription(t, products) for t in terms.get("subscriptions", [])
        ],
        "scheduled_charges_on_usage_invoices": terms.get("scheduled_charges_on_usage_invoices"),
        "uniqueness_key": package.uniqueness_key,
    }
    for key, term in package_terms.registered().items():
        if terms.get(key):
            data[key] = term.present(terms[key])
    data = {k: v for k, v in data.items() if v is not None or k == "archived_at"}
    return data
