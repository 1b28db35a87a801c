"""`check-config`, `plan`, `init-db` and `simulator`: the settings, the year, the database, the vendors."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from connector.cli.app import SettingsOption, app, select_schools
from connector.cycle.settings import load_settings
from connector.errors import UsageError

if TYPE_CHECKING:
    from connector.cycle.capacity import CapacityWarning
    from connector.cycle.settings import LoadedSettings
    from connector.cycle.yearplan import SchoolPlan


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    ics = "ics"


@app.command("check-config")
def check_config(settings: SettingsOption = None) -> None:
    """Validate the settings: exit 0 when valid, else exit 2 listing every problem.

    Valid settings may still be warned about (exit 0): a booking period wholly in a vacation, a
    verslag deadline in one; once the roster has been read, a window that cannot hold a group's
    conversations with the people they need (a note when only the slot margin does not fit)."""
    from connector.cycle.plan_warnings import plan_warnings
    from connector.cycle.yearplan import plan_school

    loaded = load_settings(settings)
    s = loaded.settings
    rounds = sum(len(s.cycle_for(school).rounds) for school in s.schools)
    typer.echo(
        f"{loaded.path}: valid ({len(s.schools)} school(s), {len(s.cycles)} cycle(s), "
        f"{rounds} round(s) placed on the calendar)"
    )
    for warning in loaded.secret_warnings():
        typer.echo(f"warning: {warning}")
    plans = [plan_school(s, school) for school in s.schools]
    capacity = _capacity(loaded, plans)
    for plan in plans:
        for warning in plan_warnings(plan):
            typer.echo(f"warning: {warning}")
        for found in capacity[plan.school.brin] or []:
            typer.echo(f"{'note' if found.margin else 'warning'}: {found.message}")
    unread = [brin for brin, found in capacity.items() if found is None]
    if unread:
        typer.echo(
            f"capacity not checked for {', '.join(unread)}: no roster read yet; each round's slots are checked "
            "against each group's conversations once the roster has been read"
        )


def _capacity(loaded: LoadedSettings, plans: list[SchoolPlan]) -> dict[str, list[CapacityWarning] | None]:
    """Per school (BRIN): the capacity warnings of its year plan, or None before its roster was read."""
    from connector.cycle.capacity import capacity_warnings
    from connector.review.capacity import roster_facts

    facts = roster_facts(loaded, [p.school for p in plans])
    out: dict[str, list[CapacityWarning] | None] = {}
    for p in plans:
        found = facts[p.school.brin]
        out[p.school.brin] = None if found is None else capacity_warnings(p, found)
    return out


@app.command("plan")
def plan(
    settings: SettingsOption = None,
    school: Annotated[str | None, typer.Option("--school", metavar="BRIN", help="Only this school.")] = None,
    format: Annotated[PlanFormat, typer.Option("--format", help="table, json or ics.")] = PlanFormat.table,
) -> None:
    """The year's timeline per school: windows, planner opening and closing, verslag deadlines; with
    the table and JSON, the capacity warnings once the roster has been read."""
    from connector.cli.plan_render import render_ics, render_json, render_table
    from connector.cycle.yearplan import plan_school

    loaded = load_settings(settings)
    schools = select_schools(loaded, school)
    plans = [plan_school(loaded.settings, s) for s in schools]
    if format is PlanFormat.json:
        typer.echo(render_json(plans, _capacity(loaded, plans)))
    elif format is PlanFormat.ics:
        sys.stdout.buffer.write(render_ics(plans))
        sys.stdout.flush()
    else:
        console = Console()
        if not console.is_terminal:  # a pipe or a file: room for a whole row (dates and times with their zone)
            console.width = max(console.width, 120)
        render_table(plans, console, _capacity(loaded, plans))


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
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the generated schools and of the faults.")
    ] = 1,
    faults: Annotated[
        str,
        typer.Option(
            "--faults",
            metavar="SPEC",
            help="Faults to inject, comma-separated: rate=0.2 (share of requests failing), latency=50ms, "
            "revoke_token_after=30 (requests), maintenance=01:00-01:30 (a daily outage).",
        ),
    ] = "",
) -> None:
    """Serve both vendor APIs on loopback for the settings' schools, until Ctrl-C."""
    from adapters.simulator import FaultSpecError, parse_fault_spec, run
    from connector.defaults import demo_settings
    from connector.simulation import simulator_config

    loaded = load_settings(demo_settings(settings))
    try:
        fault_config = parse_fault_spec(faults)
    except FaultSpecError as exc:
        raise UsageError(f"--faults: {exc}") from None
    run(simulator_config(loaded, seed=seed, faults=fault_config), "127.0.0.1", port)
