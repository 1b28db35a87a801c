"""Control endpoints, parents' behaviour, enrolment changes and world determinism."""

from __future__ import annotations

import time
from itertools import pairwise

import requests

from adapters.simulator import SimConfig, Simulator
from adapters.simulator.generate import build_world

from .conftest import Pas, Planner, control, make_config, new_key, planner_body, set_clock


def test_clock_moves_forward_only(sim):
    assert control(sim, "GET", "/clock").json()["now"] == "2026-10-01T09:00:00+02:00"
    assert control(sim, "POST", "/clock", {"advance_seconds": 60}).json()["now"] == "2026-10-01T09:01:00+02:00"
    assert control(sim, "POST", "/clock", {"now": "2026-10-01T08:00:00+02:00"}).status_code == 409
    assert control(sim, "POST", "/clock", {"now": "2026-10-01T10:00:00"}).status_code == 400
    # responses use the Amsterdam offset whatever offset the request used
    assert control(sim, "POST", "/clock", {"now": "2026-11-01T12:00:00Z"}).json()["now"] == "2026-11-01T13:00:00+01:00"


def test_parents_book_cancel_and_cannot_without_app(sim, planner):
    facts = control(sim, "GET", "/schools/12AB00").json()["facts"]
    no_app = facts["no_app_child_id"]
    group = next(c["group_id"] for c in planner.sweep("/children")[0] if c["id"] == no_app)
    body = planner_body(planner)
    body.update(group_id=group, invitee_child_ids=[no_app] + [c for c in body["invitee_child_ids"] if c != no_app])
    created = planner.post("/planners", body, key=new_key()).json()
    pid, child = created["id"], body["invitee_child_ids"][1]
    assert control(sim, "POST", f"/planners/{pid}/book", {"child_id": child}).json()["error"]["code"] == "invalid_state"
    planner.post(f"/planners/{pid}/open")
    set_clock(sim, "2026-10-26T09:00:00+01:00")
    booked = control(sim, "POST", f"/planners/{pid}/book", {"child_id": child})
    assert booked.status_code == 200 and booked.json()["status"] == "booked"
    again = control(sim, "POST", f"/planners/{pid}/book", {"child_id": child})
    assert again.json()["error"]["code"] == "already_booked"
    taken = control(
        sim,
        "POST",
        f"/planners/{pid}/book",
        {"child_id": body["invitee_child_ids"][2], "slot_id": booked.json()["slot_id"]},
    )
    assert taken.json()["error"]["code"] == "slot_unavailable"
    assert control(sim, "POST", f"/planners/{pid}/book", {"child_id": no_app}).json()["error"]["code"] == "app_inactive"
    control(sim, "POST", f"/planners/{pid}/cancel-booking", {"child_id": child})
    bookings = planner.get(f"/planners/{pid}/bookings").json()["data"]
    assert [b["status"] for b in bookings] == ["cancelled"]


def test_parents_behave_is_deterministic_and_mixed():
    outcomes = []
    for _ in range(2):
        with Simulator(make_config(pupils_per_school=200)) as sim:
            planner = Planner(sim, requests.Session())
            ids = []
            for index in range(4):
                created = planner.post("/planners", planner_body(planner, group_index=index), key=new_key()).json()
                planner.post(f"/planners/{created['id']}/open")
                ids.append(created["id"])
            set_clock(sim, "2026-10-26T09:00:00+01:00")
            first = control(sim, "POST", "/parents/behave").json()
            set_clock(sim, "2026-11-01T09:00:00+01:00")  # past 60% of the window: late parents act
            second = control(sim, "POST", "/parents/behave").json()
            outcomes.append((first, second))
            booked = sum(len(planner.get(f"/planners/{p}/bookings", limit=200).json()["data"]) for p in ids)
            assert booked == first["counts"]["booked"] + second["counts"]["booked"]
    (first, second), again = outcomes
    assert second["counts"]["never"] > 0
    assert (first, second) == again
    assert first["counts"]["booked"] > first["counts"]["never"] > 0
    assert first["counts"]["late_waiting"] > 0 and second["counts"]["booked"] == first["counts"]["late_waiting"]
    assert second["counts"]["never"] == first["counts"]["never"]
    assert first["counts"]["cannot"] + first["counts"]["never"] + first["counts"]["booked"] + first["counts"][
        "late_waiting"
    ] == sum(first["counts"].values())


def test_siblings_book_during_head_start_only(sim, planner):
    body = planner_body(planner)
    created = planner.post("/planners", body, key=new_key()).json()
    planner.post(f"/planners/{created['id']}/open")
    set_clock(sim, "2026-10-25T12:00:00+01:00")
    result = control(sim, "POST", "/parents/behave").json()
    guardians = {g["id"]: g for g in planner.sweep("/guardians")[0]}
    children = {c["id"]: c for c in planner.sweep("/children")[0]}
    for cid in result["booked"]:
        assert any(len(guardians[g]["child_ids"]) > 1 for g in children[cid]["guardian_ids"])
    for cid in result["not_yet_bookable"]:
        active = [g for g in children[cid]["guardian_ids"] if guardians[g]["app_active"]]
        assert len(guardians[active[0]]["child_ids"]) == 1
    assert result["counts"]["not_yet_bookable"] > 0


