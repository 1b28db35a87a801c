"""`connector.engine.pool`: the board's workers (`OVERLAP` per request in flight), every outcome kept,
in order. The requests in flight themselves are bounded by the clients (`test_in_flight.py`).

No timing: a barrier of `width` parties is passed only when that many calls are at work at
once (its timeout only ends a failing test), and a counter under a lock records the most ever.
"""

from __future__ import annotations

import contextvars
import threading
from types import SimpleNamespace

import pytest

from connector.engine import pool

BARRIER_TIMEOUT = 60.0  # seconds; only reached when the calls do not overlap (a failure)


def engine(concurrency: int):
    return SimpleNamespace(settings=SimpleNamespace(sync=SimpleNamespace(concurrency=concurrency)))


class InFlight:
    """Counts calls in flight; the first `meet` calls wait until all of them are in flight."""

    def __init__(self, meet: int) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.barrier = threading.Barrier(meet, timeout=BARRIER_TIMEOUT) if meet > 1 else None
        self.met = 0

    def __call__(self, item: int) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            wait = self.barrier is not None and self.met < self.barrier.parties
            self.met += 1
        try:
            if wait:
                self.barrier.wait()
            return item * 10
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize(("concurrency", "workers"), [(1, 1), (2, 6), (4, 12), (8, 12), (16, 16)])
def test_the_board_runs_overlap_workers_per_request_in_flight_within_the_connection_pool(concurrency, workers):
    assert pool.board_width(engine(concurrency)) == workers


def test_each_keeps_the_boards_width_of_workers_at_work_and_never_more():
    calls = InFlight(meet=12)
    done = pool.each(engine(4), calls, list(range(40)), name="test")
    assert pool.results(done) == [n * 10 for n in range(40)]
    assert calls.most == 12  # the barrier of 12 was passed, and a thirteenth never ran beside them


def test_a_width_of_one_runs_the_items_one_after_another_in_order():
    seen = []
    calls = InFlight(meet=1)
    done = pool.each(engine(1), lambda n: seen.append(n) or calls(n), [3, 1, 2], name="test")
    assert seen == [3, 1, 2]
    assert [d.result for d in done] == [30, 10, 20]
    assert calls.most == 1


def test_one_failing_item_never_stops_the_others_and_its_error_comes_after_them():
    def work(n: int) -> int:
        if n in (3, 7):
            raise ValueError(f"item {n}")
        return n

    done = pool.each(engine(4), work, list(range(10)), name="test")
    assert [d.item for d in done] == list(range(10))
    assert [d.result for d in done if d.error is None] == [0, 1, 2, 4, 5, 6, 8, 9]
    with pytest.raises(ValueError, match="item 3"):  # the first in the items' order
        pool.results(done)


def test_workers_see_the_callers_context():
    var: contextvars.ContextVar[str] = contextvars.ContextVar("test_pool_var", default="unset")
    var.set("the run")
    done = pool.each(engine(4), lambda _n: var.get(), list(range(8)), name="test")
    assert pool.results(done) == ["the run"] * 8


def test_workers_share_the_width_among_the_workers_so_the_total_stays_within_it():
    calls = InFlight(meet=1)
    widths = []

    def school(n: int) -> list[int]:
        widths.append(pool.width(board))
        return pool.results(pool.each(board, calls, [n, n + 1, n + 2], name="inner"))

    board = engine(4)
    done = pool.each(board, school, [0, 10], name="school")
    assert pool.results(done) == [[0, 10, 20], [100, 110, 120]]
    assert widths == [6, 6]
    assert calls.most <= 12
    assert pool.width(board) == 12  # the caller's own width is left alone


def test_more_workers_than_the_boards_never_happens_when_schools_outnumber_them():
    calls = InFlight(meet=1)
    board = engine(4)

    def school(n: int) -> list[int]:
        return pool.results(pool.each(board, calls, [n, n + 1], name="inner"))

    pool.results(pool.each(board, school, list(range(0, 200, 10)), name="school"))
    assert calls.most <= 12
