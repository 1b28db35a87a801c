"""Secret files others may read are used with a warning; the state folder and what the service
writes there are its own (0700 folders, 0600 files)."""

from __future__ import annotations

import json
import stat

from typer.testing import CliRunner

from connector.cli import app
from connector.cycle.settings import load_settings
from connector.runtime import start
from tests.conftest import VALID_SETTINGS


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_file_others_may_read_is_named_with_the_fix(write_settings, settings_dir):
    (settings_dir / "secrets" / "pas").chmod(0o644)
    (settings_dir / "secrets" / "planner").chmod(0o640)
    loaded = load_settings(write_settings())
    pas, planner = settings_dir / "secrets" / "pas", settings_dir / "secrets" / "planner"
    assert loaded.secret_warnings() == [
        f"secret file pas in {pas.parent} can be read by its group and others: chmod 600 it",
        f"secret file planner in {planner.parent} can be read by its group: chmod 600 it",
    ]
    assert loaded.read_secret(loaded.settings.pas.client_secret) == "test-pas-secret"  # used all the same


def test_private_secret_files_and_environment_secrets_give_no_warning(write_settings, settings_dir, monkeypatch):
    monkeypatch.setenv("CONNECTOR_TEST_PAS_SECRET", "from-the-environment")
    (settings_dir / "secrets" / "planner").chmod(0o600)
    text = VALID_SETTINGS.replace('{ file = "secrets/pas" }', '{ env = "CONNECTOR_TEST_PAS_SECRET" }')
    assert load_settings(write_settings(text)).secret_warnings() == []


def test_check_config_and_every_command_warn(write_settings, settings_dir, capsys):
    (settings_dir / "secrets" / "pas").chmod(0o604)
    (settings_dir / "secrets" / "planner").chmod(0o600)
    path = write_settings(VALID_SETTINGS.replace('url = "var/test.db"', 'url = "var/test.db"\n\n[logging]\nfile = ""'))
    result = CliRunner().invoke(app, ["check-config", "--settings", str(path)])
    assert result.exit_code == 0, result.output
    secret = settings_dir / "secrets" / "pas"
    warned = [line for line in result.stdout.splitlines() if line.startswith("warning: secret file")]
    assert warned == [f"warning: secret file pas in {secret.parent} can be read by others: chmod 600 it"]
    capsys.readouterr()
    start(str(path))  # what every command that uses the vendors or the store does first
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # log lines go to stdout
    assert [(e["level"], e["event"]) for e in logged] == [("warning", warned[0].removeprefix("warning: "))]


def test_the_state_folder_is_created_for_the_owner_only(write_settings, settings_dir):
    # The log file's folder is made first (var/log/), then the database (var/): var/ must be 0700 too.
    text = VALID_SETTINGS.replace('url = "var/test.db"', 'url = "var/test.db"\n\n[logging]\nfile = "var/log/c.jsonl"')
    runtime = start(str(write_settings(text)))
    from connector.store import upgrade_to_head

    upgrade_to_head(runtime.store_url)
    var = settings_dir / "var"
    assert (mode(var), mode(var / "log"), mode(var / "test.db"), mode(var / "log" / "c.jsonl")) == (
        0o700,
        0o700,
        0o600,
        0o600,
    )
