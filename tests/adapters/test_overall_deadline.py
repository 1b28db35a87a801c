"""A run's overall deadline (adapters.deadline) bounds the work as a whole: no request is sent
after it, no limiter wait, retry sleep, socket wait or body read runs past it, and hitting it is
a RunDeadlineExceeded that names the setting. Without a deadline nothing changes.

The deterministic tests give the deadline the same fake clock as the clients, so pages, waits and
trickles cost no real time. The loopback tests use real sockets on port 0.
"""

from __future__ import annotations

import contextvars
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters import deadline
from adapters._http import HttpPolicy
from adapters._ratelimit import SlidingWindowLimiter
from adapters.errors import (
    DeadlineExceeded,
    LimitExceeded,
    RetriesExhausted,
    RunDeadlineExceeded,
    ServerError,
    TemporaryError,
)
from adapters.parro import ParroClient
from tests.adapters.conftest import API_KEY, PARRO, PARRO_API, PAS_API, pas_page, token_response
from tests.adapters.test_read_bounds import Canned, SlowServer, Trickle, planner_on
from tests.fakes import FakeClock

GROUPS = f"{PARRO_API}/groups"
PUPILS = f"{PAS_API}/schools/12AB00/pupils"
EMPTY = {"data": [], "next_cursor": None}
SETTING = "[sync] run_deadline_seconds"
ASSIGNMENTS = [{"child_id": "chd_1", "slot_id": "slt_1"}]


def run_deadline(seconds: float, clock: FakeClock | None = None):
    return deadline.overall(seconds, setting=SETTING, clock=clock or time.monotonic)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


# --- the Deadline and overall() ----------------------------------------------------------


def test_a_deadline_tells_the_time_left_on_its_own_clock(clock):
    d = deadline.Deadline(at=clock.now + 10, seconds=10, setting=SETTING, clock=clock)
    assert d.left() == 10 and not d.passed()
    clock.advance(10)
    assert d.left() == 0 and d.passed()
    clock.advance(1)
    assert d.left() == -1 and d.passed()


def test_overall_sets_the_deadline_for_the_block_only(clock):
    assert deadline.current() is None
    with run_deadline(30, clock) as d:
        assert deadline.current() is d
        assert d.at == clock.now + 30 and d.seconds == 30 and d.setting == SETTING
    assert deadline.current() is None


def test_overall_is_reset_when_the_block_raises(clock):
    with pytest.raises(KeyError), run_deadline(30, clock):
        raise KeyError("boom")
    assert deadline.current() is None


def test_a_nested_overall_may_only_shorten_the_deadline(clock):
    with deadline.overall(100, setting="outer", clock=clock) as outer:
        with deadline.overall(10, setting="inner", clock=clock) as inner:
            assert deadline.current() is inner and inner.at == clock.now + 10
            with deadline.overall(1000, setting="longer", clock=clock) as longer:
                assert longer is inner and deadline.current() is inner, "an inner step cannot extend the run"
            assert deadline.current() is inner
        assert deadline.current() is outer
        clock.advance(95)
        with deadline.overall(10, setting="late", clock=clock) as late:
            assert late is outer, "five seconds are left of the outer one: it ends first"
    assert deadline.current() is None


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_an_overall_deadline_must_be_positive(seconds):
    with pytest.raises(ValueError, match="run_deadline_seconds"), deadline.overall(seconds, setting=SETTING):
        pass
    assert deadline.current() is None


def test_pool_threads_see_the_deadline_only_through_a_copied_context(clock):
    with run_deadline(30, clock) as d, ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(deadline.current).result() is None
        assert pool.submit(contextvars.copy_context().run, deadline.current).result() is d


# --- before sending ---------------------------------------------------------------------


def test_a_request_after_the_deadline_passed_is_not_sent(rsps, parro, clock):
    rsps.add("GET", GROUPS, json=EMPTY)
    with run_deadline(10, clock):
        clock.advance(10)
        with pytest.raises(RunDeadlineExceeded) as err:
            list(parro.groups())
    assert len(rsps.calls) == 0
    exc = err.value
    assert isinstance(exc, LimitExceeded) and isinstance(exc, TemporaryError) and not exc.retryable
    assert exc.bound == SETTING and exc.limit == 10 and not exc.outcome_unknown
    text = str(exc)
    assert "parro GET /groups" in text and SETTING in text and "10 s" in text
    assert "passed before this request could be sent" in text


