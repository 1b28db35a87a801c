"""The `connector` command as a user runs it: exit codes, messages, and the three plan formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.conftest import REPO, VALID_SETTINGS

EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def connector(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_check_config_accepts_the_default_settings():
    result = connector("check-config")
    assert result.returncode == 0, result.stderr
    assert "settings.toml: valid (1 school(s)" in result.stdout


def test_check_config_exits_2_with_every_problem_and_no_traceback(write_settings):
    path = write_settings(
        VALID_SETTINGS.replace('region = "midden"', 'region = "oost"').replace("slot_minutes = 10", "slot_minuten = 10")
    )
    result = connector("check-config", "--settings", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any("schools[0].region: 'oost' is not one of" in line for line in lines)


def test_broken_toml_is_a_message_not_a_traceback(write_settings):
    path = write_settings("[pas\nbase_url = 1\n")
    result = connector("check-config", "--settings", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not valid TOML" in result.stderr and "line 1" in result.stderr


def test_settings_come_from_the_environment_variable(write_settings, tmp_path):
    path = write_settings()
    result = connector("check-config", cwd=tmp_path.parent, env={"CONNECTOR_SETTINGS": str(path)})
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_plan_as_ics_is_a_calendar_with_every_round_window(path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "connector", "plan", "--settings", str(path), "--format", "ics"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    calendar = Calendar.from_ical(result.stdout)
    events = calendar.walk("VEVENT")
    windows = [e for e in events if str(e["uid"]).endswith("-window@gesprekken-connector")]
    as_json = json.loads(connector("plan", "--settings", str(path), "--format", "json").stdout)
    rounds = as_json["schools"][0]["rounds"]
    assert len(windows) == len(rounds)
    for event, rnd in zip(windows, rounds, strict=True):
        assert event.decoded("dtstart").isoformat() == rnd["window_start"]
        assert len({str(e["uid"]) for e in events}) == len(events)


def test_plan_json_gives_each_rounds_dates(tmp_path):
    result = connector("plan", "--format", "json")
    assert result.returncode == 0, result.stderr
    (school,) = json.loads(result.stdout)["schools"]
    start = school["rounds"][0]
    # Released to siblings on the first school day (a day later than set: 30-08 is a Sunday of the summer holiday).
    assert start["round"] == "start" and start["planner_release"] == "2026-08-31T08:00:00+02:00"
    assert start["planner_opens"] == "2026-09-01T08:00:00+02:00"
    assert start["planner_closes"] == "2026-09-04T17:00:00+02:00"  # Friday, not Sunday 06-09
    assert start["verslag_deadline"] == "2026-09-17"


def test_plan_table_shows_every_round():
    result = connector("plan", "--school", "12AB00")
    assert result.returncode == 0, result.stderr
    for round_id in ("start", "kind-okt", "advies-8", "rapport-feb", "rapport-jul"):
        assert round_id in result.stdout


def test_plan_for_an_unknown_school_names_the_known_ones():
    result = connector("plan", "--school", "99ZZ99")
    assert result.returncode == 2  # a usage error, as a bad option value is
    assert "no school 99ZZ99" in result.stderr and "known: 12AB00" in result.stderr


def test_init_db_creates_the_database_readable_by_its_owner_only(write_settings, settings_dir):
    path = write_settings()
    result = connector("init-db", "--settings", str(path))
    assert result.returncode == 0, result.stderr
    assert "schema revision" in result.stdout
    database = settings_dir / "var" / "test.db"
    assert database.stat().st_mode & 0o777 == 0o600
    again = connector("init-db", "--settings", str(path))
    assert again.returncode == 0 and again.stdout == result.stdout


def test_a_bad_option_value_is_a_usage_message_not_a_traceback():
    result = connector("plan", "--format", "pdf")
    assert result.returncode == 2
    assert "Invalid value for '--format'" in result.stderr and "Traceback" not in result.stderr
