"""The daemon's tick under a fake clock: catch-up after downtime, DST days, the run lock, reloads.

The engine is real (settings, year plan, store, `run_due`, `due_tasks`, JobMark rows); only the
plan of each task (`connector.engine.run._plan`) is replaced by a recorder. The real
scheduler loop never runs here (pitfalls, "Testing time"): the tests call `Daemon.tick`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import select
from structlog.testing import capture_logs

import scheduler
from adapters.simulator import FaultConfig, Simulator
from connector.cycle.settings import load_settings
from connector.engine import run as engine_run
from connector.engine.actions import TaskPlan
from connector.engine.context import Engine
from connector.instance_lock import run_lock
from connector.runtime import Runtime, build_engine, store_url
from connector.simulation import simulator_config
from connector.store import Store
from connector.store.models import SyncRun
from tests.daemon.conftest import settings_copy

AMS = ZoneInfo("Europe/Amsterdam")
BRIN = "12AB00"
ADVIES = f"{BRIN}:2026-2027:advies-8"
# The default settings' July round on school days: released Thursday 24 June 08:00, open from Friday
# 25 June 08:00, one reminder Thursday 1 July 17:00, closed Friday 2 July 17:00.
JULY = f"{BRIN}:2026-2027:rapport-jul"
KNOWN = {"roster", "open", "bookings", "remind", "close", "verslagen", "overview"}


class Recorder:
    """Stands in for the vendor work of each task; records (key, job, local time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, datetime]] = []

    def __call__(self, step, task, run) -> TaskPlan:
        return TaskPlan(task, [], lambda step: self.calls.append((task.key, task.job, step.now.astimezone(AMS))))

    def done_keys(self, known: bool = False) -> list[str]:
        """The keys done, in order; `known`: only the job kinds these tests know (the engine
        may grow more, e.g. a retention purge, which the daemon runs without knowing them)."""
        return [key for key, _, _ in self.calls if not known or key.split(":")[0] in KNOWN]


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


