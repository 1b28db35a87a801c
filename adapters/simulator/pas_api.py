"""PAS (pupil administration) API under `/api/v1`, per parnassys-style.openapi.yaml."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .common import ApiError, Request, Response, parse_ts, problem
from .paging import check_query, offset_page, pas_bad_param
from .world import School

if TYPE_CHECKING:
    from .server import App

_BRIN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{2}$")
_YEAR = re.compile(r"^[0-9]{4}-[0-9]{4}$")
_PAGING = {"offset", "limit"}


def _id_key(item: dict[str, Any]) -> tuple[int, str]:
    """Order by id (ids of equal length compare as strings)."""
    return len(item["id"]), item["id"]


def _token_error(status: int, error: str, title: str, detail: str) -> ApiError:
    slug = error.replace("_", "-")
    return problem(status, slug, title, detail, error=error, error_description=detail)


def create_token(app: App, req: Request) -> Response:
    """POST /oauth/token: form-encoded client-credentials grant (contract: createToken)."""
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "The token request must be application/x-www-form-urlencoded.",
        )
    try:
        form = parse_qs(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(req.body))
    except (UnicodeDecodeError, ValueError):
        raise _token_error(400, "invalid_request", "Invalid request", "Malformed form body.") from None
    fields = {}
    for name in ("grant_type", "client_id", "client_secret"):
        values = form.get(name, [])
        if len(values) != 1 or not values[0]:
            raise _token_error(
                400, "invalid_request", "Invalid request", f"Parameter {name} is missing, empty or repeated."
            )
        fields[name] = values[0]
    if fields["grant_type"] != "client_credentials":
        raise _token_error(
            400, "unsupported_grant_type", "Unsupported grant type", "Only grant_type=client_credentials is supported."
        )
    cfg = app.world.config
    if (fields["client_id"], fields["client_secret"]) != (cfg.pas_client_id, cfg.pas_client_secret):
        raise _token_error(401, "invalid_client", "Invalid client", "Client authentication failed.")
    app.world.counters.events["tokens_issued"] += 1
    body = {"access_token": app.world.new_token(), "token_type": "Bearer", "expires_in": cfg.token_lifetime_s}
    return Response.json(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _authenticate(app: App, req: Request) -> None:
    """Bearer token check; the two 401 flavours differ in WWW-Authenticate (contract: Auth)."""
    world = app.world
    limit = app.faults.config.revoke_token_after
    if limit and not world.revocation_done and world.pas_auth_requests >= limit:
        world.revocation_done = True  # the injected early revocation (once)
        world.counters.events["tokens_revoked"] += world.revoke_tokens()
    scheme, _, token = (req.header("authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise problem(
            401,
            "unauthorized",
            "Unauthorized",
            "An access token is required.",
            {"WWW-Authenticate": 'Bearer realm="pas"'},
        )
    expiry = world.tokens.get(token)
    if expiry is None or world.now() >= expiry:
        world.tokens.pop(token, None)
        raise problem(
            401,
            "invalid-token",
            "Invalid access token",
            "The access token is expired or has been revoked.",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    world.pas_auth_requests += 1


def _school(app: App, req: Request) -> School:
    _authenticate(app, req)
    brin = req.params["brin"]
    if not _BRIN.match(brin):
        raise pas_bad_param("brin must look like 12AB00.")
    school = app.world.schools.get(brin)
    if school is None:
        raise problem(404, "not-found", "Not found", f"School {brin} does not exist.")
    if not school.cfg.pas_access:
        raise problem(403, "forbidden", "Forbidden", f"This client has no access to school {brin}.")
    return school


def _years(app: App) -> list[dict[str, Any]]:
    cfg = app.world.config
    today = app.world.now().date()
    start, end = cfg.school_year_start, cfg.school_year_end
    a, b = (int(x) for x in cfg.school_year.split("-"))
    prev = (f"{a - 1}-{b - 1}", start.replace(year=start.year - 1), end.replace(year=end.year - 1))
    return [
        {"id": y, "start": s.isoformat(), "end": e.isoformat(), "current": s <= today <= e}
        for y, s, e in (prev, (cfg.school_year, start, end))
    ]


def _schoolyear(app: App, req: Request) -> bool:
    """True for the configured (current) year, False for the previous one; 400/404 otherwise."""
    year = req.single("schoolyear")
    if year is None or year == app.world.config.school_year:
        return True
    if not _YEAR.match(year):
        raise pas_bad_param("schoolyear must look like 2026-2027.")
    if year == _years(app)[0]["id"]:
        return False
    raise problem(404, "not-found", "Not found", f"School year {year} does not exist.")


def get_school(app: App, req: Request) -> Response:
    school = _school(app, req)
    check_query(req, set(), pas_bad_param)
    return Response.json(200, {"brin": school.brin, "name": school.cfg.name, "region": school.cfg.region})


def list_schoolyears(app: App, req: Request) -> Response:
    _school(app, req)
    check_query(req, _PAGING, pas_bad_param)
    return Response.json(200, offset_page(req, _years(app), app.world.now()))


def list_groups(app: App, req: Request) -> Response:
    school = _school(app, req)
    check_query(req, _PAGING | {"schoolyear"}, pas_bad_param)
    groups = school.groups if _schoolyear(app, req) else school.prev_groups
    return Response.json(200, offset_page(req, sorted(groups, key=_id_key), app.world.now()))


def list_staff(app: App, req: Request) -> Response:
    school = _school(app, req)
    check_query(req, _PAGING | {"schoolyear"}, pas_bad_param)
    current = _schoolyear(app, req)
    # group ids differ per school year; the previous year's ids are offset by 10000
    items = [
        dict(m, group_ids=m["group_ids"] if current else [str(int(g) - 10000) for g in m["group_ids"]])
        for m in school.staff
    ]
    return Response.json(200, offset_page(req, sorted(items, key=_id_key), app.world.now()))


def _since(req: Request, name: str) -> datetime | None:
    raw = req.single(name)
    if raw is None:
        return None
    value = parse_ts(raw)
    if value is None:  # also catches an un-encoded '+' that arrived as a space
        raise pas_bad_param(f"{name} must be an ISO 8601 date-time with an offset.")
    return value


def list_pupils(app: App, req: Request) -> Response:
    """All pupils of the year visible at the simulated now; changed_since is inclusive."""
    school = _school(app, req)
    check_query(req, _PAGING | {"schoolyear", "changed_since", "status"}, pas_bad_param)
    current = _schoolyear(app, req)
    since = _since(req, "changed_since")
    status = req.single("status")
    if status is not None and status not in ("ingeschreven", "uitgeschreven"):
        raise pas_bad_param("status must be ingeschreven or uitgeschreven.")
    now = app.world.now()
    records = [r for p in school.pupils.values() if (r := p.at(now)) is not None] if current else []
    records = [r for r in records if status is None or r["status"] == status]
    if since is None:
        records.sort(key=_id_key)
    else:  # ordered by changed_at, then id (contract: Pagination)
        records = [r for r in records if datetime.fromisoformat(r["changed_at"]) >= since]
        records.sort(key=lambda r: (datetime.fromisoformat(r["changed_at"]), _id_key(r)))
    return Response.json(200, offset_page(req, records, now))


def list_notes(app: App, req: Request) -> Response:
    """Notes, filtered by category (repeatable, exact), created_since, pupil_id; body only on request."""
    school = _school(app, req)
    check_query(req, _PAGING | {"category", "created_since", "pupil_id", "include"}, pas_bad_param)
    categories = req.query.get("category")
    if categories is not None and not all(categories):
        raise pas_bad_param("category must not be empty.")
    include = req.single("include")
    if include not in (None, "body"):
        raise pas_bad_param("include must be body.")
    since = _since(req, "created_since")
    pupil_id = req.single("pupil_id")
    now = app.world.now()
    notes = [
        n
        for n in school.notes.values()
        if n.created_at <= now
        and (categories is None or n.category in categories)
        and (pupil_id is None or n.pupil_id == pupil_id)
        and (since is None or n.created_at >= since)
    ]
    if since is None:
        notes.sort(key=lambda n: (len(n.id), n.id))
    else:
        notes.sort(key=lambda n: (n.created_at, len(n.id), n.id))
    items = [n.to_json(include == "body") for n in notes]
    return Response.json(200, offset_page(req, items, now))


Handler = Callable[["App", Request], Response]
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/api/v1/oauth/token", create_token),
    ("GET", "/api/v1/schools/{brin}", get_school),
    ("GET", "/api/v1/schools/{brin}/schoolyears", list_schoolyears),
    ("GET", "/api/v1/schools/{brin}/groups", list_groups),
    ("GET", "/api/v1/schools/{brin}/staff", list_staff),
    ("GET", "/api/v1/schools/{brin}/pupils", list_pupils),
    ("GET", "/api/v1/schools/{brin}/notes", list_notes),
]


def not_found(path: str) -> ApiError:
    return problem(404, "not-found", "Not found", f"No resource at {path}.")


def method_not_allowed(method: str) -> ApiError:
    return problem(405, "method-not-allowed", "Method not allowed", f"{method} is not supported here.")
