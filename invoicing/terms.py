"""A contract's terms that move money (issue 6), loaded into the rating engine's dataclasses.

`rating_input_for` (invoicing.selectors) adds these to a period's `RatingInput`:

- `balances`: the contract's commits and credits and its customer's customer-level ones, through
  `customers.selectors.balances_for_rating` (each access segment with what the ledger says is
  AVAILABLE when the period starts: earlier finalized invoices' draws are already subtracted;
  `is_rollover` for a balance a contract transition rolled over, drawn before all others);
- `overrides` (with their tiers) overlapping the period, and the contract's
  `multiplier_override_prioritization`;
- the rate card's custom-unit `conversions` and the `custom_units` its rates, overrides,
  conversions and balances use (for their rounding);
- on each rate: the card's commit rate (`commit_price` / `commit_tiers`) and its pricing unit
  (`rate_fields`).

Reads only; no rounding here (the engine rounds).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db.models import Q, prefetch_related_objects

from catalog.models import CreditTypeConversion
from catalog.models import PricingUnit as PricingUnitModel
from customers.models import Commit, Contract
from customers.models import Override as OverrideModel
from customers.selectors import (
    LedgerRows,
    balance_terms_many,
    balances_for_rating,
    balances_from_terms,
    ledger_rows,
)
from invoicing.rating import (
    AccessSegment,
    Balance,
    BalanceSpecifier,
    Conversion,
    InvoiceScheduleItem,
    Override,
    OverrideSpecifier,
    OverrideTier,
    OverwriteRate,
    Period,
    PricingUnit,
    RatingInput,
    Tier,
    group_values,
    override_may_target,
)


def rate_fields(model) -> dict:
    """The commit-rate and pricing-unit fields of a `catalog.models.Rate` for `rating.Rate`.

    A TIERED commit rate reads its tiers (one query; `model.commit_tiers` if prefetched)."""
    commit_tiers: tuple[Tier, ...] = ()
    if model.commit_rate_type == "TIERED":
        tiers = getattr(model, "commit_tiers", None)
        if tiers is None:
            tiers = model.tiers.filter(for_commit_rate=True).order_by("level")
        commit_tiers = tuple(Tier(price=tier.price, size=tier.size) for tier in tiers)
    return {
        "commit_price": model.commit_rate_price if model.commit_rate_type == "FLAT" else None,
        "commit_tiers": commit_tiers,
        "credit_type_id": str(model.credit_type_id) if model.credit_type_id else None,
    }


def _balance(data: dict) -> Balance:
    return Balance(
        id=data["id"],
        type=data["type"],
        product_id=data["product_id"],
        name=data["name"],
        priority=data["priority"],
        rate_type=data["rate_type"],
        access_type=data.get("access_type", "SPEND"),
        applicable_product_ids=tuple(data["applicable_product_ids"]),
        applicable_product_tags=tuple(data["applicable_product_tags"]),
        specifiers=tuple(
            BalanceSpecifier(
                product_id=specifier.get("product_id"),
                product_tags=tuple(specifier.get("product_tags") or ()),
                pricing_group_values=group_values(specifier.get("pricing_group_values")),
                presentation_group_values=group_values(specifier.get("presentation_group_values")),
            )
            for specifier in data.get("specifiers") or ()
        ),
        is_customer_level=data["is_customer_level"],
        from_parent=data.get("from_parent", False),
        invoiced_here=data.get("invoiced_here", True),
        ancestor_level=data.get("ancestor_level", 0),
        is_rollover=data["is_rollover"],
        credit_type_id=data["credit_type_id"],
        invoice_schedule=tuple(
            InvoiceScheduleItem(
                id=item["id"],
                timestamp=item["timestamp"],
                unit_price=item["unit_price"],
                quantity=item["quantity"],
            )
            for item in data["invoice_schedule"]
        ),
        drawn_before=data["drawn_before"],
        seat=group_values(data.get("seat") or {}),
        purchase_tax_amount=data.get("purchase_tax_amount"),
        purchase_tax_name=data.get("purchase_tax_name"),
        access_schedule=tuple(
            AccessSegment(
                id=segment["id"],
                starting_at=segment["starting_at"],
                ending_before=segment["ending_before"],
                amount=segment["amount"],
                available=segment["available"],
            )
            for segment in data["access_schedule"]
        ),
    )


def contract_balances(*, contract: Contract, period: Period) -> tuple[Balance, ...]:
    return tuple(_balance(data) for data in balances_for_rating(contract=contract, period=period))


def _override(model: OverrideModel) -> Override:
    # A multiplier override has no tiers (`TermsPreload` does not read them).
    tiers = list(model.tiers.all()) if model.type != OverrideModel.Type.MULTIPLIER else []
    overwrite = None
    if model.type == OverrideModel.Type.OVERWRITE:
        overwrite = OverwriteRate(
            rate_type=model.overwrite_rate_type or "FLAT",
            price=model.overwrite_price,
            tiers=tuple(
                Tier(price=tier.price, size=tier.size) for tier in tiers if tier.price is not None
            ),
            credit_type_id=(
                str(model.overwrite_credit_type_id) if model.overwrite_credit_type_id else None
            ),
        )
    product_id = str(model.product_id) if model.product_id else None
    tags = tuple(model.applicable_product_tags or ())
    specifiers: tuple[OverrideSpecifier, ...] = ()
    if model.is_specifier:
        specifiers = _specifiers(model, product_id, tags)
        product_id, tags = None, ()
    return Override(
        id=str(model.pk),
        type=model.type,
        starting_at=model.starting_at,
        ending_before=model.ending_before,
        product_id=product_id,
        applicable_product_tags=tags,
        specifiers=specifiers,
        multiplier=model.multiplier,
        overwrite_rate=overwrite,
        tiers=tuple(
            OverrideTier(multiplier=tier.multiplier, size=tier.size)
            for tier in tiers
            if model.type == OverrideModel.Type.TIERED and tier.multiplier is not None
        ),
        entitled=model.entitled,
        priority=model.priority,
        is_commit_specific=model.is_commit_specific,
        target=model.target or None,
    )


def _specifiers(
    model: OverrideModel, product_id: str | None, tags: tuple[str, ...]
) -> tuple[OverrideSpecifier, ...]:
    """The override's one specifier (all its tags), or, when its tags match ANY while group
    values or commits narrow it, one specifier per tag: OR-ed, a product with any of them."""
    common = {
        "product_id": product_id,
        "pricing_group_values": group_values(model.pricing_group_values or None),
        "presentation_group_values": group_values(model.presentation_group_values or None),
        "commit_ids": tuple(str(value) for value in model.commit_ids or ()),
        "billing_frequency": model.billing_frequency or None,
    }
    if model.tags_match == OverrideModel.TagsMatch.ALL or len(tags) < 2:
        return (OverrideSpecifier(**common, product_tags=tags),)
    return tuple(OverrideSpecifier(**common, product_tags=(tag,)) for tag in tags)


def contract_overrides(*, contract: Contract, period: Period) -> tuple[Override, ...]:
    """The contract's live overrides overlapping the period, by start (then creation, id)."""
    queryset = (
        OverrideModel.objects.filter(
            contract=contract, archived_at__isnull=True, starting_at__lt=period.ending_before
        )
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=period.starting_at))
        .prefetch_related("tiers")
        .order_by("starting_at", "created_at", "id")
    )
    return tuple(_override(model) for model in queryset)


