"""Test doubles shared by several test folders."""

from __future__ import annotations

from datetime import datetime

from connector.engine.runlog import RunLog
from connector.store import Store


class FakeClock:
    """Monotonic clock that only moves when someone sleeps on it (or a test advances it);
    records every wait, so Retry-After and backoff cost no real time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def stored_run(store: Store, now: datetime) -> RunLog:
    """A run whose row is stored already, as after its first write: for tests that write rows
    referring to it (intents) outside `bound(run)`."""
    run = RunLog(store, trigger="test", school_id=None, now=now)
    with store.write() as session:
        run.store_row(session)
    return run
