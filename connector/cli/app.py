"""The `connector` command itself: the Typer app, the options every command shares, and the one
handler that turns errors into messages. The commands live beside it, one module per concern."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import typer

from connector.cycle.settings import LoadedSettings
from connector.errors import UserError

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
