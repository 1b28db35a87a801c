"""The benchmark's "DB rows" (benchmarks/run.py `RowWrites`): the rows SQLite changed per table,
including statements with RETURNING, whose cursor reports no rowcount until their rows are fetched
(the ORM's id-returning inserts of events, the claim of a recorded intent)."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.run import RowWrites
from connector.engine.intents import perform, record_all
from connector.engine.runlog import RunLog
from connector.store import Store, upgrade_to_head

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_rows_are_counted_per_table_also_for_statements_with_returning(tmp_path):
    database = tmp_path / "connector.db"
    upgrade_to_head(str(database))
    store = Store(database)
    try:
        with RowWrites(store) as written:
            run = RunLog(store, trigger="test", school_id=None, now=NOW)  # the run's row
            with run.batch():  # five events in one ORM insert that returns their ids
                for n in range(5):
                    run.event("checked", f"item {n}")
            record_all(store, [(f"k{n}", "send_message", {"n": n}) for n in range(3)], now=NOW, run_id=run.id)
            for n in range(3):  # each: its claim (UPDATE … RETURNING) and its confirm
                perform(store, run, key=f"k{n}", kind="send_message", payload={"n": n}, now=NOW, send=lambda _: "m")
            run.finish(NOW)  # the run's row again
        assert dict(written.rows) == {"sync_runs": 2, "sync_events": 5, "intents": 3 + 2 * 3}
    finally:
        store.dispose()
