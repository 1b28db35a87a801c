"""`connector demo` runs anywhere (issue W2-7): outside the checkout it reads the settings shipped
with the package, a copy of the repository's documented `settings.toml` kept equal here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cycle.settings import load_settings
from connector.defaults import demo_settings, packaged_settings
from tests.conftest import REPO


def test_the_packaged_settings_are_the_repositorys() -> None:
    packaged = packaged_settings()
    assert packaged.read_text(encoding="utf-8") == (REPO / "settings.toml").read_text(encoding="utf-8")
    for secret in (packaged.parent / "dev-secrets").iterdir():
        assert secret.read_bytes() == (REPO / "dev-secrets" / secret.name).read_bytes()


def test_outside_the_checkout_the_packaged_settings_are_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONNECTOR_SETTINGS", raising=False)
    loaded = load_settings(demo_settings(None))
    assert loaded.path == packaged_settings() and loaded.settings.schools[0].brin == "12AB00"
    assert loaded.read_secret(loaded.settings.pas.client_secret)  # the dev secret beside it


@pytest.mark.parametrize("where", ["option", "environment", "cwd"])
def test_settings_given_are_read_as_for_every_command(tmp_path: Path, monkeypatch, where: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONNECTOR_SETTINGS", raising=False)
    if where == "option":
        assert demo_settings("mine.toml") == "mine.toml"
    elif where == "environment":
        monkeypatch.setenv("CONNECTOR_SETTINGS", str(tmp_path / "board.toml"))
        assert demo_settings(None) is None  # load_settings reads the variable
    else:
        (tmp_path / "settings.toml").write_text("")
        assert demo_settings(None) is None  # load_settings reads ./settings.toml


def test_demo_help_runs_from_another_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"}
    result = subprocess.run(
        [sys.executable, "-m", "connector", "demo", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and "--seed" in result.stdout, result.stderr
