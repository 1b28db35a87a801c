"""Fixtures for adapter tests: a fake monotonic clock whose sleep advances it, and clients
wired to it so that no test ever sleeps for real."""

from __future__ import annotations

import pytest
import responses as responses_lib

from adapters._http import HttpPolicy
from adapters.parnassys import PasClient
from adapters.parro import ParroClient
from tests.fakes import FakeClock

PAS = "https://pas.test"
PAS_API = f"{PAS}/api/v1"
PARRO = "https://planner.test"
PARRO_API = f"{PARRO}/v1"
CLIENT_SECRET = "s3cr3t-client-value-XYZ"
ACCESS_TOKEN = "tok-9f2c1e7a4b0d4c55a1e3b8d2f6c9a7e1"
ACCESS_TOKEN_2 = "tok-22222222222222222222222222222222"
API_KEY = "pk_live_4f1b9c2d8e7a6b5c"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy() -> HttpPolicy:
    return HttpPolicy(
        deadline=60.0, retry_after_cap=30.0, backoff_multiplier=0.5, backoff_max=8.0, backoff_jitter=0.5, max_attempts=6
    )


@pytest.fixture
def rsps():
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def pas(clock: FakeClock, policy: HttpPolicy) -> PasClient:
    client = PasClient(PAS, "my-integration", CLIENT_SECRET, policy=policy, clock=clock, sleep=clock.sleep)
    yield client
    client.close()


@pytest.fixture
def parro(clock: FakeClock, policy: HttpPolicy) -> ParroClient:
    client = ParroClient(PARRO, API_KEY, policy=policy, clock=clock, sleep=clock.sleep)
    yield client
    client.close()


def token_response(rsps, token: str = ACCESS_TOKEN, expires_in: int = 3600, **kw) -> None:
    rsps.add(
        "POST",
        f"{PAS_API}/oauth/token",
        status=200,
        headers={"Cache-Control": "no-store"},
        json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
        **kw,
    )


def problem(status: int, slug: str, detail: str = "Something.", **extra) -> dict:
    return {
        "type": f"https://pas.example/problems/{slug}",
        "title": slug.title(),
        "status": status,
        "detail": detail,
        **extra,
    }


def planner_error(code: str, message: str = "Nope.", **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def pas_page(items, *, total=None, offset=0, limit=100, server_time="2026-11-20T09:00:00+01:00") -> dict:
    return {
        "items": items,
        "total": len(items) if total is None else total,
        "offset": offset,
        "limit": limit,
        "server_time": server_time,
    }


@pytest.fixture(autouse=True)
def no_real_sleeping(monkeypatch):
    """Any direct call of time.sleep in the code under test fails the test."""
    import time

    def forbidden(seconds):
        raise AssertionError(f"time.sleep({seconds}) called in a test")

    monkeypatch.setattr(time, "sleep", forbidden)
