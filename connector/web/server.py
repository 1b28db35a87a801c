"""Serving the web page with uvicorn: `connector web` in the foreground, or beside the daemon's
scheduler in a thread (`[web] enabled = true`).

The listening socket is bound here, before uvicorn starts, so the address is known (and a port
in use is said plainly) at once; with port 0 the system picks a free one (tests). uvicorn believes
`X-Forwarded-Proto`/`-For` only from `[web] trusted_proxies` (the reverse proxy in front of it):
then the page knows it is served over TLS, and its cookies are `Secure`.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import uvicorn

from connector.errors import UsageError
from connector.runtime import Runtime
from connector.web.app import create_app, utc_now

STOP_SECONDS = 5.0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; a UsageError (exit 2) when that address cannot be used."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except socket.gaierror:
        raise UsageError(f"[web] host {host!r} is not an address of this machine") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"[web] port {port} on {host} is in use by another program: choose another with --port or [web] port"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app: Any, runtime: Runtime) -> uvicorn.Server:
    web = runtime.loaded.settings.web
    config = uvicorn.Config(
        app,
        proxy_headers=True,
        forwarded_allow_ips=list(web.trusted_proxies),
        server_header=False,
        access_log=False,  # the service's own log says what matters; no addresses and paths per request
        log_config=None,  # keep the service's logging set-up (structlog, redaction)
        lifespan="off",
        timeout_graceful_shutdown=int(STOP_SECONDS),
    )
    # "Started server process" and the like say nothing the service's own lines do not.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    return uvicorn.Server(config)


def serve(runtime: Runtime, *, host: str, port: int, ready: Callable[[str], None]) -> None:
    """`connector web`: serve until SIGTERM or Ctrl-C, then stop cleanly (exit 0, as the daemon).
    uvicorn runs in a thread, so the signals are ours, not re-raised by uvicorn at its exit."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        page = start_in_thread(runtime, host=host, port=port)
        ready(f"web page at {page.url} (stop with Ctrl-C or SIGTERM)")
        while not stop.wait(0.5) and page.thread.is_alive():
            pass
        page.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Background:
    """The web page served in a thread (the daemon, tests); `stop()` ends it."""

    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STOP_SECONDS + 1)
        self.sock.close()


def start_in_thread(
    runtime: Runtime | Callable[[], Runtime],
    *,
    host: str,
    port: int,
    clock: Callable[[], datetime] = utc_now,
    app: Any = None,
) -> Background:
    """Serve the page from a thread of this process (uvicorn leaves the signals to the main thread)."""
    first = runtime() if callable(runtime) else runtime
    sock = bind(host, port)
    try:
        server = make_server(app if app is not None else create_app(runtime, clock=clock), first)
    except BaseException:
        sock.close()
        raise
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="web", daemon=True)
    thread.start()
    return Background(server, thread, sock, address(sock))
