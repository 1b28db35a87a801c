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


def private_dev_secrets(folder: Path) -> Path:
    """A copy of the simulator's secrets in `folder`, readable by their owner only, as a service's
    secrets are (a checkout's files are 0644, and the service warns about those on every command)."""
    target = folder / "dev-secrets"
    target.mkdir(mode=0o700, exist_ok=True)
    for source in (REPO / "dev-secrets").glob("*-*"):
        copy = target / source.name
        copy.write_bytes(source.read_bytes())
        copy.chmod(0o600)
    return target


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    """A folder with the secret files that VALID_SETTINGS points at."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in (("pas", "test-pas-secret\n"), ("planner", "test-planner-key\n")):
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o600)
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
