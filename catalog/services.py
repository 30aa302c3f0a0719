"""Writes to the offering: pricing units, billable metrics, products, rate cards, rates, packages.

Every write runs the model's full_clean(), so the API answers with the same rules and the same words
as the admin. Errors are Django ValidationErrors keyed by model field name; the API layer renames
them to the wire's names (billable_metric -> billable_metric_id).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import outbox

from . import money
from .models import (
    BillableMetric,
    CreditTypeConversion,
    Package,
    PricingUnit,
    Product,
    ProductUpdate,
    Rate,
    RateCard,
    RateCardAlias,
    RateTier,
    tiers_problem,
)
from .selectors import product_state_at


def _save(obj, *, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude) or None)
    obj.save()


def _already_archived(obj, label: str) -> None:
    if obj.archived_at is not None:
        raise ValidationError(f"This {label} is already archived.")


# --- Pricing units -----------------------------------------------------------------------------------


def pricing_unit_create(*, name: str) -> PricingUnit:
    unit = PricingUnit(name=name, is_currency=False)
    _save(unit)
    return unit


def pricing_unit_archive(*, pricing_unit: PricingUnit, now: datetime) -> PricingUnit:
    if str(pricing_unit.pk) == money.USD_CENTS_ID:
        raise ValidationError("The built-in USD (cents) pricing unit cannot be archived.")
    _already_archived(pricing_unit, "pricing unit")
    pricing_unit.archived_at = now
    pricing_unit.save(update_fields=["archived_at"])
    return pricing_unit


# --- Billable metrics --------------------------------------------------------------------------------


def billable_metric_create(
    *,
    name: str,
    aggregation_type: str,
    aggregation_key: str = "",
    event_type_filter: dict | None = None,
    property_filters: list | None = None,
    group_keys: list | None = None,
    custom_fields: dict | None = None,
    now: datetime | None = None,
) -> BillableMetric:
    """A billable metric; metering measures the events already stored once it hears
    `billable_metric.create` (after commit)."""
    metric = BillableMetric(
        name=name,
        aggregation_type=aggregation_type,
        aggregation_key=aggregation_key or "",
        event_type_filter=event_type_filter or {},
        property_filters=property_filters or [],
        group_keys=group_keys or [],
        custom_fields=custom_fields or {},
    )
    with transaction.atomic():
        _save(metric)
        # Metering hears it and measures the events stored before the metric existed.
        outbox.record(
            type="billable_metric.create",
            subject_id=metric.pk,
            occurred_at=now or timezone.now(),
            payload={"billable_metric_id": str(metric.pk)},
        )
    return metric


def billable_metric_rename(*, metric: BillableMetric, name: str) -> BillableMetric:
    if metric.archived_at is not None:
        raise ValidationError("This billable metric is archived; it cannot be renamed.")
    metric.name = name
    _save(metric)
    return metric


def billable_metric_archive(*, metric: BillableMetric, now: datetime) -> BillableMetric:
    _already_archived(metric, "billable metric")
    metric.archived_at = now
    metric.save(update_fields=["archived_at"])
    return metric


# --- Products ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantityConversion:
    conversion_factor: Decimal
    operation: str
    name: str = ""


@dataclass(frozen=True)
class QuantityRounding:
    decimal_places: int
    rounding_method: str


def _metric_usable(metric: BillableMetric | None) -> None:
    if metric is not None and metric.archived_at is not None:
        raise ValidationError(
            {"billable_metric": "This billable metric is archived; new products cannot use it."}
        )


@transaction.atomic
def product_create(
    *,
    name: str,
    type: str,
    billable_metric: BillableMetric | None = None,
    pricing_group_key: Sequence[str] = (),
    presentation_group_key: Sequence[str] = (),
    quantity_conversion: QuantityConversion | None = None,
    quantity_rounding: QuantityRounding | None = None,
    composite_products: Sequence[Product] = (),
    composite_tags: Sequence[str] = (),
    exclude_free_usage: bool = False,
    is_refundable: bool = True,
    tags: Sequence[str] = (),
    custom_fields: dict | None = None,
    created_by: str = "admin",
) -> Product:
    _metric_usable(billable_metric)
    product = Product(
        name=name,
        type=type,
        billable_metric=billable_metric,
        pricing_group_key=list(pricing_group_key),
        presentation_group_key=list(presentation_group_key),
        composite_tags=list(composite_tags),
        exclude_free_usage=exclude_free_usage,
        is_refundable=is_refundable,
        tags=list(tags),
        custom_fields=custom_fields or {},
        created_by=created_by,
    )
    _apply_conversion(product, quantity_conversion)
    _apply_rounding(product, quantity_rounding)
    if composite_products and type != Product.Type.COMPOSITE:
        raise ValidationError(
            {"composite_products": "Only composite products name other products."}
        )
    _save(product)
    product.composite_products.set(composite_products)
    return product


def _apply_conversion(product: Product, conversion: QuantityConversion | None) -> None:
    product.quantity_conversion_factor = conversion.conversion_factor if conversion else None
    product.quantity_conversion_operation = conversion.operation if conversion else ""
    product.quantity_conversion_name = (conversion.name or "") if conversion else ""


def _apply_rounding(product: Product, rounding: QuantityRounding | None) -> None:
    product.quantity_rounding_decimal_places = rounding.decimal_places if rounding else None
    product.quantity_rounding_method = rounding.rounding_method if rounding else ""


def product_update(
    *, product: Product, starting_at: datetime, changes: dict, created_by: str = "admin"
) -> ProductUpdate:
    """Record a change that takes effect at `starting_at` (in the past it applies retroactively).

    `changes` uses ProductUpdate.UPDATABLE_FIELDS; ids and numbers are stored as strings. The
    product as it would be from `starting_at` must still pass the product's own rules.
    """
    if product.archived_at is not None:
        raise ValidationError("This product is archived; it cannot be updated.")
    update = ProductUpdate(
        product=product, starting_at=starting_at, changes=changes, created_by=created_by
    )
    update.full_clean(exclude=["product"])
    if "billable_metric_id" in changes and changes["billable_metric_id"] is not None:
        metric = BillableMetric.objects.filter(pk=changes["billable_metric_id"]).first()
        if metric is None:
            raise ValidationError({"billable_metric": "No billable metric has this id."})
        _metric_usable(metric)
    if "composite_product_ids" in changes:
        found = Product.objects.filter(pk__in=changes["composite_product_ids"]).count()
        if found != len(set(changes["composite_product_ids"])):
            raise ValidationError({"composite_products": "Some composite products do not exist."})
    state = product_state_at(product=product, at=starting_at, extra_update=update)
    candidate = Product(
        pk=product.pk,
        name=state.name,
        type=product.type,
        billable_metric_id=state.billable_metric_id,
        pricing_group_key=list(state.pricing_group_key),
        presentation_group_key=list(state.presentation_group_key),
        quantity_conversion_factor=state.quantity_conversion_factor,
        quantity_conversion_operation=state.quantity_conversion_operation,
        quantity_conversion_name=state.quantity_conversion_name,
        quantity_rounding_decimal_places=state.quantity_rounding_decimal_places,
        quantity_rounding_method=state.quantity_rounding_method,
        composite_tags=list(state.composite_tags),
        tags=list(state.tags),
    )
    candidate.clean_fields(exclude=["id"])
    candidate.clean()
    update.save()
    return update


def product_archive(*, product: Product, now: datetime) -> Product:
    _already_archived(product, "product")
    product.archived_at = now
    product.save(update_fields=["archived_at"])
    return product


# --- Rate cards and rates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AliasSpec:
    name: str
    starting_at: datetime | None = None
    ending_before: datetime | None = None


@dataclass(frozen=True)
class ConversionSpec:
    custom_credit_type: PricingUnit
    fiat_per_custom_credit: Decimal


def _aliases_check(rate_card: RateCard, aliases: Sequence[AliasSpec]) -> None:
    for index, alias in enumerate(aliases):
        clash = (
            RateCardAlias.objects.filter(name=alias.name)
            .exclude(rate_card=rate_card)
            .select_related("rate_card")
        )
        for other in clash:
            if _windows_overlap(
                alias.starting_at, alias.ending_before, other.starting_at, other.ending_before
            ):
                raise ValidationError(
                    {
                        f"aliases[{index}].name": (
                            f"The alias '{alias.name}' is already used by rate card "
                            f"'{other.rate_card}' at the same time."
                        )
                    }
                )


def _windows_overlap(start_a, end_a, start_b, end_b) -> bool:
    return (end_b is None or start_a is None or start_a < end_b) and (
        end_a is None or start_b is None or start_b < end_a
    )


def _set_aliases(rate_card: RateCard, aliases: Sequence[AliasSpec]) -> None:
    _aliases_check(rate_card, aliases)
    rate_card.aliases.all().delete()
    for index, spec in enumerate(aliases):
        alias = RateCardAlias(
            rate_card=rate_card,
            name=spec.name,
            starting_at=spec.starting_at,
            ending_before=spec.ending_before,
        )
        try:
            alias.full_clean()
        except ValidationError as exc:
            raise _prefixed(exc, f"aliases[{index}]") from None
        alias.save()


def _add_conversions(
    rate_card: RateCard, conversions: Sequence[ConversionSpec], field: str
) -> None:
    for index, spec in enumerate(conversions):
        conversion = CreditTypeConversion(
            rate_card=rate_card,
            custom_credit_type=spec.custom_credit_type,
            fiat_per_custom_credit=spec.fiat_per_custom_credit,
        )
        try:
            conversion.full_clean()
        except ValidationError as exc:
            raise _prefixed(exc, f"{field}[{index}]") from None
        conversion.save()


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    """A nested object's errors under `prefix.field` so the message says where."""
    if not hasattr(exc, "error_dict"):
        return ValidationError({prefix: exc.messages})
    return ValidationError(
        {
            (prefix if key == "__all__" else f"{prefix}.{key}"): messages
            for key, messages in exc.message_dict.items()
        }
    )


