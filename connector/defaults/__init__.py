"""The default settings shipped with the package: `connector demo` (and `connector simulator`) run
anywhere, also outside the checkout. `settings.toml` here is a copy of the repository's (the one
the README documents), with the simulator's dev secrets beside it; a test keeps them equal."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path


def packaged_settings() -> Path:
    """The packaged default settings file (one school on the built-in simulator)."""
    return Path(str(files(__package__) / "settings.toml"))


def demo_settings(path: str | None) -> str | None:
    """The settings a simulator command reads: `--settings`, else $CONNECTOR_SETTINGS, else
    ./settings.toml when there is one (as every command), else the packaged default."""
    if path is not None or os.environ.get("CONNECTOR_SETTINGS") or Path("settings.toml").exists():
        return path
    return str(packaged_settings())
