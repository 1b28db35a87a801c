"""The reviewable record of a sync run: one SyncRun row, its events, and its log lines.

Events hold ids, counts and reasons, never names or bodies (issue 6: "Redaction at the
source"). Their texts may still hold vendor text (an id, an error's code or title): every action,
message and id is stored through `safe_text`/`safe_id`, redacted, escaped and bounded (issue W2-2).
The run id is bound into every structlog line of the run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlmodel import select

from connector.logging_setup import safe_id, safe_text
from connector.store import Store
from connector.store.models import RunOutcome, SyncEvent, SyncRun, new_run_id

log = structlog.get_logger("connector.run")


def _safe(action: str, message: str, ids: tuple[str, ...] | list[str]) -> tuple[str, str, tuple[str, ...]]:
    """An event's texts as stored: a message of at most 2,000 characters, an action and ids of at
    most 200, each on one line with no escape sequence a terminal would obey."""
    return safe_id(action), safe_text(message), tuple(safe_id(i) for i in ids)


class RunLog:
    """Collects one run's events and counts; written to the store as they happen."""

    def __init__(self, store: Store, *, trigger: str, school_id: int | None, now: datetime) -> None:
        self.store = store
        self.id = new_run_id()
        self.trigger = trigger
        self.counts: Counter[str] = Counter()
        self.failures = 0
        self._lock = threading.Lock()  # events may come from the planner-opening workers
        self._now = now
        self._held: list[SyncEvent] | None = None  # events kept for one transaction (`batch`)
        self._batcher: threading.Thread | None = None
        with store.write() as session:
            session.add(
                SyncRun(
                    id=self.id, trigger=trigger, school_id=school_id, started_at=now, wall_started_at=datetime.now(UTC)
                )
            )

    def event(
        self,
        action: str,
        message: str = "",
        *,
        level: str = "info",
        ids: tuple[str, ...] | list[str] = (),
        count: str | None = None,
    ) -> None:
        """Record what was created, updated, skipped or failed, and why."""
        action, safe, ids = _safe(action, message, ids)
        with self._lock:
            if count:
                self.counts[count] += 1
            if level in ("error", "warning") and action.endswith("failed"):
                self.failures += 1
        getattr(log, level)(action, detail=safe, ids=list(ids))
        row = SyncEvent(run_id=self.id, at=self._now, level=level, action=action, vendor_ids=list(ids), message=safe)
        with self._lock:
            if self._held is not None and threading.current_thread() is self._batcher:
                self._held.append(row)
                return
        with self.store.write() as session:
            session.add(row)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write the events this thread records meanwhile in one transaction at the end (a step
        that records many at once), not one transaction each. Other threads' events are written
        as they happen."""
        with self._lock:
            assert self._held is None, "batches do not nest"
            self._held, self._batcher = [], threading.current_thread()
        try:
            yield
        finally:
            with self._lock:
                rows, self._held = self._held, None
            if rows:
                with self.store.write() as session:
                    session.add_all(rows)

    def finish(self, now: datetime, *, failed: bool = False) -> str:
        outcome = RunOutcome.FAILED if failed else (RunOutcome.PARTIAL if self.failures else RunOutcome.OK)
        log.info("run finished", outcome=outcome.value, counts=dict(self.counts))
        with self.store.write() as session:
            run = session.get(SyncRun, self.id)
            assert run is not None, self.id
            run.ended_at = now
            run.outcome = outcome.value
            run.counts = dict(self.counts)
        return outcome.value


def close_interrupted(store: Store, now: datetime, *, trigger: str | None = None) -> list[str]:
    """Close the runs still `running` as `interrupted`; returns their ids.

    Call it right after taking the run lock: every engine run holds that lock while it runs, so a
    run still `running` then was left by a process that died (killed, out of memory, cut off at
    the daemon's stop). Each gets `ended_at` (`now`, or its start if later) and a warning event.
    `trigger` closes only that trigger's runs (the daemon at its own stop, its tick still at work).
    What such a run had begun at a vendor is in its intents, which the next run reconciles."""
    query = select(SyncRun).where(SyncRun.outcome == RunOutcome.RUNNING.value)
    if trigger is not None:
        query = query.where(SyncRun.trigger == trigger)
    with store.read() as session:  # the daemon asks at every tick: no write lock when there is nothing
        if session.exec(query).first() is None:
            return []
    with store.write() as session:
        runs = list(session.exec(query))
        for run in runs:
            run.outcome = RunOutcome.INTERRUPTED.value
            run.ended_at = max(now, run.started_at)
            session.add(
                SyncEvent(
                    run_id=run.id,
                    at=run.ended_at,
                    level="warning",
                    action="run interrupted",
                    message="its process ended before the run finished; the next run does what is still due",
                )
            )
    for run in runs:
        log.warning("run interrupted", run_id=run.id, trigger=run.trigger, started_at=run.started_at.isoformat())
    return [run.id for run in runs]


@dataclass(frozen=True)
class Finding:
    """An event found while planning (a record that failed mapping, a planner that cannot be made)."""

    action: str
    message: str
    level: str
    ids: tuple[str, ...]
    count: str | None


class Findings:
    """The run log of the planning phase: it keeps what planning found, writing nothing. A dry run
    prints it; a real run replays it into its `RunLog` when it executes the plan."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._lock = threading.Lock()

    def event(
        self,
        action: str,
        message: str = "",
        *,
        level: str = "info",
        ids: tuple[str, ...] | list[str] = (),
        count: str | None = None,
    ) -> None:
        action, safe, clean_ids = _safe(action, message, ids)  # a dry run prints these as they are
        with self._lock:
            self.items.append(Finding(action, safe, level, clean_ids, count))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """As `RunLog.batch`: findings are kept in memory anyway."""
        yield

    def replay(self, run: RunLog) -> None:
        with run.batch():
            for item in self.items:
                run.event(item.action, item.message, level=item.level, ids=item.ids, count=item.count)


@contextmanager
def bound(run: RunLog) -> Iterator[RunLog]:
    """Bind the run id into every log line written meanwhile (also in pool threads)."""
    with structlog.contextvars.bound_contextvars(run_id=run.id, trigger=run.trigger):
        yield run
