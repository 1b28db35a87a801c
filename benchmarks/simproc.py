"""The simulator in its own process, so that the benchmark measures the engine's memory alone.

    python benchmarks/simproc.py SETTINGS --latency-ms 20 --pupils 400 --start ISO [--seed 7]

Prints one JSON line `{"url": ...}` once it serves, then answers JSON commands on stdin, one
per line, each with one JSON line on stdout:

    {"cmd": "snapshot"}          keep a deep copy of the world (planners, bookings, counters)
    {"cmd": "restore"}           serve a fresh copy of the snapshot from now on
    {"cmd": "notes", "now": ISO} the staff hold their conversations and write the verslagen due by `now`
                                 (connector.demo_staff, in-process: no HTTP, no latency, not counted)
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
from connector.demo_staff import SchoolStaff
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


class Teachers(SchoolStaff):
    """The demo's staff, except that nobody cancels a planner: the benchmark's board keeps them all."""

    def _cancel_one_planner(self, http: Any, now: datetime) -> None:
        return


def _memory() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--pupils", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", required=True)
    args = parser.parse_args()
    loaded = load_settings(args.settings)
    faults = FaultConfig(latency_ms=(args.latency_ms, args.latency_ms), maintenance=None)
    config = simulator_config(
        loaded, seed=args.seed, faults=faults, start=datetime.fromisoformat(args.start), pupils_per_school=args.pupils
    )
    sim = Simulator(config)  # the stock simulator: its notifications are event-driven (World.tick)
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
            teachers.step(direct, datetime.fromisoformat(command["now"]))  # type: ignore[arg-type]
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
