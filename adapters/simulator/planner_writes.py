"""Planner write endpoints with the contract's idempotency rules.

Order of checks: auth, Idempotency-Key header, media type, JSON, stored key (replay or
`422 idempotency_mismatch`), body shape (`422`), state (`409`), references (`422`), execute.
Only successful requests are stored; keys expire after 24 simulated hours.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .common import Request, Response, json_equal, planner_error
from .planner_api import authenticate, get_planner_of
from .validation import (
    Checker,
    check_assignments,
    check_message,
    check_overlaps,
    check_planner_create,
    check_planner_patch,
)
from .world import Booking, IdemRecord, Message, Planner, School, Slot

if TYPE_CHECKING:
    from .server import App

_REPLAYED = {"Idempotent-Replayed": "true"}


def _key(req: Request, required: bool) -> str | None:
    key = req.header("idempotency-key")
    if key is None:
        if required:
            raise planner_error(400, "idempotency_key_required", "This endpoint requires an Idempotency-Key header.")
        return None
    if not 1 <= len(key) <= 255 or not all(0x21 <= ord(ch) <= 0x7E for ch in key):
        raise planner_error(400, "invalid_parameter", "Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return key


def _body(req: Request) -> Any:
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise planner_error(415, "unsupported_media_type", "The body must be application/json.")
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise planner_error(400, "invalid_json", "The body is not valid JSON.") from None


def _stored(app: App, school: School, key: str | None, req: Request, body: Any) -> IdemRecord | None:
    if key is None:
        return None
    app.world.expire_idempotency(school)
    record = school.idempotency.get(key)
    if record is None:
        return None
    if record.method != req.method or record.path != req.path or not json_equal(record.body, body):
        raise planner_error(422, "idempotency_mismatch", "This Idempotency-Key was used with a different request.")
    app.world.counters.events["idempotent_replays"] += 1
    return record


def _remember(app: App, school: School, key: str | None, req: Request, body: Any, result: dict[str, Any]) -> None:
    if key is not None:
        school.idempotency[key] = IdemRecord(req.method, req.path, body, app.world.now(), result)


def _reject(c: Checker) -> None:
    if c.details:
        raise planner_error(422, "validation_error", "The request body is invalid.", details=c.details)


def _slots(app: App, parsed: list[dict[str, Any]]) -> list[Slot]:
    return [Slot(app.world.new_id("slt_"), s["start"], s["end"], list(s["staff_ids"])) for s in parsed]


def create_planner(app: App, req: Request) -> Response:
    """POST /planners: 201 draft; replay 200; 409 duplicate_external_ref with existing_id."""
    school = authenticate(app, req)
    key = _key(req, required=True)
    body = _body(req)
    if (rec := _stored(app, school, key, req, body)) is not None:
        planner = school.planners[rec.result["planner_id"]]
        return Response.json(200, planner.to_json(app.world.now()), headers=_REPLAYED)
    c, parsed = check_planner_create(body)
    _reject(c)
    now = app.world.now()
    if body["group_id"] not in school.p_groups:
        c.add("group_id", f"Unknown group {body['group_id']}.")
    visible = {ch.id for ch in school.children_now(now)}
    for n, cid in enumerate(parsed["invitee_child_ids"] or []):
        if cid not in visible:
            c.add(f"invitee_child_ids[{n}]", f"Unknown child {cid}.")
    check_overlaps(c, parsed["slots"], [], set(school.p_staff))
    _reject(c)
    existing = next((p for p in school.planners.values() if p.external_ref == body["external_ref"]), None)
    if existing is not None:
        raise planner_error(
            409,
            "duplicate_external_ref",
            f"A planner with external_ref {body['external_ref']!r} already exists.",
            existing_id=existing.id,
        )
    planner = Planner(
        app.world.new_id("pln_"),
        body["external_ref"],
        body["group_id"],
        body["title"],
        body["description"],
        body["location"],
        body["kind"],
        body["mode"],
        int(body["sibling_head_start_hours"]),
        parsed["opens_at"],
        parsed["closes_at"],
        list(body["invitee_child_ids"]),
        _slots(app, parsed["slots"]),
        now,
        now,
    )
    school.planners[planner.id] = planner
    _remember(app, school, key, req, body, {"planner_id": planner.id})
    app.world.counters.writes["POST /v1/planners"] += 1
    return Response.json(201, planner.to_json(now))


def update_planner(app: App, req: Request) -> Response:
    """PATCH /planners/{id}: title, description, closes_at, add_slots while draft/scheduled/open."""
    school = authenticate(app, req)
    planner = get_planner_of(app, school, req)
    key = _key(req, required=False)
    body = _body(req)
    now = app.world.now()
    if _stored(app, school, key, req, body) is not None:
        return Response.json(200, planner.to_json(now), headers=_REPLAYED)
    c, parsed = check_planner_patch(body)
    _reject(c)
    if planner.status(now) not in ("draft", "scheduled", "open"):
        raise planner_error(409, "invalid_state", f"Planner {planner.id} is {planner.status(now)}.")
    closes = parsed["closes_at"]
    if closes is not None and (closes <= planner.opens_at or closes <= now):
        c.add("closes_at", "must be later than opens_at and than the current time")
    check_overlaps(c, parsed["add_slots"], planner.slots, set(school.p_staff))
    _reject(c)
    planner.title = body.get("title", planner.title)
    planner.description = body.get("description", planner.description)
    planner.closes_at = closes or planner.closes_at
    planner.slots += _slots(app, parsed["add_slots"])
    planner.updated_at = now
    app.world.changed(school)  # closes_at bounds who is still notified
    _remember(app, school, key, req, body, {"planner_id": planner.id})
    app.world.counters.writes["PATCH /v1/planners/{planner_id}"] += 1
    return Response.json(200, planner.to_json(now))


def _no_body(app: App, req: Request) -> None:
    if req.body.strip():  # contract: "No request body." Tolerated, but recorded.
        app.world.warnings.append(f"{req.method} {req.path} was sent a request body")


def open_planner(app: App, req: Request) -> Response:
    """POST /planners/{id}/open: draft -> scheduled/open; repeat is a 200 no-op."""
    school = authenticate(app, req)
    planner = get_planner_of(app, school, req)
    _no_body(app, req)
    now = app.world.now()
    status = planner.status(now)
    if status in ("scheduled", "open"):
        return Response.json(200, planner.to_json(now))
    if status != "draft" or now >= planner.closes_at:
        raise planner_error(409, "invalid_state", f"Planner {planner.id} cannot be released ({status}).")
    planner.released_at = planner.updated_at = now
    app.world.counters.writes["POST /v1/planners/{planner_id}/open"] += 1
    app.world.changed(school)
    app.world.tick()
    return Response.json(200, planner.to_json(now))


def close_planner(app: App, req: Request) -> Response:
    """POST /planners/{id}/close: closes draft/scheduled/open; closed is a no-op; cancelled 409."""
    school = authenticate(app, req)
    planner = get_planner_of(app, school, req)
    _no_body(app, req)
    now = app.world.now()
    status = planner.status(now)
    if status == "cancelled":
        raise planner_error(409, "invalid_state", f"Planner {planner.id} is cancelled.")
    if status != "closed":
        planner.closed_at = planner.updated_at = now
        app.world.changed(school)
        app.world.counters.writes["POST /v1/planners/{planner_id}/close"] += 1
    return Response.json(200, planner.to_json(now))


def create_assignments(app: App, req: Request) -> Response:
    """POST /planners/{id}/assignments: all-or-nothing; preferences mode, open or closed."""
    school = authenticate(app, req)
    planner = get_planner_of(app, school, req)
    key = _key(req, required=False)
    body = _body(req)
    if (rec := _stored(app, school, key, req, body)) is not None:
        return Response.json(200, rec.result["payload"], headers=_REPLAYED)
    c, rows = check_assignments(body)
    _reject(c)
    now = app.world.now()
    if planner.mode != "preferences":
        raise planner_error(409, "invalid_mode", f"Planner {planner.id} is not in preferences mode.")
    if planner.status(now) not in ("open", "closed"):
        raise planner_error(409, "invalid_state", f"Planner {planner.id} is {planner.status(now)}.")
    slot_ids = {s.id for s in planner.slots}
    seen: set[str] = set()
    for row in rows:
        if row["child_id"] not in planner.invitee_child_ids:
            c.add(f"{row['field']}.child_id", f"Child {row['child_id']} is not invited.")
        if row["child_id"] in seen:
            c.add(f"{row['field']}.child_id", f"Child {row['child_id']} is listed twice.")
        seen.add(row["child_id"])
        if row["slot_id"] not in slot_ids:
            c.add(f"{row['field']}.slot_id", f"Slot {row['slot_id']} does not belong to this planner.")
    _reject(c)
    active = {b.child_id: b for b in school.planner_bookings(planner.id) if b.status == "booked"}
    # a slot is unavailable when held by a child outside the request, or given twice
    held = {b.slot_id for cid, b in active.items() if cid not in seen}
    wanted = [r["slot_id"] for r in rows]
    if any(s in held for s in wanted) or len(set(wanted)) != len(wanted):
        raise planner_error(409, "slot_unavailable", "A slot is already held by another child.")
    result = []
    for row in rows:
        booking = active.get(row["child_id"])
        if booking is None:
            booking = Booking(
                app.world.new_id("bkg_"),
                planner.id,
                row["slot_id"],
                row["child_id"],
                _preferring_guardian(school, planner, row),
                "booked",
                now,
                now,
            )
            school.bookings.append(booking)
        elif booking.slot_id != row["slot_id"]:
            booking.slot_id, booking.updated_at = row["slot_id"], now
            booking.guardian_id = _preferring_guardian(school, planner, row)
        result.append({"child_id": row["child_id"], "slot_id": row["slot_id"], "booking_id": booking.id})
    payload = {"data": result}
    _remember(app, school, key, req, body, {"payload": payload})
    app.world.counters.writes["POST /v1/planners/{planner_id}/assignments"] += 1
    return Response.json(200, payload)


def _preferring_guardian(school: School, planner: Planner, row: dict[str, str]) -> str | None:
    for (pid, cid, gid), pref in sorted(school.preferences.items()):
        if pid == planner.id and cid == row["child_id"] and row["slot_id"] in pref.available_slot_ids:
            return gid
    return None


def send_message(app: App, req: Request) -> Response:
    """POST /messages: 202 with an id; reaches app-active guardians of the children, or staff."""
    school = authenticate(app, req)
    key = _key(req, required=True)
    body = _body(req)
    if (rec := _stored(app, school, key, req, body)) is not None:
        return Response.json(202, {"id": rec.result["message_id"]}, headers=_REPLAYED)
    c, parsed = check_message(body)
    _reject(c)
    now = app.world.now()
    children = {ch.id: ch for ch in school.children_now(now)}
    guardians: list[str] = []
    for n, cid in enumerate(parsed.get("child_ids") or []):
        if cid not in children:
            c.add(f"recipients.child_ids[{n}]", f"Unknown child {cid}.")
            continue
        guardians += [g for g in children[cid].guardian_ids if school.p_guardians[g].app_active and g not in guardians]
    staff = parsed.get("staff_ids") or []
    for n, sid in enumerate(staff):
        if sid not in school.p_staff:
            c.add(f"recipients.staff_ids[{n}]", f"Unknown staff member {sid}.")
    _reject(c)
    message = Message(
        app.world.new_id("msg_"),
        school.brin,
        "message",
        dict(body["recipients"]),
        body["subject"],
        body["body"],
        guardians,
        list(staff),
        now,
    )
    app.world.messages.append(message)
    _remember(app, school, key, req, body, {"message_id": message.id})
    app.world.counters.writes["POST /v1/messages"] += 1
    return Response.json(202, {"id": message.id})
