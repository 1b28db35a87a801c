"""The `connector` command: `app.py` holds the Typer app and its shared options; each other module
adds the commands of one concern, and only renders what the engine and the query layer return.

A plain `connector daemon` command line starts without Typer and the other commands' modules
(`lean.py`); every other one, and `app`, loads them all."""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    """Entry point of the `connector` command."""
    from connector.cli.lean import run_plain_daemon

    run_plain_daemon(sys.argv[1:])  # exits when it was one
    from connector.cli.app import main as typer_main

    _commands()
    typer_main()


def _commands() -> Any:
    """The Typer app with every command registered."""
    from connector.cli import cycle, daemon, review, sync, web  # noqa: F401  (each registers its commands on `app`)
    from connector.cli.app import app

    # Loading the submodule `app` bound its name on this package: the name is the Typer app again.
    globals()["app"] = app
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # `from connector.cli import app` (the tests, `CliRunner`)
        return _commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