def card_conversions(*, rate_card_id) -> tuple[Conversion, ...]:
    return tuple(
        Conversion(
            custom_credit_type_id=str(model.custom_credit_type_id),
            fiat_per_custom=model.fiat_per_custom_credit,
        )
        for model in CreditTypeConversion.objects.filter(rate_card_id=rate_card_id).order_by(
            "custom_credit_type_id"
        )
    )


def custom_units(*, unit_ids: Iterable[str], fiat_id: str) -> tuple[PricingUnit, ...]:
    """The pricing units (other than the invoice's) named by rates, overrides, balances and
    conversions, with their decimal places (the engine rounds their lines with them)."""
    ids = {str(value) for value in unit_ids if value} - {str(fiat_id)}
    if not ids:
        return ()
    return tuple(
        PricingUnit(id=str(unit.pk), name=unit.name, decimal_places=unit.decimal_places)
        for unit in PricingUnitModel.objects.filter(pk__in=ids).order_by("name", "pk")
    )


def terms_input(*, contract: Contract, rating_input: RatingInput) -> dict:
    """The `RatingInput` fields of the contract's terms for the input's period (a few queries).

    `dataclasses.replace(rating_input, **terms_input(...))` gives the input with its terms."""
    period = rating_input.period
    balances = contract_balances(contract=contract, period=period)
    overrides = contract_overrides(contract=contract, period=period)
    fiat_id = rating_input.pricing_unit.id
    unit_ids: list[str | None] = [rate.credit_type_id for rate in rating_input.rates]
    unit_ids += [balance.credit_type_id for balance in balances]
    unit_ids += [o.overwrite_rate.credit_type_id for o in overrides if o.overwrite_rate]
    conversions: tuple[Conversion, ...] = ()
    units: tuple[PricingUnit, ...] = ()
    if {str(value) for value in unit_ids if value} - {str(fiat_id)}:
        # Only a card or terms with a custom unit need its conversion and decimal places.
        conversions = card_conversions(rate_card_id=contract.rate_card_id)
        unit_ids += [conversion.custom_credit_type_id for conversion in conversions]
        units = custom_units(unit_ids=unit_ids, fiat_id=fiat_id)
    return {
        "balances": balances,
        "overrides": overrides,
        "multiplier_override_prioritization": contract.multiplier_override_prioritization,
        "conversions": conversions,
        "custom_units": units,
    }


