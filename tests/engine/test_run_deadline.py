"""Every run ends, whatever the vendors do (issue W2-2): against a hostile vendor (`hostile.py`, a
proxy in front of the simulator) that trickles a byte every 20 ms, claims 10**15 pupils or hands
out a new cursor with the same children for ever, `connector sync` exits 1 within its bounds,
naming the bound that ended the work (`[sync] run_deadline_seconds`, `request_deadline_seconds`)
or the loop (needs a person). A daemon tick on a trickling PAS returns by its deadline and frees
the run lock; `health` turns unhealthy once the roster has kept failing past
`health.max_failure_minutes`, and names a run still `running` past its deadline.

Unbounded, the trickle (1 MB at 50 bytes a second) and the listing of 10**15 pupils would each
keep a run, and the run lock, for ever; the bounds below are generous only for a busy machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

import scheduler
from connector.cycle.settings import load_settings
from connector.instance_lock import run_lock
from connector.review.health import health_report
from connector.runtime import Runtime, build_engine, store_url
from connector.store import Store, upgrade_to_head
from connector.store.models import Attention, SyncRun

from .conftest import BRIN, Env, local, new_env, write_settings
from .hostile import PUPILS, EndlessCursor, HostileProxy, HugeTotal, Trickle

START = local("2026-08-30 08:00")  # a Sunday before the school year's first week; the roster is due
ROSTER = f"roster:{BRIN}:2026-08-30"
RUN_DEADLINE = "[sync] run_deadline_seconds"
ELAPSED_BOUND = 90.0  # seconds: generous for a 2-core machine; unbounded these runs never end
SUBPROCESS_TIMEOUT = 180.0  # the test's own safety net, above ELAPSED_BOUND


def bounded_settings(
    folder: Path,
    base_url: str,
    *,
    run_deadline: int,
    pas_request_deadline: float | None = None,
    planner_request_deadline: float | None = None,
) -> Path:
    """The env's settings with both vendors at `base_url` and the given bounds; validated."""
    path = write_settings(folder, base_url)
    text = path.read_text(encoding="utf-8")
    text = _once(r"^\[pas\]", f"[sync]\nrun_deadline_seconds = {run_deadline}\n\n[pas]", text)
    for table, seconds in (("pas", pas_request_deadline), ("planner", planner_request_deadline)):
        if seconds is not None:
            text = _once(rf"^\[{table}\][^\n]*$", rf"\g<0>\nrequest_deadline_seconds = {seconds:g}", text)
    path.write_text(text, encoding="utf-8")
    parsed = load_settings(str(path)).settings  # raises when the file is not valid any more
    assert parsed.sync.run_deadline_seconds == run_deadline
    assert parsed.pas.base_url == parsed.planner.base_url == base_url
    return path


def _once(pattern: str, replacement: str, text: str) -> str:
    out, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert n == 1, f"settings.toml changed shape: {pattern!r} matched {n} times"
    return out


def sync(env: Env, moment: datetime = START) -> tuple[subprocess.CompletedProcess, float]:
    """`connector sync --now moment` as a real process; also how long it took (seconds)."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "connector", "sync", "--now", moment.isoformat(), "--settings", str(env.settings)],
        cwd=env.folder,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env={k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"},
    )
    return done, time.monotonic() - began


def postponed_line(output: str, key: str) -> str:
    lines = [line for line in output.splitlines() if line.strip().startswith(f"postponed {key}")]
    assert lines, output
    return lines[0]


def test_a_trickling_pas_is_cut_off_by_the_run_deadline_before_the_longer_request_deadline(tmp_path):
    env = new_env(tmp_path / "trickle-run", start=START)
    try:
        with HostileProxy(env.url, Trickle(PUPILS)) as proxy:
            bounded_settings(env.folder, proxy.base_url, run_deadline=3, pas_request_deadline=30)
            done, elapsed = sync(env)
            output = done.stdout + done.stderr
            assert done.returncode == 1, output
            assert elapsed < ELAPSED_BOUND  # without the deadline the trickle would never end
            assert proxy.claims("trickle") >= 1
        line = postponed_line(done.stdout, ROSTER)
        assert RUN_DEADLINE in line and "passed while reading the response" in line, line
        assert "request_deadline_seconds" not in output  # the run's 3 s ended it, not the request's 30 s
        assert "not tried" in done.stdout  # the rest of the school's work is left for the next run
        assert "Traceback" not in output
    finally:
        env.stop()


def test_a_trickling_pas_is_cut_off_by_the_request_deadline_when_that_is_shorter(tmp_path):
    env = new_env(tmp_path / "trickle-request", start=START)
    try:
        with HostileProxy(env.url, Trickle(PUPILS)) as proxy:
            # 10 s is the smallest request deadline the settings accept (PAS asks to allow 10 s).
            bounded_settings(env.folder, proxy.base_url, run_deadline=600, pas_request_deadline=10)
            done, elapsed = sync(env)
            output = done.stdout + done.stderr
            assert done.returncode == 1, output
            assert elapsed < ELAPSED_BOUND  # without the deadline the trickle would never end
            assert proxy.claims("trickle") == 1  # a limit hit is never repeated at once
        line = postponed_line(done.stdout, ROSTER)
        assert "request_deadline_seconds" in line and "total deadline of 10 s" in line, line
        assert RUN_DEADLINE not in output
        assert "Traceback" not in output
    finally:
        env.stop()


def test_a_pas_listing_of_ten_to_the_fifteen_pupils_ends_at_the_run_deadline(tmp_path):
    env = new_env(tmp_path / "huge", start=START)
    try:
        with HostileProxy(env.url, HugeTotal()) as proxy:
            bounded_settings(env.folder, proxy.base_url, run_deadline=3)
            done, elapsed = sync(env)
            output = done.stdout + done.stderr
            assert done.returncode == 1, output
            assert elapsed < ELAPSED_BOUND  # 2 * 10**12 pages of 500: unbounded it would never end
            pages = proxy.claims("huge_total")
            assert pages >= 2  # it really paged on, page after full page
        line = postponed_line(done.stdout, ROSTER)
        assert RUN_DEADLINE in line, line
        assert "Traceback" not in output
    finally:
        env.stop()


def test_a_planner_cursor_that_changes_with_the_same_children_needs_a_person(tmp_path):
    env = new_env(tmp_path / "cursor", start=START)
    try:
        with HostileProxy(env.url, EndlessCursor()) as proxy:
            bounded_settings(env.folder, proxy.base_url, run_deadline=120)
            done, elapsed = sync(env)
            output = done.stdout + done.stderr
            assert done.returncode == 1, output
            assert elapsed < ELAPSED_BOUND
            assert proxy.claims("endless_cursor") >= 2  # the second page showed the loop
        line = postponed_line(done.stdout, ROSTER)
        assert "needs a person since" in line, line
        assert "parro GET /children" in line and "new cursor but held only items already seen" in line, line
        assert "Traceback" not in output
        store = Store(str(env.db))
        try:
            with store.read() as session:
                scopes = {row.scope for row in session.exec(select(Attention))}
        finally:
            store.dispose()
        assert f"task:{ROSTER}" in scopes
    finally:
        env.stop()


class FakeClock:
    """The daemon's business clock, moved by the test (as in tests/daemon/test_scheduler.py)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


