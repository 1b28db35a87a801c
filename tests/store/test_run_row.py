"""A run's own row (issue W2-6: "a no-op sync that writes only its run and watermark"): stored with
the first thing the run writes, in that transaction, or once, complete, at its end with the marks of
the tasks it did when it wrote nothing before."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from benchmarks.run import RowWrites
from connector.engine.intents import record_all
from connector.engine.runlog import RunLog, bound, close_interrupted
from connector.store import Store
from connector.store.models import Intent, JobMark, SyncRun

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
MARK = "roster:12AB00:2026-11-23"


def runs(store: Store) -> list[SyncRun]:
    with store.read() as session:
        return list(session.exec(select(SyncRun)))


def marks(store: Store) -> list[JobMark]:
    with store.read() as session:
        return list(session.exec(select(JobMark)))


def test_a_run_that_writes_nothing_stores_its_row_and_marks_once_at_its_end(store):
    with RowWrites(store) as written:
        run = RunLog(store, trigger="schedule", school_id=None, now=NOW)
        with bound(run):
            with store.write() as session:  # a roster that compares and finds nothing to change
                assert session.exec(select(JobMark)).all() == []
            run.done(MARK, "roster")
            assert runs(store) == [] and marks(store) == []  # a crash now loses only a read
            assert run.finish(NOW) == "ok"
    assert dict(written.rows) == {"sync_runs": 1, "job_marks": 1}
    [row] = runs(store)
    assert (row.id, row.outcome, row.started_at) == (run.id, "ok", NOW) and row.ended_at is not None
    [mark] = marks(store)
    assert (mark.key, mark.job, mark.run_id, mark.done_at) == (MARK, "roster", run.id, NOW)


def test_the_first_write_stores_the_row_as_running_so_a_crash_leaves_it_interrupted(any_store):
    store = any_store
    run = RunLog(store, trigger="schedule", school_id=None, now=NOW)
    with bound(run):
        run.done(MARK, "roster")  # done before anything was written: kept for the row
        record_all(store, [("send_message:k", "send_message", {"n": 1})], now=NOW, run_id=run.id)
        [row] = runs(store)
        assert row.outcome == "running"
        with store.read() as session:
            assert session.exec(select(Intent.run_id)).one() == run.id
        run.done("verslag:12AB00:2026-11-23", "verslag")  # the row is stored: marked at once
        assert [m.key for m in marks(store)] == ["verslag:12AB00:2026-11-23"]
    assert close_interrupted(store, NOW) == [run.id]  # the process died here
    assert [r.outcome for r in runs(store)] == ["interrupted"]


def test_a_write_that_rolls_back_takes_the_row_with_it_and_the_next_write_stores_it(any_store):
    store = any_store
    run = RunLog(store, trigger="manual", school_id=None, now=NOW)
    with bound(run):
        with pytest.raises(RuntimeError), store.write():
            raise RuntimeError("a bug in the step")
        assert runs(store) == []
        run.event("pupil failed", "pupil 1: no group", level="error")
        assert [r.outcome for r in runs(store)] == ["running"]
        assert run.finish(NOW) == "partial"
    assert [r.outcome for r in runs(store)] == ["partial"]


def test_first_writes_in_several_threads_at_once_store_one_row(any_store):
    """Pool workers (a school's planners) whose first writes meet: on PostgreSQL each transaction
    inserts the row unless it is there, the later one waiting for the earlier to commit."""
    store = any_store
    run = RunLog(store, trigger="schedule", school_id=None, now=NOW)

    def record(n: int) -> None:
        record_all(store, [(f"create_planner:{n}", "create_planner", {"n": n})], now=NOW, run_id=run.id)

    with bound(run), ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(contextvars.copy_context().run, record, n) for n in range(8)]:
            future.result()
        assert run.finish(NOW) == "ok"
    assert [(r.id, r.outcome) for r in runs(store)] == [(run.id, "ok")]
    with store.read() as session:
        assert len(session.exec(select(Intent.id).where(Intent.run_id == run.id)).all()) == 8


def test_a_run_that_ends_unfinished_before_its_first_write_is_closed_as_interrupted(any_store):
    """Ctrl-C or the daemon's stop in the middle of a run's reads: no row yet, but this process knows it."""
    store = any_store
    manual = RunLog(store, trigger="manual", school_id=None, now=NOW)
    tick = RunLog(store, trigger="schedule", school_id=None, now=NOW)
    tick.done(MARK, "roster")
    assert runs(store) == []
    assert close_interrupted(store, NOW, trigger="schedule") == [tick.id]  # the daemon's stop: its own runs
    assert [(r.id, r.outcome) for r in runs(store)] == [(tick.id, "interrupted")]
    assert [(m.key, m.run_id) for m in marks(store)] == [(MARK, tick.id)]  # what it had done is kept
    assert close_interrupted(store, NOW) == [manual.id]
    assert close_interrupted(store, NOW) == []
