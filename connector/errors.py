"""Errors a person can act on. The CLI prints them without a traceback (one handler, cli/app.py)."""

from __future__ import annotations

import errno
import os


class UserError(Exception):
    """A problem the user can fix; its lines are printed as they are, exit code `exit_code`."""

    exit_code = 1

    def __init__(self, lines: list[str] | str) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


class SettingsError(UserError):
    """The settings file is invalid; every problem is listed at once."""

    exit_code = 2


class UsageError(UserError):
    """An option's value cannot be used (a moment out of range, an unknown school, a missing folder)."""

    exit_code = 2


class AccessError(UserError):
    """A file or folder the connector must write is not writable (its permissions, or a read-only
    mount): the service is set up wrong, and retrying will not help (exit 2, as for settings)."""

    exit_code = 2


def not_writable(
    path: object, exc: OSError | None = None, *, what: str = "", setting: str = "", verb: str = "write"
) -> AccessError:
    """An AccessError of one line: `path` may not be written by this process, why, and the fix.

    `what` explains the path (" (the database folder: …)"); `setting` names the key that chooses
    another place ("[store] url")."""
    target = str(path)
    user = _user()
    if (exc is not None and exc.errno == errno.EROFS) or _on_read_only_mount(target):
        reason, fix = "read-only file system", "mount it read-write"
    else:
        reason, fix = f"permission denied for user {user}", f"give {user} write access (e.g. chown {user} {target})"
    instead = f", or set {setting} to a writable place" if setting else ""
    return AccessError(f"cannot {verb} {target}{what}: {reason}; {fix}{instead}")


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


def _on_read_only_mount(target: str) -> bool:
    """Whether the nearest existing folder of `target` is on a file system mounted read-only."""
    folder = os.path.abspath(target)
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
