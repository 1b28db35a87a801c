"""`check-config` and `plan` warn before a round when a window cannot hold a group's conversations
(issue W2-4), once the roster has been read: here from the simulator on loopback (a free port),
for the default settings and for a copy made tight on purpose (Mondays 15:00-17:00 only)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.engine.run import run_due
from tests.engine.conftest import Env, local, new_env

START = local("2026-08-30 08:00")  # before the first school week: the roster job is due
TIGHT_HOURS = 'conversation_hours = { weekdays = ["ma"], hours = ["15:00-17:00"] }'


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """The default settings' school with its roster read once (the simulator stops after it)."""
    env = new_env(tmp_path_factory.mktemp("capacity"), start=START)
    try:
        engine = env.engine()
        (report,) = run_due(engine, START, trigger="schedule", only="roster")
        engine.store.dispose()
        assert report.outcome == "ok", report
    finally:
        env.stop()
    return env


def tight(env: Env) -> Path:
    text, n = re.subn(r"^conversation_hours = .*$", TIGHT_HOURS, env.settings.read_text(encoding="utf-8"), flags=re.M)
    assert n == 1, "settings.toml changed shape: one school conversation_hours line expected"
    path = env.folder / "tight.toml"
    path.write_text(text, encoding="utf-8")
    return path


def capacity_lines(output: str) -> list[str]:
    """The capacity warnings and notes: every one counts conversations (the vacation warnings do not)."""
    return [line for line in output.splitlines() if line.startswith(("warning: ", "note: ")) and "conversation" in line]


def test_a_tight_window_is_warned_about_by_check_config_and_plan(synced: Env):
    settings = str(tight(synced))
    checked = invoke("check-config", "--settings", settings).stdout
    assert "capacity not checked" not in checked
    lines = capacity_lines(checked)
    start = [line for line in lines if line.startswith("warning: school 12AB00, round start, Groep ")]
    assert start and all(", the window offers 12 slots on the teacher" in line for line in start), lines
    assert any(
        re.fullmatch(
            r"warning: school 12AB00, round start: \d+ support conversations need the IB \(staff \d+\), who works "
            r"on none of the window's days \(ma\)",
            line,
        )
        for line in lines
    ), lines

    (school,) = json.loads(invoke("plan", "--settings", settings, "--format", "json").stdout)["schools"]
    assert school["capacity_checked"] is True
    assert [f"{w['level']}: {w['message']}" for w in school["warnings"]] == lines

    table = invoke("plan", "--settings", settings).stdout
    assert capacity_lines(table) == lines  # under the school's table, one line each


def test_the_default_settings_hold_every_groups_conversations(synced: Env):
    result = invoke("check-config", "--settings", str(synced.settings))
    assert [line for line in capacity_lines(result.stdout) if line.startswith("warning: ")] == []
    assert "capacity not checked" not in result.stdout
    (school,) = json.loads(invoke("plan", "--settings", str(synced.settings), "--format", "json").stdout)["schools"]
    assert school["capacity_checked"] is True
    assert [w for w in school["warnings"] if w["level"] == "warning"] == []


def test_without_a_database_capacity_is_not_checked_and_no_database_is_made(write_settings, settings_dir: Path):
    path = write_settings()
    result = invoke("check-config", "--settings", str(path))
    assert result.stdout.splitlines()[-1] == (
        "capacity not checked for 12AB00: no roster read yet; each round's slots are checked against each "
        "group's conversations once the roster has been read"
    )
    assert not (settings_dir / "var").exists()
    (school,) = json.loads(invoke("plan", "--settings", str(path), "--format", "json").stdout)["schools"]
    assert school["capacity_checked"] is False and school["warnings"] == []
    assert "capacity not checked: no roster read yet" in invoke("plan", "--settings", str(path)).stdout
    assert not (settings_dir / "var").exists()
