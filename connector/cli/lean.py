"""What the command needs without Typer: the moment of `--now`, the one report of a failure, and
`connector daemon` itself, which starts here without Typer, Click or the other commands' modules
(the long-running process keeps only what it uses; issue W2-6).

Only a plain daemon command line takes the short way: `daemon` with `--settings PATH`,
`--tick-seconds N` (N >= 1) and `--now ISO`, each at most as Click reads it (`--opt value` or
`--opt=value`, the last one wins). Anything else (`--help`, an unknown option, a bad value) goes
to the Typer app, which says what is wrong exactly as before.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from connector.errors import UsageError, UserError

#: The years a --now moment may lie in: far enough for any rehearsal, and the date arithmetic of
#: the year plan (a school year, a week of reminders) stays far from datetime's year 1 and 9999.
MOMENT_YEARS = (2000, 2100)

_DAEMON_OPTIONS = {"--settings": "settings", "--tick-seconds": "tick_seconds", "--now": "now"}


def parse_moment(text: str | None) -> datetime:
    """The moment of a --now option: now when absent; a UsageError when it has no offset or lies
    outside MOMENT_YEARS."""
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


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def failure(exc: Exception, echo: Callable[[str], None] = _say) -> int:
    """Tell the user about `exc` (a UserError's lines; one line for anything else, which is logged)
    and return the exit code."""
    if isinstance(exc, UserError):
        for line in exc.lines:
            echo(line)
        return exc.exit_code
    problem = _access_problem(exc)
    if problem is not None:  # the service's set-up, not a bug: no log entry (the log may be what failed)
        echo(problem)
        return 2
    import structlog

    structlog.get_logger("connector.cli").exception("internal error")
    echo(f"internal error: {exc.__class__.__name__}; see the log file for details")
    return 70


def _access_problem(exc: BaseException) -> str | None:
    """One line for an OSError that says a named file may not be written or read (permissions, a
    read-only mount) and that no part of the connector turned into a UserError at its source, e.g.
    the log file of [logging] file; None for anything else."""
    import errno

    if not isinstance(exc, OSError) or not exc.filename or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
        return None
    from connector.errors import not_writable

    return not_writable(exc.filename, exc, verb="open").lines[0]


def serve_daemon(settings: str | None, tick_seconds: int, now: str | None, echo: Callable[[str], None]) -> int:
    """`connector daemon`: run the cycle on its schedule until SIGTERM; returns the exit code."""
    import scheduler
    from connector.runtime import start

    runtime = start(settings)
    clock = scheduler.shifted_clock(parse_moment(now)) if now else scheduler.utc_now
    return scheduler.serve(runtime, tick_seconds=tick_seconds, clock=clock, ready=echo)


def plain_daemon(args: list[str]) -> dict | None:
    """The options of a plain `daemon` command line (see above), or None for any other."""
    if not args or args[0] != "daemon":
        return None
    found: dict = {"settings": None, "tick_seconds": 60, "now": None}
    rest = args[1:]
    while rest:
        option, eq, value = rest[0].partition("=")
        if option not in _DAEMON_OPTIONS:
            return None
        if not eq:
            if len(rest) < 2:
                return None
            value, rest = rest[1], rest[2:]
        else:
            rest = rest[1:]
        if not value or value.startswith("-"):
            return None  # Click's reading of such values is its own
        if option == "--tick-seconds":
            if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
                return None
            found["tick_seconds"] = int(value)
        else:
            found[_DAEMON_OPTIONS[option]] = value
    return found


def run_plain_daemon(args: list[str]) -> None:
    """Run a plain `connector daemon` command line and exit; return at once for any other."""
    options = plain_daemon(args)
    if options is None:
        return
    if "rich" not in sys.modules:
        # structlog imports rich (and pygments) when it is installed, for its console tracebacks; the
        # daemon renders tracebacks as plain text (logging_setup), so it keeps 3 MB less without them.
        sys.modules["rich"] = None  # type: ignore[assignment]  # None in sys.modules: the import fails
    try:
        code = serve_daemon(options["settings"], options["tick_seconds"], options["now"], _say)
    except (EOFError, KeyboardInterrupt):
        _say("")
        _say("Aborted.")  # as Click says it
        raise SystemExit(130) from None
    except Exception as exc:
        raise SystemExit(failure(exc)) from None
    raise SystemExit(code)
