"""The instance lock, between two real processes: one daemon per database, one run at a time.

Each test starts a child Python process that takes a lock, says "locked" and holds it until it
is killed. Waits are bounded polls; nothing sleeps for long.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.errors import UserError
from connector.instance_lock import (
    Holder,
    LockHeld,
    _holder_from_app_name,
    advisory_key,
    daemon_lock,
    hold_lock,
    run_lock,
)

POSTGRES_ENV = "CONNECTOR_TEST_POSTGRES_URL"
CHILD_TIMEOUT = 30.0  # seconds a child may take to start and lock (importing sqlalchemy)

HOLD_SCRIPT = """
import sys, time
from connector.instance_lock import hold_lock
url, name, holder = sys.argv[1:4]
with hold_lock(url, name=name, holder=holder):
    print("locked", flush=True)
    while True:
        time.sleep(60)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database to lock: a SQLite file path, and PostgreSQL when configured."""
    if request.param == "sqlite":
        return str(tmp_path / "var" / "connector.db")
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL lock tests skipped")
    pytest.importorskip("psycopg", reason="install the 'postgres' extra (psycopg)")
    return url


class Child:
    """A process holding a lock until killed."""

    def __init__(self, url: str, name: str, holder: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_SCRIPT, url, name, holder],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout=CHILD_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if line.strip() != "locked":
            self.kill()
            pytest.fail(f"lock holder did not start: {line!r} {self.proc.stderr.read()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up runs in the child; only the kernel or server can release."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=CHILD_TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def start_holder() -> Iterator:
    children: list[Child] = []

    def start(url: str, name: str = "daemon", holder: str = "the daemon") -> Child:
        child = Child(url, name, holder)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


def test_a_second_daemon_is_refused_with_a_message_naming_the_first(db_url: str, start_holder) -> None:
    first = start_holder(db_url, "daemon", "the daemon")
    with pytest.raises(LockHeld) as refused, daemon_lock(db_url):
        pytest.fail("two daemons hold the lock")
    message = str(refused.value)
    assert isinstance(refused.value, UserError)
    since = r"since \d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"^the daemon \(pid {first.pid}, {since}\) holds the daemon lock on ", message)
    assert "only one daemon runs per database" in message
    assert refused.value.holder.pid == first.pid


def test_after_the_holder_is_killed_the_lock_is_free_again(db_url: str, start_holder) -> None:
    first = start_holder(db_url, "daemon")
    with pytest.raises(LockHeld), daemon_lock(db_url):
        pass
    first.kill()
    # The kernel frees a flock as the process exits; a PostgreSQL backend notices the closed
    # socket a moment later, hence a short bounded wait.
    with hold_lock(db_url, name="daemon", holder="the daemon", wait=10, poll=0.02) as lock:
        assert lock.holder.pid == os.getpid()
        assert lock.alive()


def test_a_manual_sync_waits_for_the_daemons_run_and_then_runs(db_url: str, start_holder) -> None:
    daemon_run = start_holder(db_url, "run", "the daemon")
    waited_for: list[Holder] = []
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            daemon_run.kill()  # the daemon's job ends while we wait
        else:
            time.sleep(seconds)  # PostgreSQL may take a moment to end the killed session

    with hold_lock(
        db_url, name="run", holder="a manual sync", wait=60, poll=0.05, on_wait=waited_for.append, sleep=sleep
    ) as lock:
        assert lock.holder.description == "a manual sync"
    assert sleeps[0] == 0.05
    assert [h.pid for h in waited_for] == [daemon_run.pid]


def test_waiting_times_out_with_the_same_message(db_url: str, start_holder) -> None:
    holder = start_holder(db_url, "run", "the daemon")
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds  # fake time: no real sleeping

    with (
        pytest.raises(LockHeld) as refused,
        hold_lock(db_url, name="run", holder="a manual sync", wait=5, poll=2, clock=lambda: now[0], sleep=sleep),
    ):
        pass
    message = str(refused.value)
    assert f"the daemon (pid {holder.pid}, since " in message
    assert "holds the run lock on " in message and "(waited 5 s)" in message
    assert "a manual sync waits for it or runs when it stops" in message
    assert now[0] == 105.0


def test_the_daemon_lock_and_the_run_lock_are_independent(db_url: str, start_holder) -> None:
    start_holder(db_url, "daemon", "the daemon")
    with run_lock(db_url, holder="a manual sync") as lock:  # between two daemon jobs
        assert lock.name == "run"


def test_a_lock_is_exclusive_within_one_process_too(db_url: str) -> None:
    with (
        run_lock(db_url, holder="the daemon"),
        pytest.raises(LockHeld, match=rf"pid {os.getpid()}"),
        run_lock(db_url, holder="a manual sync"),
    ):
        pass
    with run_lock(db_url, holder="a manual sync"):  # released after the block
        pass


def test_the_lock_file_is_private_and_cleared_on_release(tmp_path: Path) -> None:
    db = tmp_path / "var" / "connector.db"
    old_umask = os.umask(0)  # the mode must not depend on the umask
    try:
        with daemon_lock(db) as lock:
            lock_file = tmp_path / "var" / "connector.db.daemon.lock"
            assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
            assert stat.S_IMODE(lock_file.parent.stat().st_mode) == 0o700
            assert f'"pid": {os.getpid()}' in lock_file.read_text()
            assert lock.target == str(db)
    finally:
        os.umask(old_umask)
    assert lock_file.read_text() == ""  # no stale holder once free; the file itself stays


def test_an_existing_world_readable_lock_file_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "connector.db"
    lock_file = tmp_path / "connector.db.run.lock"
    lock_file.write_text("")
    lock_file.chmod(0o644)
    with run_lock(db, holder="a manual sync"):
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_an_unreadable_holder_record_still_gives_a_clear_refusal(tmp_path: Path, start_holder) -> None:
    db = tmp_path / "connector.db"
    start_holder(str(db), "run", "the daemon")
    (tmp_path / "connector.db.run.lock").write_text("not json\n")
    with (
        pytest.raises(LockHeld, match=r"^another process holds the run lock on "),
        run_lock(db, holder="a manual sync"),
    ):
        pass


def test_an_in_memory_database_needs_no_lock() -> None:
    with daemon_lock(":memory:"), daemon_lock(":memory:"):
        pass


def test_the_advisory_key_is_stable_and_differs_per_database_and_lock() -> None:
    key = advisory_key("connector", "daemon")
    assert key == advisory_key("connector", "daemon")
    assert -(2**63) <= key < 2**63
    assert len({key, advisory_key("connector", "run"), advisory_key("other", "daemon")}) == 3


def test_a_postgres_holder_is_read_back_from_its_application_name() -> None:
    since = datetime(2026, 11, 23, 13, 50, tzinfo=UTC)
    holder = _holder_from_app_name(f"connector-daemon|4242|{int(since.timestamp())}|the daemon", None, None)
    assert str(holder) == "the daemon (pid 4242, since 2026-11-23 13:50 UTC)"
    foreign = _holder_from_app_name("psql", since, None)
    assert str(foreign) == "another session (psql) (since 2026-11-23 13:50 UTC)"
