"""`connector daemon` and `connector health` (issue 5).

`health` exits 1 (unhealthy) when any of these holds, else 0:

* the database cannot be read (missing, or not yet created by `connector daemon`/`init-db`);
* the daemon's heartbeat is missing or older than `--max-age` minutes (default 5; the daemon
  writes it every 30 s, also during a long tick), including after a clean stop;
* the most recent finished run ended `failed` (a guard stopped it, or it crashed with
  nothing done). `partial` runs are listed but do not make it unhealthy: their postponed
  items are retried by every tick.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from connector.cli import NowOption, SettingsOption, app, parse_moment

FAILURE_WINDOW = timedelta(hours=24)


@app.command("daemon")
def daemon(
    settings: SettingsOption = None,
    tick_seconds: Annotated[
        int, typer.Option("--tick-seconds", min=1, help="Seconds between two ticks (each does what is due).")
    ] = 60,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="ISO",
            hidden=True,
            help="Start the clock at this moment; it then runs in real time (rehearsals, tests).",
        ),
    ] = None,
) -> None:
    """Run the cycle on its schedule until SIGTERM or Ctrl-C; catches up on start what became due while it was off."""
    import scheduler
    from connector.runtime import start

    runtime = start(settings)
    clock = scheduler.shifted_clock(parse_moment(now)) if now else scheduler.utc_now
    code = scheduler.serve(
        runtime, tick_seconds=tick_seconds, clock=clock, ready=lambda line: typer.echo(line, err=True)
    )
    raise SystemExit(code)  # typer.Exit's code is lost under main()'s standalone_mode=False


@app.command("health")
def health(
    settings: SettingsOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    max_age: Annotated[
        int, typer.Option("--max-age", metavar="MINUTES", min=1, help="Heartbeat older than this: unhealthy.")
    ] = 5,
    now: NowOption = None,
) -> None:
    """Is the daemon well? Last success per job, next due times, recent failures; exit 0 healthy, 1 not."""
    from connector.settings import load_settings

    loaded = load_settings(settings)
    report = health_report(loaded, now=parse_moment(now), wall=datetime.now(UTC), max_age=timedelta(minutes=max_age))
    if json_output:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print(report)
    raise SystemExit(0 if report["healthy"] else 1)


def health_report(loaded, *, now: datetime, wall: datetime, max_age: timedelta) -> dict:
    """The health report (JSON-ready). `now` is the business moment, `wall` the real time."""
    from sqlmodel import col, func, select

    import scheduler
    from connector.engine.context import Engine
    from connector.runtime import store_url
    from connector.store import Store
    from connector.store.db import sqlite_file, to_url
    from connector.store.models import JobMark, RunOutcome, SyncRun

    url = store_url(loaded)
    report: dict = {
        "healthy": False,
        "problems": [],
        "database": url,
        "daemon": {},
        "last_success": {},
        "failures": {},
        "next_due": {},
    }
    database = sqlite_file(to_url(url))
    if database is not None and not database.exists():
        report["problems"].append(f"no database at {database}: run `connector daemon` or `connector init-db`")
        return report
    store = Store(url)
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
                    col(SyncRun.outcome).in_([RunOutcome.FAILED.value, RunOutcome.PARTIAL.value]),
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
        engine = Engine(loaded, store, pas=None, planner_for=None)
        upcoming = scheduler.next_due(engine, now)
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
    elif age > max_age.total_seconds():
        problems.append(
            f"the daemon's last heartbeat is {age / 60:.0f} min old (more than {max_age.total_seconds() / 60:g}): it hangs or died"
        )
    if last_run and last_run["outcome"] == RunOutcome.FAILED.value:
        problems.append(f"the last run {last_run['run_id']} failed: `connector logs --run {last_run['run_id']}`")
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


def _print(report: dict) -> None:
    typer.echo(f"{'healthy' if report['healthy'] else 'UNHEALTHY'}: {report['database']}")
    for problem in report["problems"]:
        typer.echo(f"  problem: {problem}")
    d = report["daemon"]
    if d:
        typer.echo(
            f"daemon heartbeat: {d['heartbeat'] or 'never'}"
            + (f" ({d['heartbeat_age_seconds']} s ago)" if d["heartbeat"] else "")
        )
    if report["last_success"]:
        typer.echo("last success per job:")
        for job, at in report["last_success"].items():
            typer.echo(f"  {job:<10} {at}")
    for brin, jobs in report["next_due"].items():
        typer.echo(f"next due at {brin}:")
        for job, at in jobs.items():
            typer.echo(f"  {job:<10} {at}")
    f = report["failures"]
    if f:
        typer.echo(f"failed or partial runs in the last {f['window_hours']} h: {f['count']}")
        for run in f["recent"]:
            typer.echo(f"  {run['started_at']} {run['outcome']:<8} {run['trigger']:<8} {run['run_id']}")
