"""A database restored from a backup taken before a reminder run repeats that run without a
second message: the Idempotency-Keys come from the natural keys, so the planner replays."""

from __future__ import annotations

from datetime import timedelta

from connector.engine.run import run_due
from connector.engine.schedule import release_at
from connector.store.models import idempotency_key_for

from .conftest import copy_database, local, messages_at_vendor, new_env


def test_the_idempotency_key_of_a_side_effect_is_the_same_in_every_database():
    key = "remind:12AB00:2026-2027:start:580001:20260903T1700"
    assert idempotency_key_for(key) == idempotency_key_for(key) != idempotency_key_for(key + "0")


def test_a_restored_database_repeats_a_reminder_moment_with_no_new_message(tmp_path):
    env = new_env(tmp_path / "restore", start=local("2026-08-30 06:00"))
    try:
        engine = env.engine()
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        for moment in (release_at(rp) - timedelta(hours=2), release_at(rp)):
            env.set_clock(moment)
            run_due(engine, moment, trigger="run-due")
        env.set_clock(rp.reminders[0])
        env.behave()
        engine.store.dispose()
        copy_database(env.db, tmp_path / "backup.db")

        engine = env.engine()
        (first,) = run_due(engine, rp.reminders[0], trigger="run-due")
        sent = messages_at_vendor(env.sim)
        assert first.counts.get("reminders sent", 0) > 0 and sent
        engine.store.dispose()

        copy_database(tmp_path / "backup.db", env.db)  # the backup taken before the reminder run
        engine = env.engine()
        (again,) = run_due(engine, rp.reminders[0], trigger="run-due")
        assert again.counts.get("reminders sent", 0) == first.counts["reminders sent"]  # as far as it knows
        assert messages_at_vendor(env.sim) == sent  # the planner replayed every one of them
        assert env.counters()["duplicate_messages"] == 0
        engine.store.dispose()
    finally:
        env.stop()
