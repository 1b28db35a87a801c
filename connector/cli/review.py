"""`connector logs`, `connector status`, `connector report verslagen` and `connector purge` (issue 6).

The data comes from `connector.review.status` and `connector.engine.retention`; this module only renders it.
Tables for people (times in the school's zone), JSON for programs (instants in UTC).
Vendor-supplied text is printed as plain text, never as Rich markup, and escaped and bounded
(`connector.logging_setup.safe_text`: the query layer does so for the run log and the status).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
from contextlib import suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connector.cli.app import SettingsOption, app, engine_run_lock, parse_moment, select_schools
from connector.errors import UsageError, not_writable
from connector.logging_setup import safe_id, safe_text

report = typer.Typer(no_args_is_help=True, help="Reports for the director and the IB.")
app.add_typer(report, name="report")

SchoolFilter = Annotated[str | None, typer.Option("--school", metavar="BRIN", help="Only this school.")]
NowFilter = Annotated[
    str | None, typer.Option("--now", metavar="ISO", help="Act as if it were this moment (ISO 8601 with offset).")
]
LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "info": "", "debug": "dim"}
OUTCOME_STYLE = {"failed": "bold red", "interrupted": "bold red", "partial": "yellow", "running": "cyan", "ok": "green"}


class Level(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# --- logs -----------------------------------------------------------------------------------


@app.command("logs")
def logs(
    settings: SettingsOption = None,
    run: Annotated[
        str | None, typer.Option("--run", metavar="ID", help="One run (its id, or the start of it).")
    ] = None,
    school: SchoolFilter = None,
    level: Annotated[Level | None, typer.Option("--level", help="Only runs and events at this level or worse.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="Runs started since: 30m, 12h, 2d, 1w, or an ISO date."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="At most this many runs (0: all).")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="JSON lines: a run line, then its event lines.")] = False,
) -> None:
    """The sync runs and their events, newest first."""
    from connector.review.runs import event_dict, find_runs, parse_since

    runtime, store = _open(settings)
    schools = select_schools(runtime.loaded, school)
    zone = ZoneInfo(schools[0].timezone)
    start = None
    if since is not None:
        try:
            start = parse_since(since, datetime.now(UTC), zone)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
    try:
        runs = find_runs(
            store,
            [s.brin for s in runtime.loaded.settings.schools],
            run_id=run,
            brin=school and schools[0].brin,
            level=level.value if level else None,
            since=start,
            limit=None if run or limit <= 0 else limit,
        )
    finally:
        store.dispose()
    if json_output:
        for item in runs:
            typer.echo(json.dumps(item.as_dict(), sort_keys=True))
            for event in item.events:
                typer.echo(json.dumps(event_dict(event), sort_keys=True))
        return
    if not runs:
        typer.echo("no sync runs match" if (run or school or level or since) else "no sync runs yet")
        return
    table = Table(title=f"Sync runs, newest first (times {zone.key})", title_justify="left", show_lines=False)
    for column in ("when", "run", "school", "outcome/level", "what", "detail"):
        table.add_column(column, overflow="fold")
    for item in runs:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(item.counts.items()))
        table.add_row(
            _local(item.started_at, zone),
            item.id if run else item.id[:8],
            item.brin or "-",
            Text(item.outcome, style=OUTCOME_STYLE.get(item.outcome, "")),
            Text(f"run ({item.trigger}){_took(item)}", style="bold"),
            Text(counts),
        )
        for event in item.events:
            e = event_dict(event)
            detail = e["message"] + (
                f" [ids: {', '.join(e['ids'])}]" if e["ids"] and not any(i in e["message"] for i in e["ids"]) else ""
            )
            table.add_row(
                "", "", "", Text(e["level"], style=LEVEL_STYLE.get(e["level"], "")), Text(e["action"]), Text(detail)
            )
        table.add_section()
    _console().print(table)
    if not run and limit > 0 and len(runs) == limit:
        typer.echo(f"(the newest {limit} runs; --limit 0 shows all, --run ID one run in full)")


# --- status ---------------------------------------------------------------------------------


@app.command("status")
def status(
    settings: SettingsOption = None,
    school: SchoolFilter = None,
    now: NowFilter = None,
    all_rounds: Annotated[
        bool, typer.Option("--all", help="Every round of the school year, not only the active ones.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Per school: the active rounds, each job's last and next run, and what needs attention."""
    from connector.engine.context import Engine
    from connector.review.status import school_status

    moment = parse_moment(now)
    runtime, store = _open(settings)
    engine = Engine.offline(runtime.loaded, store)
    try:
        result = [
            school_status(engine, s, moment, all_rounds=all_rounds) for s in select_schools(runtime.loaded, school)
        ]
    finally:
        store.dispose()
    if json_output:
        typer.echo(json.dumps({"now": moment.astimezone(UTC).isoformat(), "schools": result}, indent=2, sort_keys=True))
        return
    console = _console()
    for item, s in zip(result, select_schools(runtime.loaded, school), strict=True):
        _print_status(console, item, ZoneInfo(s.timezone), moment)


