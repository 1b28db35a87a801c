"""The reviewable record of a sync run: one SyncRun row, its events, and its log lines.

Events hold ids, counts and reasons, never names or bodies (issue 6: "Redaction at the
source"). Their texts may still hold vendor text (an id, an error's code or title): every action,
message and id is stored through `safe_text`/`safe_id`, redacted, escaped and bounded (issue W2-2).
The run id is bound into every structlog line of the run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, event, update
from sqlmodel import Session, col, select

from connector.logging_setup import safe_id, safe_text
from connector.store import Store
from connector.store.db import WRITE_HOOK
from connector.store.models import JobMark, RunOutcome, SyncEvent, SyncRun, new_run_id

log = structlog.get_logger("connector.run")
_ROW_IN = "run row stored in this transaction"  # a session.info key
_RUNS = SyncRun.__table__  # type: ignore[attr-defined]
# This process's runs that have not finished, by id: one that ends unfinished before its first write
# has no row yet, and `close_interrupted` stores it.
_unfinished: dict[str, RunLog] = {}
_unfinished_lock = threading.Lock()


def _safe(action: str, message: str, ids: tuple[str, ...] | list[str]) -> tuple[str, str, tuple[str, ...]]:
    """An event's texts as stored: a message of at most 2,000 characters, an action and ids of at
    most 200, each on one line with no escape sequence a terminal would obey."""
    return safe_id(action), safe_text(message), tuple(safe_id(i) for i in ids)


class RunLog:
    """Collects one run's events and counts; written to the store as they happen.

    The run's own row is stored with the first thing the run writes (its first event, an intent, a
    roster change: every `Store.write()` inside `bound(run)`, and the run's own writes), in that same
    transaction, so what refers to the run always finds it, and a run that dies after writing
    anything is left `running` for `close_interrupted`. A run that writes nothing until its end (a
    sync that finds no change) stores its row once, complete, at `finish`, with the marks of the
    tasks it did: a crash before then loses only work that wrote nothing."""

    def __init__(self, store: Store, *, trigger: str, school_id: int | None, now: datetime) -> None:
        self.store = store
        self.id = new_run_id()
        self.trigger = trigger
        self.school_id = school_id
        self.counts: Counter[str] = Counter()
        self.failures = 0
        self._lock = threading.Lock()  # events may come from the planner-opening workers
        self._now = now
        self._wall_start = datetime.now(UTC)
        self._held: list[SyncEvent] | None = None  # events kept for one transaction (`batch`)
        self._batcher: threading.Thread | None = None
        self._stored = False  # the row is committed
        self._marks: list[JobMark] = []  # tasks done before the row was stored: written with it
        with _unfinished_lock:
            _unfinished[self.id] = self

    def _row(self, **ended: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "school_id": self.school_id,
            "started_at": self._now,
            "wall_started_at": self._wall_start,
            "counts": {},
            "outcome": RunOutcome.RUNNING.value,
            **ended,
        }

    def on_write(self, session: Session) -> Callable[[Session], None] | None:
        """`Store.write()`'s hook inside `bound(run)`: the run's row goes into the first transaction that
        writes anything else. PostgreSQL checks a reference at once, so the row is stored first there.
        SQLite is told to check them at the commit, and the row is stored then, if anything else was
        written: a transaction that finds nothing to change (a roster that did not change) writes none."""
        if self._stored or session.info.get(_ROW_IN) == self.id:
            return None
        session.info[_ROW_IN] = self.id
        connection = session.connection()
        if connection.dialect.name != "sqlite":
            self.store_row(session)
            return None
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # for this transaction only
        before = _changes(connection)

        def before_commit(session: Session) -> None:
            session.flush()
            if _changes(connection) != before:
                self.store_row(session)

        return before_commit

    def store_row(self, session: Session, **ended: Any) -> None:
        """Store the run's row in `session`'s transaction, unless it is there: `running`, or as `ended`."""
        _insert_row(session, self._row(**ended))
        event.listen(session, "after_commit", self._committed, once=True)

    def _committed(self, _session: Session) -> None:
        self._stored = True

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write of the run's own (an event, a mark), bound or not."""
        token = WRITE_HOOK.set(self.on_write)
        try:
            with self.store.write() as session:
                yield session
        finally:
            WRITE_HOOK.reset(token)

    def done(self, key: str, job: str) -> None:
        """Mark a task done (its `JobMark`): at once once the run's row is stored, else with it."""
        mark = JobMark(key=key, job=job, done_at=self._now, run_id=self.id)
        if not self._stored:
            self._marks.append(mark)
            return
        with self._write() as session:
            session.merge(mark)

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
        with self._write() as session:
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
                with self._write() as session:
                    session.add_all(rows)

    def finish(self, now: datetime, *, failed: bool = False) -> str:
        outcome = RunOutcome.FAILED if failed else (RunOutcome.PARTIAL if self.failures else RunOutcome.OK)
        log.info("run finished", outcome=outcome.value, counts=dict(self.counts))
        # The run's moment plus the time it took: a run is stamped with one moment (its `now`, which a
        # rehearsal's --now sets), so without the wall clock's share its start and end are one instant.
        ended = {
            "ended_at": max(now, self._now) + max(datetime.now(UTC) - self._wall_start, timedelta(0)),
            "outcome": outcome.value,
            "counts": dict(self.counts),
        }
        token = WRITE_HOOK.set(None)  # not stored yet: stored here once, complete
        try:
            with self.store.write() as session:
                if self._stored:
                    session.execute(update(SyncRun).where(col(SyncRun.id) == self.id).values(ended))
                else:
                    self.store_row(session, **ended)
                for mark in self._marks:
                    session.merge(mark)
        finally:
            WRITE_HOOK.reset(token)
        self._marks = []
        with _unfinished_lock:
            _unfinished.pop(self.id, None)
        return outcome.value

    def store_unfinished(self, session: Session) -> None:
        """`close_interrupted`: store the row of a run of this process that ended unfinished (Ctrl-C, the
        daemon's stop) before it wrote anything, as `running` for it to close, with the marks of the tasks
        it did."""
        if not self._stored:
            self.store_row(session)
            for mark in self._marks:
                session.merge(mark)
            self._marks = []


