"""Fixtures: a simulator on a free loopback port, plus small HTTP helpers (plain requests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from adapters.simulator import FaultConfig, SimConfig, SimSchool, Simulator
from adapters.simulator.config import AMS

SCHOOLS = (
    SimSchool("12AB00", "Basisschool De Regenboog", "midden", "key-regenboog"),
    SimSchool("34CD01", "OBS 't Klavertje", "noord", "key-klavertje"),
)
START = datetime(2026, 10, 1, 9, 0, tzinfo=AMS)


def make_config(**overrides: Any) -> SimConfig:
    values: dict[str, Any] = {
        "schools": SCHOOLS,
        "pas_client_id": "client",
        "pas_client_secret": "secret",
        "seed": 7,
        "start_time": START,
        "pupils_per_school": 80,
        "faults": FaultConfig(maintenance=None),
    }
    values.update(overrides)
    return SimConfig(**values)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(make_config()) as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


class Pas:
    """Minimal PAS client for the tests."""

    def __init__(self, sim: Simulator, http: requests.Session) -> None:
        self.base = f"{sim.base_url}/api/v1"
        self.http = http
        self.token = self.new_token()

    def new_token(self) -> str:
        r = self.http.post(
            f"{self.base}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "client", "client_secret": "secret"},
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.base}{path}", params=params, headers={"Authorization": f"Bearer {self.token}"})

    def sweep(self, path: str, limit: int = 100, **params: Any) -> tuple[list[dict[str, Any]], str]:
        """All items (de-duplicated by id) and the server_time of the first page."""
        items: dict[str, dict[str, Any]] = {}
        offset, first_time = 0, None
        while True:
            page = self.get(path, offset=offset, limit=limit, **params).json()
            first_time = first_time or page["server_time"]
            items.update({i["id"]: i for i in page["items"]})
            offset += limit
            if offset >= page["total"]:
                return list(items.values()), first_time


class Planner:
    """Minimal planner client for the tests."""

    def __init__(self, sim: Simulator, http: requests.Session, key: str = "key-regenboog") -> None:
        self.base = f"{sim.base_url}/v1"
        self.http = http
        self.auth = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.base}{path}", params=params, headers=self.auth)

    def post(self, path: str, body: Any = None, key: str | None = None, **kw: Any) -> requests.Response:
        headers = dict(self.auth, **({"Idempotency-Key": key} if key else {}))
        return self.http.post(f"{self.base}{path}", json=body, headers=headers, **kw)

    def patch(self, path: str, body: Any, key: str | None = None) -> requests.Response:
        headers = dict(self.auth, **({"Idempotency-Key": key} if key else {}))
        return self.http.patch(f"{self.base}{path}", json=body, headers=headers)

    def sweep(self, path: str, limit: int = 50, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """All items and the number of pages fetched."""
        items, cursor, pages = [], None, 0
        while True:
            q = dict(params, limit=limit, **({"cursor": cursor} if cursor else {}))
            r = self.get(path, **q)
            assert r.status_code == 200, r.text
            pages += 1
            items += r.json()["data"]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return items, pages


@pytest.fixture
def pas(sim: Simulator, http: requests.Session) -> Pas:
    return Pas(sim, http)


@pytest.fixture
def planner(sim: Simulator, http: requests.Session) -> Planner:
    return Planner(sim, http)


def control(sim: Simulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/_sim{path}", json=body)


def set_clock(sim: Simulator, iso: str) -> None:
    r = control(sim, "POST", "/clock", {"now": iso})
    assert r.status_code == 200, r.text


def planner_body(planner: Planner, group_index: int = 3, **overrides: Any) -> dict[str, Any]:
    """A valid PlannerCreate for one group, built from the planner's own directory."""
    groups = [g for g in planner.sweep("/groups")[0] if g["external_id"]]
    group = sorted(groups, key=lambda g: g["external_id"])[group_index]
    children, _ = planner.sweep("/children", group_id=group["id"])
    staff = group["teacher_ids"][0]
    body = {
        "external_ref": f"sync:12AB00:2026-2027:najaar:{group['external_id']}",
        "group_id": group["id"],
        "title": f"Voortgangsgesprekken {group['name']}",
        "description": "Gesprek van 10 minuten.",
        "location": None,
        "kind": "parent_meeting",
        "mode": "self_select",
        "sibling_head_start_hours": 24,
        "opens_at": "2026-10-26T08:00:00+01:00",
        "closes_at": "2026-11-02T17:00:00+01:00",
        "invitee_child_ids": [c["id"] for c in children],
        "slots": [
            {
                "start": f"2026-11-10T{13 + n // 6:02d}:{(n % 6) * 10:02d}:00+01:00",
                "end": f"2026-11-10T{13 + (n + 1) // 6:02d}:{((n + 1) % 6) * 10:02d}:00+01:00",
                "staff_ids": [staff],
            }
            for n in range(len(children) + 4)
        ],
    }
    body.update(overrides)
    return body


def new_key() -> str:
    return str(uuid.uuid4())
