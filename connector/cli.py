"""The `connector` command. Every command takes --settings; one handler turns errors into messages."""

from __future__ import annotations

import sys
from datetime import UTC
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from connector.errors import UserError
from connector.settings import LoadedSettings, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Runs the parent conversation cycle (gesprekkencyclus) between the planner and the pupil administration.",
)

SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings", metavar="PATH", help="Settings file (default: $CONNECTOR_SETTINGS, else ./settings.toml)."
    ),
]


class Job(StrEnum):
    roster = "roster"
    planners = "planners"
    bookings = "bookings"
    reminders = "reminders"
    verslagen = "verslagen"


NowOption = Annotated[
    str | None, typer.Option("--now", metavar="ISO", help="Act as if it were this moment (ISO 8601 with offset).")
]
WaitOption = Annotated[
    int,
    typer.Option(
        "--wait", metavar="SECONDS", help="How long to wait while another run (the daemon) holds the database."
    ),
]
SchoolOption = Annotated[str | None, typer.Option("--school", metavar="BRIN", help="Only this school.")]


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    ics = "ics"


@app.command("check-config")
def check_config(settings: SettingsOption = None) -> None:
    """Validate the settings: exit 0 when valid, else exit 2 listing every problem."""
    loaded = load_settings(settings)
    s = loaded.settings
    rounds = sum(len(s.cycle_for(school).rounds) for school in s.schools)
    typer.echo(
        f"{loaded.path}: valid ({len(s.schools)} school(s), {len(s.cycles)} cycle(s), {rounds} round(s) placed on the calendar)"
    )


@app.command("plan")
def plan(
    settings: SettingsOption = None,
    school: Annotated[str | None, typer.Option("--school", metavar="BRIN", help="Only this school.")] = None,
    format: Annotated[PlanFormat, typer.Option("--format", help="table, json or ics.")] = PlanFormat.table,
) -> None:
    """The year's timeline per school: windows, planner opening and closing, verslag deadlines."""
    from connector.plan_render import render_ics, render_json, render_table
    from connector.yearplan import plan_school

    loaded = load_settings(settings)
    schools = select_schools(loaded, school)
    plans = [plan_school(loaded.settings, s) for s in schools]
    if format is PlanFormat.json:
        typer.echo(render_json(plans))
    elif format is PlanFormat.ics:
        sys.stdout.buffer.write(render_ics(plans))
        sys.stdout.flush()
    else:
        render_table(plans, Console())


@app.command("init-db")
def init_db(settings: SettingsOption = None) -> None:
    """Create the database (readable by its owner only) or upgrade it to the current schema."""
    from connector.runtime import start
    from connector.store import upgrade_to_head

    runtime = start(settings)
    revision = upgrade_to_head(runtime.store_url)
    typer.echo(f"database ready at schema revision {revision}")


@app.command("simulator")
def simulator(
    settings: SettingsOption = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated schools and of the faults.")] = 1,
    faults: Annotated[
        str,
        typer.Option(
            "--faults", metavar="SPEC", help="e.g. rate=0.2,latency=50ms,revoke_token_after=30,maintenance=01:00-01:30"
        ),
    ] = "",
) -> None:
    """Serve both vendor APIs on loopback for the settings' schools, until Ctrl-C."""
    from adapters.simulator import FaultSpecError, parse_fault_spec, run
    from connector.simulation import simulator_config

    loaded = load_settings(settings)
    try:
        fault_config = parse_fault_spec(faults)
    except FaultSpecError as exc:
        raise UserError(f"--faults: {exc}") from None
    run(simulator_config(loaded, seed=seed, faults=fault_config), "127.0.0.1", port)


@app.command("sync")
def sync(
    settings: SettingsOption = None,
    school: SchoolOption = None,
    only: Annotated[Job | None, typer.Option("--only", help="Only this part of the sync.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and plan, but change nothing at either vendor or in the store.")
    ] = False,
    now: NowOption = None,
    allow_removals: Annotated[
        bool,
        typer.Option(
            "--allow-removals",
            help="Let a roster sync archive more pupils or groups at once than sync.max_removal_share.",
        ),
    ] = False,
    wait: WaitOption = 600,
) -> None:
    """Sync by hand now: the roster, open planners, bookings, reminders and verslag checks that are due."""
    from connector.engine.due import run_due
    from connector.runtime import build_engine, start

    runtime = start(settings)
    engine = build_engine(runtime, dry_run=dry_run, allow_removals=allow_removals)
    moment = parse_moment(now)
    from connector.progress import progress_bar

    chosen = select_schools(runtime.loaded, school)
    reports = []
    with _run_lock(runtime, "a manual sync", wait), progress_bar("sync", total=len(chosen)) as bar:
        for one in chosen:  # a bar on a terminal only; a board's sync takes a while
            bar.working_on(one.brin)
            reports += run_due(
                engine,
                moment,
                trigger="manual",
                schools=[one],
                only=only.value if only else None,
                force=frozenset({"roster", "bookings", "verslagen"}),
            )
            bar.advance()
    _print_reports(reports, moment, dry_run)


