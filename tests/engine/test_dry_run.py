"""A dry run is the plan the real run then carries out: at each moment of a round (its planners'
release, a booking poll, a reminder, the closing, the verslag check after the conversations)
`plan_due` prints what `run_due` right after does, action for action, and writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import func, select

from connector.engine.actions import Action
from connector.engine.run import plan_due, run_due
from connector.engine.schedule import release_at
from connector.store import Store
from connector.store.models import Intent, JobMark, SyncEvent, SyncRun

from .conftest import local, new_env

WRITES = (JobMark, SyncRun, SyncEvent, Intent)


def row_counts(store: Store) -> dict[str, int]:
    with store.read() as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one() for model in WRITES}


def planned(engine, moment: datetime) -> dict[str, list[Action]]:
    (school,) = plan_due(engine, moment)
    assert all(t.refused is None for t in school.tasks), [t.refused for t in school.tasks]
    return {t.task.key: t.actions for t in school.tasks}


def done(engine, moment: datetime) -> dict[str, list[Action]]:
    (report,) = run_due(engine, moment, trigger="run-due")
    assert report.postponed == [], report.postponed
    return {key: report.actions[key] for key in report.done}


def dry_run_then_real_run(env, engine, moment: datetime) -> set[str]:
    """The dry run at `moment` writes nothing, and the real run right after does what it said."""
    writes, rows = env.counters()["writes_total"], row_counts(engine.store)
    plan = planned(engine, moment)
    assert env.counters()["writes_total"] == writes and row_counts(engine.store) == rows, moment
    assert plan, f"nothing due at {moment}"
    lines = {key: [a.line() for a in actions] for key, actions in plan.items()}
    assert {key: [a.line() for a in actions] for key, actions in done(engine, moment).items()} == lines, moment
    return {a.verb for actions in plan.values() for a in actions}


def test_a_dry_run_prints_exactly_what_the_real_run_then_does(tmp_path):
    env = new_env(tmp_path / "dry", start=local("2026-08-30 06:00"))
    try:
        engine = env.engine()
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        # The school day before the first verslag deadline: conversations to record, teachers to remind
        # (a reminder due on a weekend goes out on the Friday before).
        check_at = engine.settings.sync.verslag_check_at
        calendar = engine.school_plan(engine.settings.schools[0]).calendar
        day = rp.first_conversation_day + timedelta(days=rp.round.verslag.deadline_days - 1)
        while not calendar.is_school_day(day):
            day -= timedelta(days=1)
        check_after = local(f"{day} {check_at:%H:%M}")
        env.set_clock(release_at(rp) - timedelta(hours=2))
        run_due(engine, release_at(rp) - timedelta(hours=2), trigger="run-due")  # today's roster, stored
        verbs = set()
        for moment in (release_at(rp), rp.planner_opens + timedelta(hours=1), rp.reminders[0], rp.planner_closes):
            env.set_clock(moment)
            env.behave()
            verbs |= dry_run_then_real_run(env, engine, moment)
        # The week's overview goes out on the first conversation day (a Monday), so that the check
        # later that week has no task that depends on another's writes (a dry run plans each task
        # on the store as it is: an overview after a verslag check would miss its verdicts).
        monday = local(f"{rp.first_conversation_day} {engine.settings.sync.overview_at:%H:%M}")
        env.set_clock(monday)
        run_due(engine, monday, trigger="run-due")
        env.set_clock(check_after)
        verbs |= dry_run_then_real_run(env, engine, check_after)
        expected = {"create and release planner", "read bookings", "send reminder", "store bookings"}
        assert expected | {"send teacher notice", "record conversations", "send verslag reminder"} <= verbs, verbs
    finally:
        env.stop()