def _print_status(console: Console, item: dict, zone: ZoneInfo, moment: datetime) -> None:
    console.print(
        Text(
            f"{item['brin']} {item['name']}: school year {item['school_year']}, at {_local(moment, zone)} ({zone.key})",
            style="bold",
        )
    )
    if item["rounds"]:
        table = Table(title="Rounds", title_justify="left")
        for column in (
            "round",
            "where it stands",
            "planners",
            "invited",
            "booked",
            "reminders",
            "to contact",
            "not seen",
            "verslagen overdue",
        ):
            table.add_column(column, justify="left" if column in ("round", "where it stands") else "right")
        for r in item["rounds"]:
            planners = str(r.get("planners_opened", 0)) if r.get("uses_planner") else "-"
            table.add_row(
                r["round"],
                r["phase"],
                planners,
                *(str(r.get(k, 0)) for k in ("invited", "booked", "reminders_sent", "families_to_contact", "not_seen")),
                str(r["verslagen_overdue"]),
            )
        console.print(table)
    else:
        upcoming = item["next_round"]
        console.print(
            f"No round is active. Next: {upcoming['round']} from {_local(_parse(upcoming['starts_at']), zone)}."
            if upcoming
            else "No round is active, and none is left this school year."
        )
    jobs = Table(title="Jobs", title_justify="left")
    for column in ("job", "last done", "next due"):
        jobs.add_column(column)
    for job in item["jobs"]:
        last = _local(_parse(job["last_done_at"]), zone) if job["last_done_at"] else "never"
        if job["next_due_at"] is None:
            nxt = Text("nothing left this school year", style="dim")
        elif job["overdue"]:
            nxt = Text(f"overdue since {_local(_parse(job['next_due_at']), zone)}", style="yellow")
        else:
            nxt = Text(_local(_parse(job["next_due_at"]), zone))
        jobs.add_row(job["job"], last, nxt)
    console.print(jobs)
    for label, run in (("Last run", item["last_run"]), ("Last successful run", item["last_successful_run"])):
        text = (
            f"{run['run_id']} ({run['trigger']}) at {_local(_parse(run['started_at']), zone)}: {run['outcome']}"
            if run
            else "none yet"
        )
        console.print(Text(f"{label}: {text}"))
    if item["attention"]:
        console.print(Text("Needs attention:", style="bold yellow"))
        points = Table.grid(padding=(0, 1))
        points.add_column(width=3, justify="right")
        points.add_column()
        for entry in item["attention"]:
            points.add_row("-", Text(entry["message"]))
        console.print(points)
    else:
        console.print(Text("Nothing needs attention.", style="green"))
    console.print()


# --- report verslagen -----------------------------------------------------------------------


@report.command("verslagen")
def report_verslagen(
    settings: SettingsOption = None,
    school: SchoolFilter = None,
    round_id: Annotated[
        str | None, typer.Option("--round", metavar="ID", help="Only this round (its id in the settings).")
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="table, csv (for a spreadsheet) or json.")
    ] = ReportFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="PATH", help="Write to this file instead of the screen.")
    ] = None,
) -> None:
    """Verslagen per teacher and round: on time, late, missing, not visible, with PAS pupil ids."""
    from connector.review.verslagen import verslag_rows, verslagen_csv, verslagen_json

    if output is not None:
        _check_output(output)  # before the work, and before a database is touched
    runtime, store = _open(settings)
    schools = select_schools(runtime.loaded, school)
    _check_round(runtime.loaded, schools, round_id)
    try:
        rows = verslag_rows(store, runtime.loaded.settings, brin=school and schools[0].brin, round_key=round_id)
    finally:
        store.dispose()
    if format is ReportFormat.json:
        data = verslagen_json(rows, datetime.now(UTC))
    elif format is ReportFormat.csv:
        data = verslagen_csv(rows)
    else:
        _print_verslagen(rows, output)
        return
    if output is not None:
        _write_private(output, data)
        typer.echo(f"wrote {len(rows)} row(s) to {output}", err=True)
    else:
        typer.echo(data, nl=False)


