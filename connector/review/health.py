"""Is the daemon well? The report behind `connector health` (and the web page's health).

`health` exits 1 (unhealthy) when any of these holds, else 0:

* the database cannot be read (missing, or not yet created by `connector daemon`/`init-db`);
* the daemon's heartbeat is missing or older than `--max-age` minutes (default 5; the daemon
  writes it every 30 s, also during a long tick), including after a clean stop;
* the most recent finished run ended `failed` (a guard stopped it, or it crashed with
  nothing done) or `interrupted` (its process died, or the daemon's stop cut it off). `partial`
  runs are listed but do not make it unhealthy: their postponed items are retried by every tick;
* a run is still `running` past its deadline (`[sync] run_deadline_seconds` and a margin, real time);
* work needs a person (`connector/engine/attention.py`): credentials refused, nothing linked; or
  PAS records stay unusable (pending) for longer than `[health] max_failure_minutes`;
* a job has been due longer than `[health] max_failure_minutes` although runs went on meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

import scheduler
from connector.cycle.settings import LoadedSettings
from connector.engine.context import Engine
from connector.engine.run import next_due
from connector.errors import AccessError
from connector.review.held import held_line, held_rows
from connector.review.times import local_time
from connector.runtime import display_url, store_url
from connector.store import Store
from connector.store.db import sqlite_file, to_url
from connector.store.models import JobMark, PendingRecord, RunOutcome, School, SyncRun

FAILURE_WINDOW = timedelta(hours=24)
STUCK_MARGIN = timedelta(minutes=5)


def health_report(loaded, *, now: datetime, wall: datetime, max_age: timedelta) -> dict:
    """The health report (JSON-ready). `now` is the business moment, `wall` the real time."""
    url = store_url(loaded)
    zone = ZoneInfo(loaded.settings.schools[0].timezone)  # the board's first school: its times, as `health` prints
    report: dict = {
        "healthy": False,
        "problems": [],
        "database": display_url(url),  # never the password of a PostgreSQL URL
        "daemon": {},
        "last_success": {},
        "failures": {},
        "next_due": {},
    }
    database = sqlite_file(to_url(url))
    if database is not None and not database.exists():
        report["problems"].append(f"no database at {database}: run `connector daemon` or `connector init-db`")
        return report
    try:
        store = Store(url)
    except AccessError as exc:  # a read-only database folder: unhealthy, and the message says why
        report["problems"].append(exc.lines[0])
        return report
    try:
        with store.read() as session:
            heartbeat = session.get(JobMark, scheduler.HEARTBEAT_KEY)
            stopped = session.get(JobMark, scheduler.STOPPED_KEY)
            rows = session.exec(
                select(JobMark.job, func.max(JobMark.done_at))
                .where(JobMark.job != scheduler.DAEMON_JOB)
                .group_by(JobMark.job)
            ).all()
            failed = session.exec(
                select(SyncRun)
                .where(
                    col(SyncRun.outcome).in_(
                        [RunOutcome.FAILED.value, RunOutcome.PARTIAL.value, RunOutcome.INTERRUPTED.value]
                    ),
                    SyncRun.started_at >= now - FAILURE_WINDOW,
                )
                .order_by(col(SyncRun.started_at).desc())
            ).all()
            last = session.exec(
                select(SyncRun)
                .where(SyncRun.outcome != RunOutcome.RUNNING.value)
                .order_by(col(SyncRun.started_at).desc())
            ).first()
            heartbeat_at, stopped_at = (
                (heartbeat.done_at if heartbeat else None),
                (stopped.done_at if stopped else None),
            )
            failures = [
                {"run_id": r.id, "trigger": r.trigger, "started_at": r.started_at.isoformat(), "outcome": r.outcome}
                for r in failed
            ]
            tried = _last_attempts(session)
            stuck = session.exec(
                select(SyncRun).where(
                    SyncRun.outcome == RunOutcome.RUNNING.value,
                    col(SyncRun.wall_started_at).is_not(None),
                    col(SyncRun.wall_started_at) < wall - _stuck_after(loaded),
                )
            ).all()
            last_run = (
                {
                    "run_id": last.id,
                    "trigger": last.trigger,
                    "started_at": last.started_at.isoformat(),
                    "outcome": last.outcome,
                }
                if last
                else None
            )
        held = held_rows(store)
        stale = _stale_pending(store, now - timedelta(minutes=loaded.settings.health.max_failure_minutes))
        engine = Engine.offline(loaded, store)
        upcoming = {school.brin: next_due(engine, school, now) for school in loaded.settings.schools}
        failing = _failing_jobs(loaded, store, upcoming, tried, now)
    except Exception as exc:  # no database, or no schema yet
        report["problems"].append(
            f"cannot read the database ({exc.__class__.__name__}): run `connector daemon` or `connector init-db`"
        )
        return report
    finally:
        store.dispose()
    problems = report["problems"]
    age = (wall - heartbeat_at).total_seconds() if heartbeat_at else None
    report["daemon"] = {
        "heartbeat": heartbeat_at.isoformat() if heartbeat_at else None,
        "heartbeat_age_seconds": None if age is None else round(age),
        "max_age_seconds": int(max_age.total_seconds()),
        "stopped_at": stopped_at.isoformat() if stopped_at else None,
    }
    if heartbeat_at is None:
        problems.append("no daemon heartbeat on this database: is `connector daemon` running?")
    elif stopped_at is not None and stopped_at >= heartbeat_at:
        problems.append(f"the daemon stopped at {local_time(stopped_at, zone)}")
    elif age is not None and age > max_age.total_seconds():  # age is None only without a heartbeat
        problems.append(
            f"the daemon's last heartbeat is {age / 60:.0f} min old "
            f"(more than {max_age.total_seconds() / 60:g}): it hangs or died"
        )
    if last_run and last_run["outcome"] == RunOutcome.FAILED.value:
        problems.append(f"the last run {last_run['run_id']} failed: `connector logs --run {last_run['run_id']}`")
    elif last_run and last_run["outcome"] == RunOutcome.INTERRUPTED.value and not _ran_since(heartbeat_at, stopped_at):
        problems.append(
            f"the last run {last_run['run_id']} was interrupted (its process ended before it finished): "
            f"`connector logs --run {last_run['run_id']}`"
        )
    for run in stuck:
        since = run.wall_started_at.astimezone(UTC) if run.wall_started_at else None
        problems.append(
            f"run {run.id} has been running since {local_time(since, zone) if since else '?'}, past its deadline "
            f"([sync] run_deadline_seconds is {loaded.settings.sync.run_deadline_seconds}): it hangs"
        )
    problems += [held_line(row, zone) for row in held]
    problems += [
        f"school {brin}: {count} PAS record(s) stay unusable since {local_time(first, zone)} "
        f"(more than health.max_failure_minutes): correct them in PAS; `connector status --school {brin}` names them"
        for brin, count, first in stale
    ]
    problems += failing
    report["last_success"] = {job: at.isoformat() for job, at in sorted(rows)}
    report["failures"] = {
        "window_hours": int(FAILURE_WINDOW.total_seconds() // 3600),
        "count": len(failures),
        "recent": failures[:5],
    }
    report["last_run"] = last_run
    report["next_due"] = {brin: {job: at.isoformat() for job, at in jobs.items()} for brin, jobs in upcoming.items()}
    report["healthy"] = not problems
    return report


def _stale_pending(store: Store, before: datetime) -> list[tuple[str, int, datetime]]:
    """Per school: the PAS records pending since before `before` (a record that stays bad needs a person)."""
    query = (
        select(School.brin, func.count(), func.min(PendingRecord.first_seen_at))
        .join(School, col(School.id) == PendingRecord.school_id)
        .where(PendingRecord.first_seen_at < before)
        .group_by(col(School.brin))
    )
    with store.read() as session:
        return [tuple(row) for row in session.exec(query).all()]  # type: ignore[misc]


def _stuck_after(loaded: LoadedSettings) -> timedelta:
    """How long after its real start a run still `running` hangs: its deadline, and a margin for
    the work between two vendor reads (a task is never cut off halfway)."""
    return timedelta(seconds=loaded.settings.sync.run_deadline_seconds) + STUCK_MARGIN


def _ran_since(heartbeat_at: datetime | None, stopped_at: datetime | None) -> bool:
    """Whether the daemon runs (again) since it last stopped: after a restart an interrupted run's
    work is simply done again, so the run is listed, not a problem. Both are real (wall) times."""
    return heartbeat_at is not None and (stopped_at is None or heartbeat_at > stopped_at)


def _last_attempts(session: Session) -> dict[str, datetime]:
    """Per BRIN: when a run last started for the school."""
    query = (
        select(School.brin, func.max(SyncRun.started_at))
        .join(School, col(School.id) == SyncRun.school_id)
        .group_by(col(School.brin))
    )
    return dict(session.exec(query).all())


def _first_attempt(store: Store, brin: str, since: datetime) -> datetime | None:
    """When the first run for the school started at or after `since`."""
    query = (
        select(func.min(SyncRun.started_at))
        .join(School, col(School.id) == SyncRun.school_id)
        .where(School.brin == brin, SyncRun.started_at >= since)
    )
    with store.read() as session:
        return session.exec(query).one()


def _failing_jobs(
    loaded: LoadedSettings,
    store: Store,
    upcoming: dict[str, dict[str, datetime]],
    tried: dict[str, datetime],
    now: datetime,
) -> list[str]:
    """Jobs still due `health.max_failure_minutes` after the first run that tried them, although runs
    went on since (a vendor unreachable or too slow, a record that stays bad). Counted from that first
    try, not from when the job fell due: after a first start or a downtime, work due long ago is
    simply being caught up."""
    limit = timedelta(minutes=loaded.settings.health.max_failure_minutes)
    problems = []
    for brin, jobs in upcoming.items():
        attempted = tried.get(brin)
        for job, at in jobs.items():
            if at > now - limit or attempted is None or attempted <= at:
                continue
            first = _first_attempt(store, brin, at)
            if first is None or first > now - limit or attempted <= first:
                continue
            problems.append(
                f"school {brin}: {job} has been due since {local_time(at, loaded.settings.school(brin).timezone)} "
                "and is still not done "
                f"{(now - first).total_seconds() / 60:.0f} min after the first run that tried it "
                f"(health.max_failure_minutes is {limit.total_seconds() / 60:.0f}): "
                f"`connector logs --school {brin} --level warning`"
            )
    return problems
