import threading
from bisect import bisect_left

from hypothesis import given
from hypothesis import strategies as st

from adapters._ratelimit import SlidingWindowLimiter
from tests.fakes import FakeClock


def test_it_lets_a_full_window_through_without_waiting(clock):
    limiter = SlidingWindowLimiter(5, 60, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(5)] == [0, 0, 0, 0, 0]
    assert clock.sleeps == []


def test_it_makes_the_next_request_wait_until_the_oldest_leaves_the_window(clock):
    limiter = SlidingWindowLimiter(2, 60, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.advance(10)
    limiter.acquire()
    assert limiter.acquire() == 50  # first one leaves the window at t+60
    assert clock.sleeps == [50]


@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=80), st.integers(min_value=1, max_value=10))
def test_it_never_starts_more_than_the_limit_in_any_window(gaps, limit):
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit, 60, clock=clock, sleep=clock.sleep)
    starts = []
    for gap in gaps:
        clock.advance(gap)
        limiter.acquire()
        starts.append(clock.now)
    for i, start in enumerate(starts):
        assert bisect_left(starts, start + 60) - i <= limit


def test_it_keeps_concurrent_threads_under_the_limit():
    # Frozen clock: every reservation is `0 + wait`, so the schedule is fully observable.
    limiter = SlidingWindowLimiter(50, 60, clock=lambda: 0.0, sleep=lambda s: None)
    starts, lock = [], threading.Lock()

    def worker():
        for _ in range(30):
            wait = limiter.acquire()
            with lock:
                starts.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 300
    for i, start in enumerate(starts):
        assert bisect_left(starts, start + 60) - i <= 50
    assert starts[-1] == 5 * 60  # 300 requests at 50 per minute: the last one at minute 5


def test_a_wait_longer_than_max_wait_reserves_nothing_and_does_not_sleep(clock):
    limiter = SlidingWindowLimiter(1, 60, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    assert limiter.acquire(max_wait=59.9) is None
    assert clock.sleeps == []
    assert limiter.acquire() == 60  # no slot was taken by the refused call


def test_a_wait_within_max_wait_is_waited_as_without_it(clock):
    limiter = SlidingWindowLimiter(1, 60, clock=clock, sleep=clock.sleep)
    assert limiter.acquire(max_wait=0) == 0
    assert limiter.acquire(max_wait=60) == 60
    assert clock.sleeps == [60]
