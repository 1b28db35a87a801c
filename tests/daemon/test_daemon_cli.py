"""`connector daemon` and `connector health` as real processes against an in-process simulator.

The simulator serves the settings' school on a free loopback port, its clock running in real
time from Thursday 15 October 2026 09:00 (the advies-8 planners are due to open: released at
08:00, before the herfstvakantie); the daemon is started with the same moment (`--now`) and a
tick every 2 s. Waits are bounded polls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlmodel import select

import scheduler
from adapters.simulator import FaultConfig, Simulator
from connector.cycle.settings import load_settings
from connector.review.health import health_report
from connector.simulation import simulator_config
from connector.store import Store
from connector.store.models import JobMark, SyncRun
from tests.daemon.conftest import REPO, settings_copy

START = datetime(2026, 10, 15, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
READY_TIMEOUT = 60.0
POLL = 0.2


@pytest.fixture
def sim(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Simulator]:
    """The simulator; `indirect` parametrization gives a latency per request in ms."""
    latency = getattr(request, "param", 0)
    loaded = load_settings(settings_copy(tmp_path))
    config = replace(
        simulator_config(loaded, start=START, pupils_per_school=60, faults=FaultConfig(latency_ms=(latency, latency))),
        clock_rate=1.0,
    )
    simulator = Simulator(config)
    simulator.start(port=0)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def settings(tmp_path: Path, sim: Simulator) -> Path:
    return settings_copy(tmp_path, sim.base_url)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "connector", *args]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"}


def log_text(settings: Path) -> str:
    """The daemon's log file (`settings_copy` sets `[logging] file` beside the database)."""
    path = settings.parent / "var" / "log" / "connector.jsonl"
    return path.read_text() if path.exists() else ""


class Daemon:
    """`connector daemon` in a child process; its output goes to files (a full pipe would block it)."""

    def __init__(self, settings: Path, name: str = "daemon") -> None:
        self.out = settings.parent / f"{name}.out"
        self.err = settings.parent / f"{name}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                command("daemon", "--settings", str(settings), "--now", START.isoformat(), "--tick-seconds", "2"),
                cwd=REPO,
                env=env(),
                stdout=out,
                stderr=err,
                text=True,
            )

    def stderr(self) -> str:
        return self.err.read_text()

    def wait_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            line = next((entry for entry in self.stderr().splitlines() if entry.startswith("daemon running")), None)
            if line:
                return line
            if self.proc.poll() is not None:
                pytest.fail(f"the daemon exited with {self.proc.returncode}: {self.stderr()}")
            time.sleep(POLL)
        pytest.fail(f"the daemon was not ready within {READY_TIMEOUT} s: {self.stderr()}")

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def daemon(settings: Path) -> Iterator[Daemon]:
    running = Daemon(settings)
    try:
        running.wait_ready()
        yield running
    finally:
        running.end()


