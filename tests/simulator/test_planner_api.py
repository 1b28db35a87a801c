"""Planner: API keys, cursor pagination, idempotency, strict bodies, lifecycle, messages."""

from __future__ import annotations

import json

import requests

from .conftest import Planner, control, new_key, planner_body, set_clock


def test_api_key_identifies_the_school(sim, http, planner):
    assert http.get(f"{sim.base_url}/v1/groups").json() == {
        "error": {"code": "unauthorized", "message": "Missing or invalid API key."}
    }
    assert http.get(f"{sim.base_url}/v1/groups", headers={"Authorization": "Bearer wrong"}).status_code == 401
    other = Planner(sim, http, key="key-klavertje")
    mine = {c["id"] for c in planner.sweep("/children")[0]}
    theirs = {c["id"] for c in other.sweep("/children")[0]}
    assert mine and theirs and not mine & theirs
    created = planner.post("/planners", planner_body(planner), key=new_key()).json()
    assert other.get(f"/planners/{created['id']}").status_code == 404


def test_cursor_pagination_covers_everything_once(planner):
    everything, pages = planner.sweep("/children", limit=200)
    assert pages == 1
    small, pages = planner.sweep("/children", limit=7)
    assert sorted(c["id"] for c in small) == sorted(c["id"] for c in everything)
    assert pages >= len(everything) // 7


def test_last_page_may_be_empty(planner):
    total = len(planner.sweep("/groups", limit=200)[0])
    first = planner.get("/groups", limit=total).json()
    assert len(first["data"]) == total and first["next_cursor"] is not None
    last = planner.get("/groups", limit=total, cursor=first["next_cursor"]).json()
    assert last == {"data": [], "next_cursor": None}


def test_cursor_misuse_is_rejected(planner):
    children = planner.get("/children", limit=2).json()
    cursor = children["next_cursor"]
    altered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for path, params in (
        ("/children", {"cursor": altered}),
        ("/guardians", {"cursor": cursor}),
        ("/children", {"cursor": cursor, "group_id": "grp_x"}),
        ("/children", {"cursor": "!!"}),
    ):
        r = planner.get(path, **params)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", (path, params)
    for limit in (0, 201, "ten"):
        r = planner.get("/children", limit=limit)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter"


def test_directory_links_and_gaps(sim, planner):
    facts = control(sim, "GET", "/schools/12AB00").json()["facts"]
    children = planner.sweep("/children")[0]
    assert {c["id"] for c in children if c["external_id"] is None} == set(facts["unlinked_child_ids"])
    guardians = planner.sweep("/guardians")[0]
    assert any(not g["app_active"] for g in guardians)
    assert any(g["email"] is None for g in guardians)
    assert any(len(g["child_ids"]) > 1 for g in guardians)
    groups = planner.sweep("/groups")[0]
    assert any(g["external_id"] is None for g in groups)
    staff = planner.sweep("/staff")[0]
    assert any(s["external_id"] is None for s in staff)