def runs(store: Store) -> dict[str, str]:
    with store.read() as session:
        return {run.id: run.outcome for run in session.exec(select(SyncRun))}


def test_a_daemon_tick_on_a_trickling_pas_ends_by_its_deadline_and_health_names_the_roster_later(tmp_path):
    first = local("2026-08-30 06:05")  # five minutes after the roster fell due
    env = new_env(tmp_path / "daemon", start=first)
    try:
        with HostileProxy(env.url, Trickle(PUPILS)) as proxy:
            loaded = load_settings(str(bounded_settings(env.folder, proxy.base_url, run_deadline=3)))
            runtime = Runtime(loaded, store_url(loaded))
            clock = FakeClock(first)
            daemon = scheduler.Daemon(
                runtime,
                clock=clock,
                wall=scheduler.utc_now,  # the heartbeat and the runs' real start: real time
                engine_factory=lambda rt: build_engine(rt, throttle=False),
            )
            store = daemon.engine.store
            try:
                began = time.monotonic()
                reports = daemon.tick()
                assert time.monotonic() - began < ELAPSED_BOUND  # unbounded, the tick would never return
                assert reports is not None, "the tick was skipped"
                (report,) = reports
                assert ROSTER in report.postponed and RUN_DEADLINE in report.reasons[ROSTER], report.reasons
                assert proxy.claims("trickle") >= 1
                with run_lock(runtime.store_url, holder="test", wait=0):
                    pass  # free: the tick let go of it
                assert runs(store) and "running" not in runs(store).values(), runs(store)
                early = health_report(loaded, now=clock(), wall=scheduler.utc_now(), max_age=timedelta(minutes=5))
                assert early["healthy"] is True, early["problems"]  # one slow tick, caught up later: not yet a failure

                clock.now = first + timedelta(hours=2, minutes=5)  # PAS has trickled ever since
                env.set_clock(clock.now)
                began = time.monotonic()
                reports = daemon.tick()
                assert time.monotonic() - began < ELAPSED_BOUND
                assert reports is not None and ROSTER in reports[0].postponed
                assert "running" not in runs(store).values()
                later = health_report(loaded, now=clock(), wall=scheduler.utc_now(), max_age=timedelta(minutes=5))
            finally:
                store.dispose()
        assert later["healthy"] is False
        failing = [p for p in later["problems"] if f"school {BRIN}: roster has been due since" in p]
        assert failing and "health.max_failure_minutes" in failing[0], later["problems"]
    finally:
        env.stop()


def test_health_names_a_run_still_running_past_its_deadline_and_not_one_that_just_started(tmp_path):
    folder = tmp_path / "stuck"
    folder.mkdir()
    settings = bounded_settings(folder, "http://127.0.0.1:9", run_deadline=60)  # no vendor is asked
    loaded = load_settings(str(settings))
    upgrade_to_head(store_url(loaded))
    wall = datetime.now(UTC)
    store = Store(store_url(loaded))
    try:
        with store.write() as session:
            for run_id, started in (("stuck", timedelta(seconds=60, minutes=6)), ("recent", timedelta(minutes=1))):
                session.add(
                    SyncRun(
                        id=run_id,
                        trigger="daemon",
                        started_at=START,  # the business moment (`--now`) does not count, the real start does
                        wall_started_at=wall - started,
                        outcome="running",
                    )
                )
    finally:
        store.dispose()
    report = health_report(loaded, now=START, wall=wall, max_age=timedelta(minutes=5))
    assert report["healthy"] is False
    stuck = [p for p in report["problems"] if p.startswith("run stuck has been running since")]
    assert stuck and f"{RUN_DEADLINE} is 60" in stuck[0] and "it hangs" in stuck[0], report["problems"]
    assert not any("run recent" in p for p in report["problems"]), json.dumps(report["problems"], indent=2)
