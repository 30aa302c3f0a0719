"""When and how much a recurring commit or credit makes: one occurrence per recurrence period
(pure: dates and Decimals in, `Occurrence`s out; the service saves them as commits or credits).

- Periods: the contract's usage statement periods, or, with a `recurrence_frequency`, periods of
  that frequency anchored on the recurring term's own start; in both cases cut to
  [starting_at, ending_before).
- Access: each occurrence is usable from its period's (cut) start until `duration` periods after
  its period's (uncut) start, never past `access_limit` (the contract's end).
- Proration: a period cut by the start (FIRST) or the end (LAST) makes an occurrence whose amount
  is the full amount times the cut window's share of the full period, to the microsecond,
  rounded half up once to the unit's smallest amount, or as the term's `proration_rounding`
  says (`Rounding`: places and HALF_UP / FLOOR / CEILING, for the access amount and the invoice
  amount apart; `catalog.money.round_prorated`); NONE charges the full amount.

Also the dated items a `recurring_schedule` (Metronome's shape on a commit's invoice schedule, a
scheduled charge's or a discount's schedule) stands for: `schedule_items_from_recurrence`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from catalog.money import (
    DECIMAL_PLACES,
    divide_amount,
    full_precision,
    round_amount,
    round_prorated,
)

from . import periods


@dataclass(frozen=True)
class Occurrence:
    period_start: datetime
    starting_at: datetime
    ending_before: datetime
    fraction: Decimal
    amount: Decimal
    invoice_amount: Decimal | None


@dataclass(frozen=True)
class Rounding:
    """A `proration_rounding` entry: how a prorated amount is rounded in the stored unit."""

    decimal_places: int
    method: str  # HALF_UP, FLOOR or CEILING


def prorated(
    amount: Decimal, fraction: Decimal, *, decimal_places: int, rounding: Rounding | None
) -> Decimal:
    """`amount` times the period's `fraction`, rounded once: as `rounding` says, else half up to
    the unit's smallest amount (`decimal_places`)."""
    with full_precision():
        exact = amount * fraction
    if rounding is None:
        return round_amount(exact, decimal_places)
    return round_prorated(exact, rounding.decimal_places, rounding.method)


def _micros(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1))


def recurrence_periods(
    *,
    schedule: periods.Schedule,
    starting_at: datetime,
    ending_before: datetime | None,
    until: datetime,
) -> Iterator[periods.BillingPeriod]:
    """The schedule's periods overlapping [starting_at, ending_before), cut to it, starting before
    `until` (how far ahead to make them)."""
    end = until if ending_before is None else min(until, ending_before)
    full = periods.full_period_containing(schedule, starting_at)
    while full.starting_at < end:
        cut_start = max(full.starting_at, starting_at)
        cut_end = (
            full.ending_before if ending_before is None else min(full.ending_before, ending_before)
        )
        if cut_start < cut_end:
            yield periods.BillingPeriod(period=periods.Period(cut_start, cut_end), full=full)
        full = periods.full_period_containing(schedule, full.ending_before)


def occurrences(
    *,
    schedule: periods.Schedule,
    starting_at: datetime,
    ending_before: datetime | None,
    until: datetime,
    amount: Decimal,
    invoice_amount: Decimal | None,
    duration_periods: int,
    proration: str,
    decimal_places: int,
    access_limit: datetime | None = None,
    access_rounding: Rounding | None = None,
    invoice_rounding: Rounding | None = None,
) -> list[Occurrence]:
    """Every occurrence of a recurring commit or credit whose period starts before `until`; a
    prorated one's amounts rounded by `access_rounding` and `invoice_rounding` when given."""
    found = []
    for billing in recurrence_periods(
        schedule=schedule, starting_at=starting_at, ending_before=ending_before, until=until
    ):
        full, window = billing.full, billing.period
        access_end = full.starting_at
        for _ in range(duration_periods):
            access_end = periods.full_period_containing(schedule, access_end).ending_before
        if access_limit is not None:
            access_end = min(access_end, access_limit)
        first_cut = window.starting_at > full.starting_at
        last_cut = window.ending_before < full.ending_before
        prorate = (first_cut and proration in ("FIRST", "FIRST_AND_LAST")) or (
            last_cut and proration in ("LAST", "FIRST_AND_LAST")
        )
        fraction = Decimal(1)
        if prorate:
            with full_precision():
                fraction = _micros(window.ending_before - window.starting_at) / _micros(
                    full.ending_before - full.starting_at
                )
        value = prorated(
            amount,
            fraction,
            decimal_places=decimal_places,
            rounding=access_rounding if prorate else None,
        )
        invoiced = (
            None
            if invoice_amount is None
            else prorated(
                invoice_amount,
                fraction,
                decimal_places=decimal_places,
                rounding=invoice_rounding if prorate else None,
            )
        )
        if window.starting_at < access_end:
            found.append(
                Occurrence(
                    period_start=full.starting_at,
                    starting_at=window.starting_at,
                    ending_before=access_end,
                    fraction=fraction,
                    amount=value,
                    invoice_amount=invoiced,
                )
            )
    return found


# A recurring_schedule's frequencies, in months.
RECURRENCE_MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "SEMI_ANNUAL": 6, "ANNUAL": 12}


@dataclass(frozen=True)
class ScheduledItem:
    """One dated item of a schedule: an amount, or a unit price and a quantity."""

    timestamp: datetime
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None


def schedule_items_from_recurrence(
    *,
    amount_distribution: str,
    starting_at: datetime,
    ending_before: datetime,
    frequency: str,
    amount: Decimal | None = None,
    unit_price: Decimal | None = None,
    quantity: Decimal | None = None,
    decimal_places: int,
) -> list[ScheduledItem]:
    """Metronome's `recurring_schedule` as dated items: one on `starting_at` and one every
    `frequency` after it (counted from `starting_at`, the day clamped to the month's length: a
    schedule starting 31 January has items on 29 February, 31 March, ...) before `ending_before`.

    - EACH: every item is the whole amount (or the unit price times the quantity).
    - DIVIDED: the amount (the unit price times the quantity) shared equally, exact to storage
      precision; DIVIDED_ROUNDED: shared in amounts of the unit's smallest amount
      (`decimal_places`). In both the last item takes what rounding left, so the items always
      sum to the amount exactly (1,000.00 in three: 333.33, 333.33, 333.34).
    """
    step = RECURRENCE_MONTHS[frequency]
    dates = []
    while (moment := periods.add_months(starting_at, step * len(dates))) < ending_before:
        dates.append(moment)
    if amount_distribution == "EACH":
        return [ScheduledItem(d, amount, unit_price, quantity) for d in dates]
    with full_precision():
        total = amount if amount is not None else unit_price * quantity
    places = decimal_places if amount_distribution == "DIVIDED_ROUNDED" else DECIMAL_PLACES
    shares = divide_amount(total, len(dates), places) if dates else []
    return [ScheduledItem(d, share) for d, share in zip(dates, shares, strict=True)]
