"""Fault injection: the spec parser, determinism, both write flavours, maintenance, control."""

from __future__ import annotations

from datetime import time

import pytest
import requests

from adapters.simulator import FaultConfig, FaultSpecError, Simulator, parse_fault_spec

from .conftest import Pas, Planner, control, make_config, new_key, planner_body, set_clock


def test_fault_spec_parses_every_key():
    cfg = parse_fault_spec(
        "rate=0.2,latency=20-200ms,revoke_token_after=30,maintenance=01:00-01:30,"
        "kinds=502/504,executed_share=1,html_share=0,retry_after=3,apis=planner,rate_limits=on"
    )
    assert cfg.rate == 0.2 and cfg.latency_ms == (20, 200) and cfg.revoke_token_after == 30
    assert cfg.maintenance == (time(1, 0), time(1, 30)) and cfg.kinds == (502, 504)
    assert cfg.executed_share == 1 and cfg.html_share == 0 and cfg.retry_after == 3
    assert cfg.apis == ("planner",) and cfg.enforce_rate_limits
    assert parse_fault_spec("latency=0.05s").latency_ms == (50, 50)
    assert parse_fault_spec("maintenance=off").maintenance is None
    assert parse_fault_spec("") == parse_fault_spec("none") == FaultConfig()


def test_bad_fault_specs_name_every_problem():
    with pytest.raises(FaultSpecError) as err:
        parse_fault_spec("rate=2,latency=fast,bogus=1,kinds=500,maintenance=25:00-01:00,revoke_token_after")
    message = str(err.value)
    for part in ("rate", "latency", "'bogus'", "kinds", "maintenance", "revoke_token_after"):
        assert part in message


def _statuses(seed: int) -> list[int]:
    faults = FaultConfig(rate=0.3, maintenance=None, kinds=(429, 502, 503))
    with Simulator(make_config(seed=seed, faults=faults)) as sim:
        return [
            requests.get(f"{sim.base_url}/v1/groups", headers={"Authorization": "Bearer key-regenboog"}).status_code
            for _ in range(40)
        ]


def test_faults_are_deterministic_per_seed():
    first, again, other = _statuses(3), _statuses(3), _statuses(4)
    assert first == again
    assert first != other
    assert {429, 502, 503} & set(first) and 200 in first


def test_fault_responses_carry_retry_after_and_sometimes_html():
    faults = FaultConfig(rate=1.0, maintenance=None, kinds=(502,), html_share=0.5, retry_after=2)
    with Simulator(make_config(faults=faults)) as sim, requests.Session() as http:
        kinds = set()
        for _ in range(20):
            r = http.get(f"{sim.base_url}/v1/staff", headers={"Authorization": "Bearer key-regenboog"})
            assert r.status_code == 502 and r.headers["Retry-After"] == "2"
            kinds.add(r.headers["Content-Type"].split(";")[0])
        assert kinds == {"text/html", "application/json"}
        assert control(sim, "GET", "/clock").status_code == 200  # control is never faulted


def test_write_executed_then_502_is_recovered_by_replay(sim, planner):
    body, key = planner_body(planner), new_key()
    control(
        sim,
        "POST",
        "/faults/next",
        {"status": 502, "executed": True, "method": "POST", "path": "/v1/planners", "html": True},
    )
    lost = planner.post("/planners", body, key=key)
    assert lost.status_code == 502 and lost.headers["Content-Type"].startswith("text/html")
    retry = planner.post("/planners", body, key=key)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    counters = control(sim, "GET", "/counters").json()
    assert counters["writes"] == {"POST /v1/planners": 1}
    assert counters["faults"] == {"502 after_execution": 1}
    assert len(planner.get("/planners").json()["data"]) == 1


def test_write_rejected_before_executing(sim, planner):
    body, key = planner_body(planner), new_key()
    control(sim, "POST", "/faults/next", {"status": 503, "path": "/v1/planners"})
    rejected = planner.post("/planners", body, key=key)
    assert rejected.status_code == 503 and rejected.json()["error"]["code"] == "service_unavailable"
    assert "Retry-After" in rejected.headers
    assert control(sim, "GET", "/counters").json()["writes_total"] == 0
    assert planner.post("/planners", body, key=key).status_code == 201  # not a replay


def test_random_write_faults_come_in_both_flavours():
    faults = FaultConfig(rate=1.0, maintenance=None, kinds=(502,), executed_share=0.5, apis=("planner",))
    with Simulator(make_config(faults=faults)) as sim, requests.Session() as http:
        auth = {"Authorization": "Bearer key-regenboog"}
        staff = sim.world.schools["12AB00"].p_staff
        for n in range(16):
            http.post(
                f"{sim.base_url}/v1/messages",
                headers={**auth, "Idempotency-Key": f"k{n}"},
                json={"recipients": {"staff_ids": [next(iter(staff))]}, "subject": "s", "body": f"b{n}"},
            )
        counts = control(sim, "GET", "/counters").json()["faults"]
        assert counts["502 rejected"] > 0 and counts["502 after_execution"] > 0
        assert control(sim, "GET", "/counters").json()["messages_sent"] == counts["502 after_execution"]


def test_pas_maintenance_window_answers_503_until_it_ends():
    faults = FaultConfig(maintenance=(time(1, 0), time(1, 30)))
    with Simulator(make_config(faults=faults)) as sim, requests.Session() as http:
        set_clock(sim, "2026-10-02T00:59:00+02:00")
        pas = Pas(sim, http)
        set_clock(sim, "2026-10-02T01:10:00+02:00")
        token = http.post(f"{pas.base}/oauth/token", data={"grant_type": "client_credentials"})
        assert token.status_code == 503  # the token endpoint is down too
        r = pas.get("/schools/12AB00")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1200"
        assert r.json()["type"].endswith("/maintenance")
        assert Planner(sim, http).get("/groups").status_code == 200  # the planner has no maintenance
        set_clock(sim, "2026-10-02T01:30:00+02:00")
        assert pas.get("/schools/12AB00").status_code == 200


def test_faults_can_be_changed_at_runtime(sim, planner):
    assert control(sim, "PUT", "/faults", {"spec": "rate=1,kinds=429,apis=planner"}).json()["config"]["rate"] == 1
    r = planner.get("/groups")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and r.headers["Retry-After"]
    assert control(sim, "PUT", "/faults", {"spec": "rate=nope"}).status_code == 400
    control(sim, "PUT", "/faults", {"spec": "none"})
    assert planner.get("/groups").status_code == 200


def test_real_time_rate_limit_when_enforced():
    with (
        Simulator(make_config(faults=FaultConfig(maintenance=None, enforce_rate_limits=True))) as sim,
        requests.Session() as http,
    ):
        planner = Planner(sim, http)
        statuses = [planner.get("/staff", limit=1).status_code for _ in range(121)]
        assert statuses[:120] == [200] * 120 and statuses[120] == 429


def test_latency_is_drawn_deterministically_within_the_range():
    from adapters.simulator.common import Request
    from adapters.simulator.faults import FaultInjector

    def draws(seed: int) -> list[float]:
        injector = FaultInjector(FaultConfig(latency_ms=(20, 200)), seed)
        return [injector.latency("pas", Request("GET", "/api/v1/schools/12AB00", {}, {})) for _ in range(5)]

    assert draws(1) == draws(1) and all(0.02 <= d <= 0.2 for d in draws(1))
    assert FaultInjector(FaultConfig(), 1).latency("pas", Request("GET", "/x", {}, {})) == 0.0
