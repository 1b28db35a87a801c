"""A hostile vendor: a threaded HTTP proxy in front of the simulator that misbehaves on purpose.

`HostileProxy(upstream, *behaviours)` listens on 127.0.0.1, port 0 (a free one), and forwards
every request (method, path and query, headers, body) to `upstream` (the simulator's base URL,
which serves both vendors) and relays its answer, except for the requests a *behaviour* claims.
A behaviour says which requests it `wants` and `answer`s them, given the `Exchange` (the request,
and the ways to answer it: forward it, relay, reply, trickle):

* `Trickle(pattern)`: a GET whose path matches answers 200 with a large Content-Length, then one
  byte every `interval` (20 ms) until the client goes away or the proxy stops: a vendor that is
  never done sending. The length stays below `max_response_mb`, which would refuse it at once.
* `HugeTotal()`: GET PAS `.../pupils` answers full pages of distinct, well-formed pupils (ids
  from the offset) with `total` = 10**15, for ever: a listing that never ends.
* `EndlessCursor()`: GET planner `/v1/children` answers the simulator's first page, with a new
  `next_cursor` on every page: the same items for ever.

The proxy is a context manager; leaving it stops the server, ends every trickle, shuts the
connections still open, and joins every thread it started (a thread still alive then is a leak:
`stop` raises). Waits are `threading.Event.wait`, never `time.sleep`.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")
JOIN_SECONDS = 10.0  # per thread at stop: a forward is bounded by UPSTREAM_TIMEOUT, a trickle by one interval
UPSTREAM_TIMEOUT = 30.0
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy sets itself.
_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
_NOT_RELAYED = _NOT_FORWARDED | {"content-length", "date", "server"}


@dataclass(frozen=True)
class Upstream:
    """The simulator's answer to a forwarded request."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class Exchange:
    """One request as the proxy received it, and the ways to answer it (each at most once)."""

    def __init__(self, handler: _Handler, body: bytes) -> None:
        self._handler = handler
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.raw_query = parts.query
        self.query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
        self.headers: dict[str, str] = dict(handler.headers.items())
        self.body = body

    @property
    def proxy(self) -> HostileProxy:
        return self._handler.server.proxy

    def param(self, name: str, default: str) -> str:
        values = self.query.get(name)
        return values[0] if values else default

    # --- answers ---------------------------------------------------------------------------

    def forward(
        self, query: Mapping[str, list[str]] | None = None, headers: Mapping[str, str] | None = None
    ) -> Upstream:
        """Send this request to the simulator (with `query` instead of the original one, and
        `headers` added) and return its answer, without relaying it."""
        target = urlsplit(self.proxy.upstream)
        raw = self.raw_query if query is None else urlencode(query, doseq=True)
        path = self.path + (f"?{raw}" if raw else "")
        sent = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
        sent.update(headers or {})
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=UPSTREAM_TIMEOUT)
        try:
            connection.request(self.method, path, body=self.body or None, headers=sent)
            response = connection.getresponse()
            return Upstream(response.status, response.reason, response.getheaders(), response.read())
        finally:
            connection.close()

    def relay(self, upstream: Upstream) -> None:
        headers = [(k, v) for k, v in upstream.headers if k.lower() not in _NOT_RELAYED]
        self.reply(upstream.status, upstream.body, headers, reason=upstream.reason)

    def reply(self, status: int, body: bytes, headers: list[tuple[str, str]], *, reason: str | None = None) -> None:
        handler = self._handler
        handler.send_response(status, reason)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    def reply_json(self, status: int, document: Any) -> None:
        self.reply(status, json.dumps(document).encode(), [("Content-Type", "application/json")])

    def trickle(self, *, length: int, interval: float) -> int:
        """Answer 200 announcing `length` bytes, then send one byte per `interval` until the client
        goes away or the proxy stops; returns the bytes sent."""
        handler = self._handler
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(length))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.flush()
        sent = 0
        while sent < length and not self.proxy.stopping.wait(interval):
            try:
                handler.wfile.write(b" ")  # JSON whitespace: the body is never complete, never wrong
                handler.wfile.flush()
            except OSError:  # the client gave up (broken pipe, reset)
                break
            sent += 1
        return sent


class Behaviour(Protocol):
    """Claims some requests (`wants`) and answers them (`answer`); `name` is what `claims` counts."""

    name: str

    def wants(self, exchange: Exchange) -> bool: ...

    def answer(self, exchange: Exchange) -> None: ...


class Trickle:
    """GETs whose path matches `pattern` (a regex, searched): 200, then a byte per `interval`."""

    name = "trickle"

    def __init__(self, pattern: str, *, interval: float = 0.02, length: int = 1_000_000) -> None:
        self.pattern = re.compile(pattern)
        self.interval = interval
        self.length = length  # below the default max_response_mb (10 MB), which would refuse it unread

    def wants(self, exchange: Exchange) -> bool:
        return exchange.method == "GET" and self.pattern.search(exchange.path) is not None

    def answer(self, exchange: Exchange) -> None:
        exchange.trickle(length=self.length, interval=self.interval)


PUPILS = r"^/api/v1/schools/[^/]+/pupils$"


