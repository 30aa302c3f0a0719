"""Threshold billing, as plain arithmetic (the service reads the balances and the draft, then
buys what these say):

- Prepaid balance auto-recharge: when what is left of the contract's prepaid balances falls below
  `threshold`, a commit brings it back up to `recharge_to` (it buys `recharge_to - left`).
- Spend threshold billing: each time what the current usage invoice asks for reaches
  `threshold`, that much is billed at once as a prepaid commit the usage then draws, so the
  usage invoice asks for it no more. Whole thresholds only: `threshold x floor(owed /
  threshold)`.
- What the commit bought costs on its invoice (`threshold_unit_price`): each unit of it at the
  custom pricing unit's worth in fiat (a configuration in a custom unit, the rate card's
  conversion) times the discount's `payment_fraction` (recharging 100 at 0.8 costs 80).
- A discount's cap (`discount_split`): the discount applies until the cap's spend tracker has
  accumulated the cap in the billing period; a purchase that would take it past the cap is
  bought at the discount up to the cap and at full price for the rest.
- Which balances an auto-recharge watches (`balance_excluded`): Metronome's
  `threshold_balance_specifiers` leave out the balances whose custom fields match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal

from catalog.money import ZERO


def recharge_amount(*, left: Decimal, threshold: Decimal, recharge_to: Decimal) -> Decimal:
    """What an auto-recharge buys now (zero when the balance is at or above the threshold)."""
    if left >= threshold or recharge_to <= left:
        return ZERO
    return recharge_to - left


def spend_threshold_amount(*, owed: Decimal, threshold: Decimal) -> Decimal:
    """What spend threshold billing bills now: the whole thresholds the owed amount holds."""
    if threshold <= 0 or owed < threshold:
        return ZERO
    return threshold * (owed / threshold).to_integral_value(rounding=ROUND_FLOOR)


def threshold_unit_price(
    *, payment_fraction: Decimal | None = None, fiat_per_custom: Decimal | None = None
) -> Decimal | None:
    """What one unit of a threshold commit's amount costs on its invoice, in the invoice's unit
    (unrounded: the commit purchase line rounds): the custom unit's worth in fiat (1 for the
    invoice's own unit) times the discount's payment fraction (1 without a discount). None when
    neither applies: the commit is invoiced at its amount."""
    if payment_fraction is None and fiat_per_custom is None:
        return None
    price = Decimal(1) if fiat_per_custom is None else fiat_per_custom
    return price if payment_fraction is None else price * payment_fraction


def discount_split(*, amount: Decimal, tracked: Decimal, cap: Decimal) -> tuple[Decimal, Decimal]:
    """(discounted part, full-price part) of a threshold purchase of `amount` when the cap's
    tracker already holds `tracked` of `cap`: the discounted part is what is left under the cap
    (none once the tracker reached it), the full-price part the rest. Exact: the two add up to
    `amount`; each is priced and rounded once, on its own invoice line."""
    room = max(cap - tracked, ZERO)
    discounted = min(amount, room)
    return discounted, amount - discounted


# Metronome's entities of a threshold balance specifier's custom field filter.
_ENTITIES = {
    "Commit": frozenset({False}),
    "ContractCredit": frozenset({True}),
    "ContractCreditOrCommit": frozenset({False, True}),
}


def balance_excluded(
    specifiers: Iterable[Mapping], *, is_credit: bool, custom_fields: Mapping[str, str]
) -> bool:
    """Is a commit (or, `is_credit`, a credit) left out of the balance an auto-recharge watches?
    Metronome: "If any of the exclude specifier is met, the balance is not considered"; one is
    met by "balances with all the custom fields" of its filters (each for a Commit, a
    ContractCredit or either)."""
    for specifier in specifiers:
        for exclude in specifier.get("exclude") or ():
            filters = exclude.get("custom_field_filters") or ()
            if filters and all(
                is_credit in _ENTITIES[item["entity"]]
                and custom_fields.get(item["key"]) == item["value"]
                for item in filters
            ):
                return True
    return False
