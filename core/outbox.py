"""The transactional outbox: what happened, recorded in the transaction that made it happen, and
heard by the apps above the one that recorded it.

- A service records an event with `record(type=..., subject_id=..., occurred_at=now, ...)` inside
  its own transaction: a rolled-back change leaves no event, a committed one always has it.
- An app above registers a handler for event types in its `handlers.py` (imported by its
  AppConfig.ready), with `@handles("contract.create", ...)`, or `@handles(ANY)` for every type
  (a webhook sender forwarding whatever an endpoint subscribes to); `wanted=` says which of a
  batch's types it wants now, so events nobody wants cost nothing. A handler
  takes the `DomainEvent`, reads what it needs, and must be idempotent in effect; it uses
  `event.occurred_at` as `now`.
- Recording an event makes one pending `DomainEventHandling` per handler registered for its type.
  After the transaction commits, in the same request or task, `dispatch` runs them (so a contract
  created over the API has its draft invoice when the answer is sent). Each run is its own
  transaction: the handler's writes and the handling's `done_at` commit together, so a reaction
  happens once; a handler that raises is rolled back, logged, and tried again by the
  `core.dispatch_outbox` schedule with exponential backoff (`dispatch_due`) until it succeeds.
  A failing handler never fails the request or task that recorded the event.
- `@handles(..., many=True)`: the handler takes a list of events and reacts to them together,
  in one transaction with their handlings' `done_at` (finalizing a batch of invoices records
  one `invoice.finalized` each: a handler reading and writing per event would cost a
  transaction and a few statements per invoice). If it raises, each event is run alone
  (`[event]`), so one bad event does not hold back the others.

Lower apps never import higher ones: this is how they are heard. Calls downward stay direct.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import DomainEvent, DomainEventHandling

logger = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]

# `@handles(ANY)`: a handler of every event type, those recorded by apps written later included.
ANY = "*"

_handlers: dict[str, list[str]] = defaultdict(list)
_functions: dict[str, Handler] = {}
_wanted: dict[str, Callable[[set[str]], set[str]]] = {}
_own_transactions: set[str] = set()
_many: set[str] = set()

# How long the retry schedule leaves a new event to the dispatch that follows its commit.
FRESH = timedelta(seconds=30)
# The most events a `many` handler is given at once.
MANY_AT_ONCE = 500
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)


def handles(
    *types: str,
    atomic: bool = True,
    wanted: Callable[[set[str]], set[str]] | None = None,
    many: bool = False,
) -> Callable[[Handler], Handler]:
    """Register the decorated function as a handler of these event types (ANY: of every type).
    `wanted`, if given, is asked which types of each recorded batch it wants now (a webhook
    sender: those an endpoint subscribes to), so events nobody wants cost no handling.

    `atomic=False` is for a handler that commits its own work in steps (a backfill that must not
    hold one transaction for its whole run): it runs outside any transaction and is marked done
    afterwards, so it may run more than once (at least once); it must be idempotent.

    `many=True`: the handler takes a list of events (in the order they were recorded)."""
    if many and not atomic:
        raise ValueError("A handler of many events runs in one transaction with their handlings.")

    def register(function: Handler) -> Handler:
        name = f"{function.__module__}.{function.__qualname__}"
        _functions[name] = function
        if not atomic:
            _own_transactions.add(name)
        if many:
            _many.add(name)
        if wanted is not None:
            _wanted[name] = wanted
        for event_type in types:
            if name not in _handlers[event_type]:
                _handlers[event_type].append(name)
        return function

    return register


def handlers_for(event_type: str) -> list[str]:
    return handlers_by_type([event_type])[event_type]


def handlers_by_type(event_types: Iterable[str]) -> dict[str, list[str]]:
    """{type: handler names} for a batch of event types (a handler with `wanted` is asked once
    which of the batch's types it wants now)."""
    types = set(event_types)
    found = {t: list(_handlers.get(t, ())) for t in types}
    for name in _handlers.get(ANY, ()):
        for event_type in types:
            if name not in found[event_type]:
                found[event_type].append(name)
    for name, wanted in _wanted.items():
        candidates = {t for t in types if name in found[t]}
        if candidates:
            for event_type in candidates - wanted(candidates):
                found[event_type].remove(name)
    return found


def record(
    *,
    type: str,
    subject_id,
    occurred_at: datetime,
    customer_id=None,
    payload: dict | None = None,
) -> DomainEvent:
    """Record that something happened, in the caller's transaction; its handlers run after
    commit."""
    event = {"type": type, "subject_id": subject_id, "occurred_at": occurred_at}
    return record_many([{**event, "customer_id": customer_id, "payload": payload}])[0]


def record_many(events: Iterable[dict]) -> list[DomainEvent]:
    """`record` for many events at once (keyword dicts as `record` takes them), in two inserts:
    finalizing a batch of invoices records one event each."""
    rows = [
        DomainEvent(
            type=event["type"],
            subject_id=str(event["subject_id"]),
            customer_id=event.get("customer_id"),
            payload=event.get("payload") or {},
            occurred_at=event["occurred_at"],
        )
        for event in events
    ]
    if not rows:
        return []
    DomainEvent.objects.bulk_create(rows)
    names = handlers_by_type(row.type for row in rows)
    handlings = [
        DomainEventHandling(event=row, handler=name) for row in rows for name in names[row.type]
    ]
    if handlings:
        DomainEventHandling.objects.bulk_create(handlings)
        ids = sorted({handling.event.pk for handling in handlings})
        transaction.on_commit(partial(dispatch, event_ids=ids))
    return rows


def dispatch(*, event_ids: Iterable[int]) -> int:
    """Run the pending handlings of these events (after their commit). Returns how many ran
    to success."""
    pending = DomainEventHandling.objects.filter(event_id__in=list(event_ids), done_at__isnull=True)
    return _run_all(pending.order_by("event_id", "id").values_list("pk", "handler"))


def dispatch_due(*, now: datetime, limit: int = 500) -> int:
    """The schedule: run handlings that failed and are due again, and any that the dispatch
    after commit never ran (the process died first). Returns how many ran to success."""
    due = DomainEventHandling.objects.filter(done_at__isnull=True).filter(
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, event__created_at__lte=now - FRESH)
    )
    return _run_all(due.order_by("event_id", "id").values_list("pk", "handler")[:limit])


