"""Retry policy, timeouts, sessions and error classification of the shared transport,
exercised through the planner client (its API key makes the wiring simplest)."""

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from adapters._http import HttpPolicy
from adapters.errors import (
    ClientError,
    RateLimited,
    RequestTimeout,
    RetriesExhausted,
    ServerError,
    TransportError,
    UnexpectedResponse,
    VendorUnavailable,
)
from adapters.parro import ParroClient
from tests.adapters.conftest import API_KEY, PARRO, PARRO_API, FakeClock, planner_error

GROUPS = f"{PARRO_API}/groups"
PLANNER = f"{PARRO_API}/planners/pln_1"
ASSIGN = f"{PLANNER}/assignments"
EMPTY = {"data": [], "next_cursor": None}
ASSIGNMENTS = [{"child_id": "chd_1", "slot_id": "slt_1"}]


def test_it_sends_connect_and_read_timeouts_on_every_call(rsps, parro):
    rsps.add("GET", GROUPS, json=EMPTY)
    rsps.add("POST", f"{PLANNER}/open", json={"id": "pln_1"})
    list(parro.groups())
    parro.open_planner("pln_1")
    assert [c.request.req_kwargs["timeout"] for c in rsps.calls] == [(5.0, 30.0)] * 2


@pytest.mark.parametrize(("no_proxy", "expected"), [("", "http://proxy.school.test:3128"), ("planner.test", None)])
def test_it_sends_every_call_the_way_the_environment_names(rsps, parro, monkeypatch, no_proxy, expected):
    # Read once per session and origin (issue W2-6), the environment's proxy still holds for every call.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.school.test:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    rsps.add("GET", GROUPS, json=EMPTY)
    rsps.add("POST", f"{PLANNER}/open", json={"id": "pln_1"})
    list(parro.groups())
    parro.open_planner("pln_1")
    parro.open_planner("pln_1")
    assert [c.request.req_kwargs["proxies"].get("https") for c in rsps.calls] == [expected] * 3


def test_it_does_not_stack_urllib3_retries_under_tenacity(parro):
    session = parro._transport._session()
    assert session.get_adapter("https://planner.test").max_retries.total == 0


def test_it_uses_one_session_per_thread(parro):
    mine = parro._transport._session()
    assert parro._transport._session() is mine
    other = []
    thread = threading.Thread(target=lambda: other.append(parro._transport._session()))
    thread.start()
    thread.join()
    assert other[0] is not mine


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_it_retries_a_get_on_temporary_statuses(rsps, parro, status):
    rsps.add("GET", GROUPS, status=status, body="<html>oops</html>", content_type="text/html")
    rsps.add("GET", GROUPS, json=EMPTY)
    assert list(parro.groups()) == []
    assert len(rsps.calls) == 2


@pytest.mark.parametrize(
    "exc", [requests.ConnectionError("reset"), requests.ReadTimeout("slow"), requests.ConnectTimeout("nobody home")]
)
def test_it_retries_a_get_after_connection_errors_and_timeouts(rsps, parro, exc):
    rsps.add("GET", GROUPS, body=exc)
    rsps.add("GET", GROUPS, json=EMPTY)
    assert list(parro.groups()) == []


def test_it_honours_retry_after_in_seconds(rsps, parro, clock):
    rsps.add("GET", GROUPS, status=429, headers={"Retry-After": "7"}, json=planner_error("rate_limited"))
    rsps.add("GET", GROUPS, json=EMPTY)
    list(parro.groups())
    assert clock.sleeps == [7]


def test_it_honours_retry_after_as_an_http_date(rsps, parro, clock):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    rsps.add("GET", GROUPS, status=503, headers={"Retry-After": when}, json=planner_error("service_unavailable"))
    rsps.add("GET", GROUPS, json=EMPTY)
    list(parro.groups())
    assert 18 <= clock.sleeps[0] <= 20


def test_it_backs_off_exponentially_when_there_is_no_retry_after(rsps, parro, clock):
    for _ in range(3):
        rsps.add("GET", GROUPS, status=500, json=planner_error("internal_error"))
    rsps.add("GET", GROUPS, json=EMPTY)
    list(parro.groups())
    assert len(clock.sleeps) == 3
    assert all(0 <= s <= 8.5 for s in clock.sleeps)
    assert clock.sleeps[2] >= 2.0  # 0.5 * 2**2, plus jitter


def test_it_raises_vendor_unavailable_instead_of_waiting_past_the_cap(rsps, parro, clock):
    rsps.add("GET", GROUPS, status=503, headers={"Retry-After": "3600"}, json=planner_error("service_unavailable"))
    with pytest.raises(VendorUnavailable) as err:
        list(parro.groups())
    assert err.value.retry_after == 3600
    assert clock.sleeps == [] and len(rsps.calls) == 1


