"""`connector daemon` and `connector health` (issue 5); the health report is `connector.review.health`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from connector.cli.app import NowOption, SettingsOption, app, parse_moment
from connector.cli.lean import serve_daemon


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
    # A plain command line never gets here: `connector.cli.main` starts it without Typer (lean.py).
    code = serve_daemon(settings, tick_seconds, now, lambda line: typer.echo(line, err=True))
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
    from connector.cycle.settings import load_settings
    from connector.review.health import health_report

    loaded = load_settings(settings)
    report = health_report(loaded, now=parse_moment(now), wall=datetime.now(UTC), max_age=timedelta(minutes=max_age))
    if json_output:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print(report)
    raise SystemExit(0 if report["healthy"] else 1)


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
        typer.echo(f"failed, partial or interrupted runs in the last {f['window_hours']} h: {f['count']}")
        for run in f["recent"]:
            typer.echo(f"  {run['started_at']} {run['outcome']:<8} {run['trigger']:<8} {run['run_id']}")
