"""Billing periods of a contract's usage statement schedule (a term of the contract), in UTC. Pure
functions.

A schedule has a frequency (MONTHLY, QUARTERLY, ANNUAL: 1, 3 or 12 months; WEEKLY: 7 days; DAILY,
which only recurring commits and credits use: 1 day) and an anchor:
- FIRST_OF_MONTH: months are counted from midnight UTC on the first of the contract's starting
  month (so monthly periods are calendar months, quarterly ones run three months from that first);
  weekly periods are ISO weeks (Monday 00:00 UTC), the calendar alignment a week has; daily
  periods are UTC days.
- CUSTOM_DATE: periods are counted from `billing_anchor_date` (before or after the contract's
  start) as CONTRACT_START counts them from the start: monthly on the anchor's day of the month,
  clamped to the month's length (an anchor on 31 January: ... 30 April, 31 May, 30 June ...).
- CONTRACT_START: periods are counted from the contract's start itself. The k-th boundary is always
  computed from the anchor (anchor + k months, the day clamped to the month's length), so a contract
  starting on 31 January has periods ending 29 February (leap year), 31 March, 30 April, 31 May...

The schedule's period (`full`) is cut by the contract's `starting_at` / `ending_before` into the
billing period (`period`); `full` stays the denominator of subscription proration.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "ANNUAL": 12}
# Frequencies of a fixed length.
FIXED = {"WEEKLY": timedelta(days=7), "DAILY": timedelta(days=1)}


@dataclass(frozen=True)
class Period:
    """A half-open window [starting_at, ending_before). (Invoicing hands the engine its own
    `invoicing.rating.Period` with the same two instants.)"""

    starting_at: datetime
    ending_before: datetime

    def contains(self, moment: datetime) -> bool:
        return self.starting_at <= moment < self.ending_before


@dataclass(frozen=True)
class Schedule:
    """A contract's usage statement schedule and its dates, everything the periods depend on."""

    frequency: str
    day: str
    contract_starting_at: datetime
    contract_ending_before: datetime | None = None
    billing_anchor_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.frequency not in (*MONTHS, *FIXED):
            raise ValueError(f"unknown usage statement frequency {self.frequency!r}")
        if self.day not in ("FIRST_OF_MONTH", "CONTRACT_START", "CUSTOM_DATE"):
            raise ValueError(f"unknown usage statement day {self.day!r}")
        if (self.day == "CUSTOM_DATE") != (self.billing_anchor_date is not None):
            raise ValueError("a CUSTOM_DATE schedule, and only it, has a billing anchor date")
        moments = (self.contract_starting_at, self.contract_ending_before, self.billing_anchor_date)
        for moment in moments:
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("schedule dates must be aware datetimes")


@dataclass(frozen=True)
class BillingPeriod:
    """A billing period (`period`, cut by the contract) inside its schedule period (`full`)."""

    period: Period
    full: Period

    @property
    def starting_at(self) -> datetime:
        return self.period.starting_at

    @property
    def ending_before(self) -> datetime:
        return self.period.ending_before


def schedule_for(contract) -> Schedule:
    """The schedule of a contract model (anything with those attributes; the billing anchor
    date only matters with CUSTOM_DATE)."""
    return Schedule(
        frequency=contract.usage_statement_frequency,
        day=contract.usage_statement_day,
        contract_starting_at=contract.starting_at,
        contract_ending_before=contract.ending_before,
        billing_anchor_date=getattr(contract, "billing_anchor_date", None),
    )


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole months, the day clamped to the target month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def floor_hour(moment: datetime) -> datetime:
    """`moment` (UTC) cut to the whole hour."""
    return _utc(moment).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """`moment` (UTC) if on the hour, else the next whole hour."""
    floor = floor_hour(moment)
    return floor if floor == _utc(moment) else floor + timedelta(hours=1)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _anchor(schedule: Schedule) -> datetime:
    start = _utc(schedule.contract_starting_at)
    if schedule.day == "CUSTOM_DATE":
        return _utc(schedule.billing_anchor_date)
    if schedule.day == "CONTRACT_START":
        return start
    if schedule.frequency in FIXED:
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if schedule.frequency == "DAILY":
            return midnight
        return midnight - timedelta(days=midnight.weekday())
    return start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _boundary(schedule: Schedule, anchor: datetime, index: int) -> datetime:
    if schedule.frequency in FIXED:
        return anchor + index * FIXED[schedule.frequency]
    return add_months(anchor, index * MONTHS[schedule.frequency])


def _index_containing(schedule: Schedule, anchor: datetime, moment: datetime) -> int:
    """The k with boundary(k) <= moment < boundary(k + 1)."""
    if schedule.frequency in FIXED:
        return (moment - anchor) // FIXED[schedule.frequency]
    step = MONTHS[schedule.frequency]
    index = ((moment.year - anchor.year) * 12 + moment.month - anchor.month) // step
    while _boundary(schedule, anchor, index) > moment:
        index -= 1
    while _boundary(schedule, anchor, index + 1) <= moment:
        index += 1
    return index


def full_period_containing(schedule: Schedule, moment: datetime) -> Period:
    """The schedule's (uncut) period containing `moment`."""
    moment = _utc(moment)
    anchor = _anchor(schedule)
    index = _index_containing(schedule, anchor, moment)
    return Period(_boundary(schedule, anchor, index), _boundary(schedule, anchor, index + 1))


def _cut(schedule: Schedule, full: Period) -> BillingPeriod | None:
    start = max(full.starting_at, _utc(schedule.contract_starting_at))
    end = full.ending_before
    if schedule.contract_ending_before is not None:
        end = min(end, _utc(schedule.contract_ending_before))
    if start >= end:
        return None
    return BillingPeriod(period=Period(start, end), full=full)


def period_containing(schedule: Schedule, moment: datetime) -> BillingPeriod | None:
    """The billing period containing `moment`, or None outside the contract's dates."""
    if _utc(moment) < _utc(schedule.contract_starting_at):
        return None
    if schedule.contract_ending_before is not None and moment >= schedule.contract_ending_before:
        return None
    return _cut(schedule, full_period_containing(schedule, moment))


def first_period(schedule: Schedule) -> BillingPeriod:
    period = period_containing(schedule, schedule.contract_starting_at)
    assert period is not None  # the contract's start is always inside it
    return period


def next_period(schedule: Schedule, current: BillingPeriod) -> BillingPeriod | None:
    """The billing period after `current`, or None when the contract has ended."""
    return period_containing(schedule, current.full.ending_before)


def periods_between(schedule: Schedule, starting_at: datetime, ending_before: datetime):
    """Every billing period overlapping [starting_at, ending_before), in order."""
    current = period_containing(schedule, max(starting_at, schedule.contract_starting_at))
    while current is not None and current.starting_at < ending_before:
        yield current
        current = next_period(schedule, current)


def aligned(child: Schedule, parent: Schedule, *, count: int = 24) -> bool:
    """Whether `child`'s schedule periods are `parent`'s (the same frequency and boundaries), over
    the child's first `count` periods (past a few years, two schedules of one frequency that
    agreed that long always do): an account hierarchy consolidates a child's statement of a
    period into its parent's invoice of the same period."""
    if child.frequency != parent.frequency:
        return False
    full = full_period_containing(child, child.contract_starting_at)
    for _ in range(count):
        if full_period_containing(parent, full.starting_at) != full:
            return False
        ending = child.contract_ending_before
        if ending is not None and full.ending_before >= _utc(ending):
            break
        full = full_period_containing(child, full.ending_before)
    return True