def _run_all(handlings: Iterable[tuple[int, str]]) -> int:
    """Run (pk, handler) handlings in their order; those of a `many` handler all together, where
    its first one is."""
    handlings = list(handlings)
    together: dict[str, list[int]] = defaultdict(list)
    for pk, handler in handlings:
        if handler in _many:
            together[handler].append(pk)
    succeeded = 0
    for pk, handler in handlings:
        if handler not in _many:
            succeeded += _run(pk, handler)
        elif handler in together:
            pks = together.pop(handler)
            for offset in range(0, len(pks), MANY_AT_ONCE):
                succeeded += _run_many(handler, pks[offset : offset + MANY_AT_ONCE])
    return succeeded


def _run_many(handler: str, pks: list[int]) -> int:
    """A `many` handler given these handlings' events at once, in one transaction with their
    `done_at`; if it raises, each handling is run alone."""
    try:
        with transaction.atomic():
            handlings = list(
                DomainEventHandling.objects.select_for_update(of=("self",))
                .select_related("event")
                .filter(pk__in=pks, done_at__isnull=True)
                .order_by("event_id", "id")
            )
            if not handlings:  # done meanwhile by another process
                return 0
            _functions[handler]([handling.event for handling in handlings])
            DomainEventHandling.objects.filter(pk__in=[h.pk for h in handlings]).update(
                done_at=timezone.now(),
                attempts=F("attempts") + 1,
                last_error="",
                next_attempt_at=None,
            )
        return len(handlings)
    except Exception:
        logger.exception(
            "outbox: %s failed on %s events; running them one by one", handler, len(pks)
        )
        return sum(_run(pk, handler) for pk in pks)


def _run(pk: int, handler: str) -> bool:
    if handler in _own_transactions:
        return _run_at_least_once(pk)
    try:
        with transaction.atomic():
            handling = (
                DomainEventHandling.objects.select_for_update()
                .select_related("event")
                .filter(pk=pk, done_at__isnull=True)
                .first()
            )
            if handling is None:  # done meanwhile by another process
                return False
            function = _functions.get(handling.handler) or import_string(handling.handler)
            function([handling.event] if handling.handler in _many else handling.event)
            handling.done_at = timezone.now()
            handling.attempts = F("attempts") + 1
            handling.last_error = ""
            handling.next_attempt_at = None
            handling.save(update_fields=["done_at", "attempts", "last_error", "next_attempt_at"])
        return True
    except Exception as exc:
        logger.exception("outbox: handling %s failed", pk)
        _failed(pk, exc)
        return False


def _run_at_least_once(pk: int) -> bool:
    handling = DomainEventHandling.objects.select_related("event").filter(pk=pk).first()
    if handling is None or handling.done_at is not None:
        return False
    try:
        _functions[handling.handler](handling.event)
    except Exception as exc:
        logger.exception("outbox: handling %s failed", pk)
        _failed(pk, exc)
        return False
    DomainEventHandling.objects.filter(pk=pk, done_at__isnull=True).update(
        done_at=timezone.now(), attempts=F("attempts") + 1, last_error="", next_attempt_at=None
    )
    return True


def _failed(pk: int, exc: Exception) -> None:
    try:
        handling = DomainEventHandling.objects.get(pk=pk)
        attempts = handling.attempts + 1
        handling.attempts = attempts
        handling.last_error = "".join(traceback.format_exception(exc))[-4000:]
        handling.next_attempt_at = timezone.now() + retry_delay(attempts)
        handling.save(update_fields=["attempts", "last_error", "next_attempt_at"])
    except Exception:  # the database itself is gone: the schedule finds it pending later
        logger.exception("outbox: could not record the failure of handling %s", pk)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 10 s, 20 s, 40 s, ... at most an hour, plus up to 25%."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return base * (1 + random.random() / 4)
