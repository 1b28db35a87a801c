"""`health`, `status` and the daemon say when each job is next due from one function,
`jobs.next_due`, and it keeps local wall-clock times on the days the clocks change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import scheduler
from connector.cycle.settings import load_settings
from connector.engine import jobs
from connector.engine import run as engine_run
from connector.engine.context import Engine
from connector.review.health import health_report
from connector.review.status import school_status
from connector.runtime import store_url
from connector.store import Store
from connector.store.models import JobMark
from tests.daemon.conftest import settings_copy

AMS = ZoneInfo("Europe/Amsterdam")
BRIN = "12AB00"


@pytest.fixture
def engine(tmp_path):
    loaded = load_settings(settings_copy(tmp_path))
    store = Store(store_url(loaded))
    store.upgrade()
    yield Engine.offline(loaded, store)
    store.dispose()


def mark_done(engine: Engine, *keys: str) -> None:
    with engine.store.write() as session:
        for key in keys:
            session.merge(JobMark(key=key, job=key.split(":")[0], done_at=datetime(2026, 10, 1, tzinfo=UTC)))


def in_amsterdam(due: dict[str, datetime]) -> dict[str, str]:
    return {job: at.astimezone(AMS).isoformat() for job, at in due.items()}


@pytest.mark.parametrize(
    ("now", "roster", "verslagen"),
    [
        # The night the clocks go back (25 October 2026, 03:00 CEST -> 02:00 CET).
        ("2026-10-25T01:30:00+02:00", "2026-10-25T06:00:00+01:00", "2026-10-25T07:00:00+01:00"),
        ("2026-10-25T02:30:00+01:00", "2026-10-25T06:00:00+01:00", "2026-10-25T07:00:00+01:00"),
        # The night they go forward (28 March 2027, 02:00 CET -> 03:00 CEST).
        ("2027-03-28T01:30:00+01:00", "2027-03-28T06:00:00+02:00", "2027-03-28T07:00:00+02:00"),
    ],
)
def test_on_a_dst_night_each_daily_job_is_next_due_at_its_local_time(engine, now, roster, verslagen):
    moment = datetime.fromisoformat(now)
    yesterday = (moment.astimezone(AMS) - timedelta(days=1)).date()
    mark_done(engine, f"roster:{BRIN}:{yesterday}", f"verslagen:{BRIN}:{yesterday}")
    due = in_amsterdam(engine_run.next_due(engine, engine.settings.schools[0], moment))
    assert due["roster"] == roster and due["verslagen"] == verslagen


def test_health_status_and_the_daemon_show_the_same_next_due_on_a_dst_day(engine):
    moment = datetime(2026, 10, 25, 9, 0, tzinfo=AMS)
    mark_done(engine, f"roster:{BRIN}:2026-10-25", f"verslagen:{BRIN}:2026-10-25")
    school = engine.settings.schools[0]
    expected = engine_run.next_due(engine, school, moment)
    assert in_amsterdam(expected)["roster"] == "2026-10-26T06:00:00+01:00"

    health = health_report(engine.loaded, now=moment, wall=moment, max_age=timedelta(minutes=5))
    assert health["next_due"][BRIN] == {job: at.isoformat() for job, at in expected.items()}

    status = school_status(engine, school, moment)
    shown = {job["job"]: datetime.fromisoformat(job["next_due_at"]) for job in status["jobs"] if job["next_due_at"]}
    assert shown == expected

    assert scheduler.next_due is engine_run.next_due  # the daemon logs this at start
    agenda = engine_run.agenda(engine, school)
    assert jobs.next_due(agenda, moment) == expected