def test_no_pas_token_is_fetched_after_the_deadline(rsps, pas, clock):
    token_response(rsps)
    with run_deadline(5, clock):
        clock.advance(6)
        with pytest.raises(RunDeadlineExceeded):
            list(pas.pupils("12AB00"))
    assert len(rsps.calls) == 0


def test_a_pas_listing_that_never_ends_stops_at_the_deadline(rsps, pas, clock):
    token_response(rsps)

    def endless(request):
        # 10^15 records claimed, a full page of new ones at every offset; each page takes 1 s.
        clock.advance(1)
        q = dict(parse_qsl(urlsplit(request.url).query))
        offset, limit = int(q["offset"]), int(q["limit"])
        items = [{"id": str(offset + i)} for i in range(limit)]
        return 200, {}, json.dumps(pas_page(items, total=10**15, offset=offset, limit=limit))

    rsps.add_callback("GET", PUPILS, callback=endless)
    sweep = pas.pupils("12AB00", limit=3)
    with run_deadline(30, clock), pytest.raises(RunDeadlineExceeded) as err:
        list(sweep)
    assert err.value.bound == SETTING and "pas GET /schools/12AB00/pupils" in str(err.value)
    # The 30th page was sent at t=29 and answered at t=30, the deadline: it is not read.
    assert "passed while reading the response" in str(err.value)
    assert sweep.pages == 29 and sweep.yielded == 87 and not sweep.complete
    assert len(rsps.calls) == 1 + 30  # the token and thirty pages; max_pages (10,000) never came near
    assert clock.now == 1030


# --- retrying ----------------------------------------------------------------------------


def test_a_retry_whose_wait_would_cross_the_deadline_is_not_waited_for(rsps, parro, clock):
    rsps.add("GET", GROUPS, status=503, headers={"Retry-After": "7"}, json={})
    with run_deadline(10, clock), pytest.raises(RunDeadlineExceeded) as err:
        list(parro.groups())
    # 503 at t=0, wait 7 s, 503 at t=7: a second wait would end at t=14, after the deadline.
    assert clock.sleeps == [7] and len(rsps.calls) == 2
    exc = err.value
    assert isinstance(exc.__cause__, ServerError) and exc.status == 503
    assert exc.bound == SETTING and not exc.retryable
    assert "would pass during the 7.0 s wait before the next attempt" in str(exc)
    assert "gave up after 2 attempts" in str(exc)


def test_a_retry_budget_spent_within_the_deadline_is_still_retries_exhausted(rsps, parro, clock):
    rsps.add("GET", GROUPS, status=503, headers={"Retry-After": "1"}, json={})
    with run_deadline(1000, clock), pytest.raises(RetriesExhausted) as err:
        list(parro.groups())
    assert err.value.attempts == 6  # the policy's max_attempts, not the run's deadline


# --- the rate limiter ----------------------------------------------------------------------


def test_a_limiter_wait_that_would_cross_the_deadline_raises_without_sleeping(rsps, clock, policy):
    rsps.add("GET", GROUPS, json=EMPTY)
    limiter = SlidingWindowLimiter(1, 60, clock=clock, sleep=clock.sleep)
    parro = ParroClient(PARRO, API_KEY, policy=policy, limiter=limiter, clock=clock, sleep=clock.sleep)
    list(parro.groups())
    with run_deadline(30, clock), pytest.raises(RunDeadlineExceeded, match="waiting for the rate limit"):
        list(parro.groups())  # the next slot is 60 s away, the deadline 30 s
    assert clock.sleeps == [] and len(rsps.calls) == 1
    assert limiter.acquire() == 60, "the refused wait reserved no slot"


def test_a_limiter_wait_within_the_deadline_is_waited_for(rsps, clock, policy):
    rsps.add("GET", GROUPS, json=EMPTY)
    limiter = SlidingWindowLimiter(1, 60, clock=clock, sleep=clock.sleep)
    parro = ParroClient(PARRO, API_KEY, policy=policy, limiter=limiter, clock=clock, sleep=clock.sleep)
    list(parro.groups())
    with run_deadline(100, clock):
        list(parro.groups())
    assert clock.sleeps == [60] and len(rsps.calls) == 2