def test_create_replay_mismatch_and_duplicate_ref(sim, planner):
    body, key = planner_body(planner), new_key()
    created = planner.post("/planners", body, key=key)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    assert created.json()["opens_at"] == "2026-10-26T08:00:00+01:00"
    # same key, same JSON value (other member order and whitespace) => replay
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    replay = requests.post(
        f"{planner.base}/planners",
        data=reordered,
        headers={**planner.auth, "Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == created.json()["id"]
    mismatch = planner.post("/planners", dict(body, title="Anders"), key=key)
    assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "idempotency_mismatch"
    dup = planner.post("/planners", body, key=new_key())
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "duplicate_external_ref"
    assert dup.json()["error"]["existing_id"] == created.json()["id"]
    counters = control(sim, "GET", "/counters").json()
    assert counters["writes"] == {"POST /v1/planners": 1}
    listed = planner.get("/planners", external_ref=body["external_ref"]).json()["data"]
    assert [p["id"] for p in listed] == [created.json()["id"]]


def test_only_successful_requests_are_stored_and_keys_expire(sim, planner):
    body, key = planner_body(planner), new_key()
    bad = planner.post("/planners", dict(body, opens_at="2026-10-26T08:00:00"), key=key)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "opens_at"
    assert planner.post("/planners", body, key=key).status_code == 201  # same key, corrected body
    control(sim, "POST", "/clock", {"advance_seconds": 24 * 3600 + 1})
    expired = planner.post("/planners", body, key=key)  # key forgotten => a new create attempt
    assert expired.status_code == 409 and expired.json()["error"]["code"] == "duplicate_external_ref"


def test_strict_request_validation(planner):
    body = planner_body(planner)
    no_key = planner.post("/planners", body)
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "idempotency_key_required"
    assert planner.post("/planners", body, key="has space").json()["error"]["code"] == "invalid_parameter"
    form = requests.post(
        f"{planner.base}/planners",
        data="x=1",
        headers={**planner.auth, "Idempotency-Key": new_key(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    broken = requests.post(
        f"{planner.base}/planners",
        data="{",
        headers={**planner.auth, "Idempotency-Key": new_key(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    cases = {
        "color": dict(body, color="red"),
        "slots[0].room": dict(body, slots=[dict(body["slots"][0], room="3")] + body["slots"][1:]),
        "slots[1].staff_ids": dict(body, slots=[body["slots"][0], dict(body["slots"][0])]),
        "closes_at": dict(body, closes_at=body["opens_at"]),
        "sibling_head_start_hours": dict(body, sibling_head_start_hours=200),
        "kind": dict(body, kind="meeting"),
        "location": {k: v for k, v in body.items() if k != "location"},
        "invitee_child_ids[0]": dict(body, invitee_child_ids=["chd_unknown"]),
        "group_id": dict(body, group_id="grp_unknown"),
    }
    for field, case in cases.items():
        r = planner.post("/planners", case, key=new_key())
        assert r.status_code == 422, field
        assert r.json()["error"]["code"] == "validation_error"
        assert field in [d["field"] for d in r.json()["error"]["details"]], (field, r.json())


def test_lifecycle_follows_the_simulated_clock(sim, planner):
    created = planner.post("/planners", planner_body(planner), key=new_key()).json()
    path = f"/planners/{created['id']}"
    opened = planner.post(f"{path}/open")
    assert opened.status_code == 200 and opened.json()["status"] == "scheduled"
    assert planner.post(f"{path}/open").json()["status"] == "scheduled"  # repeat: no-op
    assert control(sim, "GET", "/warnings").json()["data"] == []
    planner.post(f"{path}/open", {})  # "No request body": tolerated, but recorded
    assert control(sim, "GET", "/warnings").json()["data"] == [f"POST /v1{path}/open was sent a request body"]
    set_clock(sim, "2026-10-26T08:00:00+01:00")
    assert planner.get(path).json()["status"] == "open"
    set_clock(sim, "2026-11-02T17:00:00+01:00")
    assert planner.get(path).json()["status"] == "closed"
    assert planner.post(f"{path}/open").json()["error"]["code"] == "invalid_state"
    assert planner.post(f"{path}/close").status_code == 200
    assert planner.patch(path, {"title": "x"}).status_code == 409


def test_notifications_once_and_head_start_for_siblings(sim, planner):
    body = planner_body(planner)
    created = planner.post("/planners", body, key=new_key()).json()
    guardians = {g["id"]: g for g in planner.sweep("/guardians")[0]}
    invited = [c for c in planner.sweep("/children")[0] if c["id"] in body["invitee_child_ids"]]
    planner.post(f"/planners/{created['id']}/open")
    siblings = {
        g
        for c in invited
        for g in c["guardian_ids"]
        if guardians[g]["app_active"] and len(guardians[g]["child_ids"]) > 1
    }
    everyone = {g for c in invited for g in c["guardian_ids"] if guardians[g]["app_active"]}

    def notified():
        messages = control(sim, "GET", "/messages?kind=notification").json()["data"]
        return [m["delivered_guardian_ids"][0] for m in messages]

    assert siblings and everyone - siblings and notified() == []
    set_clock(sim, "2026-10-25T08:00:00+01:00")  # 24 h head start
    assert set(notified()) == siblings
    set_clock(sim, "2026-10-27T08:00:00+01:00")
    assert sorted(notified()) == sorted(everyone)  # each once


def test_patch_adds_slots_idempotently_and_checks_overlap(planner):
    body = planner_body(planner)
    created = planner.post("/planners", body, key=new_key()).json()
    path, key = f"/planners/{created['id']}", new_key()
    staff = body["slots"][0]["staff_ids"]
    extra = {
        "add_slots": [{"start": "2026-11-12T15:00:00+01:00", "end": "2026-11-12T15:10:00+01:00", "staff_ids": staff}],
        "closes_at": "2026-11-04T17:00:00+01:00",
    }
    first = planner.patch(path, extra, key=key)
    again = planner.patch(path, extra, key=key)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert len(again.json()["slots"]) == len(body["slots"]) + 1
    overlap = planner.patch(path, {"add_slots": [dict(body["slots"][0])]})
    assert overlap.status_code == 422
    assert planner.patch(path, {"status": "open"}).status_code == 422
    assert planner.patch(path, {}).status_code == 422
    assert planner.patch(path, {"closes_at": "2026-09-01T00:00:00+02:00"}).status_code == 422


def test_messages_reach_only_guardians_with_the_app(sim, planner):
    facts = control(sim, "GET", "/schools/12AB00").json()["facts"]
    child = facts["no_app_child_id"]
    msg = {"recipients": {"child_ids": [child]}, "subject": "Herinnering", "body": "Plan een gesprek."}
    key = new_key()
    sent = planner.post("/messages", msg, key=key)
    assert sent.status_code == 202 and sent.json()["id"].startswith("msg_")
    replay = planner.post("/messages", msg, key=key)
    assert (
        replay.status_code == 202 and replay.json() == sent.json() and replay.headers["Idempotent-Replayed"] == "true"
    )
    stored = control(sim, "GET", "/messages?kind=message").json()["data"]
    assert len(stored) == 1 and stored[0]["delivered_guardian_ids"] == []
    staff = planner.sweep("/staff")[0][0]["id"]
    assert (
        planner.post(
            "/messages", {"recipients": {"staff_ids": [staff]}, "subject": "s", "body": "b"}, key=new_key()
        ).status_code
        == 202
    )
    both = {"recipients": {"child_ids": [child], "staff_ids": [staff]}, "subject": "s", "body": "b"}
    assert planner.post("/messages", both, key=new_key()).status_code == 422
    assert planner.post("/messages", dict(msg, subject=""), key=new_key()).status_code == 422
    planner.post("/messages", msg, key=new_key())  # same content, new key: a duplicate the counters show
    counters = control(sim, "GET", "/counters").json()
    assert counters["messages_sent"] == 3 and counters["duplicate_messages"] == 1


def test_preferences_and_assignments(sim, planner):
    body = planner_body(planner, mode="preferences")
    created = planner.post("/planners", body, key=new_key()).json()
    path = f"/planners/{created['id']}"
    assert planner.get(f"{path}/bookings").json() == {"data": [], "next_cursor": None}
    planner.post(f"{path}/open")
    early = planner.post(
        f"{path}/assignments",
        {"assignments": [{"child_id": body["invitee_child_ids"][0], "slot_id": created["slots"][0]["id"]}]},
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_state"
    set_clock(sim, "2026-10-27T08:00:00+01:00")
    result = control(sim, "POST", "/parents/behave", {"planner_id": created["id"]}).json()
    assert result["counts"]["preferences"] > 0
    prefs = planner.sweep(f"{path}/preferences")[0]
    assert len(prefs) == result["counts"]["preferences"]
    pref = prefs[0]
    assignment = {"assignments": [{"child_id": pref["child_id"], "slot_id": pref["available_slot_ids"][0]}]}
    key = new_key()
    done = planner.post(f"{path}/assignments", assignment, key=key)
    assert done.status_code == 200
    assert planner.post(f"{path}/assignments", assignment, key=key).headers["Idempotent-Replayed"] == "true"
    booking = planner.get(f"{path}/bookings").json()["data"][0]
    assert booking["guardian_id"] == pref["guardian_id"] and booking["status"] == "booked"
    other = next(c for c in body["invitee_child_ids"] if c != pref["child_id"])
    clash = planner.post(
        f"{path}/assignments", {"assignments": [{"child_id": other, "slot_id": pref["available_slot_ids"][0]}]}
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "slot_unavailable"
    self_select = planner.post("/planners", planner_body(planner, group_index=4), key=new_key()).json()
    assert planner.get(f"/planners/{self_select['id']}/preferences").json()["error"]["code"] == "invalid_mode"
