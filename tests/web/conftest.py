"""Fixtures of the web page's tests: a site on an empty store with one account per role (for
auth, CSRF, lockout and headers, through Starlette's TestClient), and a walked demo year whose
simulator still runs (for the figures, the CSV and the browser with "sync now").

Times: `wall` is a settable clock for sessions and lockouts, so expiry is tested without waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from connector import logging_setup
from connector.cycle.settings import load_settings
from connector.demo import DemoYear, demo_year
from connector.logging_setup import configure_logging
from connector.runtime import Runtime, build_engine, start
from tests.engine.conftest import write_settings

PASSWORD = "een-lang-wachtwoord"
USERS = {"directeur": "director", "ib": "ib", "ict": "ict"}
PUPILS = 24  # every kind of family, and a year in about 25 s


@dataclass
class Wall:
    """A real-time clock that a test can move forward."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(client, name: str, password: str = PASSWORD, *, follow: bool = False):
    """Log in through the login form (its own CSRF token); returns the POST's response."""
    page = client.get("/inloggen")
    return client.post(
        "/inloggen",
        data={"naam": name, "wachtwoord": password, "csrf": csrf_of(page.text), "volgende": "/"},
        follow_redirects=follow,
    )


def add_users(app, now: datetime | None = None) -> None:
    accounts = app.state.web.accounts
    for name, role in USERS.items():
        accounts.add_user(name, role, PASSWORD, now=now or datetime.now(UTC), update=True)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logging_setup.reset_logging()


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    """Settings on an empty store in `tmp_path` (vendors at a closed port: nothing is called)."""
    settings = write_settings(tmp_path, "http://127.0.0.1:9")
    return start(str(settings))


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def site(runtime: Runtime, wall: Wall):
    """The app on the empty store, with the three accounts; a TestClient over plain HTTP."""
    from starlette.testclient import TestClient

    from connector.web.app import create_app

    app = create_app(runtime, wall=wall)
    add_users(app)
    with TestClient(app) as client:
        yield client
    app.state.web.store.dispose()


@dataclass(frozen=True)
class Year:
    """The walked demo year: its settings file (vendors at the running simulator), the moment the
    page and the CLI are asked about, and the demo's own summary."""

    settings: Path
    moment: datetime
    demo: DemoYear

    def runtime(self) -> Runtime:
        return start(str(self.settings))


@pytest.fixture(scope="session")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    folder = tmp_path_factory.mktemp("web-year")
    settings = write_settings(folder, "http://127.0.0.1:9")
    configure_logging(level="error")
    with demo_year(
        load_settings(str(settings)), seed=3, pupils_per_school=PUPILS, database=folder / "connector.db"
    ) as walked:
        settings = write_settings(folder, walked.base_url)  # "sync now" reaches the same simulator
        moment = datetime.fromisoformat(f"{walked.summary['to']}T12:00:00+02:00")
        requests.post(f"{walked.base_url}/_sim/clock", json={"now": moment.isoformat()}, timeout=10).raise_for_status()
        logging_setup.reset_logging()
        yield Year(settings, moment, walked)


def fast_engine(runtime: Runtime):
    """The engine of "sync now" without the client-side rate limits (the simulator's are per real minute)."""
    return build_engine(runtime, throttle=False)
