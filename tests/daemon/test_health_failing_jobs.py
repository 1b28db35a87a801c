"""`health` turns unhealthy when a job keeps failing: due for longer than
`health.max_failure_minutes` (120) although runs went on meanwhile (a vendor unreachable for two
hours, credentials refused); and an interrupted run counts only until the daemon starts again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import scheduler
from connector.cycle.settings import load_settings
from connector.review.health import health_report
from connector.runtime import store_url
from connector.store import Store
from connector.store.models import JobMark, School, SyncRun
from tests.daemon.conftest import settings_copy

AMS = ZoneInfo("Europe/Amsterdam")
BRIN = "12AB00"
ROSTER_DUE = datetime(2026, 11, 23, 6, 0, tzinfo=AMS)  # a Monday; the roster is due at 06:00


@pytest.fixture
def world(tmp_path):
    loaded = load_settings(settings_copy(tmp_path))
    store = Store(store_url(loaded))
    store.upgrade()
    with store.write() as session:
        session.add(School(id=1, brin=BRIN, name="De Regenboog"))
    yield loaded, store
    store.dispose()


def put(store: Store, *rows) -> None:
    with store.write() as session:
        for row in rows:
            session.merge(row)


def report_at(loaded, store: Store, now: datetime, runs_every: timedelta = timedelta(minutes=1)) -> dict:
    """Health at `now` for a daemon alive throughout whose runs since the roster fell due were partial."""
    put(store, JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=now - timedelta(seconds=20)))
    done = [f"{job}:{BRIN}:2026-11-23" for job in ("verslagen",)] + [f"overview:{BRIN}:2026-W48"]
    put(store, *(JobMark(key=key, job=key.split(":")[0], done_at=ROSTER_DUE) for key in done))
    if now - runs_every > ROSTER_DUE:  # the first run that tried the roster, right when it fell due
        put(store, SyncRun(id="first", trigger="daemon", school_id=1, started_at=ROSTER_DUE, outcome="partial"))
    put(store, SyncRun(id="last", trigger="daemon", school_id=1, started_at=now - runs_every, outcome="partial"))
    return health_report(loaded, now=now, wall=now, max_age=timedelta(minutes=5))


def test_a_roster_that_keeps_failing_for_more_than_two_hours_makes_health_unhealthy(world):
    loaded, store = world
    report = report_at(loaded, store, ROSTER_DUE + timedelta(hours=2, minutes=1))
    assert report["healthy"] is False
    assert any(f"school {BRIN}: roster has been due since 2026-11-23 06:00" in p for p in report["problems"])


def test_a_roster_failing_for_less_than_two_hours_is_not_yet_a_problem(world):
    loaded, store = world
    report = report_at(loaded, store, ROSTER_DUE + timedelta(hours=1, minutes=59))
    assert not any("roster has been due" in p for p in report["problems"])


def test_work_due_long_before_the_first_run_that_tried_it_is_a_catch_up_not_a_failure(world):
    loaded, store = world
    now = ROSTER_DUE + timedelta(days=3)  # a first start (or the end of a downtime) three days on
    put(store, JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=now))
    put(store, SyncRun(id="catch-up", trigger="daemon", school_id=1, started_at=now, outcome="partial"))
    later = health_report(
        loaded, now=now + timedelta(minutes=1), wall=now + timedelta(minutes=1), max_age=timedelta(minutes=5)
    )
    assert not any("has been due since" in p for p in later["problems"]), later["problems"]


def test_without_a_run_since_the_job_fell_due_the_heartbeat_speaks_not_the_job(world):
    loaded, store = world
    report = report_at(loaded, store, ROSTER_DUE + timedelta(hours=3), runs_every=timedelta(hours=4))
    assert not any("roster has been due" in p for p in report["problems"])


def test_an_interrupted_run_is_a_problem_until_the_daemon_runs_again(world):
    loaded, store = world
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    put(store, JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=now - timedelta(minutes=2)))
    put(store, JobMark(key=scheduler.STOPPED_KEY, job=scheduler.DAEMON_JOB, done_at=now - timedelta(minutes=1)))
    put(
        store,
        SyncRun(
            id="cut",
            trigger="daemon",
            school_id=1,
            started_at=now - timedelta(minutes=3),
            ended_at=now - timedelta(minutes=1),
            outcome="interrupted",
        ),
    )
    before = health_report(loaded, now=now, wall=now, max_age=timedelta(minutes=5))
    assert any("was interrupted" in p for p in before["problems"])
    with store.write() as session:  # the daemon starts again: its stop mark goes, it beats
        session.delete(session.get(JobMark, scheduler.STOPPED_KEY))
    put(store, JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=now))
    after = health_report(loaded, now=now, wall=now, max_age=timedelta(minutes=5))
    assert not any("was interrupted" in p for p in after["problems"])