@transaction.atomic
def rate_card_create(
    *,
    name: str,
    description: str = "",
    fiat_credit_type: PricingUnit | None = None,
    aliases: Sequence[AliasSpec] = (),
    credit_type_conversions: Sequence[ConversionSpec] = (),
    custom_fields: dict | None = None,
    created_by: str = "admin",
) -> RateCard:
    rate_card = RateCard(
        name=name,
        description=description or "",
        custom_fields=custom_fields or {},
        created_by=created_by,
    )
    if fiat_credit_type is not None:
        rate_card.fiat_credit_type = fiat_credit_type
    _save(rate_card)
    _set_aliases(rate_card, aliases)
    _add_conversions(rate_card, credit_type_conversions, "credit_type_conversions")
    return rate_card


@transaction.atomic
def rate_card_update(
    *,
    rate_card: RateCard,
    name: str | None = None,
    description: str | None = None,
    aliases: Sequence[AliasSpec] | None = None,
    add_credit_type_conversions: Sequence[ConversionSpec] = (),
) -> RateCard:
    """Metadata only: name, description, the alias set (replaced); conversions are add-only."""
    if rate_card.archived_at is not None:
        raise ValidationError("This rate card is archived; it cannot be updated.")
    if name is not None:
        rate_card.name = name
    if description is not None:
        rate_card.description = description
    _save(rate_card)
    if aliases is not None:
        _set_aliases(rate_card, aliases)
    _add_conversions(rate_card, add_credit_type_conversions, "add_credit_type_conversions")
    return rate_card


