"""What a spend tracker counts, as plain arithmetic (no Django): each commit purchase of the
period is one or two `Spend`s (a threshold purchase whose discount hit its cap is a discounted
part and a full-price part), and a tracker sums those any of its specifiers applies to.

Metronome's `applicable_spend_specifiers`: `sources` THRESHOLD_RECHARGE (bought by threshold
billing) or MANUAL (commits given on the contract), `spend_type` COMMIT_PURCHASE (the only one),
`discounted` ANY (the default), DISCOUNTED_ONLY ("If true, this commit is included in spend
trackers with discounted set to DISCOUNTED_ONLY": a manual commit's `counts_as_discounted`; a
threshold purchase's discounted part) or UNDISCOUNTED_ONLY (everything else). A purchase counts
its amount (the commit bought, in its pricing unit) once, however many specifiers apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

THRESHOLD_RECHARGE = "THRESHOLD_RECHARGE"
MANUAL = "MANUAL"


@dataclass(frozen=True)
class Spend:
    """One commit purchase (or one part of it) a tracker may count."""

    source: str
    discounted: bool
    amount: Decimal


def applies(specifier: Mapping, spend: Spend) -> bool:
    if spend.source not in (specifier.get("sources") or ()):
        return False
    if specifier.get("spend_type", "COMMIT_PURCHASE") != "COMMIT_PURCHASE":
        return False
    discounted = specifier.get("discounted") or "ANY"
    return discounted == "ANY" or (discounted == "DISCOUNTED_ONLY") == spend.discounted


def tracked(specifiers: Iterable[Mapping], spends: Iterable[Spend]) -> Decimal:
    """What a tracker with these specifiers has accumulated from these purchases."""
    specifiers = list(specifiers)
    return sum(
        (spend.amount for spend in spends if any(applies(s, spend) for s in specifiers)),
        Decimal(0),
    )


def threshold_spends(*, amount: Decimal, discounted_amount: Decimal | None) -> list[Spend]:
    """A threshold purchase of `amount`, `discounted_amount` of it bought at its discount."""
    discounted = discounted_amount or Decimal(0)
    return [
        Spend(THRESHOLD_RECHARGE, True, discounted),
        Spend(THRESHOLD_RECHARGE, False, amount - discounted),
    ]