def health(settings: Path, *extra: str) -> tuple[int, dict]:
    done = subprocess.run(
        command("health", "--settings", str(settings), "--json", "--now", START.isoformat(), *extra),
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(POLL)
    pytest.fail(f"{what} not reached within {timeout} s")


def marks(settings: Path) -> dict[str, str]:
    store = Store(store_url_of(settings))
    try:
        with store.read() as session:
            return {m.key: m.run_id for m in session.exec(select(JobMark))}
    finally:
        store.dispose()


def outcomes(settings: Path, outcome: str) -> list[str]:
    """The ids of the runs in the store with this outcome."""
    store = Store(store_url_of(settings))
    try:
        with store.read() as session:
            return [r.id for r in session.exec(select(SyncRun).where(SyncRun.outcome == outcome))]
    finally:
        store.dispose()


def store_url_of(settings: Path) -> str:
    from connector.runtime import store_url

    return store_url(load_settings(settings))


# --- one daemon per database -------------------------------------------------------------------


def test_a_second_daemon_on_the_same_database_refuses_to_start_with_exit_3(settings, daemon):
    second = subprocess.run(
        command("daemon", "--settings", str(settings), "--tick-seconds", "2"),
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 3
    assert f"the daemon (pid {daemon.proc.pid}" in second.stderr
    assert "holds the daemon lock on" in second.stderr and "only one daemon runs per database" in second.stderr
    assert "Traceback" not in second.stderr
    assert daemon.proc.poll() is None  # the first one runs on


# --- a manual sync meanwhile ------------------------------------------------------------------


@pytest.mark.parametrize("sim", [300], indirect=True)  # slow vendors: the daemon's first tick takes seconds
def test_a_manual_sync_during_the_daemon_run_duplicates_nothing(settings, sim, daemon):
    sync = subprocess.run(
        command("sync", "--settings", str(settings), "--now", (START + timedelta(seconds=30)).isoformat()),
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sync.returncode == 0, sync.stderr
    # They met: the sync waited for the daemon's tick, or a tick gave way to the sync.
    assert "waiting up to" in sync.stderr or "tick skipped" in daemon.stderr()
    wait_for(lambda: "open:12AB00:2026-2027:advies-8" in marks(settings), what="the planners opened")
    wait_for(lambda: health(settings)[0] == 0, what="a healthy daemon after the sync")  # a few more ticks ran

    with sim.world.lock:
        planners = list(sim.world.schools["12AB00"].planners.values())
        messages = [m for m in sim.world.messages if m.kind == "message"]
    refs = Counter(p.external_ref for p in planners)
    assert planners and {ref: n for ref, n in refs.items() if n > 1} == {}
    counters = requests.get(f"{sim.base_url}/_sim/counters", timeout=10).json()
    assert counters["statuses"].get("POST /v1/planners 201", 0) == len(planners)
    assert counters["duplicate_messages"] == 0
    assert len({(tuple(sorted(m.recipients.items())), m.subject, m.body) for m in messages}) == len(messages)


# --- stopping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_daemon_cleanly_with_exit_0_within_seconds(settings, daemon, signum):
    started = time.monotonic()
    daemon.proc.send_signal(signum)
    assert daemon.proc.wait(timeout=15) == 0
    assert time.monotonic() - started < scheduler.STOP_GRACE + 2
    assert "Traceback" not in daemon.stderr()
    # Log lines go to the [logging] file, once, and APScheduler's own INFO lines nowhere.
    assert daemon.out.read_text() == "" and "{" not in daemon.stderr()
    assert '"next due"' in log_text(settings)
    assert "Adding job" not in log_text(settings) + daemon.stderr()

    code, report = health(settings)
    assert code == 1 and any("the daemon stopped at" in p for p in report["problems"])


@pytest.mark.parametrize("sim", [2500], indirect=True)  # vendors so slow that the first tick cannot end in time
def test_a_tick_that_does_not_end_within_the_grace_is_cut_off_and_the_exit_is_still_0(sim, settings, daemon):
    # At work: its first requests are in (a run's row is stored with its first write, after its reads).
    wait_for(lambda: sum(sim.world.counters.requests.values()) >= 2, what="the first tick's requests")
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=scheduler.STOP_GRACE + 10) == 0
    assert time.monotonic() - started < scheduler.STOP_GRACE + 3
    assert "the tick is still running; exiting without it" in log_text(settings)  # logs: the file only
    assert "Traceback" not in daemon.stderr()

    # The cut-off run is closed as interrupted before the exit, not left `running`, even before its first write.
    assert outcomes(settings, "running") == [] and outcomes(settings, "interrupted")
    code, report = health(settings)
    assert code == 1 and any("was interrupted" in p for p in report["problems"]), report["problems"]


# --- health -------------------------------------------------------------------------------------


def test_health_is_0_while_the_daemon_ticks_and_1_when_its_heartbeat_is_stale(settings, daemon):
    code, report = wait_for(lambda: (r := health(settings))[0] == 0 and r, what="a healthy report")
    assert report["healthy"] is True and report["problems"] == []
    assert report["last_success"]["roster"] and report["last_success"]["planners"]
    assert set(report["next_due"]["12AB00"]) >= {"roster", "bookings", "reminders", "close"}

    daemon.proc.kill()  # dies without a word, like a hung or killed process
    daemon.proc.wait(timeout=10)
    store = Store(store_url_of(settings))
    with store.write() as session:  # ten minutes pass
        session.get(JobMark, scheduler.HEARTBEAT_KEY).done_at = datetime.now(UTC) - timedelta(minutes=10)
    store.dispose()

    code, report = health(settings)
    assert code == 1
    assert any("last heartbeat is 10 min old" in p for p in report["problems"])


def test_health_reports_a_missing_database_as_unhealthy_in_plain_text(tmp_path):
    done = subprocess.run(
        command("health", "--settings", str(settings_copy(tmp_path))),
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "UNHEALTHY" in done.stdout and "no database" in done.stdout


# --- the health rule, in process ----------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[object, Store]]:
    loaded = load_settings(settings_copy(tmp_path))
    from connector.runtime import store_url

    s = Store(store_url(loaded))
    s.upgrade()
    yield loaded, s
    s.dispose()


def put(s: Store, *rows) -> None:
    with s.write() as session:
        for row in rows:
            session.merge(row)


NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def rule(loaded) -> dict:
    return health_report(loaded, now=NOW, wall=NOW, max_age=timedelta(minutes=5))


def test_health_rule_fresh_heartbeat_and_ok_runs_are_healthy_partial_runs_only_listed(store):
    loaded, s = store
    put(
        s,
        JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=NOW - timedelta(minutes=2)),
        SyncRun(id="run-1", trigger="daemon", started_at=NOW - timedelta(hours=1), outcome="partial"),
        SyncRun(id="run-2", trigger="daemon", started_at=NOW - timedelta(minutes=3), outcome="ok"),
    )
    report = rule(loaded)
    assert report["healthy"] is True
    assert report["failures"]["count"] == 1 and report["failures"]["recent"][0]["run_id"] == "run-1"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([], "no daemon heartbeat"),
        (
            [JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=NOW - timedelta(minutes=6))],
            "6 min old",
        ),
        (
            [
                JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=NOW - timedelta(minutes=1)),
                SyncRun(id="run-9", trigger="daemon", started_at=NOW - timedelta(minutes=1), outcome="failed"),
            ],
            "the last run run-9 failed",
        ),
        (
            [
                # The daemon's tick was cut off as it stopped, and it has not started again since.
                JobMark(key=scheduler.HEARTBEAT_KEY, job=scheduler.DAEMON_JOB, done_at=NOW - timedelta(minutes=1)),
                JobMark(key=scheduler.STOPPED_KEY, job=scheduler.DAEMON_JOB, done_at=NOW - timedelta(seconds=30)),
                SyncRun(id="run-8", trigger="daemon", started_at=NOW - timedelta(minutes=2), outcome="ok"),
                SyncRun(id="run-9", trigger="daemon", started_at=NOW - timedelta(minutes=1), outcome="interrupted"),
            ],
            "the last run run-9 was interrupted",
        ),
    ],
    ids=["no-heartbeat", "stale-heartbeat", "last-run-failed", "last-run-interrupted"],
)
def test_health_rule_unhealthy(store, rows, problem):
    loaded, s = store
    put(s, *rows)
    report = rule(loaded)
    assert report["healthy"] is False
    assert any(problem in p for p in report["problems"]), report["problems"]
