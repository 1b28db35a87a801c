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
        _print_plans(plan_due(engine, moment, schools=chosen, only=part, force=MANUAL), moment, engine.settings)
        return
    refuse_if_ahead(engine, moment)
    reports = []
    # The bar first: while the daemon's run holds the database it turns, under "waiting up to …".
    with progress_bar("sync", total=len(chosen)) as bar:
        bar.working_on("waiting for the run lock")
        with engine_run_lock(runtime, engine.store, holder="a manual sync", wait=wait, moment=moment):
            for one in chosen:  # a bar on a terminal only; a board's sync takes a while
                bar.working_on(one.brin)
                reports += sync_school(engine, moment, one, only=part)
                bar.advance()
    _print_reports(reports, moment, engine.settings)
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
    _print_reports(reports, moment, engine.settings)
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
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the simulated schools, parents and teachers.")
    ] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Walk the school year on the built-in simulator and summarise every school and round."""
    from connector.cli.progress import progress_bar
    from connector.defaults import demo_settings
    from connector.logging_setup import configure_logging

    loaded = load_settings(demo_settings(settings))
    configure_logging(level="error")  # the demo's own summary is its output; the run logs stay quiet
    with progress_bar("demo") as bar:  # shown at once, before the heavy imports
        bar.working_on("starting the simulator")
        import json

        from connector.demo import run_demo

        def walked(day, first, last) -> None:  # a bar of days, the simulated day beside it
            bar.set_total((last - first).days + 1)
            bar.working_on(day.isoformat())
            bar.advance()

        summary = run_demo(loaded, seed=seed, progress=walked)
    if json_output:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    _print_summary(summary)


#: The demo's columns: (heading, what it counts), in the order of the table.
DEMO_COLUMNS = (
    ("planners", "planners opened (- : a round without a planner)"),
    ("invited", "pupils invited through a planner; invited = booked + not booked"),
    ("booked", "pupils whose family booked a time"),
    ("not booked", "pupils invited whose family did not book"),
    ("reminders", "reminders sent to families that had not booked yet"),
    (
        "to contact",
        "lines on the teachers' lists when the planner closed: no booking + not in the app + families of a "
        "cancelled planner (an optional family that did not book is on no list; a pupil with a support "
        "conversation has a line for each conversation)",
    ),
    ("seen", "conversations held (booked, planned by hand by the teacher, kindgesprek); seen = the verslag columns"),
    ("not seen", "mandatory conversations that did not take place"),
    ("on time", "verslag written by the deadline"),
    ("late", "verslag written after the deadline"),
    ("missing", "no verslag"),
    ("not visible", "verslag not visible in the ouderportaal"),
)


#: The reasons of `connector.review.contact` in a few words, for the sum under the demo's table.
CONTACT_WORDS = {"no_booking": "no booking", "not_in_app": "not in the app", "planner_cancelled": "cancelled planner"}


def _print_summary(summary: dict) -> None:
    """Two tables that fit a terminal of 80 columns (families, then conversations and verslagen),
    each column explained under them, and how "to contact" adds up per round."""
    from rich import box
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 100)
    console.print(f"School year {summary['school_years'][0]['year']} on the simulator (seed {summary['seed']})")
    for y in summary["school_years"]:  # the year's first and last school day, as `connector plan` has them
        console.print(f"{y['brin']}: {y['first_day']} to {y['last_day']}", markup=False)
    several = len(summary["school_years"]) > 1
    families = [name for name, _ in DEMO_COLUMNS[:6]]
    conversations = [name for name, _ in DEMO_COLUMNS[6:]]
    for title, columns in (("Planners and families", families), ("Conversations and verslagen", conversations)):
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for column in (["school"] if several else []) + ["round", *columns]:
            table.add_column(column, justify="left" if column in ("school", "round") else "right", no_wrap=True)
        for r in summary["rounds"]:
            v = r["verslagen"]
            cells = {
                "planners": str(r["planners_opened"]) if r["uses_planner"] else "-",
                "invited": r["invited"],
                "booked": r["booked"],
                "not booked": r["not_booked"],
                "reminders": r["reminders_sent"],
                "to contact": r["families_to_contact"],
                "seen": r["conversations"],
                "not seen": r["not_seen"],
                "on time": v["on_time"],
                "late": v["late"],
                "missing": v["missing"],
                "not visible": v["not_visible"],
            }
            table.add_row(*([r["brin"]] if several else []), r["round"], *(str(cells[c]) for c in columns))
        console.print(table)
    typer.echo(f"The service's clock ran from {summary['from']} to {summary['to']}, in accelerated time.")
    for name, meaning in DEMO_COLUMNS:
        typer.echo(f"  {name}: {meaning}")
    for r in summary["rounds"]:
        parts = [f"{n} {CONTACT_WORDS[reason]}" for reason, n in r["to_contact"].items() if n]
        if parts:
            typer.echo(f"  to contact in {r['brin']} {r['round']}: {r['families_to_contact']} = {' + '.join(parts)}")
    twice = summary["duplicate_messages"]
    typer.echo(
        f"Messages sent to families and teachers: {summary['messages_sent']}; "
        + ("none was sent twice." if not twice else f"{twice} were sent twice (a bug: please report it).")
    )
    typer.echo(
        f"The verslag report agrees with the simulated school on {summary['report_agrees']} of its "
        f"{len(summary['truth'])} conversations."
    )


#: What each job's task is, in words (`connector.engine.jobs.JOBS`; the key is `job:BRIN:…`).
TASK_WORDS = {
    "roster": "roster read",
    "planners": "planners opened",
    "bookings": "booking poll",
    "reminders": "reminders to families who did not book",
    "close": "planners closed, teachers told whom to contact",
    "missed": "booking period missed while the service was off",
    "verslagen": "verslag check",
    "retention": "purge of old data",
    "overview": "weekly overview to the director and the IB",
}
_KEY_JOBS = {"open": "planners", "remind": "reminders"}


def task_words(key: str, settings) -> str:
    """A task key (`bookings:12AB00:2026-2027:rapport-feb:81`) as a person reads it: what it is,
    and of which round or day ("booking poll, Rapportgesprekken (rapport-feb)"). Its key's other
    parts (a poll's number, a reminder's moment) are for `connector logs`, not for people."""
    prefix, _, rest = key.partition(":")
    job = _KEY_JOBS.get(prefix, prefix)
    what = TASK_WORDS.get(job, prefix)
    parts = rest.split(":")
    if job in ("roster", "verslagen") and len(parts) >= 2:
        return f"{what} ({parts[1]})"
    if job in ("retention", "overview") and len(parts) >= 2:
        return f"{what} (week {parts[1]})"
    if len(parts) >= 3:
        brin, round_id = parts[0], parts[2]
        names = {r.id: r.name for s in settings.schools if s.brin == brin for r in settings.cycle_for(s).rounds}
        return f"{what}, {names[round_id]} ({round_id})" if round_id in names else f"{what}, {round_id}"
    return what


def _print_reports(reports, moment, settings) -> None:
    """What each school's run did: per task in words, its actions, then what was postponed (with its
    key, for `connector logs`), then the counts that are not zero."""
    from connector.review.times import local_time

    for report in reports:
        zone = settings.school(report.brin).timezone
        if not report.done and not report.postponed:
            typer.echo(f"{report.brin}: nothing due at {local_time(moment, zone)}")
            continue
        run = f"run {report.run_id} " if report.run_id else ""  # no run: everything due is held
        typer.echo(f"{report.brin}: {run}{report.outcome}")
        for key in report.done:
            typer.echo(f"  done: {task_words(key, settings)}")
            for action in report.actions.get(key, []):
                typer.echo(f"    {action.line()}")
        for key in report.postponed:
            reason = report.reasons.get(key)
            typer.echo(
                f"  postponed {key} ({task_words(key, settings)})" + (f": {safe_text(reason, 700)}" if reason else "")
            )
        if report.postponed and report.run_id:
            typer.echo(f"  (`connector logs --run {report.run_id}` shows why)")
        for name, number in sorted(report.counts.items()):
            if number:
                typer.echo(f"  {name}: {number}")


def _print_plans(plans, moment, settings) -> None:
    """The dry run: per school each due task with the actions it would take, and what planning
    found (as the run log would record it)."""
    from connector.review.times import local_time

    zone = settings.schools[0].timezone
    typer.echo(
        f"dry run at {local_time(moment, zone)}: nothing was changed. Each task is planned on the store as it is "
        "now; a real run plans each task after the one before it has stored its work."
    )
    for school in plans:
        if not school.tasks:
            typer.echo(f"{school.brin}: nothing due at {local_time(moment, settings.school(school.brin).timezone)}")
            continue
        typer.echo(f"{school.brin}:")
        for planned in school.tasks:
            typer.echo(f"  dry run: would do {task_words(planned.task.key, settings)}")
            for action in planned.actions:
                typer.echo(f"    {action.line()}")
            for finding in planned.findings:
                typer.echo(f"    {finding.level}: {finding.action}: {finding.message}")
            if planned.refused:
                typer.echo(f"    refused: {planned.refused}")
