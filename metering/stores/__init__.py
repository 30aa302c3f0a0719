"""The event store seam (see `base.EventStore`): `event_store()` is the store `EVENT_STORE_URL` names.

- empty (the default): the relational store, in the Django database (`relational/`);
- `clickhouse://user:password@host:8123/database[?cluster=NAME]`: a ClickHouse server or cluster,
  through `clickhouse-connect` (several web and worker processes share it);
- `chdb:///absolute/path`: the same ClickHouse engine in this process (`chdb`), for tests, CI and
  one-process setups: only one process may open a path (a second one is refused with a message).

Only metering calls it (selectors, services, and `sql_metrics`, which runs SQL metrics through
the store's `sql_metric_rows`); nothing else knows which engine holds the events.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime

from django.conf import settings

from .base import (
    Admit,
    CustomerIdActivity,
    EventStore,
    Group,
    GroupUsage,
    LateCheck,
    Progress,
    StoredEvent,
    StoreResult,
)

__all__ = [
    "Admit",
    "CustomerIdActivity",
    "EventStore",
    "Group",
    "GroupUsage",
    "LateCheck",
    "Progress",
    "StoreResult",
    "StoredEvent",
    "event_store",
    "in_preview",
    "previewing",
    "store_for_url",
]

_lock = threading.Lock()
_stores: dict[str, EventStore] = {}
# The store of a preview in progress in this thread (`previewing`): what `event_store()` answers
# there, and only there.
_preview: ContextVar[EventStore | None] = ContextVar("event_store_preview", default=None)


def store_for_url(url: str) -> EventStore:
    """A new store for an `EVENT_STORE_URL` value (ValueError naming what is wrong)."""
    if not url:
        from .relational import RelationalStore

        return RelationalStore()
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("chdb", "clickhouse", "clickhouses"):
        from .clickhouse import ClickHouseStore

        return ClickHouseStore(url)
    raise ValueError(
        f"EVENT_STORE_URL {url!r}: expected empty (the relational store), "
        "clickhouse://host:8123/database or chdb:///absolute/path"
    )


def event_store() -> EventStore:
    """The process's store for the configured URL (opened once, then shared by every thread);
    inside `previewing`, that thread's preview store."""
    scoped = _preview.get()
    if scoped is not None:
        return scoped
    url = getattr(settings, "EVENT_STORE_URL", "") or ""
    store = _stores.get(url)
    if store is None:
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = _stores[url] = store_for_url(url)
    return store


@contextlib.contextmanager
def previewing(
    *, customer_ids: Sequence[str], forget: Sequence[tuple[datetime, datetime]] = ()
) -> Iterator[EventStore]:
    """Inside the block, this thread's `event_store()` is a preview of the configured store
    (`EventStore.preview`): appends and reads see the what-if, other threads the real store."""
    with event_store().preview(customer_ids=customer_ids, forget=forget) as scoped:
        token = _preview.set(scoped)
        try:
            yield scoped
        finally:
            _preview.reset(token)


def in_preview() -> bool:
    """Whether this thread is inside `previewing` (caches keyed on the real store stay out)."""
    return _preview.get() is not None
