"""Planner (parent app) API under `/v1`: authentication and the read endpoints.

Writes live in planner_writes.py. Per-organisation API keys: the key identifies the school.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import ApiError, Request, Response, planner_error
from .paging import check_query
from .world import Planner, School

if TYPE_CHECKING:
    from .server import App

_PAGING = {"cursor", "limit"}


def bad_param(message: str) -> ApiError:
    return planner_error(400, "invalid_parameter", message)


def authenticate(app: App, req: Request) -> School:
    """`Authorization: Bearer <api_key>`; missing/unknown => 401 unauthorized."""
    scheme, _, key = (req.header("authorization") or "").partition(" ")
    school = app.world.by_key.get(key.strip()) if scheme.lower() == "bearer" else None
    if school is None:
        raise planner_error(401, "unauthorized", "Missing or invalid API key.")
    return school


def get_planner_of(app: App, school: School, req: Request) -> Planner:
    planner = school.planners.get(req.params["planner_id"])
    if planner is None:  # planners of another organisation are invisible too
        raise planner_error(404, "not_found", f"Planner {req.params['planner_id']} does not exist.")
    return planner


def _page(app: App, school: School, req: Request, items: list[dict[str, Any]], key: Any = None) -> Response:
    kwargs = {"key": key} if key else {}
    return Response.json(200, app.cursors.page(school.brin, req, items, **kwargs))


def list_groups(app: App, req: Request) -> Response:
    school = authenticate(app, req)
    check_query(req, _PAGING, bad_param)
    return _page(app, school, req, [dict(g, teacher_ids=list(g["teacher_ids"])) for g in school.p_groups.values()])


def list_children(app: App, req: Request) -> Response:
    school = authenticate(app, req)
    check_query(req, _PAGING | {"group_id"}, bad_param)
    group_id = req.single("group_id")
    now = app.world.now()
    items = [c.to_json() for c in school.children_now(now) if group_id is None or c.group_id == group_id]
    return _page(app, school, req, items)


def list_guardians(app: App, req: Request) -> Response:
    """Guardians of the children currently known to the app (others have disappeared)."""
    school = authenticate(app, req)
    check_query(req, _PAGING, bad_param)
    now = app.world.now()
    children: dict[str, list[str]] = {}
    for child in school.children_now(now):
        for gid in child.guardian_ids:
            children.setdefault(gid, []).append(child.id)
    items = [
        {"id": g.id, "name": g.name, "email": g.email, "child_ids": sorted(children[g.id]), "app_active": g.app_active}
        for g in school.p_guardians.values()
        if g.id in children
    ]
    return _page(app, school, req, items)


def list_staff(app: App, req: Request) -> Response:
    school = authenticate(app, req)
    check_query(req, _PAGING, bad_param)
    return _page(app, school, req, [dict(s) for s in school.p_staff.values()])


def list_planners(app: App, req: Request) -> Response:
    school = authenticate(app, req)
    check_query(req, _PAGING | {"external_ref", "group_id"}, bad_param)
    ref, group_id = req.single("external_ref"), req.single("group_id")
    now = app.world.now()
    items = [
        p.to_json(now)
        for p in school.planners.values()
        if (ref is None or p.external_ref == ref) and (group_id is None or p.group_id == group_id)
    ]
    return _page(app, school, req, items)


def get_planner(app: App, req: Request) -> Response:
    school = authenticate(app, req)
    check_query(req, set(), bad_param)
    return Response.json(200, get_planner_of(app, school, req).to_json(app.world.now()))


def list_bookings(app: App, req: Request) -> Response:
    """All bookings incl. cancelled ones, in order of creation."""
    school = authenticate(app, req)
    planner = get_planner_of(app, school, req)
    check_query(req, _PAGING, bad_param)
    order = {b.id: n for n, b in enumerate(school.bookings)}
    items = [b.to_json() for b in school.planner_bookings(planner.id)]
    return _page(app, school, req, items, key=lambda item: order[item["id"]])


def list_preferences(app: App, req: Request) -> Response:
    """Latest submission per guardian and child; 409 invalid_mode outside preferences mode."""
    school = authenticate(app, req)
    planner = get_planner_of(app, school, req)
    check_query(req, _PAGING, bad_param)
    if planner.mode != "preferences":
        raise planner_error(409, "invalid_mode", f"Planner {planner.id} is not in preferences mode.")
    items = [p.to_json() for (pid, _, _), p in school.preferences.items() if pid == planner.id]
    return _page(app, school, req, items, key=lambda item: [item["child_id"], item["guardian_id"]])


def not_found(path: str) -> ApiError:
    return planner_error(404, "not_found", f"No resource at {path}.")


def method_not_allowed(method: str) -> ApiError:
    return planner_error(405, "method_not_allowed", f"{method} is not supported on this path.")
