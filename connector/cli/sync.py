"""`sync`, `run-due` and `demo`: the engine's work by hand, at a moment, or over a simulated year."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from connector.cli.app import (
    NowOption,
    SchoolOption,
    SettingsOption,
    WaitOption,
    app,
    engine_run_lock,
    parse_moment,
    select_schools,
)
from connector.cycle.settings import load_settings
from connector.logging_setup import safe_text


class Job(StrEnum):
    roster = "roster"
    planners = "planners"
    bookings = "bookings"
    reminders = "reminders"
    verslagen = "verslagen"


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
    from connector.cli.progress import progress_bar
    from connector.engine.clock import refuse_if_ahead
    from connector.engine.run import MANUAL, plan_due, sync_school
    from connector.runtime import build_engine, start

    moment = parse_moment(now)  # a wrong option before any database is touched
    runtime = start(settings)
    engine = build_engine(runtime, allow_removals=allow_removals)
    chosen = select_schools(runtime.loaded, school)
    part = only.value if only else None
    if dry_run:
        _print_plans(plan_due(engine, moment, schools=chosen, only=part, force=MANUAL), moment)
        return
    refuse_if_ahead(engine, moment)
    reports = []
    with (
        engine_run_lock(runtime, engine.store, holder="a manual sync", wait=wait, moment=moment),
        progress_bar("sync", total=len(chosen)) as bar,
    ):
        for one in chosen:  # a bar on a terminal only; a board's sync takes a while
            bar.working_on(one.brin)
            reports += sync_school(engine, moment, one, only=part)
            bar.advance()
    _print_reports(reports, moment)
    raise SystemExit(exit_code(reports))  # typer.Exit's code is lost under main()'s standalone_mode=False


@app.command("run-due")
def run_due_command(settings: SettingsOption = None, now: NowOption = None, wait: WaitOption = 600) -> None:
    """Do everything that is due at this moment, exactly as the daemon does; a repeat does nothing."""
    from connector.engine.clock import refuse_if_ahead
    from connector.engine.run import run_due
    from connector.runtime import build_engine, start

    moment = parse_moment(now)
    runtime = start(settings)
    engine = build_engine(runtime)
    refuse_if_ahead(engine, moment)
    with engine_run_lock(runtime, engine.store, holder="run-due", wait=wait, moment=moment):
        reports = run_due(engine, moment, trigger="run-due")
    _print_reports(reports, moment)
    raise SystemExit(exit_code(reports))


def exit_code(reports) -> int:
    """0 when everything due was done; 1 when something failed or was postponed (a script or a
    timer unit then sees it; the next run retries it). 2 and 3 come from main(): usage or settings
    errors, and another run holding the lock."""
    from connector.store.models import RunOutcome

    if any(r.postponed or r.outcome in (RunOutcome.PARTIAL, RunOutcome.FAILED) for r in reports):
        return 1
    return 0


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
    table.caption = (
        "to contact: families the teacher must contact (cannot or did not book); seen: conversations held "
        "(booked, planned by hand, kindgesprek); not seen: pupils of mandatory rounds without one; verslagen by outcome"
    )
    for column in (
        "school",
        "round",
        "planners",
        "invited",
        "booked",
        "reminders",
        "to contact",
        "seen",
        "not seen",
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
            str(r["conversations"]),
            str(r["not_seen"]),
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
    typer.echo(
        f"conversations as the simulated school had them: {len(summary['truth'])}; "
        f"the verslag report agrees on {summary['report_agrees']}"
    )


def _print_reports(reports, moment) -> None:
    """What each school's run did: per task its actions, then what was postponed, then the counts."""
    for report in reports:
        if not report.done and not report.postponed:
            typer.echo(f"{report.brin}: nothing due at {moment.isoformat()}")
            continue
        run = f"run {report.run_id} " if report.run_id else ""  # no run: everything due is held
        typer.echo(f"{report.brin}: {run}{report.outcome}")
        for key in report.done:
            typer.echo(f"  done {key}")
            for action in report.actions.get(key, []):
                typer.echo(f"    {action.line()}")
        for key in report.postponed:
            reason = report.reasons.get(key)
            typer.echo(f"  postponed {key}" + (f": {safe_text(reason, 700)}" if reason else ""))
        if report.postponed and report.run_id:
            typer.echo(f"  (`connector logs --run {report.run_id}` shows why)")
        for name, number in sorted(report.counts.items()):
            if number:
                typer.echo(f"  {name}: {number}")


def _print_plans(plans, moment) -> None:
    """The dry run: per school each due task with the actions it would take, and what planning
    found (as the run log would record it)."""
    typer.echo(
        f"dry run at {moment.isoformat()}: nothing was changed. Each task is planned on the store as it is "
        "now; a real run plans each task after the one before it has stored its work."
    )
    for school in plans:
        if not school.tasks:
            typer.echo(f"{school.brin}: nothing due at {moment.isoformat()}")
            continue
        typer.echo(f"{school.brin}:")
        for planned in school.tasks:
            typer.echo(f"  dry run: would do {planned.task.key}")
            for action in planned.actions:
                typer.echo(f"    {action.line()}")
            for finding in planned.findings:
                typer.echo(f"    {finding.level}: {finding.action}: {finding.message}")
            if planned.refused:
                typer.echo(f"    refused: {planned.refused}")