@app.command("run-due")
def run_due_command(settings: SettingsOption = None, now: NowOption = None, wait: WaitOption = 600) -> None:
    """Do everything that is due at this moment, exactly as the daemon does; a repeat does nothing."""
    from connector.engine.due import run_due
    from connector.runtime import build_engine, start

    runtime = start(settings)
    engine = build_engine(runtime)
    moment = parse_moment(now)
    with _run_lock(runtime, "run-due", wait):
        reports = run_due(engine, moment, trigger="run-due")
    _print_reports(reports, moment, False)


def _run_lock(runtime, holder: str, wait: int):
    """One engine run at a time per database: a manual run waits while the daemon works (issue 5)."""
    from connector.instance_lock import run_lock

    def waiting(who) -> None:
        typer.echo(f"waiting up to {wait} s: {who} is running a sync on this database", err=True)

    return run_lock(runtime.store_url, holder=holder, wait=wait, on_wait=waiting)


@app.command("demo")
def demo(
    settings: SettingsOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated schools, parents and teachers.")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Walk the school year on the built-in simulator and summarise every school and round."""
    import json

    from connector.demo import run_demo
    from connector.logging_setup import configure_logging

    loaded = load_settings(settings)
    configure_logging(level="error")  # the demo's own summary is its output; the run logs stay quiet
    summary = run_demo(loaded, seed=seed)
    if json_output:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(
        title=f"School year on the simulator, {summary['from']} to {summary['to']} (seed {summary['seed']})",
        title_justify="left",
    )
    table.caption = "to contact: families the teacher must contact (cannot or did not book); verslagen by outcome"
    for column in (
        "school",
        "round",
        "planners",
        "invited",
        "booked",
        "reminders",
        "to contact",
        "on time",
        "late",
        "missing",
        "not visible",
    ):
        table.add_column(column, justify="left" if column in ("school", "round") else "right")
    for r in summary["rounds"]:
        v = r["verslagen"]
        planners = str(r["planners_opened"]) if r["uses_planner"] else "-"
        table.add_row(
            r["brin"],
            r["round"],
            planners,
            str(r["invited"]),
            str(r["booked"]),
            str(r["reminders_sent"]),
            str(r["families_to_contact"]),
            str(v["on_time"]),
            str(v["late"]),
            str(v["missing"]),
            str(v["not_visible"]),
        )
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(table)
    typer.echo(f"messages sent: {summary['messages_sent']}, duplicates: {summary['duplicate_messages']}")


def parse_moment(text: str | None):
    """The moment of a --now option: now when absent; a UserError when it has no offset."""
    from datetime import datetime

    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--now: {text!r} is not an ISO 8601 moment such as 2026-11-23T08:00:00+01:00") from None
    if moment.tzinfo is None:
        raise UserError(f"--now: {text!r} has no UTC offset; add one, e.g. +01:00") from None
    return moment


def _print_reports(reports, moment, dry_run: bool) -> None:
    prefix = "dry run: would do" if dry_run else "done"
    for report in reports:
        if not report.done and not report.postponed:
            typer.echo(f"{report.brin}: nothing due at {moment.isoformat()}")
            continue
        typer.echo(f"{report.brin}: run {report.run_id} {report.outcome}")
        for key in report.done:
            typer.echo(f"  {prefix} {key}")
        for key in report.postponed:
            typer.echo(f"  postponed {key} (see `connector logs --run {report.run_id}`)")
        for name, number in sorted(report.counts.items()):
            if number:
                typer.echo(f"  {name}: {number}")


def select_schools(loaded: LoadedSettings, brin: str | None):
    """The schools a --school option selects (all when absent); a UserError naming the known ones."""
    schools = loaded.settings.schools
    if brin is None:
        return list(schools)
    chosen = [s for s in schools if s.brin == brin.upper()]
    if not chosen:
        raise UserError(f"--school: no school {brin} in {loaded.path}; known: {', '.join(s.brin for s in schools)}")
    return chosen


def main() -> None:
    """Entry point: run the app; user errors become plain messages, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        for line in exc.lines:
            typer.echo(line, err=True)
        raise SystemExit(exc.exit_code) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors: a bad option value, a missing argument
        show = getattr(exc, "show", None)
        if show is None:
            typer.echo(str(exc), err=True)
        else:
            show()
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except Exception as exc:  # anything unexpected: logged (without locals), one line for the user
        import structlog

        structlog.get_logger("connector.cli").exception("internal error")
        typer.echo(f"internal error: {exc.__class__.__name__}; see the log file for details", err=True)
        raise SystemExit(70) from None
    raise SystemExit(code or 0)


# Further commands register themselves on `app` (imported last: they import `app` from here).
from connector.commands import daemon, review  # noqa: E402,F401
