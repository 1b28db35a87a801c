"""The `connector` command: `app.py` holds the app and its shared options; each other module adds
the commands of one concern, and only renders what the engine and the query layer return."""

from connector.cli import cycle, daemon, review, sync, web  # noqa: F401  (each registers its commands on `app`)
from connector.cli.app import app, main

__all__ = ["app", "main"]
