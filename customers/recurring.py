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
  amount apart; `catalog.money.round_prorated`); NONE charges the full amount. The rounding is
  of the whole amount (`Pricing.amounts`: the quantity or seats times the unit amount, times
  the share), never of a unit's share then multiplied.
- Seats (a term attached to a SEAT_BASED or QUANTITY_ONLY subscription): `pooled_grants` and
  `individual_grants` say what one period's balance grants for the seats over the period: the
  seats at its start, then the seats added inside it (Metronome's `apply_seat_increase_config`:
  prorated to the part of the period left, or in full). Seats removed take nothing back.

Also the dated items a `recurring_schedule` (Metronome's shape on a commit's invoice schedule, a
scheduled charge's or a discount's schedule) stands for: `schedule_items_from_recurrence`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

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
    """One period's balance: usable from `starting_at` (the period's start, cut by the term's)
    until `ending_before`; `fraction` is the share of the full period [period_start, period_end)
    the window [starting_at, window_end) prorates it to (1 when not prorated); the amounts are
    those the occurrence was asked for, prorated."""

    period_start: datetime
    starting_at: datetime
    ending_before: datetime
    fraction: Fraction
    amount: Decimal
    invoice_amount: Decimal | None
    period_end: datetime
    window_end: datetime


@dataclass(frozen=True)
class Rounding:
    """A `proration_rounding` entry: how a prorated amount is rounded in the stored unit."""

    decimal_places: int
    method: str  # HALF_UP, FLOOR or CEILING


def prorated(
    amount: Decimal, fraction: Fraction, *, decimal_places: int, rounding: Rounding | None
) -> Decimal:
    """`amount` times the period's `fraction` (exact: microseconds over microseconds, multiplied
    before divided, so 30000 for 10 of 30 days is 10000, not 9999.99...), rounded once: as
    `rounding` says, else half up to the unit's smallest amount (`decimal_places`)."""
    with full_precision():
        exact = amount * fraction.numerator / fraction.denominator
    if rounding is None:
        return round_amount(exact, decimal_places)
    return round_prorated(exact, rounding.decimal_places, rounding.method)


@dataclass(frozen=True)
class Pricing:
    """A recurring term's amounts for one unit of its quantity (one seat with a subscription) and
    how a prorated amount is rounded (`proration_rounding`: access and invoice apart)."""

    amount: Decimal
    invoice_amount: Decimal | None
    decimal_places: int
    access_rounding: Rounding | None = None
    invoice_rounding: Rounding | None = None

    def amounts(
        self,
        fraction: Fraction,
        *,
        units: Decimal = Decimal(1),
        invoice_units: Decimal | None = None,
    ) -> tuple[Decimal, Decimal | None]:
        """`units` times the amount and `invoice_units` (else `units`) times the invoice amount,
        each times `fraction` and rounded once, as a whole: by the term's rounding when prorated
        (a fraction below 1), else half up to the unit's smallest amount."""
        with full_precision():
            access = self.amount * units
            invoice = (
                None
                if self.invoice_amount is None
                else self.invoice_amount * (units if invoice_units is None else invoice_units)
            )
        prorate = fraction != 1
        value = prorated(
            access,
            fraction,
            decimal_places=self.decimal_places,
            rounding=self.access_rounding if prorate else None,
        )
        invoiced = (
            None
            if invoice is None
            else prorated(
                invoice,
                fraction,
                decimal_places=self.decimal_places,
                rounding=self.invoice_rounding if prorate else None,
            )
        )
        return value, invoiced


