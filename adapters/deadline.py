"""One deadline for a whole run of vendor work, honoured by the shared HTTP transport.

``requests``' timeouts bound one socket wait, and ``HttpPolicy.request_deadline`` and
``HttpPolicy.deadline`` bound one request and the retrying of one call. A run is many
requests: a listing of 10,000 pages, a retry loop, rate-limiter waits, a PAS token fetch.
Each of them may be within its own bounds while the run as a whole is not. The engine
holds a run lock while it works, so it sets one deadline for the whole run with
:func:`overall`, and the lock is never held past it::

    with deadline.overall(300, setting="[sync] run_deadline_seconds"):
        run_the_sync()

Inside the block the transport (``adapters._http``) sends no request once the deadline has
passed, lets no rate-limiter wait, retry sleep, socket wait or body read run past it, and
raises :class:`~adapters.errors.RunDeadlineExceeded` (temporary, never retried, naming
``setting``) when it is hit.

The deadline lives in a :class:`~contextvars.ContextVar`, so it is per thread and per task
and needs no parameter through every client method. A new thread does *not* inherit it: a
worker pool sees it only when the work is submitted through ``contextvars.copy_context().run``
(as the engine's planner pool does). Without a deadline set nothing changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Deadline", "current", "overall"]


@dataclass(frozen=True)
class Deadline:
    """The moment ``at`` (on ``clock``, monotonic seconds) by which the run must end.

    ``seconds`` is the length it was set with and ``setting`` the name of the setting that
    holds it (e.g. ``"[sync] run_deadline_seconds"``), both for error messages.
    """

    at: float
    seconds: float
    setting: str
    clock: Callable[[], float] = time.monotonic

    def left(self) -> float:
        """Seconds left before the deadline; zero or negative once it has passed."""
        return self.at - self.clock()

    def passed(self) -> bool:
        """Whether the deadline has been reached."""
        return self.left() <= 0


_current: ContextVar[Deadline | None] = ContextVar("adapters_overall_deadline", default=None)


def current() -> Deadline | None:
    """The overall deadline in force in this context, or None."""
    return _current.get()


@contextmanager
def overall(seconds: float, *, setting: str, clock: Callable[[], float] = time.monotonic) -> Iterator[Deadline]:
    """Set an overall deadline of ``seconds`` from now for the block; yield the one in force.

    Nested blocks may only shorten it: when an enclosing deadline ends first, that one stays
    in force (and is yielded), so an inner step cannot extend the run. The previous deadline
    is restored when the block ends, however it ends.
    """
    if math.isnan(seconds) or seconds <= 0:
        raise ValueError(f"an overall deadline must be positive seconds, not {seconds!r} ({setting})")
    mine = Deadline(at=clock() + seconds, seconds=seconds, setting=setting, clock=clock)
    outer = _current.get()
    if outer is not None and _ends_first(outer, mine):
        mine = outer
    token = _current.set(mine)
    try:
        yield mine
    finally:
        _current.reset(token)


def _ends_first(a: Deadline, b: Deadline) -> bool:
    # On one clock the moments compare directly; across clocks only the time left does.
    if a.clock is b.clock:
        return a.at <= b.at
    return a.left() <= b.left()
