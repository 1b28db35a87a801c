"""Errors a person can act on. The CLI prints them without a traceback (one handler, cli.py)."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its lines are printed as they are, exit code `exit_code`."""

    exit_code = 1

    def __init__(self, lines: list[str] | str) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


class SettingsError(UserError):
    """The settings file is invalid; every problem is listed at once."""

    exit_code = 2
