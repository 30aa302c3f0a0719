"""Pausing Python's cyclic garbage collector around work that allocates many short-lived,
acyclic objects (rating a 10,000-line draft and presenting it): each generation-2 collection
walks every object the process holds, and such a read triggered enough of them to cost a third
of its time. Reference counting still frees everything as usual; cycles made meanwhile are
collected after. Nested and concurrent pauses (threads of one worker) share one pause: the
collector comes back when the last one ends, unless it was off before the first began."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