def _check_output(path: Path) -> None:
    """A UsageError naming the folder when --output cannot be a file there (the folder is missing,
    or the path is a folder): said plainly, and no folder made where a typo put it."""
    folder = path.parent
    if path.is_dir():
        raise UsageError(f"--output: {path} is a folder; give a file name, e.g. {path / 'verslagen.csv'}")
    if not folder.is_dir():
        raise UsageError(f"--output: the folder {folder} does not exist; create it first (mkdir -p {folder})")


def _write_private(path: Path, data: bytes) -> None:
    """Write a report readable by its owner only (0600), as the store is: it holds PAS pupil ids."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise not_writable(path, exc) from None
        raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # not for /dev/stdout: that mode is the terminal's
            # os.open's mode passed through the umask, and an existing file keeps its own
            with suppress(PermissionError):  # another user's file we may write: its mode is theirs
                os.fchmod(fd, 0o600)
        f.write(data)


def _print_verslagen(rows: list[dict], output: Path | None) -> None:
    table = Table(
        title="Verslagen per teacher and round (pupils as PAS ids)",
        title_justify="left",
        caption="to act on: PAS pupil ids whose verslag is missing or not visible in the ouderportaal, "
        "and pupils not seen",
        caption_justify="left",
    )
    for column in (
        "school",
        "round",
        "teacher",
        "conversations",
        "on time",
        "late",
        "missing",
        "not visible",
        "pending",
        "no verslag needed",
        "not seen",
        "to act on",
    ):
        table.add_column(
            column,
            justify="right" if column not in ("school", "round", "teacher", "to act on") else "left",
            overflow="fold",
        )
    from connector.review.verslagen import COUNTED, pupils_with

    totals = dict.fromkeys(("conversations", *COUNTED), 0)
    for r in rows:
        # PAS ids are vendor text: escaped, so that none moves the cursor or clears the screen.
        overdue = "; ".join(
            f"{label}: {', '.join(pupils_with(r, k, safe_id))}"
            for k, label in (("missing", "missing"), ("not_visible", "not visible"), ("not_seen", "not seen"))
            if r["pupils"][k]
        )
        table.add_row(
            r["brin"],
            r["round"],
            Text(safe_text(r["teacher_name"]) if r["teacher_name"] else safe_id(r["teacher"]))
            if r["teacher"]
            else "(no teacher)",
            str(r["conversations"]),
            *(str(r[k]) for k in COUNTED),
            Text(overdue),
        )
        for key in totals:
            totals[key] += r[key]
    if rows:
        table.add_section()
        table.add_row("total", "", "", *(str(totals[k]) for k in ("conversations", *COUNTED)), "", style="bold")
    buffer = io.StringIO()
    console = _console() if output is None else Console(file=buffer, width=160)
    console.print(table if rows else "no conversations recorded yet")
    if output is not None:
        _write_private(output, buffer.getvalue().encode("utf-8"))


# --- report contact -------------------------------------------------------------------------


@report.command("contact")
def report_contact(
    settings: SettingsOption = None,
    school: SchoolFilter = None,
    round_id: Annotated[
        str | None, typer.Option("--round", metavar="ID", help="Only this round (its id in the settings).")
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="table, csv (for a spreadsheet) or json.")
    ] = ReportFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="PATH", help="Write to this file instead of the screen.")
    ] = None,
) -> None:
    """Per teacher and round: the families to contact, as PAS pupil ids (leerlingnummer) with the reason."""
    from connector.review.contact import REASON_WORDS, contact_rows

    if output is not None:
        _check_output(output)
    runtime, store = _open(settings)
    schools = select_schools(runtime.loaded, school)
    _check_round(runtime.loaded, schools, round_id)
    try:
        rows = contact_rows(store, runtime.loaded.settings, brin=school and schools[0].brin, round_key=round_id)
    finally:
        store.dispose()
    if format is ReportFormat.json:
        data = (json.dumps({"teachers": rows}, indent=2, sort_keys=True) + "\n").encode("utf-8")
    elif format is ReportFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            ["school", "round", "teacher", "teacher_pas_id", "leerlingnummer", "group", "conversation", "reason"]
        )
        for r in rows:
            for f in r["families"]:
                writer.writerow(
                    [
                        r["brin"],
                        r["round"],
                        r["teacher_name"] or "",
                        r["teacher"],
                        f["pupil"],
                        f["group"],
                        f["conversation"],
                        REASON_WORDS[f["reason"]],
                    ]
                )
        data = ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the byte order mark: Excel reads UTF-8
    else:
        table = Table(
            title="Families to contact per teacher and round (pupils as PAS ids, the leerlingnummer)",
            title_justify="left",
        )
        for column in ("school", "round", "teacher", "families", "pupils and why"):
            table.add_column(column, justify="right" if column == "families" else "left", overflow="fold")
        for r in rows:
            why = "; ".join(
                f"{safe_id(f['pupil'])}{' (support conversation)' if f['conversation'] == 'support' else ''}: "
                f"{REASON_WORDS[f['reason']]}"
                for f in r["families"]
            )
            name = safe_text(r["teacher_name"]) if r["teacher_name"] else f"PAS id {safe_id(r['teacher'])}"
            table.add_row(r["brin"], r["round"], Text(name), str(r["count"]), Text(why))
        buffer = io.StringIO()
        console = _console() if output is None else Console(file=buffer, width=160)
        console.print(table if rows else "no families to contact: no planner has closed with a family left to book")
        if output is None:
            return
        data = buffer.getvalue().encode("utf-8")
    if output is not None:
        _write_private(output, data)
        typer.echo(f"wrote {len(rows)} teacher list(s) to {output}", err=True)
    else:
        typer.echo(data.decode("utf-8"), nl=False)


def _check_round(loaded, schools, round_id: str | None) -> None:
    """A UsageError naming the known rounds when --round names none of the schools' rounds."""
    known = {r.id for s in schools for r in loaded.settings.cycle_for(s).rounds}
    if round_id is not None and round_id not in known:
        raise UsageError(f"--round: no round {round_id!r} in {loaded.path}; known: {', '.join(sorted(known))}")


