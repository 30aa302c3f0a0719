"""The outbox: events recorded in the transaction of the change, handlers run after commit, once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import DomainEvent, DomainEventHandling
from core.services import domain_events_prune

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, tzinfo=UTC)
reactions: list[str] = []
failures = {"left": 0}


@outbox.handles("test.reacted")
def _react(event):
    """Writes a row (a second event) as its reaction, and fails while `failures` says so."""
    if failures["left"]:
        failures["left"] -= 1
        DomainEvent.objects.create(type="test.half-done", subject_id="x", occurred_at=NOW)
        raise RuntimeError("the receiving side is down")
    reactions.append(event.subject_id)
    DomainEvent.objects.create(type="test.reaction", subject_id=event.subject_id, occurred_at=NOW)


@pytest.fixture(autouse=True)
def _reset():
    reactions.clear()
    failures["left"] = 0


def _record(subject="s1"):
    with transaction.atomic():
        return outbox.record(type="test.reacted", subject_id=subject, occurred_at=NOW)


def test_a_handler_runs_after_commit_once():
    event = _record()

    assert reactions == ["s1"]
    handling = DomainEventHandling.objects.get(event=event)
    assert handling.done_at is not None
    assert handling.attempts == 1
    assert DomainEvent.objects.filter(type="test.reaction").count() == 1


def test_a_rolled_back_transaction_leaves_no_event_and_no_reaction():
    with pytest.raises(ValueError), transaction.atomic():
        outbox.record(type="test.reacted", subject_id="s1", occurred_at=NOW)
        raise ValueError("the change failed")

    assert not DomainEvent.objects.exists()
    assert not DomainEventHandling.objects.exists()
    assert reactions == []


def test_a_failed_handler_is_rolled_back_and_retried_by_the_task_exactly_once():
    failures["left"] = 1
    event = _record()  # the first run raises: its half-done write is rolled back

    handling = DomainEventHandling.objects.get(event=event)
    assert handling.done_at is None
    assert handling.attempts == 1
    assert "the receiving side is down" in handling.last_error
    assert handling.next_attempt_at is not None
    assert reactions == []
    assert not DomainEvent.objects.filter(type="test.half-done").exists()

    # Not due yet: the retry waits for its backoff.
    assert outbox.dispatch_due(now=timezone.now()) == 0
    later = handling.next_attempt_at + timedelta(seconds=1)
    assert outbox.dispatch_due(now=later) == 1
    assert outbox.dispatch_due(now=later) == 0  # done: never again
    outbox.dispatch(event_ids=[event.pk])  # nor when dispatched by hand

    assert reactions == ["s1"]
    assert DomainEvent.objects.filter(type="test.reaction").count() == 1
    handling.refresh_from_db()
    assert (handling.done_at is not None, handling.attempts, handling.last_error) == (True, 2, "")


def test_a_request_never_fails_because_a_handler_failed():
    failures["left"] = 5
    event = _record()  # no exception reaches the caller

    assert DomainEvent.objects.filter(pk=event.pk).exists()


def test_the_task_runs_handlings_whose_dispatch_never_ran():
    """The process died between the commit and the dispatch: the schedule picks the event up
    once it is no longer fresh."""
    event = DomainEvent.objects.create(type="test.reacted", subject_id="s9", occurred_at=NOW)
    DomainEventHandling.objects.create(event=event, handler=outbox.handlers_for("test.reacted")[0])

    assert outbox.dispatch_due(now=timezone.now()) == 0  # fresh: left to the dispatch after commit
    assert outbox.dispatch_due(now=timezone.now() + outbox.FRESH + timedelta(seconds=1)) == 1
    assert reactions == ["s9"]


def test_an_event_nobody_handles_is_recorded_without_handlings():
    with transaction.atomic():
        event = outbox.record(type="test.unheard", subject_id="s1", occurred_at=NOW)

    assert DomainEvent.objects.get(pk=event.pk).type == "test.unheard"
    assert not DomainEventHandling.objects.filter(event=event).exists()


def test_backoff_grows_and_is_capped():
    delays = [outbox.retry_delay(attempts) for attempts in (1, 2, 3, 20)]

    assert timedelta(seconds=10) <= delays[0] <= timedelta(seconds=12.5)
    assert timedelta(seconds=20) <= delays[1] <= timedelta(seconds=25)
    assert timedelta(seconds=40) <= delays[2] <= timedelta(seconds=50)
    assert timedelta(hours=1) <= delays[3] <= timedelta(hours=1.25)


def test_pruning_keeps_recent_events_and_those_still_pending():
    failures["left"] = 99
    pending = _record("pending")
    done = DomainEvent.objects.create(type="test.unheard", subject_id="old", occurred_at=NOW)
    recent = DomainEvent.objects.create(type="test.unheard", subject_id="new", occurred_at=NOW)
    month_ago = timezone.now() - timedelta(days=31)
    DomainEvent.objects.filter(pk__in=[pending.pk, done.pk]).update(created_at=month_ago)

    assert domain_events_prune(now=timezone.now()) == 1

    assert set(DomainEvent.objects.values_list("subject_id", flat=True)) >= {"pending", "new"}
    assert not DomainEvent.objects.filter(pk=done.pk).exists()
    assert DomainEvent.objects.filter(pk=recent.pk).exists()


batches: list[list[str]] = []


@outbox.handles("test.many", many=True)
def _react_to_many(events):
    """Hears a batch at once; a subject named "bad" fails whatever batch it is in."""
    if any(event.subject_id == "bad" for event in events):
        raise RuntimeError("a bad event")
    batches.append([event.subject_id for event in events])


def _record_many(*subjects):
    batches.clear()
    with transaction.atomic():
        return outbox.record_many(
            {"type": "test.many", "subject_id": subject, "occurred_at": NOW} for subject in subjects
        )


def test_a_handler_of_many_hears_a_recorded_batch_at_once_in_order():
    events = _record_many("a", "b", "c")

    assert batches == [["a", "b", "c"]]
    handlings = DomainEventHandling.objects.filter(event__in=events)
    assert [(h.done_at is not None, h.attempts) for h in handlings] == [(True, 1)] * 3


def test_a_batch_that_fails_is_run_one_event_at_a_time_and_only_the_bad_one_waits():
    events = _record_many("a", "bad", "c")

    assert batches == [["a"], ["c"]]
    failed = DomainEventHandling.objects.get(event__subject_id="bad")
    assert failed.done_at is None
    assert "a bad event" in failed.last_error
    assert DomainEventHandling.objects.filter(event__in=events, done_at__isnull=False).count() == 2

    batches.clear()
    assert outbox.dispatch_due(now=failed.next_attempt_at + timedelta(seconds=1)) == 0
    assert batches == []  # still bad: retried alone, the others are not run again


def test_a_handler_of_many_runs_each_event_once_when_dispatched_again():
    events = _record_many("a", "b")
    outbox.dispatch(event_ids=[event.pk for event in events])

    assert batches == [["a", "b"]]
