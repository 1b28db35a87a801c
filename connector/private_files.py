"""Owner-only files and folders: the state folder, the database, logs and reports hold pupil ids,
and secret files hold credentials."""

from __future__ import annotations

import stat
from pathlib import Path

DIR_MODE = 0o700


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and every missing parent 0700. `mkdir(parents=True)` gives the parents the
    umask's mode (usually 0755), so `var/` of `var/log/` would be readable by everyone."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)


def readable_by_others(path: Path) -> str | None:
    """Who besides the owner may read the file ("its group", "others", "its group and others"), or
    None when nobody else may (or the file is not there: reading it says so)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    who = [name for bit, name in ((stat.S_IRGRP, "its group"), (stat.S_IROTH, "others")) if mode & bit]
    return " and ".join(who) or None
