"""A handler module's load, the import half of a cold start: Python's cyclic garbage collector paused while the
module imports and composes (pydantic, Powertools and botocore build classes, schemas and tables: tens of young
collections walk them, then a full one), and what was loaded then frozen (gc.freeze), so that the first request's
collections, and every later one, skip the objects that live as long as the process. It does nothing else: the
collector runs as before after the load, on what the requests make (make bench BENCH=cold_start, before/after)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Around a handler module's imports and composition (functions/*/app.py). The freeze is once per process:
    Lambda loads one handler module in it; where one process loads several (the local stack, tests), the later
    loads only pause the collector, so garbage cycles of earlier work are not frozen with them, never collected."""
    global _frozen
    gc.disable()
    try:
        yield
        if not _frozen:
            gc.freeze()
            _frozen = True
    finally:
        gc.enable()  # not the state found: another thread's load may have found it paused by this one
