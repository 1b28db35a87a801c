"""Planner notifications are sent by events (a release, a control write, the clock passing a
planner's opening or a child's arrival or leaving), not by rescanning the board on every request.

The oracle is the former behaviour: every school rescanned at every tick (`rescan_everything`).
Both worlds see the same requests and must send the same notifications, with the same ids, at
the same simulated moments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.simulator import Simulator
from adapters.simulator.common import fmt_ts
from adapters.simulator.world import World

from .conftest import START, Planner, control, make_config, new_key, planner_body, set_clock

BRIN = "12AB00"


def rescan_everything(world: World) -> None:
    """The former tick: every school rescanned before and after every request."""
    event_tick = world.tick

    def tick() -> None:
        for school in world.schools.values():
            world.changed(school)
        event_tick()

    world.tick = tick  # type: ignore[method-assign]


def notifications(sim: Simulator) -> list[tuple[str, str, str, str]]:
    """(id, guardian, planner, created_at) of every notification, in the order sent."""
    data = control(sim, "GET", "/messages?kind=notification").json()["data"]
    return [(m["id"], m["delivered_guardian_ids"][0], m["planner_id"], m["created_at"]) for m in data]


def notified(sim: Simulator) -> set[str]:
    return {n[1] for n in notifications(sim)}


def now(sim: Simulator) -> datetime:
    return datetime.fromisoformat(control(sim, "GET", "/clock").json()["now"])


def advance(sim: Simulator, hours: float) -> None:
    assert control(sim, "POST", "/clock", {"advance_seconds": hours * 3600}).status_code == 200


def open_planner(planner: Planner, group_index: int, opens_at: datetime, head_hours: int = 24, **kw: Any) -> str:
    body = planner_body(
        planner,
        group_index,
        opens_at=fmt_ts(opens_at),
        closes_at=fmt_ts(opens_at + timedelta(days=7)),
        sibling_head_start_hours=head_hours,
        **kw,
    )
    created = planner.post("/planners", body, key=new_key())
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert planner.post(f"/planners/{pid}/open").status_code == 200
    return pid


def families(sim: Simulator) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Visible children per guardian with the app, and the children by id."""
    with sim.world.lock:
        school = sim.world.schools[BRIN]
        children = {c.id: c for c in school.children_now(sim.world.now())}
        by_guardian: dict[str, list[str]] = {}
        for c in children.values():
            for g in c.guardian_ids:
                if school.p_guardians[g].app_active:
                    by_guardian.setdefault(g, []).append(c.id)
    return by_guardian, children


def invited_guardians(sim: Simulator, pid: str) -> set[str]:
    by_guardian, children = families(sim)
    with sim.world.lock:
        invitees = set(sim.world.schools[BRIN].planners[pid].invitee_child_ids)
    return {g for g, kids in by_guardian.items() if invitees & set(kids)}


def test_a_release_before_the_opening_notifies_at_the_head_start_and_at_the_opening(sim, planner):
    opens = START + timedelta(days=3)
    pid = open_planner(planner, 3, opens)
    assert notifications(sim) == []  # released, but not bookable for anyone yet
    by_guardian, _ = families(sim)
    everyone = invited_guardians(sim, pid)
    siblings = {g for g in everyone if len(by_guardian[g]) >= 2}
    assert siblings and everyone - siblings
    set_clock(sim, fmt_ts(opens - timedelta(hours=24)))  # the clock alone: no API request
    assert notified(sim) == siblings
    assert {n[3] for n in notifications(sim)} == {fmt_ts(opens - timedelta(hours=24))}
    set_clock(sim, fmt_ts(opens))
    assert notified(sim) == everyone and len(notifications(sim)) == len(everyone)  # each once
    planner.get("/groups")
    assert len(notifications(sim)) == len(everyone)


def test_a_release_after_the_opening_notifies_everyone_at_the_release(sim, planner):
    pid = open_planner(planner, 2, START - timedelta(hours=1))
    everyone = invited_guardians(sim, pid)
    assert everyone and notified(sim) == everyone
    assert {n[3] for n in notifications(sim)} == {fmt_ts(START)}


def test_a_sibling_leaving_before_the_head_start_takes_the_head_start_away(sim, planner):
    by_guardian, children = families(sim)
    guardian, (stays, leaves) = next((g, kids[:2]) for g, kids in sorted(by_guardian.items()) if len(kids) == 2)
    group_ids = sorted(
        (g["external_id"], g["id"]) for g in planner.sweep("/groups")[0] if g["external_id"]
    )  # planner_body's order
    index = next(i for i, (_, gid) in enumerate(group_ids) if gid == children[stays].group_id)
    opens = START + timedelta(days=3)
    open_planner(planner, index, opens)
    pupil = children[leaves].external_id
    left = control(sim, "POST", f"/schools/{BRIN}/pupils/{pupil}/deregister", {"planner_delay_hours": 1})
    assert left.status_code == 200, left.text
    set_clock(sim, fmt_ts(opens - timedelta(hours=24)))  # the sibling left the planner 1 h after the deregistration
    assert guardian not in notified(sim)
    set_clock(sim, fmt_ts(opens))
    assert guardian in notified(sim)


