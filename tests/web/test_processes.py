"""The web page's processes and commands: the idle daemon without `[web]` loads none of the web
stack; with `[web] enabled = true` it serves the page; `connector web` serves it on its own; the
accounts are made with `connector web add-user` (the password twice on standard input)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.daemon.conftest import REPO, settings_copy
from tests.review.conftest import cli

WEB_STACK = ("starlette", "uvicorn", "jinja2", "argon2", "multipart", "python_multipart", "connector.web")
# What no daemon without the web page loads (besides the web stack); `holidays.countries` only NL.
NOT_IN_THE_DAEMON = (*WEB_STACK, "alembic", "mako", "ortools", "typer", "click", "rich", "holidays.countries")
READY_TIMEOUT = 60.0
POLL = 0.1

# The child runs the real `connector` entry point and, when it exits, writes which of the web
# stack's modules it had loaded (a None entry is a module kept from loading).
CHILD = """
import atexit, json, sys
stack = {stack!r}
def dump():
    loaded = [m for m, mod in sys.modules.items() if mod is not None]
    with open({out!r}, "w") as f:
        json.dump(sorted(m for m in loaded if any(m == s or m.startswith(s + ".") for s in stack)), f)
atexit.register(dump)
sys.argv = ["connector", *{args!r}]
from connector.cli import main
main()
"""


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"}


def settings_with(folder: Path, extra: str) -> Path:
    # Vendors at the discard port (refused at once); a run gives up after 2 s, so a tick never lingers.
    path = settings_copy(folder)
    path.write_text(path.read_text(encoding="utf-8") + "\n[sync]\nrun_deadline_seconds = 2\n" + extra)
    return path


def start_child(folder: Path, *args: str) -> tuple[subprocess.Popen, Path, Path]:
    out = folder / "modules.json"
    err = folder / "child.err"
    code = CHILD.format(stack=NOT_IN_THE_DAEMON, out=str(out), args=list(args))
    with open(err, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=stderr, text=True
        )
    return proc, out, err


def wait_for_line(proc: subprocess.Popen, err: Path, pattern: str) -> re.Match:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(pattern, err.read_text())
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the process exited with {proc.returncode}: {err.read_text()}")
        time.sleep(POLL)
    pytest.fail(f"no {pattern!r} within {READY_TIMEOUT} s: {err.read_text()}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def idle(settings: Path, moment: str) -> None:
    """The database of a daemon that ran before: migrated, and everything due at `moment` done."""
    from datetime import datetime

    from connector.cycle.settings import load_settings
    from connector.engine.context import Engine
    from connector.engine.run import tasks_due
    from connector.runtime import store_url
    from connector.store import Store, upgrade_to_head
    from connector.store.models import JobMark

    loaded = load_settings(str(settings))
    upgrade_to_head(store_url(loaded))
    store = Store(store_url(loaded))
    now = datetime.fromisoformat(moment)
    try:
        engine = Engine.offline(loaded, store)
        with store.write() as session:
            for school in loaded.settings.schools:
                for task in tasks_due(engine, school, now):
                    session.merge(JobMark(key=task.key, job=task.job, done_at=now, run_id=None))
    finally:
        store.dispose()


def test_the_idle_daemon_without_web_settings_imports_none_of_the_web_stack(tmp_path):
    """Nor Alembic (the schema is current), OR-Tools (nothing to solve), the CLI's Typer and Click,
    or the holidays package's other countries: a daemon keeps what it imports for good (issue W2-6)."""
    settings = settings_with(tmp_path, "")
    moment = "2026-07-20T12:00:00+02:00"
    idle(settings, moment)
    proc, modules, err = start_child(tmp_path, "daemon", "--settings", str(settings), "--now", moment)
    wait_for_line(proc, err, r"daemon running")
    assert stop(proc) == 0, err.read_text()
    loaded = json.loads(modules.read_text())
    assert loaded == ["holidays.countries.netherlands"], f"the idle daemon imported {loaded}"


