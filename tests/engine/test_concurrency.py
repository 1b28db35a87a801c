"""Issue W2-6: the engine works `sync.concurrency` requests at a time, over real HTTP.

The simulator's request hook counts the API requests in flight (the most ever must stay within
`sync.concurrency`, 4 by default), and makes the first few requests of one kind wait for each
other at a barrier: it is passed only when that many are in flight at once, so the test proves
concurrency without any timing (the barrier's timeout only ends a failing test).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime

import pytest

from adapters.errors import ServerError
from connector.engine.run import run_due
from tests.reliability.conftest import BOARD, new_board_env

from .conftest import BRIN, Env, local, messages_at_vendor, new_env

CONCURRENCY = 4  # the default `[sync] concurrency`
BARRIER_TIMEOUT = 120.0  # seconds; reached only when the requests never overlap (a failure)
RELEASED = "2026-08-31 08:00"  # the start round's planners are released
POLL = "2026-09-01 12:00"  # the start round is open: a booking poll
REMIND = "2026-09-03 17:00"  # a reminder moment: some families have not booked


class Watch:
    """The simulator's request hook: API requests in flight, and a barrier for the first `meet`
    requests that `wanted` picks."""

    def __init__(self, wanted: Callable[[str, str], bool], meet: int) -> None:
        self.wanted = wanted
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(meet, timeout=BARRIER_TIMEOUT)
        self.in_flight = 0
        self.most = 0
        self.arrived = 0
        self.met = 0
        self.broken = False

    def __call__(self, method: str, path: str, phase: str) -> None:
        if path.startswith("/_sim/"):
            return
        if phase == "after":
            with self.lock:
                self.in_flight -= 1
            return
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            wait = self.wanted(method, path) and self.arrived < self.barrier.parties
            self.arrived += wait
        if wait:
            try:
                self.barrier.wait()
                with self.lock:
                    self.met += 1
            except threading.BrokenBarrierError:
                self.broken = True


def messages(method: str, path: str) -> bool:
    return method == "POST" and path == "/v1/messages"


def creates(method: str, path: str) -> bool:
    return method == "POST" and path == "/v1/planners"


def booking_reads(method: str, path: str) -> bool:
    return method == "GET" and path.startswith("/v1/planners/") and path.endswith("/bookings")


@pytest.fixture
def env(tmp_path) -> Env:
    env = new_env(tmp_path / "env", start=local("2026-08-30 07:00"))
    yield env
    env.stop()


def run_at(env: Env, engine, text: str, *, behave: bool = False):
    now: datetime = local(text)
    env.set_clock(now)
    if behave:
        env.behave()
    return run_due(engine, now, trigger="run-due")


def test_a_school_opens_its_planners_concurrency_at_a_time(env):
    watch = Watch(creates, meet=CONCURRENCY)
    env.sim.on_request = watch
    engine = env.engine()
    try:
        reports = run_at(env, engine, RELEASED)
    finally:
        engine.store.dispose()
    assert [(r.outcome, r.postponed) for r in reports] == [("ok", [])]
    assert watch.met == CONCURRENCY and not watch.broken  # four creates were at the vendor at once
    assert watch.most <= CONCURRENCY
    writes = env.counters()["writes"]
    assert writes["POST /v1/planners"] == writes["POST /v1/planners/{planner_id}/open"] == len(planner_rows(env))


def test_a_booking_poll_reads_the_planners_concurrency_at_a_time(env):
    engine = env.engine()
    try:
        run_at(env, engine, RELEASED)
        watch = Watch(booking_reads, meet=CONCURRENCY)
        env.sim.on_request = watch
        reports = run_at(env, engine, POLL, behave=True)
    finally:
        engine.store.dispose()
    assert any(key.startswith(f"bookings:{BRIN}:") for key in reports[0].done), reports
    assert watch.met == CONCURRENCY and not watch.broken
    assert watch.most <= CONCURRENCY
    synced = planner_rows(env)
    assert synced and all(at is not None and at.startswith("2026-09-01") for at in synced.values())


def test_one_planner_that_fails_its_poll_never_stops_the_others(env):
    engine = env.engine()
    try:
        run_at(env, engine, RELEASED)
        victim = sorted(v for v in vendor_ids(env) if v)[0]
        real = engine.planner_for

        class Failing:
            """The school's planner client, with one planner's bookings unavailable."""

            def __init__(self, client) -> None:
                self.client = client

            def __getattr__(self, name: str):
                return getattr(self.client, name)

            def bookings(self, planner_id: str):
                if planner_id == victim:
                    raise ServerError("unavailable", vendor="parro", status=503)
                return self.client.bookings(planner_id)

        engine.planner_for = lambda brin: Failing(real(brin))
        first = run_at(env, engine, POLL, behave=True)
        engine.planner_for = real
        stored = planner_rows(env)
        second = run_due(engine, local(POLL), trigger="run-due")
    finally:
        engine.store.dispose()
    poll = next(key for key in first[0].postponed if key.startswith(f"bookings:{BRIN}:"))
    assert first[0].outcome == "partial"
    by_vendor = dict(zip(vendor_ids(env), stored.values(), strict=True))
    assert not by_vendor[victim].startswith("2026-09-01")  # its poll failed: not stored as read
    others = [at for vendor_id, at in by_vendor.items() if vendor_id != victim]
    assert others and all(at.startswith("2026-09-01") for at in others)  # every other planner was read
    assert poll in second[0].done  # the poll stayed due, and the next run did it


def test_reminders_go_out_concurrently_each_once(env):
    engine = env.engine()
    try:
        run_at(env, engine, RELEASED)
        run_at(env, engine, POLL, behave=True)
        watch = Watch(messages, meet=2)
        env.sim.on_request = watch
        reports = run_at(env, engine, REMIND, behave=True)
    finally:
        engine.store.dispose()
    assert f"remind:{BRIN}:2026-2027:start:20260903T1700" in reports[0].done, reports
    assert watch.met == 2 and not watch.broken  # two reminders were at the vendor at once
    assert watch.most <= CONCURRENCY
    counters = env.counters()
    assert counters["duplicate_messages"] == 0
    assert reports[0].counts["reminders sent"] == counters["messages_sent"] > 2


class Crash(BaseException):
    """The process dies (not an error the engine handles)."""


def test_a_run_that_dies_in_the_middle_of_its_reminders_sends_none_twice_on_the_next_run(tmp_path):
    reference = walk_to_reminders(tmp_path / "reference")
    crashed = walk_to_reminders(tmp_path / "crashed", die_after=3)
    assert crashed == reference


def walk_to_reminders(folder, die_after: int | None = None):
    """The messages at the vendor after the reminder moment; `die_after`: the run dies right after
    that many reminders went out (their answers lost), and the next run at the moment finishes."""
    env = new_env(folder, start=local("2026-08-30 07:00"))
    try:
        engine = env.engine()
        try:
            run_at(env, engine, RELEASED)
            run_at(env, engine, POLL, behave=True)
            if die_after is None:
                run_at(env, engine, REMIND, behave=True)
            else:
                real, sent, lock = engine.planner_for, [], threading.Lock()

                class Dying:
                    """Dead once `die_after` sends came back: a send already on the wire then still
                    reaches the vendor, none after (whichever worker the pool gets to first)."""

                    def __init__(self, client) -> None:
                        self.client = client

                    def __getattr__(self, name: str):
                        return getattr(self.client, name)

                    def send_message(self, body, *, idempotency_key: str):
                        with lock:
                            if len(sent) >= die_after:
                                raise Crash
                        answer = self.client.send_message(body, idempotency_key=idempotency_key)
                        with lock:
                            sent.append(idempotency_key)
                            if len(sent) >= die_after:
                                raise Crash
                        return answer

                engine.planner_for = lambda brin: Dying(real(brin))
                with pytest.raises(Crash):
                    run_at(env, engine, REMIND, behave=True)
                engine.planner_for = real
                assert env.counters()["messages_sent"] < reminders_expected(env)
                again = run_due(engine, local(REMIND), trigger="run-due")
                assert f"remind:{BRIN}:2026-2027:start:20260903T1700" in again[0].done, again
        finally:
            engine.store.dispose()
        assert env.counters()["duplicate_messages"] == 0
        return messages_at_vendor(env.sim)
    finally:
        env.stop()


def reminders_expected(env: Env) -> int:
    """A bound the crashed run must stay under: every family of the school could get one."""
    with sqlite3.connect(f"file:{env.db}?mode=ro", uri=True) as conn:
        (intents,) = conn.execute("SELECT count(*) FROM intents WHERE natural_key LIKE 'remind%'").fetchone()
    conn.close()
    return intents


def test_a_board_works_its_schools_at_once_within_the_concurrency(tmp_path):
    env = new_board_env(tmp_path / "board", BOARD, start=local("2026-08-30 07:00"))
    watch = Watch(creates, meet=len(BOARD))  # one create per school at once: 4 // 3 = 1 each
    env.sim.on_request = watch
    try:
        engine = env.engine()
        try:
            reports = run_at(env, engine, RELEASED)
        finally:
            engine.store.dispose()
        writes = env.counters()["writes"]
    finally:
        env.stop()
    assert [r.brin for r in reports] == list(BOARD)  # in the settings' order, whichever finished first
    assert all((r.outcome, r.postponed) == ("ok", []) for r in reports), reports
    assert all(f"open:{r.brin}:2026-2027:start" in r.done for r in reports)
    assert watch.met == len(BOARD) and not watch.broken  # the three schools were at the vendor at once
    assert watch.most <= CONCURRENCY
    assert writes["POST /v1/planners"] == writes["POST /v1/planners/{planner_id}/open"] == len(planner_rows(env))


def planner_rows(env: Env) -> dict[str, str | None]:
    """external_ref -> last_synced_at of every released Planner row, by vendor id order."""
    with sqlite3.connect(f"file:{env.db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT external_ref, last_synced_at FROM planners WHERE vendor_id IS NOT NULL ORDER BY vendor_id"
        ).fetchall()
    conn.close()
    return dict(rows)


def vendor_ids(env: Env) -> list[str]:
    with sqlite3.connect(f"file:{env.db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT vendor_id FROM planners WHERE vendor_id IS NOT NULL ORDER BY vendor_id").fetchall()
    conn.close()
    return [row[0] for row in rows]


def test_threads_asking_at_once_share_one_planner_client_per_school(env):
    """One client per planner key, so one rate limiter of 120/min for all of a school's work."""
    engine = env.engine()
    start = threading.Barrier(8, timeout=BARRIER_TIMEOUT)
    got = []

    def ask() -> None:
        start.wait()
        got.append(engine.planner_for(BRIN))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.store.dispose()
    assert len(got) == 8 and all(client is got[0] for client in got)
