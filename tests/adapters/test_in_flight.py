"""Requests in flight: clients given one `in_flight` semaphore (as `build_engine` gives all of a board's)
never have more requests on the wire together than it has places, whatever the number of threads;
a place is held from just before the send until the body is read, and given back after a failure.

No timing: the requests holding the places wait, inside the vendor's answer, until every thread has
asked for a place, so a request that got past the bound would be seen in flight beside them.
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from adapters import deadline
from adapters.errors import RetriesExhausted, RunDeadlineExceeded
from adapters.parnassys import PasClient
from adapters.parro import ParroClient
from tests.adapters.conftest import API_KEY, PARRO, PARRO_API, PAS, PAS_API, pas_page, token_response

WAIT = 60.0  # seconds; reached only when the bound is broken and the test fails
PLANNER = f"{PARRO_API}/planners/pln_1"
PUPILS = f"{PAS_API}/schools/12AB00/pupils"


class Places(threading.BoundedSemaphore):
    """A semaphore that counts who asked for a place, so the test can wait until every thread has."""

    def __init__(self, places: int) -> None:
        super().__init__(places)
        self.asked = 0
        self.changed = threading.Condition()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        with self.changed:
            self.asked += 1
            self.changed.notify_all()
        return super().acquire(blocking, timeout)


class Vendor:
    """The vendor's side of `responses`: counts requests in flight; each waits until `everyone` asked."""

    def __init__(self, places: Places, everyone: int) -> None:
        self.places, self.everyone = places, everyone
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __call__(self, request: requests.PreparedRequest):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            with self.places.changed:
                assert self.places.changed.wait_for(lambda: self.places.asked >= self.everyone, timeout=WAIT)
            return 200, {"Content-Type": "application/json"}, '{"id": "pln_1", "status": "open", "slots": []}'
        finally:
            with self.lock:
                self.now -= 1


def client(places: threading.Semaphore, **kw) -> ParroClient:
    return ParroClient(PARRO, API_KEY, in_flight=places, **kw)


def test_threads_of_two_clients_never_have_more_requests_in_flight_than_the_places(rsps):
    places = Places(2)
    vendor = Vendor(places, everyone=6)
    rsps.add_callback("GET", PLANNER, callback=vendor)
    one, other = client(places), client(places)  # two schools' keys, one board
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda n: (one if n % 2 else other).get_planner("pln_1"), range(6)))
    assert [a["id"] for a in answers] == ["pln_1"] * 6
    assert vendor.most == 2  # two at once (the first two waited for all six to ask), never a third
    assert places.acquire(blocking=False) and places.acquire(blocking=False)  # both places given back


def test_a_pas_token_is_fetched_before_its_request_takes_a_place_so_one_place_is_enough(rsps, clock, policy):
    places = threading.BoundedSemaphore(1)
    token_response(rsps)
    rsps.add("GET", PUPILS, json=pas_page([]))
    pas = PasClient(PAS, "my-integration", "secret", policy=policy, clock=clock, sleep=clock.sleep, in_flight=places)
    assert list(pas.pupils("12AB00")) == []  # with the token fetch inside the place, this would never return
    assert places.acquire(blocking=False)


def test_a_place_is_given_back_when_the_request_fails(rsps, clock, policy):
    places = threading.BoundedSemaphore(1)
    rsps.add("GET", PLANNER, body=requests.ConnectionError("refused"))
    planner = client(places, policy=dataclasses.replace(policy, max_attempts=1), clock=clock, sleep=clock.sleep)
    with pytest.raises(RetriesExhausted):
        planner.get_planner("pln_1")
    assert places.acquire(blocking=False)


def test_a_wait_for_a_place_ends_at_the_runs_deadline_and_nothing_is_sent(rsps):
    places = threading.BoundedSemaphore(1)
    rsps.add("GET", PLANNER, json={"id": "pln_1", "status": "open", "slots": []})
    assert places.acquire(blocking=False)  # another request holds the only place throughout
    run = deadline.overall(0.001, setting="[sync] run_deadline_seconds")
    with run, pytest.raises(RunDeadlineExceeded, match="waiting for a request in flight to end"):
        client(places).get_planner("pln_1")
    assert len(rsps.calls) == 0
