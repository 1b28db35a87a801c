"""Issue W2-6: what one system has and the other cannot match is kept as state, logged once.

The default school on the simulator over real HTTP: its planner has two children without a PAS
id, and PAS pupils the planner does not know. The first roster sync stores them in
`unlinked_records` and logs a warning for each; a sync an hour later with nothing new writes no
such row and no event, and `status` still lists them all. A pupil who arrives unlinked adds
exactly its two records (the PAS pupil and the planner child) and their two warnings; when the
pupil leaves PAS, its record goes and nothing is logged.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from connector.review.status import school_status
from connector.store.models import SyncEvent, SyncRun

from .conftest import BRIN, Env, new_env
from .test_roster_writes import T0, sync


@pytest.fixture
def env(tmp_path) -> Env:
    env = new_env(tmp_path / "env", start=T0)
    yield env
    env.stop()


def unlinked(db: Path) -> dict[tuple[str, str, str], tuple]:
    """The stored records by (kind, system, record id): their whole rows."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT kind, system, record_id, * FROM unlinked_records").fetchall()
    conn.close()
    return {row[:3]: row[3:] for row in rows}


def latest_run(engine) -> tuple[SyncRun, list[SyncEvent]]:
    """The latest run and its "not linked" events."""
    with engine.store.read() as session:
        run = session.exec(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.wall_started_at.desc())).first()
        assert run is not None
        query = select(SyncEvent).where(SyncEvent.run_id == run.id, SyncEvent.action == "not linked")
        return run, list(session.exec(query))


def attention_ids(engine, now) -> list[str]:
    status = school_status(engine, engine.settings.schools[0], now)
    (item,) = [a for a in status["attention"] if a["kind"] == "not_linked"]
    assert item["count"] == len(item["ids"])
    return item["ids"]


def test_unlinked_records_are_kept_as_state_and_logged_when_they_appear(env):
    facts = env.control("GET", f"/schools/{BRIN}")["facts"]
    engine = env.engine()
    try:
        sync(env, engine, T0)
        first = unlinked(env.db)
        assert {("child", "planner", c) for c in facts["unlinked_child_ids"]} <= set(first)
        run, events = latest_run(engine)
        assert sorted(e.vendor_ids[0] for e in events) == sorted(key[2] for key in first)
        assert run.counts["not linked"] == len(first)

        later = T0 + timedelta(hours=1)
        sync(env, engine, later)
        assert unlinked(env.db) == first  # not one row written
        run, events = latest_run(engine)
        assert events == [] and run.counts["not linked"] == len(first)
        assert sorted(attention_ids(engine, later)) == sorted(key[2] for key in first)

        arrival = env.control("POST", f"/schools/{BRIN}/pupils", {"linked": False, "planner_delay_hours": 0})
        pupil, child = arrival["pupil"]["id"], arrival["child_id"]
        sync(env, engine, later + timedelta(hours=1))
        now = unlinked(env.db)
        assert set(now) - set(first) == {("child", "pas", pupil), ("child", "planner", child)}
        assert {k: v for k, v in now.items() if k in first} == first
        run, events = latest_run(engine)
        assert sorted(e.vendor_ids[0] for e in events) == sorted([pupil, child])

        env.control("POST", f"/schools/{BRIN}/pupils/{pupil}/deregister", {"planner_delay_hours": 0})
        sync(env, engine, later + timedelta(hours=2))
        left = unlinked(env.db)  # the PAS record went with the pupil; the planner keeps its child
        assert set(left) - set(first) == {("child", "planner", child)} and set(first) <= set(left)
        assert latest_run(engine)[1] == []
    finally:
        engine.store.dispose()
