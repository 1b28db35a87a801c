"""Client-side rate limiting so we stay under the vendors' documented limits.

PAS allows 300 requests per minute per client, the planner 120 per minute per API key
(contracts, "Rate limits"). A sliding-window log is exact: no window of ``period`` seconds
ever holds more than ``limit`` request starts, unlike a token bucket whose burst adds to the
rate. A 429 is still possible (the vendor's clock, other processes using the same key) and
is handled by the retry policy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import overload


class SlidingWindowLimiter:
    """Thread-safe limiter: at most ``limit`` acquisitions per ``period`` seconds.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests never sleep. Each
    caller reserves its slot under the lock and sleeps outside it, so threads queue fairly
    without holding the lock while waiting.
    """

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Start times of the last `limit` requests, ascending (some may be in the future:
        # reservations of callers that are still sleeping).
        self._starts: deque[float] = deque(maxlen=limit)

    @overload
    def acquire(self, max_wait: None = None) -> float: ...

    @overload
    def acquire(self, max_wait: float) -> float | None: ...

    def acquire(self, max_wait: float | None = None) -> float | None:
        """Block until a request may start; return the seconds waited (0 when none).

        With ``max_wait``, a wait longer than that (the time left before a run's deadline) is
        not started: nothing is reserved, nothing slept, and None is returned at once.
        """
        with self._lock:
            now = self._clock()
            start = now
            if len(self._starts) == self.limit:
                start = max(now, self._starts[0] + self.period)
            if max_wait is not None and start - now > max_wait:
                return None
            self._starts.append(start)
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def __repr__(self) -> str:
        return f"SlidingWindowLimiter(limit={self.limit}, period={self.period:g})"