class HugeTotal:
    """GET PAS pupils: full pages of distinct pupils from the offset on, `total` = 10**15."""

    name = "huge_total"

    def __init__(self, total: int = 10**15, pattern: str = PUPILS) -> None:
        self.total = total
        self.pattern = re.compile(pattern)

    def wants(self, exchange: Exchange) -> bool:
        return exchange.method == "GET" and self.pattern.search(exchange.path) is not None

    def answer(self, exchange: Exchange) -> None:
        try:
            offset = max(0, int(exchange.param("offset", "0")))
            limit = min(500, max(1, int(exchange.param("limit", "100"))))
        except ValueError:
            offset, limit = 0, 100
        now = datetime.now(AMS).isoformat(timespec="seconds")
        exchange.reply_json(
            200,
            {
                "items": [pupil(offset + n, now) for n in range(limit)],
                "total": self.total,
                "offset": offset,
                "limit": limit,
                "server_time": now,
            },
        )


def pupil(number: int, changed_at: str) -> dict[str, Any]:
    """A PAS pupil shaped as the simulator's (adapters/simulator/generate.py), id from `number`."""
    return {
        "id": str(10_000_000 + number),
        "leerlingnummer": 100_000 + number,
        "roepnaam": "Noor",
        "tussenvoegsel": None,
        "achternaam": f"Eindeloos{number}",
        "geboortedatum": "2018-10-01",
        "group_id": "71003",
        "leerjaar": 3,
        "status": "ingeschreven",
        "uitschrijfdatum": None,
        "ondersteuningsniveau": 1,
        "handelingsplan": False,
        "ontwikkelingsperspectief": False,
        "guardians": [],
        "changed_at": changed_at,
    }


class EndlessCursor:
    """GET planner `path` (`/v1/children`): the simulator's first page, always, with a new cursor."""

    name = "endless_cursor"

    def __init__(self, path: str = "/v1/children") -> None:
        self.path = path
        self._cursors = itertools.count(1)
        self._lock = threading.Lock()

    def wants(self, exchange: Exchange) -> bool:
        return exchange.method == "GET" and exchange.path == self.path

    def answer(self, exchange: Exchange) -> None:
        first_page = {k: v for k, v in exchange.query.items() if k != "cursor"}
        upstream = exchange.forward(first_page, headers={"Accept-Encoding": "identity"})
        if upstream.status != 200:
            exchange.relay(upstream)
            return
        body = json.loads(upstream.body)
        with self._lock:
            body["next_cursor"] = f"endless-{next(self._cursors)}"
        exchange.reply_json(200, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = False  # the proxy joins its threads itself, each with a bound

    def __init__(self, proxy: HostileProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name="hostile-proxy-request"
        )
        self.proxy._track(thread, request)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        self.proxy._untrack(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive thread at stop
    timeout = 30  # reading the request line, headers and body
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        exchange = Exchange(self, self.rfile.read(length) if length > 0 else b"")
        proxy = self.server.proxy
        for behaviour in proxy.behaviours:
            if behaviour.wants(exchange):
                proxy._claimed(behaviour.name)  # counted before answering: a trickle answers for long
                behaviour.answer(exchange)
                return
        try:
            upstream = exchange.forward()
        except OSError as exc:
            exchange.reply(502, f"upstream failed: {type(exc).__name__}".encode(), [("Content-Type", "text/plain")])
            return
        exchange.relay(upstream)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # `format`: the base class's name
        pass  # quiet: the tests read the connector's output, not the proxy's


class HostileProxy:
    """The proxy; `base_url` once started. `claimed` counts the requests each behaviour answered."""

    def __init__(self, upstream: str, *behaviours: Behaviour) -> None:
        self.upstream = upstream.rstrip("/")
        self.behaviours = behaviours
        self.stopping = threading.Event()
        self.claimed: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._open: set[socket.socket] = set()
        self._server: _Server | None = None
        self._serving: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the proxy is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HostileProxy:
        self._server = _Server(self)
        self._serving = threading.Thread(target=self._server.serve_forever, name="hostile-proxy", daemon=False)
        self._serving.start()
        return self

    def stop(self) -> None:
        """Stop serving, end every answer in progress, join every thread; raise if one is left."""
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        assert self._serving is not None
        self._serving.join(JOIN_SECONDS)
        with self._lock:
            still_open = list(self._open)
        for conn in still_open:  # a client that never finished sending its request
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(JOIN_SECONDS)
        leaked = [t for t in (self._serving, *threads) if t.is_alive()]
        self._server = None
        if leaked:
            raise RuntimeError(f"the hostile proxy left {len(leaked)} thread(s) running")

    def claims(self, name: str) -> int:
        with self._lock:
            return self.claimed[name]

    def __enter__(self) -> HostileProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.stop()
        except RuntimeError:
            if exc is None:  # never hide the test's own failure behind a leak
                raise

    # --- bookkeeping of the server's threads -----------------------------------------------

    def _track(self, thread: threading.Thread, conn: socket.socket) -> None:
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)
            self._open.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def _claimed(self, name: str) -> None:
        with self._lock:
            self.claimed[name] += 1
