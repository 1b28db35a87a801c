"""`sync` and `run-due` exit 0 only when everything due was done, 1 when something failed or was
postponed, 3 while another run holds the lock; a run left `running` by a process that died is
closed as `interrupted` by the next one to take the run lock (issue W2-2).

The engine is real (settings, year plan, store, `run_due`, the run log); only the plan of each
task (`connector.engine.run._plan`) is replaced, so no vendor is called."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from adapters.errors import TemporaryError
from connector import logging_setup
from connector.cli import app, main
from connector.cli.sync import exit_code
from connector.engine import run as engine_run
from connector.engine.actions import TaskPlan
from connector.engine.run import SchoolReport
from connector.instance_lock import run_lock
from connector.store import Store, upgrade_to_head
from connector.store.models import SyncEvent, SyncRun
from tests.conftest import REPO
from tests.daemon.conftest import settings_copy

AMS = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=AMS)  # the roster and verslag check are due


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    logging_setup.reset_logging(level)


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    path = settings_copy(tmp_path)
    upgrade_to_head(str(tmp_path / "var" / "connector.db"))
    return path


def store_of(settings: Path) -> Store:
    return Store(settings.parent / "var" / "connector.db")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def plans(fail: dict[str, Exception]):
    """A stand-in for each task's plan: does nothing, or raises the error given for its job."""

    def plan(step, task, run) -> TaskPlan:
        if task.job in fail:
            raise fail[task.job]
        return TaskPlan(task, [], lambda step: None)

    return plan


@pytest.mark.parametrize(
    ("fail", "code", "shown"),
    [
        ({}, 0, " ok"),
        ({"roster": TemporaryError("PAS is down", vendor="pas")}, 1, "postponed roster:12AB00:2026-11-23"),
        ({"verslagen": RuntimeError("a bug")}, 1, "postponed verslagen:12AB00:2026-11-23"),
    ],
    ids=["all-done", "postponed", "failed"],
)
@pytest.mark.parametrize("command", ["run-due", "sync"])
def test_sync_and_run_due_exit_0_only_when_everything_due_was_done(settings, monkeypatch, command, fail, code, shown):
    monkeypatch.setattr(engine_run, "_plan", plans(fail))
    got, out = cli(command, "--settings", str(settings), "--now", MONDAY.isoformat())
    assert got == code, out
    assert shown in out


def test_a_repeat_with_nothing_due_exits_0(settings, monkeypatch):
    monkeypatch.setattr(engine_run, "_plan", plans({}))
    assert cli("run-due", "--settings", str(settings), "--now", MONDAY.isoformat())[0] == 0
    code, out = cli("run-due", "--settings", str(settings), "--now", MONDAY.isoformat())
    assert code == 0 and "nothing due" in out


def test_the_exit_code_rule():
    assert exit_code([]) == 0
    assert exit_code([SchoolReport("12AB00"), SchoolReport("04XY00", run_id="r", done=["a"], outcome="ok")]) == 0
    assert exit_code([SchoolReport("12AB00", run_id="r", done=["a"], outcome="partial")]) == 1
    assert exit_code([SchoolReport("12AB00", run_id="r", outcome="failed")]) == 1
    assert exit_code([SchoolReport("12AB00", run_id="r", done=["a"], postponed=["b"], outcome="ok")]) == 1


@pytest.mark.parametrize("command", ["run-due", "sync", "purge"])
def test_a_held_run_lock_exits_3_naming_the_holder(settings, command):
    with run_lock(str(settings.parent / "var" / "connector.db"), holder="the daemon"):
        result = subprocess.run(
            [sys.executable, "-m", "connector", command, "--settings", str(settings), "--wait", "0"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"},
        )
    assert result.returncode == 3, result.stderr
    assert f"the daemon (pid {os.getpid()}" in result.stderr and "holds the run lock" in result.stderr
    assert "Traceback" not in result.stderr


# --- interrupted runs ----------------------------------------------------------------------------


def put_runs(store: Store, *runs: SyncRun) -> None:
    with store.write() as session:
        for run in runs:
            session.add(run)


def outcomes(store: Store) -> dict[str, tuple[str, datetime | None]]:
    with store.read() as session:
        return {r.id: (r.outcome, r.ended_at) for r in session.exec(select(SyncRun))}


@pytest.mark.parametrize(
    "command",
    [("run-due",), ("sync",), ("purge",)],
    ids=lambda c: c[0],
)
def test_taking_the_run_lock_closes_runs_a_dead_process_left_running(settings, monkeypatch, command):
    store = store_of(settings)
    started = MONDAY.astimezone(UTC) - timedelta(hours=2)
    put_runs(
        store,
        SyncRun(id="dead-1", trigger="daemon", started_at=started),
        SyncRun(id="done-1", trigger="daemon", started_at=started, ended_at=started, outcome="ok"),
    )
    monkeypatch.setattr(engine_run, "_plan", plans({}))
    code, out = cli(*command, "--settings", str(settings), "--now", MONDAY.isoformat())
    assert code == 0, out
    got = outcomes(store)
    assert got["dead-1"] == ("interrupted", MONDAY.astimezone(UTC))
    assert got["done-1"] == ("ok", started)
    assert "running" not in {outcome for outcome, _ in got.values()}
    with store.read() as session:
        event = session.exec(select(SyncEvent).where(SyncEvent.run_id == "dead-1")).one()
    assert (event.level, event.action) == ("warning", "run interrupted")
    store.dispose()


def test_a_dry_run_leaves_them_to_the_next_run(settings):
    store = store_of(settings)
    put_runs(store, SyncRun(id="dead-1", trigger="daemon", started_at=MONDAY - timedelta(hours=2)))
    code, _ = cli("purge", "--dry-run", "--settings", str(settings), "--now", MONDAY.isoformat())
    assert code == 0
    assert outcomes(store)["dead-1"][0] == "running"
    store.dispose()


def test_a_run_that_ctrl_c_cuts_short_exits_130_and_is_closed_as_interrupted(settings, monkeypatch, capfd):
    def ctrl_c(step, task, run):
        raise KeyboardInterrupt  # what SIGINT raises in the main thread, mid-run

    monkeypatch.setattr(engine_run, "_plan", ctrl_c)
    monkeypatch.setattr(sys, "argv", ["connector", "run-due", "--settings", str(settings), "--now", MONDAY.isoformat()])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130
    err = capfd.readouterr().err
    assert "Traceback" not in err
    store = store_of(settings)
    assert {outcome for outcome, _ in outcomes(store).values()} == {"interrupted"}
    store.dispose()
