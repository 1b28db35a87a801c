"""The `connector` command itself: the Typer app, the options every command shares, and the one
handler that turns errors into messages. The commands live beside it, one module per concern."""

from __future__ import annotations

from typing import Annotated

import typer

from connector.cli.lean import MOMENT_YEARS as MOMENT_YEARS
from connector.cli.lean import failure
from connector.cli.lean import parse_moment as parse_moment
from connector.cycle.settings import LoadedSettings
from connector.errors import UsageError

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


def select_schools(loaded: LoadedSettings, brin: str | None):
    """The schools a --school option selects (all when absent); a UsageError naming the known ones."""
    schools = loaded.settings.schools
    if brin is None:
        return list(schools)
    chosen = [s for s in schools if s.brin == brin.upper()]
    if not chosen:
        raise UsageError(f"--school: no school {brin} in {loaded.path}; known: {', '.join(s.brin for s in schools)}")
    return chosen


def engine_run_lock(runtime, store, *, holder: str, wait: int, moment, tidy: bool = True):
    """The run lock of an engine run by hand (`engine.run.locked_run`), saying on stderr that it
    waits while the daemon runs."""
    from connector.engine.run import locked_run

    def waiting(who) -> None:
        typer.echo(f"waiting up to {wait} s: {who} is running a sync on this database", err=True)

    return locked_run(runtime.store_url, store, holder=holder, wait=wait, moment=moment, on_wait=waiting, tidy=tidy)


def main() -> None:
    """Entry point: run the app; user errors become plain messages, never a traceback."""
    try:
        code = app(standalone_mode=False)
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
    except Exception as exc:  # a UserError, or anything unexpected: logged (without locals), one line
        raise SystemExit(failure(exc, lambda line: typer.echo(line, err=True))) from None
    raise SystemExit(code or 0)
