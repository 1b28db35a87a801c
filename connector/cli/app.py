"""The `connector` command itself: the Typer app, the options every command shares, and the one
handler that turns errors into messages. The commands live beside it, one module per concern."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import typer
from typer.core import TyperOption

from connector.cycle.settings import LoadedSettings
from connector.errors import UsageError, UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # sub-commands inherit it
    help="Runs the parent conversation cycle (gesprekkencyclus) between the planner and the pupil administration.",
)


def _flag_type(self: TyperOption, ctx) -> str | None:
    """No type for an on/off flag: this Typer version prints `<bool>` beside `--dry-run` and `--help`,
    which reads as if the flag wanted a value."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"connector {version('gesprekken-connector')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass  # the app's own options only; each command is registered by its module


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


#: The years a --now moment may lie in: far enough for any rehearsal, and the date arithmetic of
#: the year plan (a school year, a week of reminders) stays far from datetime's year 1 and 9999.
MOMENT_YEARS = (2000, 2100)


def parse_moment(text: str | None):
    """The moment of a --now option: now when absent; a UsageError when it has no offset or lies
    outside MOMENT_YEARS."""
    from datetime import datetime

    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now: {text!r} is not an ISO 8601 moment such as 2026-11-23T08:00:00+01:00") from None
    if moment.tzinfo is None:
        raise UsageError(f"--now: {text!r} has no UTC offset; add one, e.g. +01:00") from None
    first, last = MOMENT_YEARS
    if not first <= moment.year <= last:  # its own year: converting 9999-12-31 to UTC may overflow
        raise UsageError(f"--now: {text!r} is outside the years {first} to {last}")
    return moment


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


def _access_problem(exc: BaseException) -> str | None:
    """One line for an OSError that says a named file may not be written or read (permissions, a
    read-only mount) and that no part of the connector turned into a UserError at its source, e.g.
    the log file of [logging] file; None for anything else."""
    import errno

    if not isinstance(exc, OSError) or not exc.filename or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
        return None
    from connector.errors import not_writable

    return not_writable(exc.filename, exc, verb="open").lines[0]


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
        problem = _access_problem(exc)
        if problem is not None:  # the service's set-up, not a bug: no log entry (the log may be what failed)
            typer.echo(problem, err=True)
            raise SystemExit(2) from None
        import structlog

        structlog.get_logger("connector.cli").exception("internal error")
        typer.echo(f"internal error: {exc.__class__.__name__}; see the log file for details", err=True)
        raise SystemExit(70) from None
    raise SystemExit(code or 0)
