"""Issue "[P6] Proof at school-board scale": SIGKILL at many points of every side-effecting run
that tests/engine/test_crash_safety.py does not cover, then a restart.

tests/engine kills the planner-opening and the reminder runs. Here, on the default settings'
"start" round, the runs that follow: closing the planners with the teachers' notices
(09-06 17:00), the weekly overview for the director and IB (09-14 08:00), the
verslag reminder before the deadline (09-16) and the check with the "too late" reminders after it
(09-18). For each, the year is walked in-process up to that moment and frozen (`Snapshot`);
then, per kill point, a fresh copy runs `connector run-due` as a real process, which the
simulator's request hook SIGKILLs at its k-th write (phase "after": the vendor did it, the
answer was lost; "before": the vendor never saw it); `run-due` is started again at the same
moment, then the next moment of the round runs in-process. The vendors then hold exactly what
an uncrashed run of the same copy leaves: no planner closed or message sent twice
(duplicate_messages == 0; same count per recipients and subject), nothing lost, every intent
settled. Kill points are bounded (about 4 "after", spread over all of its writes and always
including the first and the last, and one "before" mid-run) so the suite stays within its time budget.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from adapters.simulator.server import DropRequest
from connector.engine.run import run_due
from tests.engine.conftest import Snapshot, is_write, take_snapshot

from .conftest import Outcome, fresh_env, make_engine, outcome, problems, start_round_moments

WORKERS = max(1, min(2, os.cpu_count() or 1))
KILLED = -signal.SIGKILL
AFTER_POINTS = (
    4  # ~4 kill points "after" spread over the run's writes (always the first and the last), one "before" mid-run
)
SCENARIOS = (
    "close, teacher notices",
    "weekly overview",
    "verslag reminder before the deadline",
    "verslag check after the deadline",
)


class Killer:
    """Request hook: SIGKILL the armed process at its k-th write request, in `phase` (the same
    rule as tests/engine/test_crash_safety.py; with k=None it only counts the writes)."""

    def __init__(self, k: int | None = None, phase: str = "after") -> None:
        self.k, self.phase = k, phase
        self.writes: list[str] = []
        self.fired = False
        self._pid: int | None = None
        self._armed = threading.Event()
        self._lock = threading.Lock()
        self._number: dict[int, int] = {}

    def arm(self, proc) -> None:
        self._pid = proc.pid
        self._armed.set()

    def __call__(self, method: str, path: str, phase: str) -> None:
        if not is_write(method, path):
            return
        assert self._armed.wait(timeout=60), "a write arrived before the process was known"
        with self._lock:
            if self.fired:
                raise DropRequest
            if phase == "before":
                self.writes.append(f"{method} {path}")
                number = self._number[threading.get_ident()] = len(self.writes)
            else:
                number = self._number.pop(threading.get_ident(), 0)
            if self.k is None or number != self.k or phase != self.phase:
                return
            self.fired = True
        os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, self._pid, os.WEXITED | os.WNOWAIT)
        raise DropRequest


@dataclass(frozen=True)
class Scenario:
    name: str
    snapshot: Snapshot
    moment: datetime
    later: datetime
    later_behave: bool


@dataclass
class Result:
    point: tuple[int, str] | None
    writes: list[str]
    fired: bool
    returncodes: list[int]
    later_postponed: list[str]
    outcome: Outcome
    log: str

    @property
    def label(self) -> str:
        return "reference" if self.point is None else f"write {self.point[0]} {self.point[1]}"


def play(scenario: Scenario, folder: Path, point: tuple[int, str] | None) -> Result:
    killer = Killer(*point) if point else Killer()
    env = scenario.snapshot.env(folder, on_request=killer)
    try:
        env.set_clock(scenario.moment)
        env.run_cli(scenario.moment, started=killer.arm)
        env.sim.on_request = None
        env.run_cli(scenario.moment)
        env.set_clock(scenario.later)
        if scenario.later_behave:
            env.behave()
        engine = make_engine(env)
        try:
            later = run_due(engine, scenario.later, trigger="run-due")
        finally:
            engine.store.dispose()
        log = "\n".join(f"--- exit {r.returncode}\n{r.output[-1200:]}" for r in env.runs)
        return Result(
            point,
            killer.writes,
            killer.fired,
            [r.returncode for r in env.runs],
            [k for r in later for k in r.postponed],
            outcome(env),
            log,
        )
    finally:
        env.stop()


def spread(n: int, count: int) -> list[int]:
    """About `count` write numbers spread over 1..n, always the first and the last."""
    if n == 0:
        return []
    step = max(1, math.ceil(n / count))
    return sorted(set(range(1, n + 1, step)) | {n})


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> dict[str, Scenario]:
    """One in-process walk of the round, frozen just before each scenario's moment."""
    folder = tmp_path_factory.mktemp("crash-runs")
    env = fresh_env(folder / "prepare", stable=False)  # snapshots are cloned: no patched world in them
    out: dict[str, Scenario] = {}
    try:
        moments = start_round_moments(env)
        engine = make_engine(env)
        for n, m in enumerate(moments):
            env.set_clock(m.at)
            if m.behave:
                env.behave()
            if m.label in SCENARIOS:
                later = moments[n + 1] if n + 1 < len(moments) else None
                snapshot = take_snapshot(env, folder / f"snapshot-{n}")
                out[m.label] = Scenario(
                    m.label,
                    snapshot,
                    m.at,
                    later.at if later else m.at.replace(day=m.at.day + 1),
                    bool(later and later.behave),
                )
            reports = run_due(engine, m.at, trigger="run-due")
            assert not any(r.postponed for r in reports), reports
        engine.store.dispose()
    finally:
        env.stop()
    assert set(out) == set(SCENARIOS)
    return out


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_run_killed_at_any_of_its_writes_and_restarted_ends_as_the_uncrashed_run(name, scenarios, tmp_path):
    scenario = scenarios[name]
    reference = play(scenario, tmp_path / "reference", None)
    assert reference.returncodes == [0, 0] and not reference.later_postponed, reference.log
    writes = reference.writes
    assert writes, f"{name}: the run made no write, nothing to kill"
    assert problems(reference.outcome, reference.outcome) == []
    points = [(k, "after") for k in spread(len(writes), AFTER_POINTS)] + [((len(writes) + 1) // 2, "before")]
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=f"crash-{name[:8]}") as pool:
        results = list(pool.map(lambda p: play(scenario, tmp_path / f"k{p[0]:03d}-{p[1]}", p), points))
    failing = []
    for result in results:
        found = []
        if not result.fired or result.returncodes[0] != KILLED:
            found.append(f"not killed (exits {result.returncodes}, {len(result.writes)} writes)")
        if result.returncodes[1:] != [0]:
            found.append(f"the restart failed: exits {result.returncodes}")
        if result.later_postponed:
            found.append(f"the later run postponed {result.later_postponed}")
        found += problems(result.outcome, reference.outcome)
        if found:
            failing.append(f"{result.label}: " + "; ".join(found))
    kinds = sorted(set(writes))
    assert failing == [], (
        f"{name} ({len(writes)} writes: {kinds}), {len(failing)} of {len(results)} kill points:\n" + "\n".join(failing)
    )
