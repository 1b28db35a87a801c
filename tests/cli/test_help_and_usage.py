"""The command's conventions (issue W2-7): `-h` as `--help`, `--version`, help texts that read
whole (no markup eaten, no `<bool>` beside a flag), and every unknown `--school` a usage error
(exit 2) as a bad `--format` is."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app, main
from tests.daemon.conftest import settings_copy


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160", **(env or {})})


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"connector {version('gesprekken-connector')}"


@pytest.mark.parametrize("command", [(), ("sync",), ("report", "verslagen"), ("web", "add-user")])
def test_h_is_help(command: tuple[str, ...]) -> None:
    short, long = run(*command, "-h"), run(*command, "--help")
    assert short.exit_code == long.exit_code == 0
    assert short.output == long.output and "Usage:" in short.output


def test_purge_help_names_the_retention_section() -> None:
    assert "longer ago than [retention] allows" in run("purge", "--help").output


def test_faults_help_is_whole() -> None:
    text = " ".join(run("simulator", "--help").output.replace("│", " ").split())
    assert "revoke_token_after=30" in text and "maintenance=01:00-01:30 (a daily outage)" in text


@pytest.mark.parametrize("command", ["sync", "purge", "status", "demo", "health", "logs"])
def test_flags_show_no_type(command: str) -> None:
    output = run(command, "--help").output
    assert "<bool>" not in output and "--help" in output


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--school", "XX99"),
        ("sync", "--school", "XX99"),
        ("status", "--school", "XX99"),
        ("logs", "--school", "XX99"),
        ("report", "verslagen", "--school", "XX99"),
        ("report", "contact", "--school", "XX99"),
        ("plan", "--format", "pdf"),
    ],
)
def test_unknown_school_is_a_usage_error(tmp_path: Path, monkeypatch, capsys, args: tuple[str, ...]) -> None:
    """Through `main()`, as the installed command runs: its handler turns errors into exit codes."""
    monkeypatch.setattr(sys, "argv", ["connector", *args, "--settings", str(settings_copy(tmp_path))])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 2
    assert ("XX99" if "XX99" in args else "pdf") in capsys.readouterr().err