def rate_card_archive(*, rate_card: RateCard, now: datetime) -> RateCard:
    _already_archived(rate_card, "rate card")
    rate_card.archived_at = now
    rate_card.save(update_fields=["archived_at"])
    return rate_card


Tier = tuple[Decimal | None, Decimal]  # (size, price); the last tier has no size


@dataclass(frozen=True)
class CommitRateSpec:
    rate_type: str
    price: Decimal | None = None
    tiers: Sequence[Tier] = ()


def rate_add(
    *,
    rate_card: RateCard,
    product: Product,
    entitled: bool,
    rate_type: str,
    starting_at: datetime,
    ending_before: datetime | None = None,
    price: Decimal | None = None,
    tiers: Sequence[Tier] = (),
    pricing_group_values: dict | None = None,
    credit_type: PricingUnit | None = None,
    billing_frequency: str = "",
    quantity: Decimal | None = None,
    is_prorated: bool = False,
    commit_rate: CommitRateSpec | None = None,
) -> Rate:
    """Add one time-bounded rate to a card (tiers stored as RateTier rows)."""
    with transaction.atomic():
        return _rate_add(
            rate_card=rate_card,
            product=product,
            entitled=entitled,
            rate_type=rate_type,
            starting_at=starting_at,
            ending_before=ending_before,
            price=price,
            tiers=tiers,
            pricing_group_values=pricing_group_values,
            credit_type=credit_type,
            billing_frequency=billing_frequency,
            quantity=quantity,
            is_prorated=is_prorated,
            commit_rate=commit_rate,
        )