def _units_input(
    *,
    rating_input: RatingInput,
    balances: tuple[Balance, ...],
    overrides: tuple[Override, ...],
    conversions_of,
    units_of,
) -> tuple[tuple[Conversion, ...], tuple[PricingUnit, ...]]:
    fiat_id = rating_input.pricing_unit.id
    unit_ids: list[str | None] = [rate.credit_type_id for rate in rating_input.rates]
    unit_ids += [balance.credit_type_id for balance in balances]
    unit_ids += [o.overwrite_rate.credit_type_id for o in overrides if o.overwrite_rate]
    if not {str(value) for value in unit_ids if value} - {str(fiat_id)}:
        return (), ()
    # Only a card or terms with a custom unit need its conversion and decimal places.
    conversions = conversions_of()
    unit_ids += [conversion.custom_credit_type_id for conversion in conversions]
    return conversions, units_of(unit_ids, fiat_id)


class TermsPreload:
    """The terms of many contracts (a batch of invoices), so that rating each invoice does not
    query for them: commits and credits (with their segments, schedules and products) and
    overrides (with tiers) of every contract in a fixed handful of queries; conversions and
    custom units read once per rate card / unit set, and only if a custom unit is used.

    What the ledger says is available is NOT preloaded: it is read when an invoice's terms are
    asked for, and only for a contract with balances in the period. Inside `ledger_held` (the
    transaction finalizing a batch) it is read once for every preloaded balance, and the
    entries each invoice makes are added (`ledger_add`) before the next invoice is rated, which
    may be the same contract's next period or a parent after its children."""

    def __init__(
        self,
        contracts: Iterable[Contract],
        span: Period | None = None,
        *,
        commits: bool = True,
        credits: bool = True,
        overrides: bool = True,
    ):
        """`commits`, `credits`, `overrides` False: no contract has any (nothing to read)."""
        contracts = list({c.pk: c for c in contracts}.values())
        self._terms = balance_terms_many(contracts=contracts, commits=commits, credits=credits)
        self._holding = False
        self._ledger: LedgerRows | None = None
        self._overrides: dict = {c.pk: [] for c in contracts}
        self._conversions: dict = {}
        self._units: dict = {}
        if not contracts or not overrides:
            return
        queryset = OverrideModel.objects.filter(
            contract_id__in=[c.pk for c in contracts], archived_at__isnull=True
        )
        if span is not None:
            queryset = queryset.filter(starting_at__lt=span.ending_before).filter(
                Q(ending_before__isnull=True) | Q(ending_before__gt=span.starting_at)
            )
        models = list(queryset.order_by("starting_at", "created_at", "id"))
        prefetch_related_objects(
            [m for m in models if m.type != OverrideModel.Type.MULTIPLIER], "tiers"
        )
        for model in models:
            self._overrides[model.contract_id].append(model)

    @property
    def segments(self) -> dict:
        """{segment id: AccessSegment} of every preloaded commit and credit."""
        return {
            segment.pk: segment
            for terms in self._terms.values()
            for term in terms
            for segment in term.loaded_segments
        }

    @contextmanager
    def ledger_held(self) -> Iterator[None]:
        """Inside: the ledger of every preloaded balance read once (when an invoice first needs
        it), with the entries `ledger_add` gives; outside, each invoice's own read."""
        self._holding, self._ledger = True, None
        try:
            yield
        finally:
            self._holding, self._ledger = False, None

    def ledger_add(self, entries) -> None:
        """Entries written (or to be written) in the holding transaction."""
        if self._holding and entries:
            self._held_ledger().add(entries)

    def _held_ledger(self) -> LedgerRows | None:
        if self._holding and self._ledger is None:
            terms = [term for found in self._terms.values() for term in found]
            self._ledger = ledger_rows(
                segments=self.segments.values(),
                commits=[t.pk for t in terms if t.type == Commit.Type.POSTPAID],
            )
        return self._ledger

    def _card_conversions(self, rate_card_id) -> tuple[Conversion, ...]:
        if rate_card_id not in self._conversions:
            self._conversions[rate_card_id] = card_conversions(rate_card_id=rate_card_id)
        return self._conversions[rate_card_id]

    def _custom_units(self, unit_ids, fiat_id) -> tuple[PricingUnit, ...]:
        key = (frozenset(str(value) for value in unit_ids if value), str(fiat_id))
        if key not in self._units:
            self._units[key] = custom_units(unit_ids=key[0], fiat_id=fiat_id)
        return self._units[key]

    def terms_input(self, *, contract: Contract, rating_input: RatingInput) -> dict:
        """`terms_input(contract=..., rating_input=...)` from the preloaded terms."""
        period = rating_input.period
        if contract.pk not in self._terms:
            return terms_input(contract=contract, rating_input=rating_input)
        balances = tuple(
            _balance(data)
            for data in balances_from_terms(
                contract=contract,
                terms=self._terms[contract.pk],
                period=period,
                ledger=self._held_ledger(),
            )
        )
        overrides = tuple(
            _override(model)
            for model in self._overrides.get(contract.pk, ())
            if model.starting_at < period.ending_before
            and (model.ending_before is None or model.ending_before > period.starting_at)
        )
        conversions, units = _units_input(
            rating_input=rating_input,
            balances=balances,
            overrides=overrides,
            conversions_of=lambda: self._card_conversions(contract.rate_card_id),
            units_of=self._custom_units,
        )
        return {
            "balances": balances,
            "overrides": overrides,
            "multiplier_override_prioritization": contract.multiplier_override_prioritization,
            "conversions": conversions,
            "custom_units": units,
        }


def entitled_by_overrides(pairs: Iterable[tuple], overrides: Iterable[Override]) -> list[tuple]:
    """The (model, product) pairs, without duplicates, that an override with `entitled` set to
    True may target (their usage must be read although the card does not entitle them)."""
    enabling = [o for o in overrides if o.entitled]
    seen: dict[str, tuple] = {}
    for model, product in pairs:
        if product.id not in seen and any(override_may_target(o, product) for o in enabling):
            seen[product.id] = (model, product)
    return list(seen.values())


def split_at(windows: Iterable[Period], cuts: Iterable[datetime]) -> list[Period]:
    """Each window cut at the given moments that fall strictly inside it."""
    cuts = sorted(set(cuts))
    result = []
    for window in windows:
        start = window.starting_at
        for moment in cuts:
            if window.starting_at < moment < window.ending_before:
                result.append(Period(start, moment))
                start = moment
        result.append(Period(start, window.ending_before))
    return result
