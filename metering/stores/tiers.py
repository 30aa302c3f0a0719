"""The aggregate tiers both stores keep beside the hourly pre-aggregates: the same numbers per whole
UTC day and calendar month, and which of them a read of a window adds up (`cover`): for each
segment the months it covers whole, then the days, then the hours at its edges. Plain Python, no
Django (the ClickHouse store's SQL is built from it too).

COUNT, SUM, MAX and LATEST roll up exactly from hours to days to months (add, add, maximum, latest
by (timestamp, transaction id)); UNIQUE does not (distinct values over a month are not a function
of its days' counts) and always reads the hourly distinct values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

# Coarsest first: a segment takes the months it covers whole, then the days, then hours.
GRAINS = ("month", "day")

Range = tuple[datetime, datetime]


def period_start(grain: str, moment: datetime) -> datetime:
    """The start of the UTC day or calendar month holding `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if grain == "month" else day


def period_after(grain: str, start: datetime) -> datetime:
    """The start of the period after the one starting at `start`."""
    if grain == "day":
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_ceiling(grain: str, moment: datetime) -> datetime:
    start = period_start(grain, moment)
    return start if start == moment else period_after(grain, start)


@dataclass(slots=True)
class Cover:
    """Which rows a read of hour-aligned `bounds` adds up: hourly rows in `hours`, rollup rows of
    each grain whose period starts in that grain's `periods` (ranges merged where they touch)."""

    hours: list[Range] = field(default_factory=list)
    periods: dict[str, list[Range]] = field(default_factory=dict)


def cover(bounds: Sequence[datetime], grains: Sequence[str] = GRAINS) -> Cover:
    """The coarsest rows that fit whole inside each segment [b0, b1), [b1, b2), ... of `bounds`
    (a period crossing a segment boundary is read as its finer parts)."""
    found = Cover()
    for start, end in pairwise(bounds):
        for grain, piece_start, piece_end in _split(start, end, tuple(grains)):
            ranges = found.hours if grain is None else found.periods.setdefault(grain, [])
            if ranges and ranges[-1][1] == piece_start:
                ranges[-1] = (ranges[-1][0], piece_end)
            else:
                ranges.append((piece_start, piece_end))
    return found


def _split(start: datetime, end: datetime, grains: tuple[str, ...]):
    if start >= end:
        return []
    if not grains:
        return [(None, start, end)]
    grain, finer = grains[0], grains[1:]
    whole_start, whole_end = period_ceiling(grain, start), period_start(grain, end)
    if whole_start >= whole_end:
        return _split(start, end, finer)
    return [
        *_split(start, whole_start, finer),
        (grain, whole_start, whole_end),
        *_split(whole_end, end, finer),
    ]


def ranges_sql(column: str, ranges, bound: Callable[[datetime], str], floor: str = "") -> str:
    """SQL of `column` inside any of the [start, end) `ranges` (none: no row), each moment
    written by `bound` (a literal or a bound parameter); with `floor` (an SQL expression) each
    range starts no earlier than it. Both stores' reads of a `cover` are built with it."""
    found = []
    for start, end in ranges:
        low = bound(start)
        if floor:
            low = f"GREATEST({low}, {floor})"
        found.append(f"({column} >= {low} AND {column} < {bound(end)})")
    return " OR ".join(found) or "1 = 0"
