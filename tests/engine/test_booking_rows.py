"""Issue W2-6: a booking poll writes only what changed.

The default school on the simulator over real HTTP. After the planners opened and parents booked,
the day's first poll stores every booking; a poll an hour later with nothing new at the vendor
writes no booking row, only each polled planner's sync moment (and the run's own record); after a
parent cancels a booking, the next poll writes exactly that booking's row.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event

from connector.engine.run import run_due
from connector.engine.schedule import release_at

from .conftest import Env, local, new_env
from .test_cancelled_planner import db_rows
from .test_roster_writes import THE_RUN, WRITE, changed_rows, tables


@pytest.fixture
def env(tmp_path) -> Env:
    env = new_env(tmp_path / "env", start=local("2026-08-30 06:00"))
    yield env
    env.stop()


def poll(env: Env, engine, moment) -> Counter:
    """One booking poll at `moment`; the rows its statements wrote, per table."""
    env.set_clock(moment)
    written: Counter = Counter()

    def count(conn, cursor, statement, parameters, context, executemany):
        hit = WRITE.match(statement)
        if hit:
            written[hit.group(2)] += 1

    event.listen(engine.store.engine, "after_cursor_execute", count)
    try:
        (report,) = run_due(engine, moment, trigger="run-due", only="bookings")
    finally:
        event.remove(engine.store.engine, "after_cursor_execute", count)
    assert report.postponed == [] and any(key.startswith("bookings:") for key in report.done), report
    return written


def test_a_poll_writes_the_bookings_that_changed_and_nothing_else(env):
    engine = env.engine()
    try:
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        for moment in (release_at(rp) - timedelta(hours=2), release_at(rp)):  # the roster, the planners
            env.set_clock(moment)
            run_due(engine, moment, trigger="run-due")
        first = rp.planner_opens + timedelta(hours=1)
        env.set_clock(first)
        env.behave()
        before = tables(env.db)
        poll(env, engine, first)
        booked = tables(env.db)["bookings"]
        assert booked and len(booked) == len(set(booked)), "every booking stored once"
        assert set(changed_rows(before, tables(env.db))) <= THE_RUN | {"bookings", "planners"}

        # Nothing new at the vendor: no booking row is written; each planner's sync moment is.
        before = tables(env.db)
        statements = poll(env, engine, first + timedelta(hours=1))
        changes = changed_rows(before, tables(env.db))
        assert "bookings" not in changes and "bookings" not in statements
        assert statements["planners"] == 1  # one statement for all the polled planners
        assert set(changes) <= THE_RUN | {"planners"}

        # A parent cancels one booking: the next poll writes that row alone.
        ((booking, planner, child),) = db_rows(
            env,
            "SELECT b.vendor_id, p.vendor_id, b.child_planner_id FROM bookings b"
            " JOIN planners p ON p.id = b.planner_id WHERE b.status = 'booked' ORDER BY b.id LIMIT 1",
        )
        assert env.control("POST", f"/planners/{planner}/cancel-booking", {"child_id": child})["status"] == "cancelled"
        before = tables(env.db)
        poll(env, engine, first + timedelta(hours=2))
        changes = changed_rows(before, tables(env.db))
        assert changes["bookings"] == 1
        assert db_rows(env, "SELECT status FROM bookings WHERE vendor_id = ?", booking) == [("cancelled",)]
    finally:
        engine.store.dispose()