def test_enrol_and_deregister_reach_both_systems(sim, http, planner):
    pas = Pas(sim, http)
    groups = pas.get("/schools/12AB00/groups").json()["items"]
    enrolled = control(
        sim, "POST", "/schools/12AB00/pupils", {"group_id": groups[0]["id"], "planner_delay_hours": 48}
    ).json()
    pupil = enrolled["pupil"]
    assert pupil["status"] == "ingeschreven"
    assert pupil["id"] in {p["id"] for p in pas.sweep("/schools/12AB00/pupils", changed_since=pupil["changed_at"])[0]}
    assert enrolled["child_id"] not in {c["id"] for c in planner.sweep("/children")[0]}
    control(sim, "POST", "/clock", {"advance_seconds": 48 * 3600})
    child = next(c for c in planner.sweep("/children")[0] if c["id"] == enrolled["child_id"])
    assert child["external_id"] == pupil["id"]
    left = control(sim, "POST", f"/schools/12AB00/pupils/{pupil['id']}/deregister", {"planner_delay_hours": 1}).json()[
        "pupil"
    ]
    assert left["status"] == "uitgeschreven" and left["uitschrijfdatum"] == "2026-10-03"
    control(sim, "POST", "/clock", {"advance_seconds": 3600})
    assert enrolled["child_id"] not in {c["id"] for c in planner.sweep("/children")[0]}


def test_counters_show_requests_and_reset(sim, planner):
    planner.get("/groups")
    planner.get("/groups")
    counters = control(sim, "GET", "/counters").json()
    assert counters["requests"] == {"GET /v1/groups": 2} and counters["writes_total"] == 0
    assert counters["statuses"] == {"GET /v1/groups 200": 2}
    assert control(sim, "POST", "/counters/reset").json()["requests"] == {}


def test_planner_cancelled_by_staff_is_read_only(sim, planner):
    created = planner.post("/planners", planner_body(planner), key=new_key()).json()
    assert control(sim, "POST", f"/planners/{created['id']}/cancel").json()["status"] == "cancelled"
    assert planner.post(f"/planners/{created['id']}/close").json()["error"]["code"] == "invalid_state"
    assert planner.post(f"/planners/{created['id']}/open").status_code == 409


def test_world_is_deterministic_from_the_seed():
    def fingerprint(config: SimConfig) -> list:
        world = build_world(config)
        return [(s.brin, [p.latest() for p in s.pupils.values()], sorted(s.p_children)) for s in world.schools.values()]

    assert fingerprint(make_config(seed=5)) == fingerprint(make_config(seed=5))
    assert fingerprint(make_config(seed=5)) != fingerprint(make_config(seed=6))


def test_board_world_sizes_and_start_up_time():
    started = time.perf_counter()
    with Simulator(make_config(pupils_per_school=200)) as sim:
        elapsed = time.perf_counter() - started
        info = control(sim, "GET", "/schools").json()["data"]
    assert elapsed < 1.0
    assert [s["brin"] for s in info] == ["12AB00", "34CD01"]
    for school in info:
        assert school["counts"]["groups"] == 9 and school["counts"]["pupils_visible"] == 199
        facts = school["facts"]
        assert facts["duo_group_ids"] and facts["opp_pupil_ids"] and len(facts["unlinked_child_ids"]) == 2


def test_concurrent_creates_with_one_external_ref_make_one_planner(sim, planner):
    import concurrent.futures

    body = planner_body(planner)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    requests.post(
                        f"{planner.base}/planners", json=body, headers={**planner.auth, "Idempotency-Key": new_key()}
                    ).status_code
                ),
                range(16),
            )
        )
    assert sorted(statuses) == [201] + [409] * 15


def test_unknown_paths_and_methods(sim, planner, http):
    assert planner.get("/nope").json()["error"]["code"] == "not_found"
    assert http.delete(f"{planner.base}/planners", headers=planner.auth).json()["error"]["code"] == "method_not_allowed"
    assert planner.get("/planners/pln_unknown").status_code == 404
    pas = http.post(f"{sim.base_url}/api/v1/schools/12AB00")
    assert pas.status_code == 405 and pas.headers["Content-Type"].startswith("application/problem+json")


def test_late_parents_act_on_a_reminder(sim, planner):
    body = planner_body(planner, group_index=0)
    created = planner.post("/planners", body, key=new_key()).json()
    planner.post(f"/planners/{created['id']}/open")
    set_clock(sim, "2026-10-26T09:00:00+01:00")
    waiting = control(sim, "POST", "/parents/behave").json()["late_waiting"]
    assert waiting
    reminder = {"recipients": {"child_ids": waiting[:1]}, "subject": "Herinnering", "body": "Plan een gesprek."}
    assert planner.post("/messages", reminder, key=new_key()).status_code == 202
    after = control(sim, "POST", "/parents/behave").json()
    assert after["booked"] == waiting[:1]


def test_siblings_get_non_overlapping_slots_across_planners(sim, planner):
    ids = []
    for index in range(9):
        body = planner_body(planner, group_index=index)
        created = planner.post("/planners", body, key=new_key()).json()
        planner.post(f"/planners/{created['id']}/open")
        ids.append(created["id"])
    set_clock(sim, "2026-10-25T12:00:00+01:00")  # head start: only sibling families act
    control(sim, "POST", "/parents/behave")
    children = {c["id"]: c for c in planner.sweep("/children")[0]}
    slots = {s["id"]: s for p in ids for s in planner.get(f"/planners/{p}").json()["slots"]}
    per_guardian: dict[str, list[dict]] = {}
    for p in ids:
        for b in planner.get(f"/planners/{p}/bookings", limit=200).json()["data"]:
            for g in children[b["child_id"]]["guardian_ids"]:
                per_guardian.setdefault(g, []).append(slots[b["slot_id"]])
    families = [s for s in per_guardian.values() if len(s) > 1]
    assert families
    for family in families:
        family.sort(key=lambda s: s["start"])
        assert all(a["end"] <= b["start"] for a, b in pairwise(family))
