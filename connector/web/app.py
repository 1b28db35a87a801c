"""The Starlette app of the web page (issue W2-5): routes, login, CSRF, roles, security headers.

Every page needs a session (`accounts.py`); without one a page redirects to the login page, and
a figures fragment answers 401 (the script then reloads, which lands on the login page). Every
POST carries the session's CSRF token (the login form its own, a cookie and a hidden field);
"sync now" is for `director` and `ict`. The pages render `pages.py`'s data with Jinja2 (escaped);
no inline script or style is served, so the CSP allows scripts and styles from this origin only.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector.engine.context import Engine
from connector.review.verslagen import verslag_rows, verslagen_csv
from connector.runtime import Runtime
from connector.store import Store, upgrade_to_head
from connector.web import pages, words
from connector.web.accounts import Accounts, Visitor
from connector.web.syncjobs import SyncJobs

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "connector_session"
LOGIN_COOKIE = "connector_login"  # the login form's CSRF token (double submit)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
RUNS_SHOWN = 50

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SecurityHeaders:
    """Adds the security headers to every response; `no-store` to all but the static files, and
    HSTS when the request came over TLS (directly or as the trusted proxy says)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Web:
    """The app's state: where the settings come from, the store, accounts, sync jobs, templates."""

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        *,
        clock: Clock,
        wall: Clock,
        jobs: SyncJobs,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.wall = wall
        first = runtime()
        upgrade_to_head(first.store_url)
        self.store = Store(first.store_url)
        self.accounts = Accounts(self.store, first.loaded.settings.web)
        self.jobs = jobs
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )
        self.templates = Jinja2Templates(env=env)
        self._engine: tuple[Runtime, Engine] | None = None

    def engine(self) -> Engine:
        """An offline engine (no vendor clients) on the settings in force, for the query layer."""
        runtime = self.runtime()
        if self._engine is None or self._engine[0] is not runtime:
            self._engine = (runtime, Engine.offline(runtime.loaded, self.store))
        return self._engine[1]

    def school(self, brin: str):
        for school in self.engine().settings.schools:
            if school.brin == brin:
                return school
        raise HTTPException(404, "Deze school staat niet in de instellingen.")

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        settings = self.engine().settings
        base = {
            "visitor": request.scope.get("visitor"),
            "refresh": settings.web.refresh_seconds,
            "schools": [(s.brin, s.name) for s in settings.schools],
            "path": request.url.path,
        }
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


Handler = Callable[..., Response]