def _share(part: timedelta, whole: timedelta) -> Fraction:
    """`part` of `whole`, exactly (in microseconds)."""
    return Fraction(part // timedelta(microseconds=1), whole // timedelta(microseconds=1))


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
    pricing = Pricing(amount, invoice_amount, decimal_places, access_rounding, invoice_rounding)
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
        fraction = Fraction(1)
        if prorate:
            fraction = _share(
                window.ending_before - window.starting_at, full.ending_before - full.starting_at
            )
        value, invoiced = pricing.amounts(fraction)
        if window.starting_at < access_end:
            found.append(
                Occurrence(
                    period_start=full.starting_at,
                    starting_at=window.starting_at,
                    ending_before=access_end,
                    fraction=fraction,
                    amount=value,
                    invoice_amount=invoiced,
                    period_end=full.ending_before,
                    window_end=window.ending_before,
                )
            )
    return found


# --- Seats --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatCount:
    """A subscription's seats from `starting_at` until the next count: how many, and (SEAT_BASED)
    the seat ids assigned."""

    starting_at: datetime
    quantity: Decimal
    seat_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """What one period's balance is granted for `seats` from `starting_at`: an `amount` usable
    until the balance's end and, for a commit, an `invoice_amount` charged for it. `increase`:
    seats added after the period's start (or after the balance was made), prorated by
    `fraction` of the period."""

    starting_at: datetime
    seats: Decimal | None  # None: a term without a subscription
    fraction: Fraction
    amount: Decimal
    invoice_amount: Decimal | None
    increase: bool


def seat_grant(
    occurrence: Occurrence,
    pricing: Pricing,
    *,
    seats: Decimal,
    starting_at: datetime | None = None,
    prorate_increase: bool = True,
) -> Grant:
    """`seats` granted from `starting_at` (the occurrence's start when not given) inside its
    period. From the start: what the occurrence gives a seat (its own proration). Added later:
    prorated, the part of the period left from then (to the period's end, or the term's when it
    ends first, over the whole period's length); not prorated, what a seat there from the start
    gets."""
    moment = occurrence.starting_at if starting_at is None else starting_at
    fraction = occurrence.fraction
    if moment > occurrence.starting_at and prorate_increase:
        fraction = _share(
            occurrence.window_end - moment, occurrence.period_end - occurrence.period_start
        )
    amount, invoice = pricing.amounts(fraction, units=seats)
    return Grant(
        starting_at=moment,
        seats=seats,
        fraction=fraction,
        amount=amount,
        invoice_amount=invoice,
        increase=starting_at is not None,
    )


def _counts_in(
    occurrence: Occurrence, counts: Sequence[SeatCount], not_before: datetime | None
) -> list[tuple[datetime, SeatCount]]:
    """(when it applies, count) through the occurrence's period: the count in effect at its start,
    then each later one before the window's end (and the balance's), never before `not_before`
    (an increase dated earlier counts from then); counts are in order of their start."""
    start = occurrence.starting_at
    end = min(occurrence.window_end, occurrence.ending_before)
    floor = start if not_before is None else max(start, not_before)
    found: list[tuple[datetime, SeatCount]] = []
    for count in counts:
        moment = max(count.starting_at, floor)
        if moment >= end:
            break
        if found and found[-1][0] == moment:
            found[-1] = (moment, count)
        else:
            found.append((moment, count))
    return found


def _at_start(occurrence: Occurrence, counts: Sequence[SeatCount]) -> SeatCount | None:
    """The count in effect at the occurrence's start (None before the subscription starts)."""
    first = _counts_in(occurrence, counts, None)[:1]
    return first[0][1] if first and first[0][0] == occurrence.starting_at else None


def pooled_grants(
    occurrence: Occurrence,
    counts: Sequence[SeatCount],
    pricing: Pricing,
    *,
    prorate_increases: bool,
    covered: Decimal | None = None,
    not_before: datetime | None = None,
) -> list[Grant]:
    """A POOLED balance's grants for the occurrence's period. Made now (`covered` None): the seats
    at the period's start, then each rise of the seat count above every count before it in the
    period, for the seats above. Made already for `covered` seats: only the rises above those
    (an increase dated at the period's start after it was made counts from the start). A fall
    takes nothing back: a later rise back up to the seats covered adds nothing."""
    grants = []
    if covered is None:
        start = _at_start(occurrence, counts)
        covered = start.quantity if start else Decimal(0)
        grants.append(seat_grant(occurrence, pricing, seats=covered))
    for moment, count in _counts_in(occurrence, counts, not_before):
        if count.quantity > covered:
            grants.append(
                seat_grant(
                    occurrence,
                    pricing,
                    seats=count.quantity - covered,
                    starting_at=moment,
                    prorate_increase=prorate_increases,
                )
            )
            covered = count.quantity
    return grants


def individual_grants(
    occurrence: Occurrence,
    counts: Sequence[SeatCount],
    pricing: Pricing,
    *,
    prorate_increases: bool,
    not_before: datetime | None = None,
) -> dict[str, Grant]:
    """An INDIVIDUAL term's grants for the occurrence's period, one balance per seat id assigned
    at some time in it, from the first time it is: a seat there at the start gets the period's
    amount, one assigned later its increase (dated no earlier than `not_before`). A seat
    removed keeps what it was granted."""
    start = _at_start(occurrence, counts)
    first = {seat: occurrence.starting_at for seat in (start.seat_ids if start else ())}
    for moment, count in _counts_in(occurrence, counts, not_before):
        for seat in count.seat_ids:
            first.setdefault(seat, moment)
    return {
        seat: seat_grant(
            occurrence,
            pricing,
            seats=Decimal(1),
            starting_at=None if moment == occurrence.starting_at else moment,
            prorate_increase=prorate_increases,
        )
        for seat, moment in first.items()
    }


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
