"""Rate cards (aliases, unit conversions) and their rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    CreditTypeConversion,
    PricingUnit,
    Product,
    Rate,
    RateCard,
    RateCardAlias,
    RateTier,
    tiers_problem,
)
from .common import already_archived, save_clean


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
    save_clean(rate_card)
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
    save_clean(rate_card)
    if aliases is not None:
        _set_aliases(rate_card, aliases)
    _add_conversions(rate_card, add_credit_type_conversions, "add_credit_type_conversions")
    return rate_card


def rate_card_archive(*, rate_card: RateCard, now: datetime) -> RateCard:
    already_archived(rate_card, "rate card")
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
    composite_minimum: Decimal | None = None,
    composite_scope: str = Rate.CompositeScope.CONTRACT,
) -> Rate:
    """Add one time-bounded rate to a card (tiers stored as RateTier rows).

    This is the one place where a price changes (the API's addRate/addRates and the admin's
    price change, `rate_price_change`, all come here): a rate for the same product, pricing group
    values (and billing frequency) that starts while another is in effect takes over from its
    start, and the earlier rate's end is STORED (its `ending_before` set to that start), not
    derived when read; see `_make_room`. Two rates starting at the same instant are refused.
    """
    with transaction.atomic():
        return _rate_add(
            rate_card=_locked(rate_card),
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
            composite_minimum=composite_minimum,
            composite_scope=composite_scope,
        )


def rate_price_change(
    *,
    rate: Rate,
    starting_at: datetime,
    price: Decimal | None = None,
    tiers: Sequence[Tier] = (),
) -> Rate:
    """A new price for `rate` from `starting_at` on (a FLAT, SUBSCRIPTION or PERCENTAGE price, or
    the tiers of a TIERED rate): a new rate like it (same card, product, group values, type,
    unit, frequency, entitlement, commit rate) added through `rate_add`, which ends `rate` there."""
    commit_rate = None
    if rate.commit_rate_type:
        commit_rate = CommitRateSpec(
            rate_type=rate.commit_rate_type,
            price=rate.commit_rate_price,
            tiers=[(t.size, t.price) for t in rate.tiers.all() if t.for_commit_rate],
        )
    return rate_add(
        rate_card=rate.rate_card,
        product=rate.product,
        entitled=rate.entitled,
        rate_type=rate.rate_type,
        starting_at=starting_at,
        ending_before=rate.ending_before,
        price=price,
        tiers=tiers,
        pricing_group_values=rate.pricing_group_values,
        credit_type=rate.credit_type,
        billing_frequency=rate.billing_frequency,
        quantity=rate.quantity,
        is_prorated=rate.is_prorated,
        commit_rate=commit_rate,
        composite_minimum=rate.composite_minimum,
        composite_scope=rate.composite_scope,
    )


def _locked(rate_card: RateCard) -> RateCard:
    """The card's row, locked: rates of one card are added one transaction at a time, so two
    price changes cannot both end the same rate."""
    return RateCard.objects.select_for_update().get(pk=rate_card.pk)


def _rate_add(*, rate_card, product, tiers, commit_rate, credit_type, **fields) -> Rate:
    errors: dict[str, str] = {}
    if rate_card.archived_at is not None:
        errors["rate_card"] = "This rate card is archived; it takes no new rates."
    if product.archived_at is not None:
        errors["product"] = "This product is archived; it takes no new rates."
    if fields["rate_type"] in Rate.TIERED_TYPES:
        problem = tiers_problem(list(tiers))
        if problem:
            errors["tiers"] = problem
        elif fields["rate_type"] == Rate.RateType.TIERED_PERCENTAGE:
            problem = _fractions_problem(tiers)
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
    # The rate's own rules first (so a bad rate changes nothing), then room is made for it.
    rate.clean_fields()
    rate.clean_rules()
    resumes = _make_room(rate)
    save_clean(rate)
    for level, (size, price) in enumerate(tiers, start=1):
        RateTier.objects.create(rate=rate, level=level, size=size, price=price)
    if commit_rate is not None:
        for level, (size, price) in enumerate(commit_rate.tiers, start=1):
            RateTier.objects.create(
                rate=rate, level=level, size=size, price=price, for_commit_rate=True
            )
    for starting_at, ending_before in resumes:
        _copy(rate, starting_at, ending_before)
    return rate


def _fractions_problem(tiers: Sequence[Tier]) -> str | None:
    for level, (_, price) in enumerate(tiers, start=1):
        if price > 1:
            return f"Tier {level}: a percentage is a fraction between 0 and 1."
    return None


def _make_room(rate: Rate) -> list[tuple[datetime, datetime | None]]:
    """Fit the unsaved `rate` among the stored rates of its card, product, pricing group values
    and billing frequency: at every instant the rate that started last wins (the SPEC's "a price
    change is a new rate with a later start"), and the result is STORED, so every reader (getRates,
    getRateSchedule, the admin, the rating engine) sees disjoint windows, one rate per instant.

    - A stored rate in effect at `rate`'s start ends there (its `ending_before` is set to it);
      if `rate` ends before the stored rate did, the stored rate resumes at `rate`'s end (a copy
      of it, with its tiers, covering the rest of its old window).
    - `rate` itself ends where a later-starting stored rate begins, and resumes (as a copy) after
      that rate ends, up to its own end. Its windows after the first are returned for the
      caller to save once `rate` has its tiers.
    - Two rates starting at the same instant stay refused: neither would be the later one.
    """
    stored = list(rate.overlapping().prefetch_related("tiers"))
    if any(other.starting_at == rate.starting_at for other in stored):
        raise ValidationError(
            {
                "starting_at": (
                    "This product already has a rate starting at that time for these pricing "
                    "group values."
                )
            }
        )
    windows = latest_started_windows(
        [(other.starting_at, other.ending_before) for other in stored]
        + [(rate.starting_at, rate.ending_before)]
    )
    for other, runs in zip(stored, windows[:-1], strict=True):
        (_, first_end), *later = runs
        if first_end != other.ending_before:
            other.ending_before = first_end
            other.save(update_fields=["ending_before"])
        for starting_at, ending_before in later:
            _copy(other, starting_at, ending_before)
    (_, own_end), *own_later = windows[-1]
    rate.ending_before = own_end
    return own_later


def latest_started_windows(
    windows: Sequence[tuple[datetime, datetime | None]],
) -> list[list[tuple[datetime, datetime | None]]]:
    """For windows [start, end) (end None: open) with distinct starts, where each one is the
    latest-started of those in effect: its maximal runs, in time order. Each window wins at its
    own start, so every list begins there."""
    moments = sorted({start for start, _ in windows} | {e for _, e in windows if e is not None})
    runs: list[list[tuple[datetime, datetime | None]]] = [[] for _ in windows]
    for index, moment in enumerate(moments):
        following = moments[index + 1] if index + 1 < len(moments) else None
        live = [
            i
            for i, (start, end) in enumerate(windows)
            if start <= moment and (end is None or end > moment)
        ]
        if not live:
            continue
        winner = max(live, key=lambda i: windows[i][0])
        mine = runs[winner]
        if mine and mine[-1][1] == moment:
            mine[-1] = (mine[-1][0], following)
        else:
            mine.append((moment, following))
    return runs


def _copy(rate: Rate, starting_at: datetime, ending_before: datetime | None) -> Rate:
    """`rate` again over another window: the part of a superseded rate after the rate that
    interrupted it ends."""
    tiers = list(rate.tiers.all())
    copy = Rate(
        **{
            field.attname: getattr(rate, field.attname)
            for field in Rate._meta.concrete_fields
            if field.name not in ("id", "created_at")
        }
    )
    copy.starting_at = starting_at
    copy.ending_before = ending_before
    save_clean(copy)
    RateTier.objects.bulk_create(
        RateTier(
            rate=copy,
            for_commit_rate=tier.for_commit_rate,
            level=tier.level,
            size=tier.size,
            price=tier.price,
        )
        for tier in tiers
    )
    return copy


@transaction.atomic
def rates_add_many(*, rate_card: RateCard, rates: Sequence[dict]) -> list[Rate]:
    """Add several rates at once, in order, each as `rate_add` would: all or none. Each dict
    holds rate_add's keyword arguments."""
    rate_card = _locked(rate_card)
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
        "composite_minimum": None,
        "composite_scope": Rate.CompositeScope.CONTRACT,
        **fields,
    }


