"""What a read of an hourly SQL metric's window reads and keeps (pure: no database).

A window's result is kept as spans (`SqlMetricHour`): one hour, or a day piece (hours of one UTC
day read together), each with the rows of its events and the events counted in its hours when
they were read. Spans never overlap and never cross a UTC day; an hour no span covers had no
rows when the window was last read.

`read_plan` says what a read reads: every span whose hours' count changed (stale), the hours
with events that no span covers, and, to keep every range whole, the kept spans in the gaps it
fills. Those hours are read in one statement, as one OR of ranges (adjacent ranges joined, at
most `MAX_RANGES`: the smallest gaps between them filled), grouped by hour, or when more than
`HOURLY_SPANS` of them have events by UTC day before the day of their last events
(`hours_from`, the bucket the compiler groups by: `compiler.bind`): a month of a million events
grouped by hour is ~700 hours x the groups for PostgreSQL to hash, about twice a plain read, and
~700 spans to keep; by day about the plain read and ~50 spans (benchmarks/sql_metrics.py). The
last day stays hourly because new events arrive there: each then makes the next read read its
hour. A day piece that goes stale is read again by hour, and becomes hours.

The first read of a window (nothing kept) reads the whole window in one pass and keeps it: the
next read is warm. Exact whatever happens between reads: each span's rows are its own events'
and a read replaces whole spans, so no event is counted twice or left out; the counts are read
before the events, so an event arriving during a read makes its hour's count differ next time
and that hour is read again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)
# A read of more hours with events than this groups them by day before the day of its last.
HOURLY_SPANS = 48
# More separate ranges than this: the smallest gaps between them are read too (whole spans).
MAX_RANGES = 32


@dataclass(frozen=True)
class Span:
    """`hours` consecutive hours from `hour`, within one UTC day."""

    hour: datetime
    hours: int = 1

    @property
    def end(self) -> datetime:
        return self.hour + self.hours * HOUR

    def each_hour(self) -> list[datetime]:
        return [self.hour + index * HOUR for index in range(self.hours)]


@dataclass(frozen=True)
class ReadPlan:
    """What one read reads and keeps: `spans` (hour spans from `hours_from` on, or all of them
    when it is None; day pieces before it), the kept spans it `replaces` (by first hour), and
    `ranges`, the union of the spans inside the window (None: the whole window)."""

    spans: tuple[Span, ...]
    replaces: frozenset[datetime]
    ranges: tuple[tuple[datetime, datetime], ...] | None
    hours_from: datetime | None
    by_bucket: Mapping[datetime, Span] = field(repr=False, compare=False, default_factory=dict)

    def span_of(self, bucket: datetime) -> Span:
        """The span a row's bucket (its hour, or before `hours_from` its day) stands for."""
        return self.by_bucket[bucket]


def _day(hour: datetime) -> datetime:
    return hour.replace(hour=0)


def window_hours(starting_at: datetime, ending_before: datetime) -> list[datetime]:
    """Every hour the window touches."""
    hour = starting_at.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < ending_before:
        hours.append(hour)
        hour += HOUR
    return hours


def read_plan(
    *,
    starting_at: datetime,
    ending_before: datetime,
    counts: Mapping[datetime, int],
    kept: Mapping[datetime, tuple[int, int]] | None,
    hourly_only: bool = False,
) -> ReadPlan:
    """The read that brings the kept spans (`kept`: {first hour: (hours, events counted)}; None:
    nothing kept, the whole window is read) up to `counts` ({hour: events now}). `hourly_only`:
    every span one hour (a quotient counting distinct hours needs each hour's)."""
    owner: dict[datetime, datetime] = {}  # hour -> the first hour of the kept span holding it
    replaced: set[datetime] = set()
    if kept is None:
        region = set(window_hours(starting_at, ending_before))
    else:
        for first, (hours, count) in kept.items():
            span = Span(first, hours)
            owner.update(dict.fromkeys(span.each_hour(), first))
            if sum(counts.get(hour, 0) for hour in span.each_hour()) != count:
                replaced.add(first)
        region = {hour for hour, count in counts.items() if count and hour not in owner}
        for first in replaced:
            region.update(Span(first, kept[first][0]).each_hour())

    def take(hours: Iterable[datetime]) -> None:
        """Read these hours too, and the whole of every kept span they touch."""
        for hour in list(hours):
            first = owner.get(hour)
            if first is not None and first not in replaced:
                replaced.add(first)
                region.update(Span(first, kept[first][0]).each_hour())
            region.add(hour)

    hours_from = None
    with_events = [hour for hour in region if counts.get(hour)]
    if not hourly_only and len(with_events) > HOURLY_SPANS:
        hours_from = _day(max(with_events))
    _fill_days(region, hours_from, take)
    while len(runs := _runs(region)) > MAX_RANGES:
        gaps = [
            _between(runs[index][1] + HOUR, runs[index + 1][0] - HOUR)
            for index in range(len(runs) - 1)
        ]
        gaps.sort(key=lambda gap: sum(counts.get(hour, 0) for hour in gap))
        for gap in gaps[: len(runs) - MAX_RANGES]:
            take(gap)
        _fill_days(region, hours_from, take)
    return _plan(region, replaced, hours_from, starting_at, ending_before, whole=kept is None)


def _between(low: datetime, high: datetime) -> list[datetime]:
    """The hours from `low` up to `high`, both included."""
    hours = []
    while low <= high:
        hours.append(low)
        low += HOUR
    return hours


def _runs(hours: set[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours as (first, last) pairs."""
    runs: list[list[datetime]] = []
    for hour in sorted(hours):
        if runs and runs[-1][1] + HOUR == hour:
            runs[-1][1] = hour
        else:
            runs.append([hour, hour])
    return [(first, last) for first, last in runs]


def _fill_days(region: set[datetime], hours_from, take) -> None:
    """Before `hours_from`, a day's hours in the region become one piece: the hours between
    them are read too (and the kept spans there), until no piece touches a span left kept."""
    if hours_from is None:
        return
    while True:
        days: dict[datetime, list[datetime]] = {}
        for hour in region:
            if hour < hours_from:
                days.setdefault(_day(hour), []).append(hour)
        missing = [
            hour
            for hours in days.values()
            for hour in _between(min(hours), max(hours))
            if hour not in region
        ]
        if not missing:
            return
        take(missing)


def _plan(region, replaced, hours_from, starting_at, ending_before, *, whole: bool) -> ReadPlan:
    spans: list[Span] = []
    by_bucket: dict[datetime, Span] = {}
    days: dict[datetime, list[datetime]] = {}
    for hour in sorted(region):
        if hours_from is not None and hour < hours_from:
            days.setdefault(_day(hour), []).append(hour)
        else:
            span = Span(hour)
            spans.append(span)
            by_bucket[hour] = span
    for day, hours in days.items():
        span = Span(hours[0], len(hours))
        spans.append(span)
        by_bucket[day] = span
    spans.sort(key=lambda span: span.hour)
    ranges: list[list[datetime]] = []
    for span in spans:
        low, high = max(span.hour, starting_at), min(span.end, ending_before)
        if ranges and ranges[-1][1] >= low:
            ranges[-1][1] = high
        else:
            ranges.append([low, high])
    union = tuple((low, high) for low, high in ranges)
    return ReadPlan(
        spans=tuple(spans),
        replaces=frozenset(replaced),
        ranges=None if whole or union == ((starting_at, ending_before),) else union,
        hours_from=hours_from,
        by_bucket=by_bucket,
    )