def test_with_web_enabled_the_daemon_serves_the_page_and_stops_cleanly(tmp_path):
    settings = settings_with(tmp_path, "\n[web]\nenabled = true\nport = 0\n")
    proc, modules, err = start_child(
        tmp_path, "daemon", "--settings", str(settings), "--now", "2026-07-20T12:00:00+02:00", "--tick-seconds", "3600"
    )
    url = wait_for_line(proc, err, r"web page at (http://127\.0\.0\.1:\d+/)").group(1)
    login = requests.get(url + "inloggen", timeout=10)
    assert login.status_code == 200 and "Inloggen" in login.text
    assert requests.get(url, allow_redirects=False, timeout=10).status_code == 303  # no session: to login
    assert stop(proc) == 0, err.read_text()
    assert {"starlette", "uvicorn", "jinja2", "argon2"} <= {m.split(".")[0] for m in json.loads(modules.read_text())}


def test_connector_web_serves_the_page_until_sigterm(tmp_path):
    settings = settings_with(tmp_path, "")
    proc, _, err = start_child(tmp_path, "web", "--settings", str(settings), "--port", "0")
    url = wait_for_line(proc, err, r"web page at (http://127\.0\.0\.1:\d+/)").group(1)
    response = requests.get(url + "gezondheid", allow_redirects=False, timeout=10)
    assert response.status_code == 303 and response.headers["location"].startswith("/inloggen")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    plain = requests.get(url + "inloggen", timeout=10)
    assert "Secure" not in plain.headers["set-cookie"] and "strict-transport-security" not in plain.headers
    # The reverse proxy (on loopback, a trusted proxy by default) says the browser came over TLS.
    proxied = requests.get(url + "inloggen", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert "Secure" in proxied.headers["set-cookie"] and "max-age" in proxied.headers["strict-transport-security"]
    assert stop(proc) == 0, err.read_text()


def test_a_port_in_use_is_said_plainly(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = cli("web", "--settings", str(settings_with(tmp_path, "")), "--port", str(port))
    assert code != 0 and f"port {port}" in err and "in use" in err


def add_user(settings: Path, *args: str, password_lines: str):
    from typer.testing import CliRunner

    from connector.cli import app

    return CliRunner().invoke(app, ["web", "add-user", *args, "--settings", str(settings)], input=password_lines)


def test_add_user_reads_the_password_twice_from_stdin_and_stores_only_its_argon2_hash(tmp_path):
    settings = settings_with(tmp_path, "")
    result = add_user(settings, "Directeur", "--role", "director", password_lines="een-lang-wachtwoord\n" * 2)
    assert result.exit_code == 0, result.output
    assert "added user directeur (director)" in result.output
    code, out, _ = cli("web", "users", "--settings", str(settings))
    assert code == 0 and out.startswith("directeur  director  last login never")
    database = tmp_path / "var" / "connector.db"
    assert b"een-lang-wachtwoord" not in database.read_bytes()
    again = add_user(settings, "directeur", "--role", "ib", password_lines="nog-een-wachtwoord\n" * 2)
    assert again.exit_code != 0 and "already a user" in str(again.exception or again.output)
    update = add_user(settings, "directeur", "--role", "ib", "--update", password_lines="nog-een-wachtwoord\n" * 2)
    assert update.exit_code == 0 and "updated user directeur (ib)" in update.output
    code, out, _ = cli("web", "remove-user", "directeur", "--settings", str(settings))
    assert code == 0 and "removed user directeur" in out


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ("een-lang-wachtwoord\nander-wachtwoord\n", "differ"),
        ("", "no password"),
        ("kort\nkort\n", "10 to"),
    ],
)
def test_add_user_refuses_passwords_that_differ_are_missing_or_short(tmp_path, lines, problem):
    result = add_user(settings_with(tmp_path, ""), "ib", "--role", "ib", password_lines=lines)
    assert result.exit_code != 0 and problem in str(result.exception)
