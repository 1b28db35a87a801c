"""Every vendor read is bounded: a total deadline per request (not per socket read) and a cap
on the response size, each a named temporary error that says which bound and which endpoint.

The deterministic tests stream bodies from a stand-in socket that advances the fake clock, so a
one-byte-a-second trickle costs no real time. The loopback tests use a real socket on port 0 to
show that reading does not wait for a full chunk or a whole read timeout.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter

from adapters._http import MIB, HttpPolicy
from adapters.errors import (
    DeadlineExceeded,
    LimitExceeded,
    ResponseTooLarge,
    TemporaryError,
    TransportError,
)
from adapters.parnassys import PasClient
from adapters.parro import ParroClient
from tests.adapters.conftest import API_KEY, CLIENT_SECRET, PARRO, PARRO_API, PAS, PAS_API, pas_page, token_response
from tests.fakes import FakeClock

GROUPS = f"{PARRO_API}/groups"
ASSIGNMENTS = [{"child_id": "chd_1", "slot_id": "slt_1"}]


# --- a stand-in for the socket: bodies that trickle, flood or break ----------------------


class Trickle(io.RawIOBase):
    """One byte per read, each read one second on the fake clock: never a read timeout."""

    def __init__(self, clock: FakeClock, size: int = 10**9) -> None:
        self.clock, self.left, self.handed_out = clock, size, 0

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        self.clock.advance(1.0)
        self.left -= 1
        self.handed_out += 1
        return b" "

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("read(n) waits for n bytes; the transport must read one socket read at a time")


class Flood(io.RawIOBase):
    """An endless body, 64 KiB per read; counts what was handed out."""

    def __init__(self) -> None:
        self.handed_out = 0

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        chunk = b"x" * min(size if size > 0 else 65536, 65536)
        self.handed_out += len(chunk)
        return chunk

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("read(n) waits for n bytes; the transport must read one socket read at a time")


class Untouchable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        raise AssertionError("a body whose Content-Length is above the cap must not be read")

    read = read1  # type: ignore[assignment]


class Broken(io.RawIOBase):
    """Sends a few bytes, then the connection breaks."""

    def __init__(self) -> None:
        self.sent = False

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        if not self.sent:
            self.sent = True
            return b'{"da'
        raise urllib3.exceptions.ProtocolError("Connection broken: connection reset by peer")


class Canned(BaseAdapter):
    """A transport adapter that answers each request with the next body (the last repeats)."""

    def __init__(self, *bodies: Callable[[], io.RawIOBase | bytes], headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.bodies = list(bodies)
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.sent: list[requests.PreparedRequest] = []
        self.streamed: list[bool] = []
        self.raws: list[io.RawIOBase | io.BytesIO] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        self.streamed.append(stream)
        made = self.bodies[min(len(self.sent), len(self.bodies)) - 1]()
        body = io.BytesIO(made) if isinstance(made, bytes) else made
        self.raws.append(body)
        raw = urllib3.HTTPResponse(
            body=body, headers=self.headers, status=200, preload_content=False, decode_content=False
        )
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


def planner_on(adapter: Canned, clock: FakeClock, **policy) -> ParroClient:
    def session() -> requests.Session:
        s = requests.Session()
        s.mount("https://", adapter)
        return s

    return ParroClient(
        PARRO, API_KEY, policy=HttpPolicy(**policy), clock=clock, sleep=clock.sleep, session_factory=session
    )


# --- the total deadline ---------------------------------------------------------------


def test_a_trickling_body_hits_the_total_deadline_and_names_it(clock):
    trickle = Canned(lambda: Trickle(clock))
    client = planner_on(trickle, clock, request_deadline=60)
    start = clock.now
    with pytest.raises(DeadlineExceeded) as err:
        list(client.groups())
    assert isinstance(err.value, TemporaryError) and isinstance(err.value, LimitExceeded)
    assert err.value.bound == "request_deadline_seconds" and err.value.limit == 60
    text = str(err.value)
    assert "request_deadline_seconds" in text and "60 s" in text
    assert "parro GET /groups" in text
    # One byte a second: each socket read was quick, the request as a whole was not.
    assert 60 <= clock.now - start <= 61
    assert trickle.raws[0].handed_out == 60
    assert len(trickle.sent) == 1, "a bound is not retried at once: the work waits for a later tick"
    assert trickle.streamed == [True]
    assert trickle.raws[0].closed, "a half-read connection must not go back to the pool"


def test_a_body_read_within_the_deadline_is_unchanged(clock):
    adapter = Canned(lambda: b'{"data": [{"id": "g1"}], "next_cursor": null}')
    client = planner_on(adapter, clock, request_deadline=60)
    assert [g["id"] for g in client.groups()] == ["g1"]


def test_a_slow_but_finished_trickle_within_the_deadline_is_read_whole(clock):
    body = b'{"data": [], "next_cursor": null}'

    class SlowJson(Trickle):
        def __init__(self) -> None:
            super().__init__(clock, size=len(body))
            self.data = io.BytesIO(body)

        def read1(self, size: int = -1) -> bytes:
            if super().read1(size):
                return self.data.read(1)
            return b""

    client = planner_on(Canned(SlowJson), clock, request_deadline=60)
    assert list(client.groups()) == []
    assert clock.now - 1000.0 == len(body)


def test_fetching_a_pas_token_does_not_eat_the_deadline_of_the_request_it_is_for(rsps, clock):
    # The token endpoint is busy twice (25 s each on the fake clock), inside the auth hook of
    # the pupils request; that request's own 30 s deadline starts when it is sent.
    for _ in range(2):
        rsps.add("POST", f"{PAS_API}/oauth/token", status=503, headers={"Retry-After": "25"}, json={})
    token_response(rsps)
    rsps.add("GET", f"{PAS_API}/schools/12AB00/pupils", json=pas_page([{"id": "1"}]))
    policy = HttpPolicy(deadline=90, retry_after_cap=30, request_deadline=30)
    with PasClient(PAS, "my-integration", CLIENT_SECRET, policy=policy, clock=clock, sleep=clock.sleep) as pas:
        assert [p["id"] for p in pas.pupils("12AB00")] == ["1"]
    assert clock.sleeps == [25, 25]


def test_the_read_timeout_per_socket_read_is_never_longer_than_the_deadline(rsps, clock):
    rsps.add("GET", GROUPS, json={"data": [], "next_cursor": None})
    client = ParroClient(
        PARRO, API_KEY, policy=HttpPolicy(read_timeout=30, request_deadline=12), clock=clock, sleep=clock.sleep
    )
    list(client.groups())
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 12)


# --- the response cap -------------------------------------------------------------------


def test_an_oversize_body_stops_at_the_cap_without_being_read_whole(clock):
    flood = Canned(Flood)
    client = planner_on(flood, clock, max_response_bytes=10 * MIB)
    with pytest.raises(ResponseTooLarge) as err:
        list(client.groups())
    assert err.value.bound == "max_response_mb" and err.value.limit == 10
    text = str(err.value)
    assert "max_response_mb" in text and "10 MB" in text and "parro GET /groups" in text
    # A 50 MB (here: endless) body is read up to the cap plus at most one read, never whole.
    assert 10 * MIB < flood.raws[0].handed_out <= 10 * MIB + 65536
    assert len(flood.sent) == 1 and flood.raws[0].closed


def test_a_content_length_above_the_cap_is_refused_before_reading(clock):
    adapter = Canned(Untouchable, headers={"Content-Length": str(50 * MIB)})
    client = planner_on(adapter, clock)  # the default cap: 10 MB
    with pytest.raises(ResponseTooLarge, match="Content-Length says 52428800 bytes"):
        list(client.groups())


def test_a_body_of_exactly_the_cap_is_read(rsps, clock):
    body = '{"data": [{"id": "g1"}], "next_cursor": null}'
    rsps.add("GET", GROUPS, body=body, content_type="application/json")
    client = ParroClient(
        PARRO, API_KEY, policy=HttpPolicy(max_response_bytes=len(body)), clock=clock, sleep=clock.sleep
    )
    assert [g["id"] for g in client.groups()] == ["g1"]


def test_an_oversize_error_body_is_refused_too(rsps, clock):
    rsps.add("GET", GROUPS, status=500, body="x" * 5000, content_type="text/html")
    client = ParroClient(PARRO, API_KEY, policy=HttpPolicy(max_response_bytes=1000), clock=clock, sleep=clock.sleep)
    with pytest.raises(ResponseTooLarge) as err:
        list(client.groups())
    assert err.value.status == 500 and len(rsps.calls) == 1


def test_an_unsafe_write_whose_answer_is_too_large_has_an_unknown_outcome(rsps, clock):
    rsps.add("POST", f"{PARRO_API}/planners/pln_1/assignments", status=200, body="x" * 5000)
    client = ParroClient(PARRO, API_KEY, policy=HttpPolicy(max_response_bytes=1000), clock=clock, sleep=clock.sleep)
    with pytest.raises(ResponseTooLarge) as err:
        client.assign("pln_1", ASSIGNMENTS)  # no Idempotency-Key: sent once
    assert err.value.outcome_unknown, "the write was executed, or may have been: reconcile before sending again"
    assert len(rsps.calls) == 1


def test_a_connection_that_breaks_mid_body_is_a_retried_transport_error(clock):
    adapter = Canned(Broken, lambda: b'{"data": [{"id": "g1"}], "next_cursor": null}')
    client = planner_on(adapter, clock)
    assert [g["id"] for g in client.groups()] == ["g1"]
    assert len(adapter.sent) == 2


def test_a_connection_that_keeps_breaking_mid_body_ends_as_a_transport_error(clock):
    adapter = Canned(Broken)
    client = planner_on(adapter, clock, max_attempts=2)
    with pytest.raises(TemporaryError) as err:
        list(client.groups())
    assert isinstance(err.value.__cause__, TransportError)


# --- a real socket on loopback ------------------------------------------------------------


class SlowServer:
    """One-connection HTTP server on 127.0.0.1, port 0: answers headers, then `body(conn, stop)`."""

    def __init__(self, body: Callable[[socket.socket, threading.Event], None]) -> None:
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._body = body
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            try:
                conn.sendall(head)
                self._body(conn, self.stop)
            except OSError:  # the client gave up and closed: what we wanted
                pass

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[..., SlowServer]]:
    servers: list[SlowServer] = []

    def start(body: Callable[[socket.socket, threading.Event], None]) -> SlowServer:
        servers.append(SlowServer(body))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


def test_a_real_trickle_on_loopback_ends_at_the_deadline(serve):
    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.wait(0.02):  # one byte every 20 ms: far below any read timeout
            conn.sendall(b" ")

    server = serve(trickle)
    policy = HttpPolicy(read_timeout=10, request_deadline=0.3)
    client = ParroClient(f"http://127.0.0.1:{server.port}", API_KEY, policy=policy, sleep=_no_sleep)
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="request_deadline_seconds"):
        list(client.groups())
    assert time.monotonic() - began < 5  # generous for a loaded machine; unbounded it would never end
    client.close()


def test_a_silent_body_on_loopback_ends_at_the_deadline_not_after_the_read_timeout(serve):
    def silence(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"{")
        stop.wait(30)

    server = serve(silence)
    policy = HttpPolicy(read_timeout=20, request_deadline=0.3)
    client = ParroClient(f"http://127.0.0.1:{server.port}", API_KEY, policy=policy, sleep=_no_sleep)
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        list(client.groups())
    assert time.monotonic() - began < 5  # the socket wait was cut to the time left, not 20 s
    client.close()
