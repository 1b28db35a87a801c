"""`check-config`, `plan`, `init-db` and `simulator`: the settings, the year, the database, the vendors."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from connector.cli.app import SettingsOption, app, select_schools
from connector.cycle.settings import load_settings
from connector.errors import UsageError


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    ics = "ics"


@app.command("check-config")
def check_config(settings: SettingsOption = None) -> None:
    """Validate the settings: exit 0 when valid, else exit 2 listing every problem.

    Valid settings may still be warned about (exit 0): a booking period wholly in a vacation, a
    verslag deadline in one."""
    from connector.cycle.plan_warnings import plan_warnings
    from connector.cycle.yearplan import plan_school

    loaded = load_settings(settings)
    s = loaded.settings
    rounds = sum(len(s.cycle_for(school).rounds) for school in s.schools)
    typer.echo(
        f"{loaded.path}: valid ({len(s.schools)} school(s), {len(s.cycles)} cycle(s), "
        f"{rounds} round(s) placed on the calendar)"
    )
    for school in s.schools:
        for warning in plan_warnings(plan_school(s, school)):
            typer.echo(f"warning: {warning}")


@app.command("plan")
def plan(
    settings: SettingsOption = None,
    school: Annotated[str | None, typer.Option("--school", metavar="BRIN", help="Only this school.")] = None,
    format: Annotated[PlanFormat, typer.Option("--format", help="table, json or ics.")] = PlanFormat.table,
) -> None:
    """The year's timeline per school: windows, planner opening and closing, verslag deadlines."""
    from connector.cli.plan_render import render_ics, render_json, render_table
    from connector.cycle.yearplan import plan_school

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
        raise UsageError(f"--faults: {exc}") from None
    run(simulator_config(loaded, seed=seed, faults=fault_config), "127.0.0.1", port)
