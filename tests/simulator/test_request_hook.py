"""The request hook (`Simulator(config, on_request=...)`): called before and after each request,
and able to drop a request unanswered, before or after it was executed (crash tests)."""

from __future__ import annotations

import pytest
import requests

from adapters.simulator import Simulator
from adapters.simulator.server import DropRequest

from .conftest import Planner, make_config, new_key, planner_body


def planners_of(sim: Simulator) -> list[str]:
    with sim.world.lock:
        return sorted(p.external_ref for p in sim.world.schools["12AB00"].planners.values())


def test_the_hook_sees_every_request_before_and_after_it_is_executed():
    calls: list[tuple[str, str, str, int]] = []
    with Simulator(make_config()) as sim:

        def hook(method: str, path: str, phase: str) -> None:
            with sim.world.lock:
                calls.append((method, path, phase, len(sim.world.schools["12AB00"].planners)))

        sim.on_request = hook
        planner = Planner(sim, requests.Session())
        body = planner_body(planner)
        calls.clear()
        created = planner.post("/planners", body, key=new_key())
        assert created.status_code == 201
        assert requests.get(f"{sim.base_url}/_sim/clock", params={"x": "1"}, timeout=5).status_code == 200
        # "before": not executed yet (no planner); "after": executed (one planner); paths without query
        assert calls == [
            ("POST", "/v1/planners", "before", 0),
            ("POST", "/v1/planners", "after", 1),
            ("GET", "/_sim/clock", "before", 1),
            ("GET", "/_sim/clock", "after", 1),
        ]
        sim.on_request = None
        assert planner.get("/groups").status_code == 200
        assert len(calls) == 4


@pytest.mark.parametrize(("phase", "executed"), [("before", False), ("after", True)])
def test_a_dropped_request_gets_no_answer_and_runs_only_if_dropped_after(phase, executed):
    with Simulator(make_config()) as sim:
        planner = Planner(sim, requests.Session())
        body = planner_body(planner)

        def hook(method: str, path: str, when: str) -> None:
            if (method, path, when) == ("POST", "/v1/planners", phase):
                raise DropRequest

        sim.on_request = hook
        with pytest.raises(requests.ConnectionError):
            planner.post("/planners", body, key=new_key(), timeout=10)
        assert planners_of(sim) == ([body["external_ref"]] if executed else [])
        writes = requests.get(f"{sim.base_url}/_sim/counters", timeout=5).json()["writes_total"]
        assert writes == (1 if executed else 0)
        # the server goes on serving; without the hook the same key replays or creates once
        sim.on_request = None
        again = Planner(sim, requests.Session()).post("/planners", body, key=new_key())
        assert again.status_code == (409 if executed else 201)
        assert planners_of(sim) == [body["external_ref"]]


def test_the_hook_can_be_given_at_construction():
    seen: list[str] = []
    with Simulator(make_config(), on_request=lambda method, path, phase: seen.append(phase)) as sim:
        assert requests.get(f"{sim.base_url}/_sim/clock", timeout=5).status_code == 200
        assert seen == ["before", "after"]
        assert sim.on_request is not None
