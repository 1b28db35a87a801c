"""Integration fixtures: the simulator on a free loopback port, and real adapter clients.

Every client gets a fake monotonic clock whose `sleep` only records the wait and moves the
clock, so Retry-After waits, backoff and rate limiting cost no real time. `time.sleep` itself
is forbidden in these tests (the simulator runs with latency 0 and never needs it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from adapters._http import HttpPolicy
from adapters.parnassys import PasClient
from adapters.parro import ParroClient, PlannerCreate
from adapters.simulator import FaultConfig, SimConfig, SimSchool, Simulator
from adapters.simulator.config import AMS
from tests.fakes import FakeClock

# Long, distinctive credentials, so that "this secret is not in that text" means something.
PAS_CLIENT_ID = "integration-client"
PAS_SECRET = "pas-secret-7Hq2Lm9xVb4Rt8Kw"
SCHOOLS = (
    SimSchool("12AB00", "Basisschool De Regenboog", "midden", "pk-regenboog-Zx81Qa5Tn3Yc"),
    SimSchool("34CD01", "OBS 't Klavertje", "noord", "pk-klavertje-Wm47Hd2Ls9Ub"),
)
KEYS = {s.brin: s.api_key for s in SCHOOLS}
START = datetime(2026, 10, 1, 9, 0, tzinfo=AMS)  # a Thursday morning, outside maintenance
PUPILS = 80
PAS_PAGE = 7  # small pages force many requests per listing
PLANNER_PAGE = 5

# Generous enough that a 20% fault rate never exhausts a call; the clock is fake anyway.
POLICY = HttpPolicy(
    deadline=600.0, retry_after_cap=60.0, backoff_multiplier=0.5, backoff_max=4.0, backoff_jitter=0.5, max_attempts=12
)


def make_config(**overrides: Any) -> SimConfig:
    values: dict[str, Any] = {
        "schools": SCHOOLS,
        "pas_client_id": PAS_CLIENT_ID,
        "pas_client_secret": PAS_SECRET,
        "seed": 11,
        "start_time": START,
        "pupils_per_school": PUPILS,
        "faults": FaultConfig(latency_ms=(0, 0)),
    }
    values.update(overrides)
    return SimConfig(**values)


@contextmanager
def running(config: SimConfig) -> Iterator[Simulator]:
    """The simulator of `config`, serving on a free loopback port."""
    sim = Simulator(config)
    sim.start(port=0)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def no_real_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real time.sleep anywhere in the code under test fails the test."""

    def forbidden(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called during an integration test")

    monkeypatch.setattr(time, "sleep", forbidden)


def pas_client(sim: Simulator, clock: FakeClock, secret: str = PAS_SECRET, **kw: Any) -> PasClient:
    return PasClient(
        sim.base_url, PAS_CLIENT_ID, secret, policy=POLICY, page_size=PAS_PAGE, clock=clock, sleep=clock.sleep, **kw
    )


def parro_client(
    sim: Simulator, clock: FakeClock, brin: str = "12AB00", key: str | None = None, **kw: Any
) -> ParroClient:
    return ParroClient(
        sim.base_url, key or KEYS[brin], policy=POLICY, page_size=PLANNER_PAGE, clock=clock, sleep=clock.sleep, **kw
    )


# --- control endpoints (never faulted) -------------------------------------------------------


def control(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{sim.base_url}/_sim{path}", json=body, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def counters(sim: Simulator) -> dict[str, Any]:
    return control(sim, "GET", "/counters")


def faults_seen(sim: Simulator, api_prefix: str) -> int:
    """How many injected fault responses requests under `api_prefix` got (e.g. "/api/v1/")."""
    statuses = counters(sim)["statuses"]
    return sum(
        n
        for name, n in statuses.items()
        if f" {api_prefix}" in name and name.rsplit(" ", 1)[1] in ("429", "502", "503", "504")
    )


def set_clock(sim: Simulator, instant: datetime) -> None:
    control(sim, "POST", "/clock", {"now": instant.isoformat()})


# --- what the simulator holds, in the shape the APIs serve it ------------------------------


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Records keyed by id; fails when an id occurs twice."""
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "a record was read twice"
    return {r["id"]: r for r in records}


def world_pas(sim: Simulator, brin: str) -> dict[str, dict[str, dict[str, Any]]]:
    """PAS records of the current school year visible now, per resource, keyed by id."""
    world = sim.world
    with world.lock:
        now, school = world.now(), world.schools[brin]
        pupils = [r for p in school.pupils.values() if (r := p.at(now)) is not None]
        notes = [n.to_json(False) for n in school.notes.values() if n.created_at <= now]
        return as_json(
            {
                "groups": {g["id"]: g for g in school.groups},
                "staff": {m["id"]: m for m in school.staff},
                "pupils": {r["id"]: r for r in pupils},
                "notes": {n["id"]: n for n in notes},
            }
        )


def world_planner(sim: Simulator, brin: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Planner records of one organisation visible now, per resource, keyed by id."""
    world = sim.world
    with world.lock:
        now, school = world.now(), world.schools[brin]
        children = school.children_now(now)
        child_ids: dict[str, list[str]] = {}
        for child in children:
            for gid in child.guardian_ids:
                child_ids.setdefault(gid, []).append(child.id)
        guardians = [
            {
                "id": g.id,
                "name": g.name,
                "email": g.email,
                "child_ids": sorted(child_ids[g.id]),
                "app_active": g.app_active,
            }
            for g in school.p_guardians.values()
            if g.id in child_ids
        ]
        return as_json(
            {
                "groups": dict(school.p_groups),
                "children": {c.id: c.to_json() for c in children},
                "guardians": {g["id"]: g for g in guardians},
                "staff": dict(school.p_staff),
                "planners": {p.id: p.to_json(now) for p in school.planners.values()},
            }
        )


def world_bookings(sim: Simulator, brin: str, planner_id: str) -> dict[str, dict[str, Any]]:
    """All bookings of one planner (cancelled ones included), keyed by id."""
    with sim.world.lock:
        school = sim.world.schools[brin]
        return as_json({b.id: b.to_json() for b in school.planner_bookings(planner_id)})


# --- valid planner bodies from the simulator's own directory -------------------------------


def planner_body(
    parro: ParroClient,
    brin: str,
    group: dict[str, Any],
    *,
    suffix: str = "najaar",
    opens_at: datetime = datetime(2026, 10, 12, 8, 0, tzinfo=AMS),
) -> PlannerCreate:
    """A PlannerCreate for `group` (a planner group dict): its children, its first teacher,
    one 10-minute slot per child plus two, on a day after the planner closes."""
    children = [c["id"] for c in parro.children(group_id=group["id"])]
    assert children, f"group {group['name']} has no children"
    teacher = group["teacher_ids"][0]
    first = datetime(2026, 11, 3, 15, 0, tzinfo=AMS)  # after the switch to winter time (+01:00)
    slots = [
        {
            "start": first + timedelta(minutes=10 * n),
            "end": first + timedelta(minutes=10 * (n + 1)),
            "staff_ids": [teacher],
        }
        for n in range(len(children) + 2)
    ]
    return PlannerCreate.model_validate(
        {
            "external_ref": f"sync:{brin}:2026-2027:{suffix}:{group['external_id']}",
            "group_id": group["id"],
            "title": f"Voortgangsgesprekken {group['name']}",
            "description": "Gesprek van 10 minuten.",
            "location": None,
            "kind": "parent_meeting",
            "mode": "self_select",
            "sibling_head_start_hours": 24,
            "opens_at": opens_at,
            "closes_at": opens_at + timedelta(days=11, hours=9),
            "invitee_child_ids": children,
            "slots": slots,
        }
    )


def linked_groups(parro: ParroClient) -> list[dict[str, Any]]:
    """The planner groups that correspond to a PAS group, with a teacher, by external_id."""
    groups = [g for g in parro.groups() if g["external_id"] and g["teacher_ids"]]
    return sorted(groups, key=lambda g: g["external_id"])