def test_a_child_enrolled_later_is_notified_once_invited_and_bookable(sim, planner):
    pas_group = planner_body(planner, 1)["external_ref"].split(":")[-1]  # the group's PAS id
    enrolled = control(sim, "POST", f"/schools/{BRIN}/pupils", {"group_id": pas_group, "planner_delay_hours": 2})
    assert enrolled.status_code == 201, enrolled.text
    child = enrolled.json()["child_id"]
    advance(sim, 3)  # the child appears in the planner
    opens = now(sim) + timedelta(hours=5)
    pid = open_planner(planner, 1, opens)
    with sim.world.lock:
        assert child in sim.world.schools[BRIN].planners[pid].invitee_child_ids
        (guardian,) = sim.world.schools[BRIN].p_children[child].guardian_ids
    assert guardian not in notified(sim)
    advance(sim, 5)
    assert guardian in notified(sim)


def test_switching_the_app_on_notifies_at_the_control_call_once(sim, planner):
    facts = control(sim, "GET", f"/schools/{BRIN}").json()["facts"]
    _, children = families(sim)
    with sim.world.lock:
        child = sim.world.schools[BRIN].p_children[facts["no_app_child_id"]]
        guardians = list(child.guardian_ids)
    groups = sorted((g["external_id"], g["id"]) for g in planner.sweep("/groups")[0] if g["external_id"])
    index = next(i for i, (_, gid) in enumerate(groups) if gid == child.group_id)
    open_planner(planner, index, START - timedelta(hours=1))
    assert not set(guardians) & notified(sim)
    path = f"/schools/{BRIN}/guardians/{guardians[0]}/app"
    assert control(sim, "POST", path, {"app_active": True}).status_code == 200
    assert guardians[0] in notified(sim)
    before = len(notifications(sim))
    control(sim, "POST", path, {"app_active": False})
    control(sim, "POST", path, {"app_active": True})
    planner.get("/groups")
    assert len(notifications(sim)) == before


def test_a_cancelled_or_closed_planner_notifies_nobody_at_its_opening(sim, planner):
    opens = START + timedelta(days=2)
    cancelled = open_planner(planner, 2, opens)
    closed = open_planner(planner, 3, opens)
    assert control(sim, "POST", f"/planners/{cancelled}/cancel").status_code == 200
    assert planner.post(f"/planners/{closed}/close").status_code == 200
    set_clock(sim, fmt_ts(opens + timedelta(hours=1)))
    planner.get("/groups")
    assert notifications(sim) == []


# --- the events against the former rescan of everything ------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(0, 5), st.integers(-12, 72), st.sampled_from([0, 24, 48])),
        st.tuples(st.just("clock"), st.integers(1, 40)),
        st.tuples(st.just("app"), st.integers(0, 10_000), st.booleans()),
        st.tuples(st.just("enroll"), st.integers(0, 30)),
        st.tuples(st.just("deregister"), st.integers(0, 10_000), st.integers(0, 30)),
        st.tuples(st.just("end"), st.integers(0, 10), st.sampled_from(["cancel", "close"])),
        st.tuples(st.just("closes"), st.integers(0, 10), st.integers(1, 100)),
        st.tuples(st.just("get")),
    ),
    max_size=14,
)


@contextmanager
def twins() -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator(make_config()) as events, Simulator(make_config()) as oracle:
        rescan_everything(oracle.world)
        yield events, oracle


def apply(sim: Simulator, planner: Planner, op: tuple, opened: list[str], used: set[int]) -> None:
    kind = op[0]
    if kind == "open" and op[1] not in used:
        used.add(op[1])
        opens = now(sim) + timedelta(hours=op[2])
        opened.append(open_planner(planner, op[1], opens, op[3], external_ref=f"prop:{op[1]}"))
    elif kind == "clock":
        advance(sim, op[1])
    elif kind == "app":
        with sim.world.lock:
            guardians = sorted(sim.world.schools[BRIN].p_guardians)
        control(
            sim, "POST", f"/schools/{BRIN}/guardians/{guardians[op[1] % len(guardians)]}/app", {"app_active": op[2]}
        )
    elif kind == "enroll":
        control(sim, "POST", f"/schools/{BRIN}/pupils", {"planner_delay_hours": op[1]})
    elif kind == "deregister":
        with sim.world.lock:
            pupils = sorted(sim.world.schools[BRIN].pupils)
        control(
            sim,
            "POST",
            f"/schools/{BRIN}/pupils/{pupils[op[1] % len(pupils)]}/deregister",
            {"planner_delay_hours": op[2]},
        )
    elif kind == "end" and opened:
        pid = opened[op[1] % len(opened)]
        if op[2] == "cancel":
            control(sim, "POST", f"/planners/{pid}/cancel")
        else:
            planner.post(f"/planners/{pid}/close")
    elif kind == "closes" and opened:
        pid = opened[op[1] % len(opened)]
        with sim.world.lock:
            after = max(sim.world.schools[BRIN].planners[pid].opens_at, sim.world.now())
        planner.patch(f"/planners/{pid}", {"closes_at": fmt_ts(after + timedelta(hours=op[2]))})
    elif kind == "get":
        planner.get("/groups")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_events_send_what_a_rescan_of_everything_at_every_request_sends(steps):
    with twins() as (events, oracle), requests.Session() as http:
        clients = [(events, Planner(events, http), [], set()), (oracle, Planner(oracle, http), [], set())]
        for op in steps:
            for sim, planner, opened, used in clients:
                apply(sim, planner, op, opened, used)
            assert notifications(events) == notifications(oracle), op
        advance(events, 24 * 10)
        advance(oracle, 24 * 10)
        assert notifications(events) == notifications(oracle)
        assert events.world.schools[BRIN].notified == oracle.world.schools[BRIN].notified
