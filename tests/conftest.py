"""Shared fixtures: a valid settings file to break in tests, and the shared reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

VALID_SETTINGS = """\
[store]
url = "var/test.db"

[pas]
base_url = "http://127.0.0.1:8765"
client_id = "connector-test"
client_secret = { file = "secrets/pas" }

[planner]
base_url = "http://127.0.0.1:8765"

[[schools]]
brin = "12AB00"
name = "Basisschool De Test"
region = "midden"
school_year = { year = "2026-2027" }
planner_api_key = { file = "secrets/planner" }

[cycles.standaard]

[[cycles.standaard.rounds]]
id = "start"
name = "Startgesprekken"
kind = "start"
window = { school_week = 2 }
slot_minutes = 10

[[cycles.standaard.rounds]]
id = "kind-okt"
name = "Kindgesprekken"
kind = "kind"
window = { month = "oktober" }

[[cycles.standaard.rounds]]
id = "rapport-feb"
name = "Rapportgesprekken"
kind = "rapport"
window = { start = 2027-02-08, end = 2027-02-12 }
"""


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    """A folder with the secret files that VALID_SETTINGS points at."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pas").write_text("test-pas-secret\n")
    (secrets / "planner").write_text("test-planner-key\n")
    return tmp_path


@pytest.fixture
def write_settings(settings_dir: Path):
    """Write a settings text into the fixture folder and return its path."""

    def write(text: str = VALID_SETTINGS) -> Path:
        path = settings_dir / "settings.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared reference data is not beside the repository ({SHARED})")
    return SHARED
