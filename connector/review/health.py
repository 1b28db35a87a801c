"""Is the daemon well? The report behind `connector health` (and the web page's health).

`health` exits 1 (unhealthy) when any of these holds, else 0:

* the database cannot be read (missing, or not yet created by `connector daemon`/`init-db`);
* the daemon's heartbeat is missing or older than `--max-age` minutes (default 5; the daemon
  writes it every 30 s, also during a long tick), including after a clean stop;
* the most recent finished run ended `failed` (a guard stopped it, or it crashed with
  nothing done) or `interrupted` (its process died, or the daemon's stop cut it off). `partial`
  runs are listed but do not make it unhealthy: their postponed items are retried by every tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

import scheduler
from connector.cycle.settings import LoadedSettings
from connector.engine.context import Engine
from connector.engine.run import next_due
from connector.errors import AccessError
from connector.runtime import display_url, store_url
from connector.store import Store
from connector.store.db import sqlite_file, to_url
from connector.store.models import JobMark, RunOutcome, School, SyncRun

FAILURE_WINDOW = timedelta(hours=24)


def health_report(loaded, *, now: datetime, wall: datetime, max_age: timedelta) -> dict:
    """The health report (JSON-ready). `now` is the business moment, `wall` the real time."""
    url = store_url(loaded)
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
        engine = Engine.offline(loaded, store)
        upcoming = {school.brin: next_due(engine, school, now) for school in loaded.settings.schools}
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
        problems.append(f"the daemon stopped at {stopped_at:%Y-%m-%d %H:%M:%S} UTC")
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
    problems += _failing_jobs(loaded, upcoming, tried, now)
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


def _failing_jobs(
    loaded: LoadedSettings, upcoming: dict[str, dict[str, datetime]], tried: dict[str, datetime], now: datetime
) -> list[str]:
    """Jobs due for longer than `health.max_failure_minutes` although runs went on meanwhile: they
    keep failing (a vendor unreachable, credentials refused, a record that stays bad)."""
    limit = timedelta(minutes=loaded.settings.health.max_failure_minutes)
    problems = []
    for brin, jobs in upcoming.items():
        attempted = tried.get(brin)
        for job, at in jobs.items():
            if at <= now - limit and attempted is not None and attempted > at:
                problems.append(
                    f"school {brin}: {job} has been due since {at:%Y-%m-%d %H:%M %Z} and is still not done after "
                    f"{(now - at).total_seconds() / 60:.0f} min (health.max_failure_minutes is "
                    f"{limit.total_seconds() / 60:.0f}): `connector logs --school {brin} --level warning`"
                )
    return problems