# --- waiting and reading -------------------------------------------------------------------


def test_the_socket_timeouts_are_cut_to_the_time_left(rsps, clock):
    rsps.add("GET", GROUPS, json=EMPTY)
    policy = HttpPolicy(connect_timeout=5, read_timeout=30, request_deadline=60)
    parro = ParroClient(PARRO, API_KEY, policy=policy, clock=clock, sleep=clock.sleep)
    with run_deadline(12, clock):
        list(parro.groups())
    with run_deadline(2, clock):
        list(parro.groups())
    with run_deadline(1000, clock):
        list(parro.groups())
    assert [c.request.req_kwargs["timeout"] for c in rsps.calls] == [(5, 12), (2, 2), (5, 30)]


def test_a_trickle_is_cut_at_the_run_deadline_when_that_ends_first(clock):
    trickle = Canned(lambda: Trickle(clock))
    client = planner_on(trickle, clock, request_deadline=60)
    with run_deadline(20, clock), pytest.raises(RunDeadlineExceeded) as err:
        list(client.groups())
    assert err.value.bound == SETTING and err.value.status == 200
    assert "passed while reading the response" in str(err.value)
    assert trickle.raws[0].handed_out == 20 and clock.now == 1020
    assert len(trickle.sent) == 1 and trickle.raws[0].closed


def test_the_request_deadline_is_named_when_it_ends_first(clock):
    client = planner_on(Canned(lambda: Trickle(clock)), clock, request_deadline=60)
    with run_deadline(300, clock), pytest.raises(DeadlineExceeded) as err:
        list(client.groups())
    assert not isinstance(err.value, RunDeadlineExceeded) and err.value.bound == "request_deadline_seconds"


def test_an_unsafe_write_cut_by_the_run_deadline_has_an_unknown_outcome(clock):
    trickle = Canned(lambda: Trickle(clock))
    client = planner_on(trickle, clock)
    with run_deadline(5, clock), pytest.raises(RunDeadlineExceeded) as err:
        client.assign("pln_1", ASSIGNMENTS)  # no Idempotency-Key: sent once
    assert err.value.outcome_unknown and len(trickle.sent) == 1


def test_no_deadline_set_changes_nothing(rsps, parro, clock):
    assert deadline.current() is None
    rsps.add("GET", GROUPS, status=503, headers={"Retry-After": "7"}, json={})
    with pytest.raises(RetriesExhausted):
        list(parro.groups())
    assert len(rsps.calls) == 6 and clock.sleeps == [7] * 5
    assert {c.request.req_kwargs["timeout"] for c in rsps.calls} == {(5.0, 30.0)}


# --- real sockets on loopback ----------------------------------------------------------------


@pytest.fixture
def trickling_server() -> Iterator[SlowServer]:
    def trickle(conn: socket.socket, stop) -> None:
        while not stop.wait(0.02):  # one byte every 20 ms: far below any read timeout
            conn.sendall(b" ")

    server = SlowServer(trickle)
    yield server
    server.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    # Never accepted: the kernel completes the handshake, nobody ever answers.
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener.getsockname()[1]
    listener.close()


def test_a_real_trickle_on_loopback_ends_at_the_run_deadline(trickling_server):
    policy = HttpPolicy(read_timeout=10, request_deadline=30)
    client = ParroClient(f"http://127.0.0.1:{trickling_server.port}", API_KEY, policy=policy, sleep=_no_sleep)
    began = time.monotonic()
    with run_deadline(0.3), pytest.raises(RunDeadlineExceeded, match="while reading the response"):
        list(client.groups())
    assert time.monotonic() - began < 5  # the request's own 30 s deadline would have run far longer
    client.close()


def test_a_silent_server_on_loopback_is_waited_for_only_until_the_run_deadline(silent_port):
    policy = HttpPolicy(read_timeout=20, request_deadline=30)
    client = ParroClient(f"http://127.0.0.1:{silent_port}", API_KEY, policy=policy, sleep=_no_sleep)
    began = time.monotonic()
    with run_deadline(0.3), pytest.raises(RunDeadlineExceeded, match="while waiting for the response") as err:
        list(client.groups())
    assert time.monotonic() - began < 5  # not the 20 s read timeout
    assert not err.value.outcome_unknown  # a GET: safe to send again
    client.close()
