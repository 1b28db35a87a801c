"""Work of one run done `sync.concurrency` at a time: schools, planners, booking polls, messages.

`each` runs a function over items in a thread pool and hands back every item's result or error
in the items' order, so one failing item never stops the others and what the caller records is
in a stable order. Each worker runs in a copy of the caller's context: the run's deadline and
its log bindings hold there too (pitfalls: pool threads do not inherit contextvars).

The board has `sync.concurrency` requests in flight at most: the vendor clients share one bound
(`build_engine`), held only while a request is on the wire. The board's workers outnumber those
places (`OVERLAP` per place), so that what a worker does between its requests (planning, storing,
Python's share of each request) overlaps the others' requests instead of leaving a place empty.
The workers of a pool share its width: each gets an even part, which a pool inside it (a school's
planners, its polls, when schools are worked at once) uses as its own width, so the total number
of workers never exceeds the board's. With `sync.concurrency = 1` there is one worker: everything
runs in order. Database writes stay with the caller where they can (one writer at a time on SQLite anyway).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from connector.engine.context import Engine

T = TypeVar("T")
R = TypeVar("R")

_share: ContextVar[int | None] = ContextVar("connector_pool_share", default=None)


@dataclass(frozen=True)
class Done(Generic[T, R]):
    """One item's outcome: its result, or the exception it raised."""

    item: T
    result: R | None = None
    error: Exception | None = None


OVERLAP = 3  # workers per request in flight: in `benchmarks/run.py --quick`, 2 left places empty, 3 filled them
MOST_WORKERS = 12  # the store's connection pool has 15 (SQLAlchemy's 5 and 10 more): a worker uses one at a time


def board_width(engine: Engine) -> int:
    """How many workers the board's pools run at once in all: `OVERLAP` per request in flight (at most
    `MOST_WORKERS`, never fewer than `sync.concurrency`); one when requests go one at a time."""
    places = engine.settings.sync.concurrency
    return 1 if places == 1 else max(places, min(places * OVERLAP, MOST_WORKERS))


def width(engine: Engine) -> int:
    """How many workers this thread's pools may run at once: the board's width, or its part of it."""
    share = _share.get()
    return board_width(engine) if share is None else share


def each(engine: Engine, fn: Callable[[T], R], items: Sequence[T], *, name: str) -> list[Done[T, R]]:
    """`fn` over `items`, `width(engine)` at a time; every outcome, in the order of `items`."""
    workers = max(1, min(width(engine), len(items)))
    part = max(1, width(engine) // workers)

    def one(item: T) -> Done[T, R]:
        _share.set(part)  # in this worker's copy of the context only: a pool inside it stays within its part
        try:
            return Done(item, fn(item))
        except Exception as exc:  # kept with its item: the others go on
            return Done(item, error=exc)

    if workers == 1:
        return [contextvars.copy_context().run(one, item) for item in items]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    futures: list[Future[Done[T, R]]] = []
    try:
        futures = [pool.submit(contextvars.copy_context().run, one, item) for item in items]
        return [future.result() for future in futures]
    finally:
        # On Ctrl-C (or any error here) what has not started is not started; what runs ends first.
        pool.shutdown(wait=True, cancel_futures=True)


def results(done: list[Done[T, R]]) -> list[R]:
    """The results, once every item succeeded; else the first item's error (in the items' order)."""
    for outcome in done:
        if outcome.error is not None:
            raise outcome.error
    return [cast(R, outcome.result) for outcome in done]
