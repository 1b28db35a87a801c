"""The simulator in its own process, so that the benchmark measures the engine's memory alone.

    python benchmarks/simproc.py SETTINGS --latency-ms 20 --pupils 400 --start ISO [--seed 7]

Prints one JSON line `{"url": ...}` once it serves, then answers JSON commands on stdin, one
per line, each with one JSON line on stdout:

    {"cmd": "snapshot"}          keep a deep copy of the world (planners, bookings, counters)
    {"cmd": "restore"}           serve a fresh copy of the snapshot from now on
    {"cmd": "notes", "now": ISO} teachers write their verslagen due by `now` (connector.demo.Teachers,
                                 in-process: no HTTP, no latency, not counted)
    {"cmd": "memory"}            this process's VmRSS/VmHWM in kB
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.simulator import FaultConfig, Simulator
from adapters.simulator.common import Request
from adapters.simulator.world import World
from connector.cycle.settings import load_settings
from connector.cycle.yearplan import plan_school
from connector.demo import Teachers
from connector.simulation import simulator_config


def clone_world(world: World) -> World:
    """An independent deep copy of a simulator world with fresh locks (as tests/engine/conftest.py)."""
    with world.lock:
        memo: dict[int, Any] = {id(world.lock): threading.RLock(), id(world.clock._lock): threading.Lock()}
        return copy.deepcopy(world, memo)


class _Direct:
    """A requests-like `post` that calls the simulator's control endpoints in-process."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def post(self, url: str, json: dict, timeout: float = 0) -> _Direct._Answer:
        import json as _json

        req = Request("POST", urlsplit(url).path, {}, {"content-type": "application/json"}, _json.dumps(json).encode())
        return self._Answer(self.sim.app.handle(req))

    class _Answer:
        def __init__(self, response) -> None:
            self.response = response

        def raise_for_status(self) -> None:
            if self.response.status >= 400:
                raise RuntimeError(f"simulator refused a note: {self.response.status} {self.response.body[:200]!r}")


def _memory() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def memoize_tick(sim: Simulator) -> None:
    """Make `World.tick` skip a school whose notification inputs did not change since its last tick.

    The stock tick (adapters/simulator/world.py, World.tick) runs before every API request, under
    the world lock, and walks every released planner's invitees and their guardians in every
    school: O(board) per request, so a 75-school board with ~1,000 open planners spends most of
    each request there, serialised by the lock, and the benchmark would measure the simulator.
    Notifications depend only on the clock, the school's planners, its children and the guardians'
    app flags; the first two are in the key below, the others change only through control
    endpoints, each of which bumps `generation` (a request hook). So the notifications sent are
    exactly the stock ones. `--stock-tick` turns this off.
    """
    world_cls = type(sim.app.world)
    stock = world_cls.tick
    state = {"generation": 0}
    seen: dict[tuple[int, str], tuple] = {}

    def hook(method: str, path: str, phase: str) -> None:
        if phase == "before" and path.startswith("/_sim/") and method != "GET":
            state["generation"] += 1

    def tick(world) -> None:
        now = world.now()
        changed = []
        for brin, school in world.schools.items():
            key = (
                state["generation"],
                now,
                len(school.p_children),
                tuple(
                    (
                        p.id,
                        p.released_at,
                        p.cancelled_at,
                        p.closed_at,
                        p.closes_at,
                        p.opens_at,
                        len(p.invitee_child_ids),
                    )
                    for p in school.planners.values()
                ),
            )
            if seen.get((id(world), brin)) != key:
                seen[(id(world), brin)] = key
                changed.append(brin)
        if not changed:
            return
        everything = world.schools
        try:
            world.schools = {b: everything[b] for b in changed}
            stock(world)
        finally:
            world.schools = everything

    world_cls.tick = tick
    sim.app.on_request = hook


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--pupils", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", required=True)
    parser.add_argument("--stock-tick", action="store_true", help="keep the simulator's O(board) tick per request")
    args = parser.parse_args()
    loaded = load_settings(args.settings)
    faults = FaultConfig(latency_ms=(args.latency_ms, args.latency_ms), maintenance=None)
    config = simulator_config(
        loaded, seed=args.seed, faults=faults, start=datetime.fromisoformat(args.start), pupils_per_school=args.pupils
    )
    sim = Simulator(config)
    if not args.stock_tick:
        memoize_tick(sim)
    sim.start(port=0)
    print(json.dumps({"url": sim.base_url}), flush=True)
    plans = [plan_school(loaded.settings, school) for school in loaded.settings.schools]
    teachers = Teachers(sim, plans, args.seed)
    direct = _Direct(sim)
    saved: World | None = None
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        if cmd == "snapshot":
            saved = clone_world(sim.app.world)
            answer: dict[str, Any] = {"ok": True}
        elif cmd == "restore":
            assert saved is not None, "no snapshot"
            sim.app.world = clone_world(saved)
            answer = {"ok": True}
        elif cmd == "notes":
            before = len(teachers.written)
            teachers.write_due_notes(direct, datetime.fromisoformat(command["now"]))
            answer = {"written": len(teachers.written) - before}
        elif cmd == "memory":
            answer = _memory()
        elif cmd == "quit":
            print(json.dumps({"ok": True}), flush=True)
            break
        else:
            answer = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(answer), flush=True)
    sim.stop()


if __name__ == "__main__":
    main()