# --- The order of a card's products (invoices and the price book follow it) --------------------------


def _card_products(rate_card: RateCard) -> list[str]:
    """The card's products (those it has rates for) in its current order."""
    products = {
        str(pk): name
        for pk, name in Product.objects.filter(rates__rate_card=rate_card)
        .values_list("pk", "name")
        .distinct()
    }
    return sorted(products, key=lambda pid: rate_card.product_position(pid, products[pid]))


def _on_card(rate_card: RateCard, product_ids: Sequence, key: str) -> list[str]:
    known = set(_card_products(rate_card))
    ids = []
    for index, product_id in enumerate(product_ids):
        pid = str(product_id)
        if pid not in known:
            raise ValidationError(
                {f"{key}[{index}]": f"Product {pid} has no rate on rate card '{rate_card}'."}
            )
        if pid in ids:
            raise ValidationError({f"{key}[{index}]": f"Product {pid} is listed twice."})
        ids.append(pid)
    return ids


@transaction.atomic
def rate_card_products_order_set(*, rate_card: RateCard, product_ids: Sequence) -> RateCard:
    """The card's products in this order; those not listed follow, by name."""
    rate_card = RateCard.objects.select_for_update().get(pk=rate_card.pk)
    ordered = _on_card(rate_card, product_ids, "product_order")
    rest = [pid for pid in _card_products(rate_card) if pid not in ordered]
    rate_card.product_order = ordered + rest
    rate_card.save(update_fields=["product_order"])
    return rate_card


@transaction.atomic
def rate_card_products_move(*, rate_card: RateCard, moves: Sequence[tuple]) -> RateCard:
    """Move products to positions (0 first), one move after the other: (product id, position)."""
    rate_card = RateCard.objects.select_for_update().get(pk=rate_card.pk)
    order = _card_products(rate_card)
    ids = _on_card(rate_card, [pid for pid, _ in moves], "product_moves")
    for index, (pid, (_, position)) in enumerate(zip(ids, moves, strict=True)):
        if position < 0:
            raise ValidationError({f"product_moves[{index}].position": "Must be 0 or more."})
        order.remove(pid)
        order.insert(min(int(position), len(order)), pid)
    rate_card.product_order = order
    rate_card.save(update_fields=["product_order"])
    return rate_card
