"""The vendors' clock decides: `sync`, `run-due` and `purge` at a `--now` a year ahead of the
vendor's clock write nothing, anywhere (no vendor write, no purge, no run recorded) and exit 1
naming the gap; a dry run may still look ahead; the simulator that follows `--now` agrees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from connector.engine.clock import ClockAhead, refuse_if_ahead
from connector.store import Store
from connector.store.models import JobMark, SyncEvent, SyncRun

from .conftest import connector, local, new_env

VENDOR_NOW = local("2026-08-30 08:00")
A_YEAR_AHEAD = VENDOR_NOW + timedelta(days=365)


def rows(db) -> dict[str, int]:
    store = Store(str(db))
    try:
        with store.read() as session:
            return {
                m.__name__: session.exec(select(func.count()).select_from(m)).one()
                for m in (SyncRun, SyncEvent, JobMark)
            }
    finally:
        store.dispose()


def test_a_moment_a_year_ahead_of_the_vendor_is_refused_before_anything_is_written(tmp_path):
    env = new_env(tmp_path / "ahead", start=VENDOR_NOW)
    try:
        before, writes = rows(env.db), env.counters()["writes_total"]
        for command in (["sync"], ["run-due"], ["purge"]):
            done = connector(env, *command, "--now", A_YEAR_AHEAD.isoformat())
            assert done.returncode == 1, done.stdout + done.stderr
            assert "ahead of PAS's clock" in done.stderr and "nothing was done" in done.stderr
            assert "Traceback" not in done.stderr
        assert rows(env.db) == before and env.counters()["writes_total"] == writes
        dry = connector(env, "sync", "--dry-run", "--now", A_YEAR_AHEAD.isoformat())
        assert dry.returncode == 0 and "dry run at" in dry.stdout
        assert rows(env.db) == before
    finally:
        env.stop()


def test_a_rehearsal_on_a_simulator_that_follows_now_is_not_refused(tmp_path):
    env = new_env(tmp_path / "rehearsal", start=VENDOR_NOW)
    try:
        engine = env.engine()
        with pytest.raises(ClockAhead, match="365 days ahead of PAS's clock"):
            refuse_if_ahead(engine, A_YEAR_AHEAD, wall=VENDOR_NOW)
        env.set_clock(A_YEAR_AHEAD)
        refuse_if_ahead(engine, A_YEAR_AHEAD, wall=VENDOR_NOW)  # the vendor agrees with --now
        engine.store.dispose()
    finally:
        env.stop()
