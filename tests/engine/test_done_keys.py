"""A school's done keys are read as ranges of the marks' primary key (W2-6): the daemon asks for
every school at every tick, and a year of the board's marks is never scanned for one school's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import SQLModel, col, select

from connector.engine.jobs import DONE_KEYS, JOBS, done_key_bounds, done_keys
from connector.store import Store
from connector.store.models import JobMark

NOW = datetime(2026, 11, 23, 7, tzinfo=UTC)


def store_with(tmp_path, keys: list[str]) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'marks.db'}")
    SQLModel.metadata.create_all(store.engine)
    with store.write() as session:
        session.add_all(JobMark(key=key, job=key.partition(":")[0], done_at=NOW) for key in keys)
    return store


def test_the_keys_of_one_school_and_no_other_mark(tmp_path):
    mine = [
        "roster:12AB00:2026-11-23",
        "open:12AB00:2026-2027:najaar",
        "bookings:12AB00:2026-2027:najaar:3",
        "remind:12AB00:2026-2027:najaar:20261110T1700",
        "close:12AB00:2026-2027:najaar",
        "missed:12AB00:2026-2027:voorjaar",
        "verslagen:12AB00:2026-11-23",
        "retention:12AB00:2026-W48",
        "overview:12AB00:2026-W48",
    ]
    others = ["roster:12AB01:2026-11-23", "open:02AB00:2026-2027:najaar", "daemon:heartbeat", "roster:12AB0"]
    store = store_with(tmp_path, mine + others)
    assert done_keys(store, "12AB00") == frozenset(mine)
    assert {key.partition(":")[0] for key in mine} == {job.key.partition(":")[0] for job in JOBS}
    # The same as reading every mark and keeping those of the school.
    with store.read() as session:
        every = list(session.exec(select(JobMark.key).where(col(JobMark.key).contains("12AB01:"))))
    assert done_keys(store, "12AB01") == frozenset(every)


def test_sqlite_searches_the_primary_key_instead_of_scanning_the_table(tmp_path):
    store = store_with(tmp_path, [f"roster:{n:02d}BA00:2026-11-23" for n in range(75)])
    with store.read() as session:
        statement = DONE_KEYS.params(**done_key_bounds("10BA00"))
        compiled = statement.compile(store.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in session.exec(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "SEARCH" in plan and "SCAN" not in plan, plan
    assert done_keys(store, "10BA00") == frozenset({"roster:10BA00:2026-11-23"})
