"""Threshold billing, as plain arithmetic (the service reads the balances and the draft, then
buys what these say):

- Prepaid balance auto-recharge: when what is left of the contract's prepaid balances falls below
  `threshold`, a commit brings it back up to `recharge_to` (it buys `recharge_to - left`).
- Spend threshold billing: each time what the current usage invoice asks for reaches
  `threshold`, that much is billed at once as a prepaid commit the usage then draws, so the
  usage invoice asks for it no more. Whole thresholds only: `threshold x floor(owed /
  threshold)`.
"""

from __future__ import annotations

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