@pytest.fixture
def performed(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(engine_run, "_plan", recorder)
    return recorder


def offline_engine(runtime: Runtime) -> Engine:
    return Engine(runtime.loaded, Store(runtime.store_url), pas=None, planner_for=lambda brin: None)


@pytest.fixture
def runtime(settings_file: Path) -> Runtime:
    loaded = load_settings(settings_file)
    url = store_url(loaded)
    Store(url).upgrade()
    return Runtime(loaded, url)


def make_daemon(runtime: Runtime, clock=scheduler.utc_now) -> scheduler.Daemon:
    return scheduler.Daemon(runtime, clock=clock, wall=clock, engine_factory=offline_engine)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


def tick_through(daemon: scheduler.Daemon, clock: FakeClock, start: datetime, end: datetime, step: timedelta) -> None:
    moment = start
    while moment < end:
        clock.now = moment
        daemon.tick()
        moment = (moment.astimezone(UTC) + step).astimezone(AMS)  # steps of real time, not wall time


def test_downtime_does_each_missed_item_once_in_order_and_the_missed_opening_late(runtime, performed):
    clock = FakeClock(local(2027, 6, 24, 7, 0))
    daemon = make_daemon(runtime, clock)
    daemon.tick()  # the last tick before the server went off: Thursday 07:00
    performed.calls.clear()

    clock.now = local(2027, 7, 1, 18, 0)  # back the next Thursday evening, a week and ten hours later
    with capture_logs() as logs:
        daemon.tick()

    assert performed.done_keys(known=True) == [
        f"roster:{BRIN}:2027-07-01",  # first, what the rest works on: eight missed nights collapse into today's one
        f"open:{JULY}",  # due Thursday 08:00: done late, not skipped
        f"verslagen:{BRIN}:2027-07-01",  # likewise the daily verslag check
        f"remind:{JULY}:20270701T1700",  # the reminder whose moment passed, once
        f"bookings:{JULY}:154",  # the polls missed collapse into the current one
        f"overview:{BRIN}:2027-W26",  # Monday 08:00 weekly: the week's one, late, after the check it reports on
    ]
    late = {entry["key"]: entry for entry in logs if entry["event"] == "done late"}
    assert late[f"open:{JULY}"]["due_at"] == "2027-06-24T08:00:00+02:00"
    assert late[f"open:{JULY}"]["late_minutes"] == (7 * 24 + 10) * 60

    performed.calls.clear()
    daemon.tick()  # the same moment again: nothing is done twice
    assert performed.calls == []


def test_the_rest_of_the_round_follows_once_after_the_catch_up(runtime, performed):
    clock = FakeClock(local(2027, 7, 1, 18, 0))
    daemon = make_daemon(runtime, clock)
    tick_through(daemon, clock, local(2027, 7, 1, 18, 0), local(2027, 7, 3, 0, 0), timedelta(minutes=15))

    counts = Counter(performed.done_keys())
    assert {k: n for k, n in counts.items() if n != 1} == {}
    assert [(k, t.isoformat()) for k, job, t in performed.calls if job in ("reminders", "close")] == [
        (f"remind:{JULY}:20270701T1700", "2027-07-01T18:00:00+02:00"),
        (f"close:{JULY}", "2027-07-02T17:00:00+02:00"),
    ]


@pytest.mark.parametrize("day", [date(2026, 10, 25), date(2027, 3, 28)], ids=["autumn", "spring"])
def test_on_a_dst_day_each_daily_job_runs_once_at_its_local_time(runtime, performed, day):
    start = local(day.year, day.month, day.day) - timedelta(days=1)
    end = start + timedelta(days=3)
    with time_machine.travel(start, tick=False) as traveller:
        daemon = make_daemon(runtime)  # the real clock, moved by time-machine
        moment = start.astimezone(UTC)
        while moment < end:
            traveller.move_to(moment)
            daemon.tick()
            moment += timedelta(minutes=1)

    for job, at in (("roster", "06:00"), ("verslagen", "07:00")):
        for each in (day - timedelta(days=1), day, day + timedelta(days=1)):
            runs = [t.strftime("%Y-%m-%d %H:%M") for k, j, t in performed.calls if k == f"{job}:{BRIN}:{each}"]
            assert runs == [f"{each} {at}"], (job, each)
    assert {k: n for k, n in Counter(performed.done_keys()).items() if n != 1} == {}


def long_advies_round(settings_file: Path) -> Runtime:
    """The default settings with the advies-8 planners open from Thursday 15 October 08:00 to
    Tuesday 27 October 12:00 (both school days), over the herfstvakantie and the autumn clock
    change: bookings are polled in a vacation too (a poll sends nobody anything)."""
    window = 'window = { after = "herfstvakantie", before = "kerstvakantie" }\n'
    planner = 'planner = { opens_days_before = 12, closes_days_before = 0, closes_at = "12:00" }\n'
    text = settings_file.read_text()
    assert window in text
    settings_file.write_text(text.replace(window, window + planner))
    loaded = load_settings(settings_file)
    url = store_url(loaded)
    Store(url).upgrade()
    return Runtime(loaded, url)


def test_booking_polls_follow_real_hours_across_the_autumn_change(settings_file, performed):
    runtime = long_advies_round(settings_file)
    clock = FakeClock(local(2026, 10, 24, 0, 0))
    daemon = make_daemon(runtime, clock)
    tick_through(daemon, clock, local(2026, 10, 24, 0, 0), local(2026, 10, 26, 0, 0), timedelta(minutes=1))

    polls = Counter(t.date() for _, job, t in performed.calls if job == "bookings")
    assert polls[date(2026, 10, 24)] == 24
    assert polls[date(2026, 10, 25)] == 25  # the local day with an hour twice


def test_a_tick_is_skipped_while_a_manual_sync_holds_the_run_lock(runtime, performed):
    clock = FakeClock(local(2026, 11, 23, 9, 0))
    daemon = make_daemon(runtime, clock)
    with run_lock(runtime.store_url, holder="a manual sync"), capture_logs() as logs:
        assert daemon.tick() is None
    assert performed.calls == []
    assert any(e["event"].startswith("tick skipped") and "a manual sync" in e["holder"] for e in logs)

    daemon.tick()  # the next tick catches up
    assert f"roster:{BRIN}:2026-11-23" in performed.done_keys()


def test_a_changed_settings_file_is_reloaded_and_an_invalid_one_kept_out(runtime, performed, settings_file):
    clock = FakeClock(local(2026, 11, 23, 4, 0))
    daemon = make_daemon(runtime, clock)
    daemon.tick()
    text = settings_file.read_text()

    settings_file.write_text(text.replace('level = "info"', 'level = "chatty"'))
    with capture_logs() as logs:
        assert daemon.reload_if_changed() is False
    warning = next(e for e in logs if e["event"].startswith("settings changed but cannot be used"))
    assert any("chatty" in line or "level" in line for line in warning["problems"])
    assert daemon.engine.settings.sync.roster_at.hour == 6

    settings_file.write_text(text.replace("[pas]", '[sync]\nroster_at = "05:00"\n\n[pas]'))
    clock.now = local(2026, 11, 24, 5, 0)
    daemon.tick()
    assert daemon.engine.settings.sync.roster_at.hour == 5
    assert (f"roster:{BRIN}:2026-11-24", "roster", local(2026, 11, 24, 5, 0)) in performed.calls


def test_next_due_shows_each_job_kind_the_engine_will_do(runtime):
    engine = offline_engine(runtime)
    upcoming = engine_run.next_due(engine, engine.settings.schools[0], local(2027, 6, 24, 7, 30).astimezone(UTC))
    shown = {job: at.astimezone(AMS).isoformat() for job, at in upcoming.items()}
    assert shown["planners"] == "2027-06-24T08:00:00+02:00"
    assert shown["bookings"] == "2027-06-25T08:00:00+02:00"
    assert shown["reminders"] == "2027-07-01T17:00:00+02:00"
    assert shown["close"] == "2027-07-02T17:00:00+02:00"
    assert shown["roster"] == "2027-06-24T06:00:00+02:00"  # due now: today's run is still to do


def test_a_stopping_daemon_starts_no_tick(runtime, performed):
    daemon = make_daemon(runtime, FakeClock(local(2026, 11, 23, 9, 0)))
    daemon.stop.set()
    assert daemon.tick() is None
    assert performed.calls == []


def outcomes(daemon: scheduler.Daemon) -> dict[str, str]:
    with daemon.engine.store.read() as session:
        return {r.id: r.outcome for r in session.exec(select(SyncRun))}


def test_a_tick_closes_the_runs_a_dead_process_left_running_once_it_holds_the_run_lock(runtime, performed):
    clock = FakeClock(local(2026, 11, 23, 9, 0))
    daemon = make_daemon(runtime, clock)
    with daemon.engine.store.write() as session:
        session.add(SyncRun(id="killed", trigger="manual", started_at=clock() - timedelta(hours=1)))
    with run_lock(runtime.store_url, holder="a manual sync"):  # that sync is still at work: not closed
        assert daemon.tick() is None
    assert outcomes(daemon)["killed"] == "running"

    daemon.tick()
    got = outcomes(daemon)
    assert got.pop("killed") == "interrupted"
    assert got and set(got.values()) == {"ok"}  # this tick's own runs finished as usual


def test_a_cut_off_at_the_stop_closes_only_the_daemons_runs_and_only_while_its_tick_holds_the_lock(runtime):
    clock = FakeClock(local(2026, 11, 23, 9, 0))
    daemon = make_daemon(runtime, clock)
    with daemon.engine.store.write() as session:
        session.add(SyncRun(id="tick", trigger="daemon", started_at=clock()))
        session.add(SyncRun(id="sync", trigger="manual", started_at=clock()))
    assert daemon.cut_off() == []  # between ticks a run `running` is not the daemon's to close
    daemon.in_run.set()  # the tick is in the middle of its run
    assert daemon.cut_off() == ["tick"]
    assert outcomes(daemon) == {"tick": "interrupted", "sync": "running"}


def test_the_scheduler_holds_a_tick_and_a_heartbeat_in_memory_with_safe_defaults(runtime):
    daemon = make_daemon(runtime, FakeClock(local(2026, 11, 23, 9, 0)))
    sched = scheduler.build_scheduler(daemon, tick_seconds=60)  # built, never started
    jobs = {job.id: job for job in sched.get_jobs()}
    assert set(jobs) == {"tick", "heartbeat"}
    assert sched._job_defaults == {"misfire_grace_time": 30, "coalesce": True, "max_instances": 1}
    assert jobs["tick"].trigger.interval == timedelta(seconds=60)
    assert type(sched._jobstores["default"]).__name__ == "MemoryJobStore"


def test_the_catch_up_on_the_simulator_opens_the_missed_planners_once_and_reminds_once(tmp_path):
    """The same catch-up with the real engine and vendor clients, against the simulator."""
    back = local(2027, 7, 1, 18, 0)
    loaded = load_settings(settings_copy(tmp_path))
    config = replace(simulator_config(loaded, start=back, pupils_per_school=60), faults=FaultConfig(latency_ms=(0, 0)))
    with Simulator(config) as sim:
        loaded = load_settings(settings_copy(tmp_path, sim.base_url))
        runtime = Runtime(loaded, store_url(loaded))
        daemon = scheduler.Daemon(
            runtime,
            clock=FakeClock(back),
            wall=FakeClock(back),
            engine_factory=lambda rt: build_engine(rt, throttle=False),
        )
        reports = daemon.tick()
        done = [key for report in reports for key in report.done]
        assert {f"open:{JULY}", f"roster:{BRIN}:2027-07-01", f"remind:{JULY}:20270701T1700"} <= set(done)
        writes = sim.world.counters.writes.copy()

        assert [r.done for r in daemon.tick()] == []  # a repeat at the same moment: nothing
        assert sim.world.counters.writes == writes
        with sim.world.lock:
            refs = Counter(p.external_ref for p in sim.world.schools[BRIN].planners.values())
        assert refs and max(refs.values()) == 1
        counters = sim.world.counters.to_json(sim.world.messages)
        assert counters["messages_sent"] > 0 and counters["duplicate_messages"] == 0
        daemon.engine.store.dispose()


def test_a_booking_period_that_passed_wholly_during_downtime_is_reported_once_not_silently_skipped(runtime, performed):
    clock = FakeClock(local(2026, 10, 12, 7, 0))
    daemon = make_daemon(runtime, clock)
    daemon.tick()  # the service ran days before the advies round's planners were due (Thursday 15 October)
    performed.calls.clear()
    clock.now = local(2026, 10, 28, 7, 0)  # back after the booking period closed (Friday 16 October 17:00)
    daemon.tick()
    keys = performed.done_keys()
    assert f"missed:{ADVIES}" in keys and f"open:{ADVIES}" not in keys
    performed.calls.clear()
    daemon.tick()
    assert f"missed:{ADVIES}" not in performed.done_keys()