# --- purge ----------------------------------------------------------------------------------


@app.command("purge")
def purge_command(
    settings: SettingsOption = None,
    now: NowFilter = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be purged; delete nothing.")] = False,
    wait: Annotated[
        int,
        typer.Option(
            "--wait", metavar="SECONDS", help="How long to wait while another run (the daemon) holds the database."
        ),
    ] = 600,
) -> None:
    """Purge data of pupils who left longer ago than \\[retention] allows, and old sync logs."""
    from connector.engine.retention import COUNT_NAMES, plan_purge, purge, purge_counts
    from connector.engine.runlog import RunLog, bound

    moment = parse_moment(now)
    runtime, store = _open(settings)
    if not dry_run:
        from connector.engine.clock import refuse_if_ahead
        from connector.runtime import build_engine

        refuse_if_ahead(build_engine(runtime), moment)
    s = runtime.loaded.settings
    try:
        with engine_run_lock(runtime, store, holder="a purge", wait=wait, moment=moment, tidy=not dry_run):
            if dry_run:
                counts = purge_counts(store, plan_purge(store, s, moment))
                head = "dry run: would purge"
            else:
                run = RunLog(store, trigger="retention", school_id=None, now=moment)
                with bound(run):
                    try:
                        counts = purge(store, s, moment, run=run)
                    except Exception:
                        run.finish(moment, failed=True)
                        raise
                    head = f"run {run.id} {run.finish(moment)}: purged"
    finally:
        store.dispose()
    keep = s.retention
    typer.echo(
        f"{head} (pupils who left more than {keep.left_pupils_days} days ago, "
        f"sync log older than {keep.sync_events_days} days)"
    )
    for name in COUNT_NAMES:  # only what there was: eleven lines of "0" say nothing
        if counts[name]:
            typer.echo(f"  {name.replace('_', ' ')}: {counts[name]}")
    if not any(counts[name] for name in COUNT_NAMES):
        typer.echo("  nothing to purge")


# --- shared ---------------------------------------------------------------------------------


def _open(settings: str | None):
    """Settings, logging and secrets (runtime.start), and the store at the current schema."""
    from connector.runtime import start
    from connector.store import Store, upgrade_to_head

    runtime = start(settings)
    upgrade_to_head(runtime.store_url)
    return runtime, Store(runtime.store_url)


def _took(run) -> str:
    """How long a finished run took, e.g. ", 12 s" (nothing while it runs)."""
    if run.ended_at is None or run.ended_at < run.started_at:
        return ""
    seconds = (run.ended_at - run.started_at).total_seconds()
    return f", {seconds:.0f} s" if seconds < 120 else f", {seconds / 60:.0f} min"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    from connector.review.times import local_time

    return local_time(moment, zone)


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 140)
    return console
