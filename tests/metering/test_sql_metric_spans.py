"""What a read of an hourly SQL metric's window reads and keeps (`metering.sql_metrics.spans`):
pure, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from metering.sql_metrics import spans
from metering.sql_metrics.spans import Span, read_plan

MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def _every_hour(first: datetime, last: datetime, count: int = 10) -> dict:
    hours, hour = {}, first
    while hour <= last:
        hours[hour] = count
        hour += H
    return hours


def test_a_first_read_of_few_hours_reads_the_window_by_hour():
    counts = {MAR + 5 * H: 2, MAR + D + 9 * H: 1}
    plan = read_plan(starting_at=MAR, ending_before=APR, counts=counts, kept=None)
    assert plan.ranges is None  # the whole window, in one statement
    assert plan.hours_from is None
    assert plan.replaces == frozenset()
    assert len(plan.spans) == 744  # every hour (the caller keeps those with events or rows)
    assert plan.span_of(MAR + 5 * H) == Span(MAR + 5 * H)


def test_a_first_read_of_many_hours_reads_days_before_the_last_days_hours():
    """Events in every hour until Mar 5 09:00: Mar 1-4 by day, Mar 5 (and on) by hour."""
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    plan = read_plan(starting_at=MAR, ending_before=APR, counts=counts, kept=None)
    assert plan.ranges is None
    assert plan.hours_from == MAR + 4 * D
    days = [span for span in plan.spans if span.hours > 1]
    assert days == [Span(MAR + day * D, 24) for day in range(4)]
    assert plan.span_of(MAR + 2 * D) == Span(MAR + 2 * D, 24)  # a day bucket
    assert plan.span_of(MAR + 4 * D + 7 * H) == Span(MAR + 4 * D + 7 * H)
    assert len(plan.spans) == 4 + 27 * 24  # Mar 5 to Mar 31, hour by hour


def test_a_window_starting_inside_a_day_has_its_first_piece_from_its_first_hour():
    start = MAR + 9 * H + timedelta(minutes=30)
    counts = _every_hour(MAR + 9 * H, MAR + 3 * D)
    plan = read_plan(starting_at=start, ending_before=APR, counts=counts, kept=None)
    assert plan.spans[0] == Span(MAR + 9 * H, 15)
    assert plan.span_of(MAR) == Span(MAR + 9 * H, 15)


def _kept(plan, counts) -> dict:
    return {
        span.hour: (span.hours, sum(counts.get(h, 0) for h in span.each_hour()))
        for span in plan.spans
        if sum(counts.get(h, 0) for h in span.each_hour())
    }


def test_nothing_changed_nothing_read():
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    first = read_plan(starting_at=MAR, ending_before=APR, counts=counts, kept=None)
    again = read_plan(starting_at=MAR, ending_before=APR, counts=counts, kept=_kept(first, counts))
    assert again.spans == ()
    assert again.replaces == frozenset()


def test_an_event_in_the_last_day_reads_its_hour():
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    kept = _kept(read_plan(starting_at=MAR, ending_before=APR, counts=counts, kept=None), counts)
    hour = MAR + 4 * D + 9 * H
    plan = read_plan(starting_at=MAR, ending_before=APR, counts={**counts, hour: 11}, kept=kept)
    assert plan.spans == (Span(hour),)
    assert plan.replaces == {hour}
    assert plan.ranges == ((hour, hour + H),)
    # A new hour, which no span covers.
    plan = read_plan(starting_at=MAR, ending_before=APR, counts={**counts, hour + H: 1}, kept=kept)
    assert plan.spans == (Span(hour + H),)
    assert plan.replaces == frozenset()


def test_a_late_event_into_a_day_piece_reads_that_day_again_by_hour():
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    kept = _kept(read_plan(starting_at=MAR, ending_before=APR, counts=counts, kept=None), counts)
    late = MAR + 2 * D + 13 * H
    plan = read_plan(starting_at=MAR, ending_before=APR, counts={**counts, late: 11}, kept=kept)
    assert plan.replaces == {MAR + 2 * D}
    assert plan.hours_from is None  # 24 hours: by hour
    assert plan.spans == tuple(Span(MAR + 2 * D + h * H) for h in range(24))
    assert plan.ranges == ((MAR + 2 * D, MAR + 3 * D),)


def test_many_stale_hours_in_a_day_are_read_as_one_piece_with_the_kept_hours_between():
    """Hours kept one by one (Mar 2 was read again by hour), then late events into 60 hours
    of Mar 2 to Mar 4 (more than HOURLY_SPANS): Mar 2's stale hours 03:00 and 20:00 become one
    piece 03:00-21:00, which replaces the kept hours between them too."""
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    kept = {hour: (1, count) for hour, count in counts.items()}
    later = dict(counts)
    stale = [MAR + D + 3 * H, MAR + D + 20 * H] + [MAR + 2 * D + h * H for h in range(48)]
    for hour in stale:
        later[hour] += 1
    plan = read_plan(starting_at=MAR, ending_before=APR, counts=later, kept=kept)
    assert plan.hours_from == MAR + 3 * D
    assert Span(MAR + D + 3 * H, 18) in plan.spans
    assert Span(MAR + 2 * D, 24) in plan.spans
    assert {MAR + D + h * H for h in range(3, 21)} <= plan.replaces
    assert MAR + D + 2 * H not in plan.replaces
    # Every replaced hour is read, nothing else: the plan's spans cover exactly them.
    read = {hour for span in plan.spans for hour in span.each_hour()}
    assert read == set(plan.replaces)


def test_scattered_stale_hours_are_read_in_at_most_max_ranges(monkeypatch):
    monkeypatch.setattr(spans, "MAX_RANGES", 4)
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    kept = {hour: (1, count) for hour, count in counts.items()}
    later = dict(counts)
    for hour in [MAR + h * 5 * H for h in range(10)]:
        later[hour] += 1
    plan = read_plan(starting_at=MAR, ending_before=APR, counts=later, kept=kept)
    assert len(plan.ranges) == 4
    read = {hour for span in plan.spans for hour in span.each_hour()}
    assert read == set(plan.replaces)  # the kept hours in the filled gaps are read again
    assert all(MAR + h * 5 * H in read for h in range(10))


@pytest.mark.parametrize("hourly_only", [True, False])
def test_a_quotient_counting_hours_reads_hours_only(hourly_only):
    counts = _every_hour(MAR, MAR + 4 * D + 9 * H)
    plan = read_plan(
        starting_at=MAR, ending_before=APR, counts=counts, kept=None, hourly_only=hourly_only
    )
    assert all(span.hours == 1 for span in plan.spans) is hourly_only
