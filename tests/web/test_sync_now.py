""" "Sync now" when another run holds the database: it waits (saying who is at work) and goes on
when the lock is free, or says the service is busy when the wait is over; what it did is shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.instance_lock import run_lock
from connector.runtime import start
from connector.web.app import create_app
from tests.engine.conftest import write_settings

from .conftest import add_users, csrf_of, login

POLL = 0.05
TIMEOUT = 60.0


def site_with(folder: Path, wait: int):
    # Vendors at a closed port: the sync's reads fail at once, and its run ends within 2 s.
    settings = write_settings(folder, "http://127.0.0.1:9")
    settings.write_text(
        settings.read_text() + f"\n[sync]\nrun_deadline_seconds = 2\n\n[web]\nsync_wait_seconds = {wait}\n"
    )
    runtime = start(str(settings))
    app = create_app(runtime)
    add_users(app)
    return runtime, app


def press(client: TestClient) -> str:
    board = client.get("/")
    response = client.post("/school/12AB00/synchroniseren", data={"csrf": csrf_of(board.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/synchroniseren/")
    return response.headers["location"]


def job_of(app, location: str):
    return app.state.web.jobs.get(location.rsplit("/", 1)[1])


def until(condition, what: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL)
    pytest.fail(f"{what} not within {TIMEOUT} s")


def test_while_the_daemon_runs_it_says_the_service_is_busy(tmp_path):
    runtime, app = site_with(tmp_path, wait=0)
    with TestClient(app) as client, run_lock(runtime.store_url, holder="the daemon"):
        login(client, "directeur")
        location = press(client)
        until(lambda: job_of(app, location).finished, "the job's end")
        page = client.get(location).text
    assert job_of(app, location).state == "busy"
    assert "De dienst is bezig" in page and "de dienst zelf (de daemon)" in page and "data-final" in page
    app.state.web.store.dispose()


def test_it_waits_for_the_run_lock_then_syncs_and_shows_what_it_did(tmp_path):
    runtime, app = site_with(tmp_path, wait=30)
    with TestClient(app) as client:
        login(client, "ict")
        with run_lock(runtime.store_url, holder="a manual sync"):
            location = press(client)
            until(lambda: job_of(app, location).holder is not None, "the job waiting for the lock")
            waiting = client.get(f"{location}?deel=cijfers").text
            assert "een synchronisatie met de hand is nu bezig" in waiting.lower() and "data-final" not in waiting
            again = press(client)
            assert again == location  # a second press joins the job at work
        until(lambda: job_of(app, location).finished, "the job's end")
        job = job_of(app, location)
        page = client.get(location).text
    assert job.state == "done" and job.run_id, (job.state, job.problem)
    assert "Klaar: deels gelukt" in page and "Uitgesteld tot een volgende keer" in page
    assert "De nieuwe synchronisatie" in page and "met de hand" in page
    app.state.web.store.dispose()
