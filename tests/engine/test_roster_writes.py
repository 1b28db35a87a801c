"""Issue W2-6: the roster writes only what changed.

The default school on the simulator over real HTTP, in-process, on SQLite. After a first full
sync, a second one an hour later with nothing changed in either system makes no write call and
writes no roster row: only its run (the `sync_runs` row and the job's done mark; no event: the
unlinked records it found again are state) and at most the watermark, which moved with PAS's
clock. Every INSERT, UPDATE and DELETE the store executes is counted per table, and every
table's rows are compared before and after, so a row rewritten with the same values is caught as
well as a row changed. A sync after a pupil arrived and one left then writes exactly their rows.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from connector.engine.run import run_due

from .conftest import BRIN, Env, is_write, local, new_env

THE_RUN = {"sync_runs", "sync_events", "job_marks"}  # the run's own record
ROSTER = {"school_groups", "staff", "group_staff", "pupils", "guardians", "pupil_guardians", "identity_map"}
WRITE = re.compile(r"\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
T0 = local("2026-08-30 07:00")


@pytest.fixture
def env(tmp_path) -> Env:
    env = new_env(tmp_path / "env", start=T0)
    yield env
    env.stop()


def tables(db: Path) -> dict[str, dict[tuple, tuple]]:
    """Every table's rows, by their first column (the primary key, or the first of a pair)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for name in names:
            pk = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")') if r[5]] or ["rowid"]
            keys = ", ".join(f'"{c}"' for c in pk)
            out[name] = {row[: len(pk)]: row for row in conn.execute(f'SELECT {keys}, * FROM "{name}"')}
    conn.close()
    return out


def changed_rows(before: dict, after: dict) -> Counter:
    """Rows added, removed or changed per table."""
    out: Counter = Counter()
    for name in set(before) | set(after):
        old, new = before.get(name, {}), after.get(name, {})
        out[name] += sum(1 for key in set(old) | set(new) if old.get(key) != new.get(key))
    return +out


def count_writes(engine) -> Counter:
    """A counter of the INSERT/UPDATE/DELETE statements the store executes, per table."""
    statements: Counter = Counter()

    @event.listens_for(engine.store.engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany) -> None:
        if match := WRITE.match(statement):
            statements[match.group(2)] += 1

    return statements


def sync(env: Env, engine, moment) -> None:
    env.set_clock(moment)
    env.control("POST", "/counters/reset")
    reports = run_due(engine, moment, trigger="test", only="roster", force=frozenset({"roster"}))
    assert [r.outcome for r in reports] == ["ok"], reports
    assert f"roster:{BRIN}:{moment.date().isoformat()}" in reports[0].done


def vendor_writes(env: Env) -> dict[str, int]:
    return {e: n for e, n in env.counters()["requests"].items() if is_write(*e.split(" ", 1))}


def test_a_sync_that_finds_nothing_new_writes_only_its_run_and_watermark(env):
    engine = env.engine()
    try:
        statements = count_writes(engine)
        sync(env, engine, T0)
        first = tables(env.db)
        assert len(first["pupils"]) > 100 and first["identity_map"] and first["pupil_guardians"]
        assert statements["pupils"] <= 2 and statements["pupil_guardians"] <= 2  # in bulk, not one per pupil

        statements.clear()
        sync(env, engine, T0 + timedelta(hours=1))
        second = tables(env.db)
        assert vendor_writes(env) == {}
        assert env.counters()["writes_total"] == 0
        assert set(statements) <= THE_RUN - {"sync_events"} | {"sync_watermarks"}, statements
        changed = changed_rows(first, second)
        assert set(changed) <= THE_RUN | {"sync_watermarks"}, changed
        assert changed["sync_runs"] == 1 and changed["sync_watermarks"] <= 1  # <= 2 row writes for the school
    finally:
        engine.store.dispose()


def test_a_sync_after_an_arrival_and_a_leaver_writes_their_rows_only(env):
    engine = env.engine()
    try:
        sync(env, engine, T0)
        before = tables(env.db)
        leaver = min(before["pupils"].values(), key=lambda row: row[0])  # the first pupil stored
        pas_id = leaver[_column(env.db, "pupils", "pas_id") + 1]
        env.control("POST", f"/schools/{BRIN}/pupils", {})
        env.control("POST", f"/schools/{BRIN}/pupils/{pas_id}/deregister", {"planner_delay_hours": 0})
        statements = count_writes(engine)
        sync(env, engine, T0 + timedelta(hours=1))
        after = tables(env.db)
        changed = changed_rows(before, after)
        assert changed["pupils"] == 2  # the arrival stored, the leaver archived
        assert changed["guardians"] == 1 and changed["pupil_guardians"] == 1  # the arrival's one guardian
        assert changed["identity_map"] <= 2  # the leaver's child link gone; the arrival not in the app yet
        assert not set(changed) & {"school_groups", "staff", "group_staff"}, changed
        assert all(statements[name] <= 3 for name in ROSTER), statements
        archived = _column(env.db, "pupils", "archived_at") + 1
        assert after["pupils"][leaver[:1]][archived] is not None and leaver[archived] is None
    finally:
        engine.store.dispose()


def _column(db: Path, table: str, name: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    conn.close()
    return columns.index(name)
