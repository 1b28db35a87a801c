"""`connector simulator` as a real process: serves the default settings' credentials on a free
port, announces its URL on stderr, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
URL_LINE_TIMEOUT = 20.0


@pytest.fixture
def no_real_sleeping() -> None:
    """Overrides the conftest guard: waiting for a subprocess polls with time.sleep."""


def connector(*args: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"}
    return subprocess.Popen(
        [sys.executable, "-m", "connector", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def first_stderr_line(process: subprocess.Popen, timeout: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line on stderr within {timeout} s")
    return process.stderr.readline()


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen, str, str]]:
    process = connector("simulator", "--port", "0")
    try:
        line = first_stderr_line(process, URL_LINE_TIMEOUT)
        url = next((w for w in line.split() if w.startswith("http://127.0.0.1:")), None)
        assert url is not None and not url.endswith(":0"), line
        yield process, url, line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_it_serves_the_default_settings_and_exits_cleanly_on_sigterm(served):
    process, url, line = served

    clock = requests.get(f"{url}/_sim/clock", timeout=5)
    assert clock.status_code == 200
    assert datetime.fromisoformat(clock.json()["now"]).utcoffset() is not None

    secret = (REPO / "dev-secrets" / "pas-client-secret").read_text().strip()
    token = requests.post(
        f"{url}/api/v1/oauth/token",
        timeout=5,
        data={"grant_type": "client_credentials", "client_id": "connector-dev", "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer" and token.json()["access_token"]
    school = requests.get(
        f"{url}/api/v1/schools/12AB00", timeout=5, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert school.status_code == 200 and school.json()["brin"] == "12AB00"
    api_key = (REPO / "dev-secrets" / "planner-key-12AB00").read_text().strip()
    groups = requests.get(f"{url}/v1/groups", timeout=5, headers={"Authorization": f"Bearer {api_key}"})
    assert groups.status_code == 200 and groups.json()["data"]

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=5) == 0
    assert time.monotonic() - started < 5
    rest = process.stderr.read()
    assert "Traceback" not in rest
    assert [s for s in (secret, api_key, token.json()["access_token"]) if s in line + rest] == []


def test_it_refuses_an_invalid_fault_spec_naming_the_option_without_a_traceback():
    process = connector("simulator", "--port", "0", "--faults", "rate=2")
    try:
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0
    assert "--faults" in err and "rate" in err, err
    assert "Traceback" not in err + out