def _changes(connection: Connection) -> int:
    """The rows SQLite's connection has changed since it opened."""
    return connection.connection.dbapi_connection.total_changes  # type: ignore[union-attr]


def _insert_row(session: Session, row: dict[str, Any]) -> None:
    """INSERT a run's row unless it is there. Another thread's transaction may be storing it too
    (PostgreSQL): the later one waits for the earlier to commit, then skips."""
    # The store's own dialect, already loaded (the other one is not imported).
    if session.connection().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    session.execute(insert(_RUNS).values(row).on_conflict_do_nothing(index_elements=["id"]))


def close_interrupted(store: Store, now: datetime, *, trigger: str | None = None) -> list[str]:
    """Close the runs still `running` as `interrupted`; returns their ids.

    Call it right after taking the run lock: every engine run holds that lock while it runs, so a
    run still `running` then was left by a process that died (killed, out of memory, cut off at
    the daemon's stop). Each gets `ended_at` (`now`, or its start if later) and a warning event.
    `trigger` closes only that trigger's runs (the daemon at its own stop, its tick still at work).
    What such a run had begun at a vendor is in its intents, which the next run reconciles. A run
    of this process that ended unfinished before its first write (and so has no row) is closed too.
    """
    query = select(SyncRun).where(SyncRun.outcome == RunOutcome.RUNNING.value)
    if trigger is not None:
        query = query.where(SyncRun.trigger == trigger)
    with _unfinished_lock:
        unfinished = [
            live
            for live in _unfinished.values()
            if live.store.engine.url == store.engine.url and trigger in (None, live.trigger)
        ]
        for live in unfinished:
            del _unfinished[live.id]
    if not unfinished:
        with store.read() as session:  # the daemon asks at every tick: no write lock when there is nothing
            if session.exec(query).first() is None:
                return []
    with store.write() as session:
        for live in unfinished:
            live.store_unfinished(session)
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
    """Bind the run id into every log line written meanwhile (also in pool threads), and store the
    run's row with the first write made meanwhile."""
    token = WRITE_HOOK.set(run.on_write)
    try:
        with structlog.contextvars.bound_contextvars(run_id=run.id, trigger=run.trigger):
            yield run
    finally:
        WRITE_HOOK.reset(token)