def create_app(
    runtime: Runtime | Callable[[], Runtime],
    *,
    clock: Clock = utc_now,
    wall: Clock = utc_now,
    jobs: SyncJobs | None = None,
) -> Starlette:
    """The web page on the store and settings of `runtime` (or a callable giving the settings in
    force: the daemon's). `clock` is the moment the figures are for, `wall` the real time of
    sessions and lockouts."""
    source: Callable[[], Runtime] = runtime if callable(runtime) else (lambda: runtime)
    web = Web(source, clock=clock, wall=wall, jobs=jobs or SyncJobs(source, clock=clock))

    def page(handler: Handler, *, post: bool = False, roles: frozenset[str] | None = None):
        async def endpoint(request: Request) -> Response:
            token = request.cookies.get(SESSION_COOKIE)
            visitor = await run_in_threadpool(web.accounts.visitor, token, now=wall())
            if visitor is None:
                if request.query_params.get("deel") or request.headers.get("x-requested-with") == "fetch":
                    return Response("niet ingelogd", status_code=401, media_type="text/plain")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/inloggen?{urlencode({'volgende': target})}", status_code=303)
            request.scope["visitor"] = visitor
            form: dict[str, str] = {}
            if post:
                data = await request.form()
                form = {k: v for k, v in data.items() if isinstance(v, str)}
                if not _same(form.get("csrf"), visitor.csrf):
                    return web.render(request, "error.html", _refused_form(), status=403)
                if roles is not None and visitor.role not in roles:
                    return web.render(request, "error.html", _not_allowed(), status=403)
            return await run_in_threadpool(handler, request, visitor, form)

        return endpoint

    # --- login ---------------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        return _login_page(web, request, error=False, next_path=request.query_params.get("volgende"))

    async def login(request: Request) -> Response:
        data = await request.form()
        form = {k: v for k, v in data.items() if isinstance(v, str)}
        if not _same(form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
            return web.render(request, "error.html", _refused_form(), status=403)
        found = await run_in_threadpool(
            web.accounts.login, form.get("naam", ""), form.get("wachtwoord", ""), now=wall()
        )
        if found is None:
            return _login_page(web, request, error=True, next_path=form.get("volgende"), status=401)
        token, _ = found
        response = RedirectResponse(_safe_next(form.get("volgende")), status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_tls(request), path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/", secure=_tls(request), httponly=True, samesite="strict")
        return response

    def logout(request: Request, visitor: Visitor, form: dict) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            web.accounts.logout(token)
        response = RedirectResponse("/inloggen", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=_tls(request), httponly=True, samesite="strict")
        return response

    # --- pages ---------------------------------------------------------------------------

    def board(request: Request, visitor: Visitor, form: dict) -> Response:
        data = pages.board(web.engine(), web.clock())
        return _page_or_part(web, request, "board.html", data)

    def school(request: Request, visitor: Visitor, form: dict) -> Response:
        one = web.school(request.path_params["brin"])
        data = pages.school_year(web.engine(), one, web.clock())
        return _page_or_part(web, request, "school.html", data)

    def round_(request: Request, visitor: Visitor, form: dict) -> Response:
        one = web.school(request.path_params["brin"])
        data = pages.round_page(web.engine(), one, request.path_params["round"], web.clock())
        if data is None:
            raise HTTPException(404, "Deze ronde staat niet in de cyclus van de school.")
        return _page_or_part(web, request, "round.html", data)

    def overdue(request: Request, visitor: Visitor, form: dict) -> Response:
        brin = _school_filter(web, request)
        return web.render(request, "overdue.html", pages.overdue(web.engine(), brin))

    def overdue_csv(request: Request, visitor: Visitor, form: dict) -> Response:
        """The same bytes as `connector report verslagen [--school BRIN] [--round ID] --format csv`."""
        brin = _school_filter(web, request)
        engine = web.engine()
        round_id = request.query_params.get("ronde") or None
        data = verslagen_csv(verslag_rows(engine.store, engine.settings, brin=brin, round_key=round_id))
        name = "-".join(["verslagen", *(p for p in (brin, round_id) if p), web.clock().date().isoformat()])
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}.csv"'},
        )

    def run_list(request: Request, visitor: Visitor, form: dict) -> Response:
        brin = _school_filter(web, request)
        period = request.query_params.get("periode", "7d")
        if period not in pages.PERIODS:
            period = "7d"
        data = pages.runs(
            web.engine(),
            brin=brin,
            level=request.query_params.get("niveau") or None,
            period=period,
            now=web.clock(),
            limit=RUNS_SHOWN,
        )
        return web.render(request, "runs.html", data)

    def run_one(request: Request, visitor: Visitor, form: dict) -> Response:
        data = pages.run_page(web.engine(), request.path_params["run"])
        if data is None:
            raise HTTPException(404, "Deze synchronisatie bestaat niet (meer).")
        return web.render(request, "run.html", data)

    def health(request: Request, visitor: Visitor, form: dict) -> Response:
        data = pages.health(web.engine(), now=web.clock(), wall=wall())
        return _page_or_part(web, request, "health.html", data)

    def sync_now(request: Request, visitor: Visitor, form: dict) -> Response:
        one = web.school(request.path_params["brin"])
        job, _ = web.jobs.start(one.brin, visitor.name)
        return RedirectResponse(f"/synchroniseren/{quote(job.id)}", status_code=303)

    def sync_job(request: Request, visitor: Visitor, form: dict) -> Response:
        job = web.jobs.get(request.path_params["job"])
        if job is None:
            raise HTTPException(404, "Deze synchronisatie is niet (meer) bekend; kijk bij Synchronisaties.")
        return _page_or_part(web, request, "sync.html", _job_view(web, job))

    async def not_found(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 404
        if code == 404:
            title = "Niet gevonden"
            detail = (
                exc.detail
                if isinstance(exc, HTTPException) and exc.detail != "Not Found"
                else "Deze pagina bestaat niet."
            )
        else:
            title, detail = "Niet mogelijk", "Deze pagina kan dat niet."
        return web.render(request, "error.html", {"title": title, "message": detail}, status=code)

    async def crashed(request: Request, exc: Exception) -> Response:
        import structlog

        structlog.get_logger("connector.web").error("page crashed", path=request.url.path, exc_info=exc)
        message = "Er ging iets mis bij het maken van deze pagina. Het logbestand van de dienst zegt meer."
        return web.render(request, "error.html", {"title": "Er ging iets mis", "message": message}, status=500)

    sync_roles = frozenset({"director", "ict"})
    routes = [
        Route("/inloggen", login_form, methods=["GET"]),
        Route("/inloggen", login, methods=["POST"]),
        Route("/uitloggen", page(logout, post=True), methods=["POST"]),
        Route("/", page(board), methods=["GET"]),
        Route("/school/{brin}", page(school), methods=["GET"]),
        Route("/school/{brin}/ronde/{round}", page(round_), methods=["GET"]),
        Route("/school/{brin}/synchroniseren", page(sync_now, post=True, roles=sync_roles), methods=["POST"]),
        Route("/synchroniseren/{job}", page(sync_job), methods=["GET"]),
        Route("/verslagen", page(overdue), methods=["GET"]),
        Route("/verslagen.csv", page(overdue_csv), methods=["GET"]),
        Route("/synchronisaties", page(run_list), methods=["GET"]),
        Route("/synchronisaties/{run}", page(run_one), methods=["GET"]),
        Route("/gezondheid", page(health), methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: crashed})
    app.add_middleware(SecurityHeaders)
    app.state.web = web
    return app


# --- helpers ---------------------------------------------------------------------------------


def _same(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


def _tls(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (never `//other.host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _school_filter(web: Web, request: Request) -> str | None:
    brin = request.query_params.get("school") or None
    return web.school(brin).brin if brin else None


def _page_or_part(web: Web, request: Request, name: str, data: dict) -> Response:
    """The whole page, or with `?deel=cijfers` only its figures (what the page refreshes)."""
    if request.query_params.get("deel") == "cijfers":
        return web.render(request, f"parts/{name}", data)
    return web.render(request, name, data)


def _login_page(web: Web, request: Request, *, error: bool, next_path: str | None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = web.templates.TemplateResponse(
        request,
        "login.html",
        {"csrf": token, "error": error, "next": _safe_next(next_path), "visitor": None, "refresh": 0, "path": "/"},
        status_code=status,
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_tls(request), path="/")
    return response


def _refused_form() -> dict:
    return {
        "title": "Formulier geweigerd",
        "message": "Dit formulier is verlopen of kwam niet van deze pagina. "
        "Laad de pagina opnieuw en probeer het nog eens.",
    }


def _not_allowed() -> dict:
    return {
        "title": "Niet toegestaan",
        "message": "Met uw rol kunt u alles bekijken, maar niet zelf een synchronisatie starten. "
        "Vraag het de directeur of de ICT-coördinator.",
    }


def _job_view(web: Web, job) -> dict:
    engine = web.engine()
    school = web.school(job.brin)
    zone = pages.zone_of(school)
    names = {r.id: r.name for r in engine.settings.cycle_for(school).rounds}
    reports = [
        {
            "outcome_word": words.outcome_word(r.outcome),
            "done": [words.task_words(k, names) for k in r.done],
            "postponed": [words.task_words(k, names) for k in r.postponed],
            "counts": [(words.count_word(k), v) for k, v in sorted(r.counts.items()) if v],
        }
        for r in job.reports
    ]
    return {
        "job": {
            "id": job.id,
            "state": job.state,
            "finished": job.finished,
            "school": school.name,
            "school_url": pages.school_url(school.brin),
            "started": words.when(job.started_at, zone),
            "holder": words.holder_word(job.holder) if job.holder else None,
            "problem": job.problem,
            "wait": engine.settings.web.sync_wait_seconds,
            "run_url": f"/synchronisaties/{quote(job.run_id)}" if job.run_id else None,
        },
        "reports": reports,
        "new_run": pages.run_page(engine, job.run_id) if job.run_id else None,
    }
