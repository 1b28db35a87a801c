"""Fixtures for the review commands: settings files pointing at a database we control, the CLI
in-process, and logging put back as it was after each test."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector import logging_setup
from connector.cli import app
from tests.conftest import private_dev_secrets

REPO = Path(__file__).resolve().parents[2]


def settings_copy(folder: Path, database: Path, *, log_file: Path | None = None, extra: str = "") -> Path:
    """The repository's default settings, with the store at `database`, the log in `folder`,
    and the dev secrets by absolute path (so the copy works from any folder)."""
    text = (REPO / "settings.toml").read_text(encoding="utf-8")
    replacements = [
        (r'(?m)^url = "[^"]*"', f'url = "{database}"'),
        (r'(?m)^file = "[^"]*"', f'file = "{log_file or folder / "connector.jsonl"}"'),
        (r"dev-secrets/", f"{private_dev_secrets(folder)}/"),
    ]
    for pattern, value in replacements:
        text, found = re.subn(pattern, value.replace("\\", "\\\\"), text)
        assert found, f"settings.toml no longer has {pattern!r}"
    path = folder / "settings.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str, str]:
    """Run `connector ARGS` in-process; returns (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from connector.errors import UserError

        if not isinstance(result.exception, UserError):
            raise result.exception
        return result.exit_code, result.stdout, str(result.exception)
    return result.exit_code, result.stdout, result.stderr


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    logging_setup.reset_logging(level)