def _rate_add(*, rate_card, product, tiers, commit_rate, credit_type, **fields) -> Rate:
    errors: dict[str, str] = {}
    if rate_card.archived_at is not None:
        errors["rate_card"] = "This rate card is archived; it takes no new rates."
    if product.archived_at is not None:
        errors["product"] = "This product is archived; it takes no new rates."
    if fields["rate_type"] == Rate.RateType.TIERED:
        problem = tiers_problem(list(tiers))
        if problem:
            errors["tiers"] = problem
        if fields["price"] is not None:
            errors["price"] = "A tiered rate is priced by its tiers, not by a price."
    elif tiers:
        errors["tiers"] = "Only tiered rates have tiers."
    unit = credit_type or rate_card.fiat_credit_type
    if not unit.is_currency:
        if not rate_card.credit_type_conversions.filter(custom_credit_type=unit).exists():
            errors["credit_type"] = (
                f"This rate card has no conversion for the pricing unit '{unit}'; add one first."
            )
    elif unit.is_currency and unit.pk != rate_card.fiat_credit_type_id:
        errors["credit_type"] = (
            f"This rate card is priced in '{rate_card.fiat_credit_type}'; a rate cannot use '{unit}'."
        )
    if commit_rate is not None:
        if commit_rate.rate_type not in ("FLAT", "TIERED"):
            errors["commit_rate"] = "A commit rate is FLAT or TIERED."
        elif commit_rate.rate_type == "TIERED":
            problem = tiers_problem(list(commit_rate.tiers))
            if problem:
                errors["commit_rate"] = problem
        elif commit_rate.price is None or commit_rate.price < 0:
            errors["commit_rate"] = "A flat commit rate needs a price of 0 or more."
    if errors:
        raise ValidationError(errors)
    rate = Rate(
        rate_card=rate_card,
        product=product,
        credit_type=unit,
        commit_rate_type=commit_rate.rate_type if commit_rate else "",
        commit_rate_price=commit_rate.price if commit_rate else None,
        **fields,
    )
    if rate.pricing_group_values is None:
        rate.pricing_group_values = {}
    if rate.quantity is None and rate.rate_type == Rate.RateType.SUBSCRIPTION:
        rate.quantity = Decimal(1)
    _save(rate)
    for level, (size, price) in enumerate(tiers, start=1):
        RateTier.objects.create(rate=rate, level=level, size=size, price=price)
    if commit_rate is not None:
        for level, (size, price) in enumerate(commit_rate.tiers, start=1):
            RateTier.objects.create(
                rate=rate, level=level, size=size, price=price, for_commit_rate=True
            )
    return rate


@transaction.atomic
def rates_add_many(*, rate_card: RateCard, rates: Sequence[dict]) -> list[Rate]:
    """Add several rates at once: all or none. Each dict holds rate_add's keyword arguments."""
    added = []
    for index, fields in enumerate(rates):
        try:
            added.append(_rate_add(rate_card=rate_card, **_rate_defaults(fields)))
        except ValidationError as exc:
            raise _prefixed(exc, f"rates[{index}]") from None
    return added


def _rate_defaults(fields: dict) -> dict:
    return {
        "ending_before": None,
        "price": None,
        "tiers": (),
        "pricing_group_values": None,
        "credit_type": None,
        "billing_frequency": "",
        "quantity": None,
        "is_prorated": False,
        "commit_rate": None,
        **fields,
    }


# --- Packages ----------------------------------------------------------------------------------------


@transaction.atomic
def package_create(
    *,
    name: str,
    rate_card: RateCard,
    aliases: Sequence[dict] = (),
    duration_unit: str = "",
    duration_value: int | None = None,
    usage_statement_frequency: str = "MONTHLY",
    usage_statement_day: str = "FIRST_OF_MONTH",
    net_payment_terms_days: int = 30,
    multiplier_override_prioritization: str = "LOWEST_MULTIPLIER",
    contract_name: str = "",
    terms: dict | None = None,
    uniqueness_key: str | None = None,
    created_by: str = "admin",
) -> Package:
    """A contract template. `terms` is the package document with offsets (ids added here)."""
    if rate_card.archived_at is not None:
        raise ValidationError(
            {"rate_card": "This rate card is archived; new packages cannot use it."}
        )
    package = Package(
        name=name,
        rate_card=rate_card,
        aliases=[_alias_json(a) for a in aliases],
        duration_unit=duration_unit or "",
        duration_value=duration_value,
        usage_statement_frequency=usage_statement_frequency,
        usage_statement_day=usage_statement_day,
        net_payment_terms_days=net_payment_terms_days,
        multiplier_override_prioritization=multiplier_override_prioritization,
        contract_name=contract_name or "",
        terms=_with_ids(terms or {}),
        uniqueness_key=uniqueness_key or None,
        created_by=created_by,
    )
    _save(package)
    return package


def _alias_json(alias: dict) -> dict:
    return {
        "name": alias["name"],
        "starting_at": _iso(alias.get("starting_at")),
        "ending_before": _iso(alias.get("ending_before")),
    }


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _with_ids(value):
    """Give every term and schedule item of a package an id, and make numbers JSON-safe strings."""
    if isinstance(value, dict):
        result = {key: _with_ids(item) for key, item in value.items()}
        return result
    if isinstance(value, list):
        items = [_with_ids(item) for item in value]
        for item in items:
            if isinstance(item, dict) and "id" not in item and _is_term_or_item(item):
                item["id"] = str(uuid.uuid4())
        return items
    if isinstance(value, Decimal):
        return format(money.normalize(value), "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    return _iso(value)


def _is_term_or_item(item: dict) -> bool:
    return bool(
        {"product_id", "amount", "date_offset", "starting_at_offset", "subscription_rate"}
        & set(item)
    )


def package_archive(*, package: Package, now: datetime) -> Package:
    _already_archived(package, "package")
    package.archived_at = now
    package.save(update_fields=["archived_at"])
    return package
