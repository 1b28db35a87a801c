"""Control endpoints under `/_sim/` (JSON in, JSON out; never faulted, never counted).

See the package docstring for the list with request and response shapes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import names as N
from .common import ApiError, Request, Response, fmt_ts, parse_ts
from .config import FaultSpecError, parse_fault_spec
from .parents import ParentActionError, behave, book, cancel_booking, submit_preferences, summary
from .world import PasNote, PasPupil, PChild, PGuardian, School

if TYPE_CHECKING:
    from .server import App


def _err(status: int, code: str, message: str) -> ApiError:
    return ApiError(Response.json(status, {"error": {"code": code, "message": message}}))


def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        data = json.loads(req.body)
    except ValueError:
        raise _err(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise _err(400, "invalid_json", "The body must be a JSON object.")
    return data


def _school(app: App, req: Request) -> School:
    school = app.world.schools.get(req.params["brin"])
    if school is None:
        raise _err(404, "not_found", "Unknown school.")
    return school


def _ts(value: Any, name: str) -> datetime:
    parsed = parse_ts(value)
    if parsed is None:
        raise _err(400, "invalid_parameter", f"{name} must be an ISO 8601 date-time with offset.")
    return parsed


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return fmt_ts(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def clock(app: App, req: Request) -> Response:
    """GET: {"now", "rate"}. POST {"now": ISO} or {"advance_seconds": N}: move forward."""
    if req.method == "POST":
        body = _body(req)
        try:
            if "now" in body:
                app.world.clock.set(_ts(body["now"], "now"))
            elif isinstance(body.get("advance_seconds"), (int, float)):
                app.world.clock.advance(float(body["advance_seconds"]))
            else:
                raise _err(400, "invalid_parameter", "Give now or advance_seconds.")
        except ValueError as exc:
            raise _err(409, "invalid_state", str(exc)) from None
        app.world.tick()
    return Response.json(200, {"now": fmt_ts(app.world.now()), "rate": app.world.config.clock_rate})


def _school_info(app: App, s: School) -> dict[str, Any]:
    now = app.world.now()
    return {
        "brin": s.brin,
        "name": s.cfg.name,
        "region": s.cfg.region,
        "api_key": s.cfg.api_key,
        "counts": {
            "groups": len(s.groups),
            "staff": len(s.staff),
            "pupils_visible": sum(p.at(now) is not None for p in s.pupils.values()),
            "notes": len(s.notes),
            "planner_children": len(s.children_now(now)),
            "planner_guardians": len(s.p_guardians),
            "planner_staff": len(s.p_staff),
            "planners": len(s.planners),
            "bookings": len(s.bookings),
        },
        "facts": _jsonable(s.facts),
    }


def schools(app: App, req: Request) -> Response:
    return Response.json(200, {"data": [_school_info(app, s) for s in app.world.schools.values()]})


def school(app: App, req: Request) -> Response:
    return Response.json(200, _school_info(app, _school(app, req)))


def write_note(app: App, req: Request) -> Response:
    """A teacher registers a note (verslag) in PAS."""
    s, body = _school(app, req), _body(req)
    pupil = s.pupils.get(str(body.get("pupil_id")))
    if pupil is None or not isinstance(body.get("category"), str):
        raise _err(400, "invalid_parameter", "pupil_id (existing) and category are required.")
    rec = pupil.latest()
    group = next(g for g in s.groups if g["id"] == rec["group_id"])
    created = _ts(body["created_at"], "created_at") if "created_at" in body else app.world.now()
    talk = body.get("gespreksdatum")
    nid = f"N-{s.facts['next_note_no']}"
    s.facts["next_note_no"] += 1
    note = PasNote(
        nid,
        pupil.id,
        body["category"],
        body.get("title") or f"Verslag {body['category']}",
        str(body.get("author_id") or group["teacher_ids"][0]),
        created,
        date.fromisoformat(talk) if talk else None,
        bool(body.get("zichtbaar_ouderportaal", True)),
        created,
        body.get("body", "Gesimuleerd verslag."),
    )
    s.notes[nid] = note
    return Response.json(201, note.to_json(True))


def update_note(app: App, req: Request) -> Response:
    s, body = _school(app, req), _body(req)
    note = s.notes.get(req.params["note_id"])
    if note is None:
        raise _err(404, "not_found", "Unknown note.")
    for key in ("zichtbaar_ouderportaal", "category", "title"):
        if key in body:
            setattr(note, key, body[key])
    note.changed_at = app.world.now()
    return Response.json(200, note.to_json(True))


def enroll(app: App, req: Request) -> Response:
    """Register a new pupil now; it appears in the planner after planner_delay_hours."""
    s, body, world = _school(app, req), _body(req), app.world
    now = world.now()
    n = len(s.pupils) + 1
    rng = random.Random(f"{world.config.seed}:{s.brin}:enroll:{n}")
    group = next((g for g in s.groups if g["id"] == body.get("group_id")), None) or rng.choice(s.groups)
    leerjaar = int(body.get("leerjaar") or rng.choice(group["leerjaren"]))
    tv, last = rng.choice(N.SURNAMES)
    first = rng.choice(N.ADULT_F)
    gid = str(max(int(g["id"]) for p in s.pupils.values() for g in p.latest()["guardians"]) + 1)
    guardian: dict[str, Any] = {
        "id": gid,
        "roepnaam": first,
        "tussenvoegsel": tv,
        "achternaam": last,
        "email": f"{N.email_local(first, tv, last)}@mail.example",
        "telefoon": None,
        "relatie": "moeder",
        "gezag": True,
        "ontvangt_informatie": True,
        "huishouden_id": f"HH-N{n}",
    }
    pid = str(max(int(p) for p in s.pupils) + 1)
    rec = {
        "id": pid,
        "leerlingnummer": 1000 + n,
        "roepnaam": rng.choice(N.GIRLS + N.BOYS),
        "tussenvoegsel": tv,
        "achternaam": last,
        "geboortedatum": date(now.year - 4 - leerjaar, 6, 1).isoformat(),
        "group_id": group["id"],
        "leerjaar": leerjaar,
        "status": "ingeschreven",
        "uitschrijfdatum": None,
        "ondersteuningsniveau": int(body.get("ondersteuningsniveau", 1)),
        "handelingsplan": False,
        "ontwikkelingsperspectief": False,
        "guardians": [guardian],
    }
    s.pupils[pid] = PasPupil(pid, [(now, rec)])
    gdn = world.new_id("gdn_")
    s.p_guardians[gdn] = PGuardian(gdn, f"{first} {N.full_surname(tv, last)}", guardian["email"], True, gid)
    grp = next(p["id"] for p in s.p_groups.values() if p["external_id"] == group["id"])
    delay = timedelta(hours=float(body.get("planner_delay_hours", world.config.planner_delay_hours)))
    child = PChild(
        world.new_id("chd_"),
        rec["roepnaam"],
        N.full_surname(tv, last),
        pid if body.get("linked", True) else None,
        grp,
        [gdn],
        now + delay,
    )
    s.p_children[child.id] = child
    world.changed(s)
    s.facts.setdefault("child_pupil", {})[child.id] = pid
    return Response.json(
        201, {"pupil": pupil_now(app, s, pid), "child_id": child.id, "planner_visible_from": fmt_ts(child.visible_from)}
    )


def pupil_now(app: App, s: School, pid: str) -> dict[str, Any] | None:
    return s.pupils[pid].at(app.world.now())


def deregister(app: App, req: Request) -> Response:
    """Deregister a pupil now (status uitgeschreven); the planner child disappears later."""
    s, body, world = _school(app, req), _body(req), app.world
    pupil = s.pupils.get(req.params["pupil_id"])
    if pupil is None or pupil.latest()["status"] == "uitgeschreven":
        raise _err(409, "invalid_state", "Unknown or already deregistered pupil.")
    now = world.now()
    rec = {
        **pupil.latest(),
        "status": "uitgeschreven",
        "uitschrijfdatum": body.get("uitschrijfdatum") or now.date().isoformat(),
    }
    pupil.versions.append((now, rec))
    delay = timedelta(hours=float(body.get("planner_delay_hours", world.config.deregister_delay_hours)))
    for child in s.p_children.values():
        if child.external_id == pupil.id:
            child.visible_until = now + delay
    world.changed(s)
    return Response.json(200, {"pupil": pupil_now(app, s, pupil.id)})


def set_app(app: App, req: Request) -> Response:
    s, body = _school(app, req), _body(req)
    guardian = s.p_guardians.get(req.params["guardian_id"])
    if guardian is None or not isinstance(body.get("app_active"), bool):
        raise _err(400, "invalid_parameter", "Unknown guardian or app_active missing.")
    guardian.app_active = body["app_active"]
    app.world.changed(s)
    app.world.tick()
    return Response.json(200, {"id": guardian.id, "app_active": guardian.app_active})


def _planner(app: App, req: Request) -> tuple[School, Any]:
    found = app.world.find_planner(req.params["planner_id"])
    if found is None:
        raise _err(404, "not_found", "Unknown planner.")
    return found


def _parent(action: Callable[[], Any]) -> Response:
    try:
        result = action()
    except ParentActionError as exc:
        raise _err(409, exc.code, str(exc)) from None
    return Response.json(200, result.to_json())


def parent_book(app: App, req: Request) -> Response:
    (s, p), b = _planner(app, req), _body(req)
    return _parent(lambda: book(app.world, s, p, str(b.get("child_id")), b.get("guardian_id"), b.get("slot_id")))


def parent_cancel(app: App, req: Request) -> Response:
    (s, p), b = _planner(app, req), _body(req)
    return _parent(lambda: cancel_booking(app.world, s, p, str(b.get("child_id"))))


def parent_preferences(app: App, req: Request) -> Response:
    (s, p), b = _planner(app, req), _body(req)
    return _parent(
        lambda: submit_preferences(
            app.world, s, p, str(b.get("child_id")), list(b.get("available_slot_ids") or []), b.get("guardian_id")
        )
    )


def cancel_planner(app: App, req: Request) -> Response:
    """School staff cancel the planner in the planner web application."""
    school, planner = _planner(app, req)
    planner.cancelled_at = planner.updated_at = app.world.now()
    app.world.changed(school)
    return Response.json(200, planner.to_json(app.world.now()))


def parents_behave(app: App, req: Request) -> Response:
    return Response.json(200, summary(behave(app.world, _body(req).get("planner_id"))))


def revoke_tokens(app: App, req: Request) -> Response:
    return Response.json(200, {"revoked": app.world.revoke_tokens()})


def counters(app: App, req: Request) -> Response:
    if req.method == "POST":
        app.world.counters.reset()
    return Response.json(200, app.world.counters.to_json(app.world.messages))


def messages(app: App, req: Request) -> Response:
    brin, kind = req.single("brin"), req.single("kind")
    data = [
        m.to_json() for m in app.world.messages if (brin is None or m.brin == brin) and (kind is None or m.kind == kind)
    ]
    return Response.json(200, {"data": data})


def faults(app: App, req: Request) -> Response:
    """GET the fault config; PUT {"spec": "..."} replaces it (parsed from the defaults)."""
    if req.method == "PUT":
        try:
            app.faults.config = parse_fault_spec(str(_body(req).get("spec", "")))
        except FaultSpecError as exc:
            raise _err(400, "invalid_parameter", str(exc)) from None
    return Response.json(200, {"config": _fault_json(app), "scripted": app.faults.scripted()})


def _fault_json(app: App) -> dict[str, Any]:
    cfg = asdict(app.faults.config)
    if cfg["maintenance"]:
        cfg["maintenance"] = [t.strftime("%H:%M") for t in cfg["maintenance"]]
    return cfg


def fault_next(app: App, req: Request) -> Response:
    """Queue {"status", "executed"?, "api"?, "method"?, "path"?, "count"?, "html"?, "retry_after"?}."""
    body = _body(req)
    if body.get("status") not in (429, 502, 503, 504):
        raise _err(400, "invalid_parameter", "status must be 429, 502, 503 or 504.")
    app.faults.script(body)
    return Response.json(200, {"scripted": app.faults.scripted()})


def warnings(app: App, req: Request) -> Response:
    return Response.json(200, {"data": list(app.world.warnings)})


ROUTES: list[tuple[str, str, Callable[[App, Request], Response]]] = [
    ("GET", "/_sim/clock", clock),
    ("POST", "/_sim/clock", clock),
    ("GET", "/_sim/schools", schools),
    ("GET", "/_sim/schools/{brin}", school),
    ("POST", "/_sim/schools/{brin}/notes", write_note),
    ("PATCH", "/_sim/schools/{brin}/notes/{note_id}", update_note),
    ("POST", "/_sim/schools/{brin}/pupils", enroll),
    ("POST", "/_sim/schools/{brin}/pupils/{pupil_id}/deregister", deregister),
    ("POST", "/_sim/schools/{brin}/guardians/{guardian_id}/app", set_app),
    ("POST", "/_sim/planners/{planner_id}/book", parent_book),
    ("POST", "/_sim/planners/{planner_id}/cancel-booking", parent_cancel),
    ("POST", "/_sim/planners/{planner_id}/preferences", parent_preferences),
    ("POST", "/_sim/planners/{planner_id}/cancel", cancel_planner),
    ("POST", "/_sim/parents/behave", parents_behave),
    ("POST", "/_sim/tokens/revoke", revoke_tokens),
    ("GET", "/_sim/counters", counters),
    ("POST", "/_sim/counters/reset", counters),
    ("GET", "/_sim/messages", messages),
    ("GET", "/_sim/faults", faults),
    ("PUT", "/_sim/faults", faults),
    ("POST", "/_sim/faults/next", fault_next),
    ("GET", "/_sim/warnings", warnings),
]