def test_it_gives_up_within_the_deadline_with_a_clear_error(rsps, clock):
    client = ParroClient(
        PARRO,
        API_KEY,
        clock=clock,
        sleep=clock.sleep,
        policy=HttpPolicy(deadline=45, retry_after_cap=30, backoff_max=30, max_attempts=100),
    )
    rsps.add("GET", GROUPS, status=429, headers={"Retry-After": "10"}, json=planner_error("rate_limited"))
    start = clock.now
    with pytest.raises(RetriesExhausted) as err:
        list(client.groups(limit=10))
    assert clock.now - start <= 45
    assert clock.sleeps == [10, 10, 10, 10]
    assert err.value.attempts == 5 and err.value.status == 429
    assert err.value.retry_after == 10
    assert isinstance(err.value.__cause__, RateLimited)
    assert str(err.value).startswith("parro GET /groups: 429 rate_limited: gave up after 5")
    assert "limit=" not in str(err.value) and "?" not in str(err.value)


def test_it_retries_an_idempotency_keyed_post_after_a_read_timeout(rsps, parro):
    rsps.add("POST", ASSIGN, body=requests.ReadTimeout("slow"))
    rsps.add("POST", ASSIGN, json={"data": []})
    parro.assign("pln_1", ASSIGNMENTS, idempotency_key="assign-1")
    keys = [c.request.headers["Idempotency-Key"] for c in rsps.calls]
    assert keys == ["assign-1", "assign-1"]
    assert rsps.calls[0].request.body == rsps.calls[1].request.body


def test_it_does_not_retry_a_post_without_idempotency_key_after_a_read_timeout(rsps, parro):
    rsps.add("POST", ASSIGN, body=requests.ReadTimeout("slow"))
    with pytest.raises(TransportError) as err:
        parro.assign("pln_1", ASSIGNMENTS)
    assert err.value.outcome_unknown and len(rsps.calls) == 1
    assert "outcome unknown" in str(err.value)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_it_does_not_retry_a_post_without_idempotency_key_after_a_gateway_error(rsps, parro, status):
    rsps.add("POST", ASSIGN, status=status, body="<html/>", content_type="text/html")
    with pytest.raises(ServerError) as err:
        parro.assign("pln_1", ASSIGNMENTS)
    assert err.value.outcome_unknown and len(rsps.calls) == 1


def test_it_repeats_an_unsafe_post_that_was_rate_limited_or_never_connected(rsps, parro):
    rsps.add("POST", ASSIGN, status=429, headers={"Retry-After": "1"}, json=planner_error("rate_limited"))
    rsps.add("POST", ASSIGN, body=requests.ConnectTimeout("nobody home"))
    rsps.add("POST", ASSIGN, json={"data": []})
    parro.assign("pln_1", ASSIGNMENTS)
    assert len(rsps.calls) == 3


def test_it_treats_an_undocumented_client_error_as_permanent(rsps, parro):
    rsps.add("GET", GROUPS, status=418, json=planner_error("teapot"))
    with pytest.raises(ClientError) as err:
        list(parro.groups())
    assert (err.value.status, err.value.code) == (418, "teapot")
    assert len(rsps.calls) == 1


def test_it_does_not_retry_a_501(rsps, parro):
    rsps.add("GET", GROUPS, status=501, body="")
    with pytest.raises(ServerError):
        list(parro.groups())
    assert len(rsps.calls) == 1


def test_it_classifies_408_as_a_temporary_request_timeout(rsps, parro, clock):
    rsps.add("GET", GROUPS, status=408, body="")
    with pytest.raises(RetriesExhausted) as err:
        list(parro.groups())
    assert isinstance(err.value.__cause__, RequestTimeout)


def test_it_keeps_the_client_under_its_rate_limit(rsps):
    clock = FakeClock()
    client = ParroClient(PARRO, API_KEY, clock=clock, sleep=clock.sleep, requests_per_minute=3)
    rsps.add("POST", f"{PLANNER}/open", json={"id": "pln_1"})
    for _ in range(7):
        client.open_planner("pln_1")
    assert clock.sleeps == [60, 60]


def test_it_does_not_follow_redirects_with_credentials(rsps, parro):
    rsps.add("GET", GROUPS, status=302, headers={"Location": "https://evil.test/"})
    with pytest.raises(UnexpectedResponse, match="redirect"):
        list(parro.groups())
    assert len(rsps.calls) == 1
