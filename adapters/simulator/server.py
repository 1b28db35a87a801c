"""HTTP serving: routing, fault and latency injection, counters, and the Simulator handle.

Test hook: `Simulator(config, on_request=hook)` (or `sim.on_request = hook` at any time; None
removes it) calls `hook(method, path, phase)` for every request, control endpoints included:
phase "before" once the request is read and nothing is executed yet, "after" once it is
executed and its response is not yet sent. A hook that raises `DropRequest` ends the request
there: nothing more is executed, no response is sent, and the connection is closed (e.g. a
crash test that has just killed the client). `path` is the decoded path without the query.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from . import control, pas_api, planner_api, planner_writes
from .common import ApiError, Request, Response
from .config import SimConfig
from .faults import FaultInjector
from .generate import build_world
from .paging import CursorCodec
from .world import World

Handler = Callable[["App", Request], Response]
RequestHook = Callable[[str, str, str], None]  # (method, path, phase: "before" | "after")


class ErrorStyle(Protocol):
    """How one API family answers a path or a method it does not serve (`pas_api`, `planner_api`)."""

    def not_found(self, path: str) -> ApiError: ...

    def method_not_allowed(self, method: str) -> ApiError: ...


class DropRequest(Exception):
    """Raised by a request hook: stop handling the request and close the connection unanswered."""


_PLANNER_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/v1/groups", planner_api.list_groups),
    ("GET", "/v1/children", planner_api.list_children),
    ("GET", "/v1/guardians", planner_api.list_guardians),
    ("GET", "/v1/staff", planner_api.list_staff),
    ("GET", "/v1/planners", planner_api.list_planners),
    ("POST", "/v1/planners", planner_writes.create_planner),
    ("GET", "/v1/planners/{planner_id}", planner_api.get_planner),
    ("PATCH", "/v1/planners/{planner_id}", planner_writes.update_planner),
    ("POST", "/v1/planners/{planner_id}/open", planner_writes.open_planner),
    ("POST", "/v1/planners/{planner_id}/close", planner_writes.close_planner),
    ("GET", "/v1/planners/{planner_id}/bookings", planner_api.list_bookings),
    ("GET", "/v1/planners/{planner_id}/preferences", planner_api.list_preferences),
    ("POST", "/v1/planners/{planner_id}/assignments", planner_writes.create_assignments),
    ("POST", "/v1/messages", planner_writes.send_message),
]


class Router:
    """Path templates like `/v1/planners/{planner_id}`; 404 for unknown paths, 405 for methods."""

    def __init__(self, routes: list[tuple[str, str, Handler]]) -> None:
        self._routes = [
            (m, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", t) + "$"), t, h) for m, t, h in routes
        ]

    def match(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None | str:
        """(template, handler, params); None for an unknown path; "405" for a wrong method."""
        found = False
        for m, rx, template, handler in self._routes:
            hit = rx.match(path)
            if hit:
                found = True
                if m == method:
                    return template, handler, hit.groupdict()
        return "405" if found else None


class App:
    """The world plus the request pipeline; one per Simulator."""

    def __init__(self, config: SimConfig, on_request: RequestHook | None = None) -> None:
        self.config = config
        self.on_request = on_request  # test hook, see the module docstring
        self.world: World = build_world(config)
        self.faults = FaultInjector(config.faults, config.seed)
        self.cursors = CursorCodec(f"sim-cursor-{config.seed}")
        self.routers: dict[str, tuple[Router, ErrorStyle]] = {
            "pas": (Router(pas_api.ROUTES), pas_api),
            "planner": (Router(_PLANNER_ROUTES), planner_api),
            "control": (Router(control.ROUTES), planner_api),
        }

    def handle(self, req: Request) -> Response:
        """Serve one request: control endpoints directly; API requests through faults."""
        path = req.path
        api = (
            "control"
            if path.startswith("/_sim/")
            else "pas"
            if path.startswith("/api/v1/")
            else "planner"
            if path.startswith("/v1/")
            else None
        )
        if api is None:
            return planner_api.not_found(path).response
        router, errors = self.routers[api]
        hit = router.match(req.method, path)
        if hit is None or isinstance(hit, str):  # unknown path, or "405"
            return (errors.not_found(path) if hit is None else errors.method_not_allowed(req.method)).response
        template, handler, req.params = hit
        if api == "control":
            return self._run(handler, req, tick=False)
        name = f"{req.method} {template}"
        counters = self.world.counters
        counters.requests[name] += 1
        delay = self.faults.latency(api, req)
        if delay:
            time.sleep(delay)
        fault = self.faults.decide(api, req, self.world.now())
        if fault is not None and not fault.executed:
            counters.faults[f"{fault.status} rejected"] += 1
            counters.statuses[f"{name} {fault.status}"] += 1
            return fault.response
        response = self._run(handler, req, tick=True)
        if fault is not None:  # executed, but the client only sees the gateway error
            counters.faults[f"{fault.status} after_execution"] += 1
            response = fault.response
        counters.statuses[f"{name} {response.status}"] += 1
        return response

    def _run(self, handler: Handler, req: Request, tick: bool) -> Response:
        with self.world.lock:
            if tick:
                self.world.tick()
            try:
                response = handler(self, req)
            except ApiError as exc:
                response = exc.response
            if tick:
                self.world.tick()
            return response


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimGateway/1.0"
    wbufsize = 1 << 16  # one write per response (avoids Nagle/delayed-ACK stalls)
    disable_nagle_algorithm = True
    app: App

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            self.command,
            unquote(parts.path),
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        hook = self.app.on_request
        try:
            if hook is not None:
                hook(req.method, req.path, "before")
            try:
                response = self.app.handle(req)
            except Exception:  # never leak a traceback (it may hold personal data)
                response = Response.json(500, {"error": {"code": "internal_error", "message": "Internal error."}})
            if hook is not None:
                hook(req.method, req.path, "after")
        except DropRequest:
            self.close_connection = True
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: request lines carry pupil ids and names in query strings."""


class Simulator:
    """Both vendor APIs on one loopback port. Use as a context manager in tests.

    `world` is the in-process handle on the generated world (hold `world.lock` when mutating).
    """

    def __init__(self, config: SimConfig, on_request: RequestHook | None = None) -> None:
        self.config = config
        self.app = App(config, on_request)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    @property
    def world(self) -> World:
        return self.app.world

    @property
    def on_request(self) -> RequestHook | None:
        """The request hook (module docstring); assign None to remove it."""
        return self.app.on_request

    @on_request.setter
    def on_request(self, hook: RequestHook | None) -> None:
        self.app.on_request = hook

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving in a background thread; port 0 picks a free port. Returns the base URL."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        handler = type("Handler", (_HTTPHandler,), {"app": self.app})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="simulator", daemon=True)
        self._thread.start()
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self._thread is not None:
                self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(
    config: SimConfig, host: str = "127.0.0.1", port: int = 8765, ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM (for `connector simulator`). `ready(base_url)` is called once
    listening; by default a single line with the base URL goes to stderr."""
    stop = threading.Event()
    sim = Simulator(config)
    base_url = sim.start(host, port)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        (ready or (lambda url: print(f"simulator listening on {url}", file=sys.stderr)))(base_url)
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sim.stop()
