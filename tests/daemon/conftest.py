"""Daemon fixtures: a copy of the repository's settings.toml pointed at a temporary database
(and, for the process tests, at an in-process simulator on a free port)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import private_dev_secrets

REPO = Path(__file__).resolve().parents[2]


def settings_copy(folder: Path, base_url: str = "http://127.0.0.1:9") -> Path:
    """settings.toml with absolute secret paths, its database and log in `folder`."""
    text = (REPO / "settings.toml").read_text(encoding="utf-8")
    text = text.replace('"dev-secrets/', f'"{private_dev_secrets(folder)}/')
    text = re.sub(r"(?m)^base_url = .*$", f'base_url = "{base_url}"', text)
    text = re.sub(r"(?m)^url = .*$", f'url = "{folder}/var/connector.db"', text)
    text = re.sub(r"(?m)^file = .*$", f'file = "{folder}/var/log/connector.jsonl"', text)
    path = folder / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return settings_copy(tmp_path)
