"""One daemon per database, and one engine run at a time.

Two locks per database, both exclusive:

* the **daemon lock**, held by ``connector daemon`` for its whole life, so a second
  daemon on the same database refuses to start (:func:`daemon_lock`, never waits);
* the **run lock**, held by every engine run for its duration only: each daemon job and
  each manual ``connector sync`` (:func:`run_lock`). A manual sync started while a daemon
  job runs waits for it (``wait=`` seconds) or is refused with a message naming the holder.
  A daemon job that finds the run lock taken should skip its tick rather than queue up:
  the reconcile step of the next tick does whatever is still due.

The daemon holds both locks while a job runs and only the daemon lock between jobs, so
a manual sync between two ticks runs at once.

Mechanism (pitfalls, SQLite section "Single instance"):

* SQLite: ``fcntl.flock`` on ``<db>.daemon.lock`` / ``<db>.run.lock`` beside the database
  file (mode 0600). The kernel releases the lock when the process dies, however it dies,
  so a stale lock file means nothing. The holder writes its description, pid, host and
  start time into the file; a refused process reads them back for its message. The file
  is never deleted: unlinking a flock file lets two processes lock two different inodes.
* PostgreSQL: ``pg_try_advisory_lock(key)`` on a dedicated connection kept open (in
  autocommit, so no transaction idles) for the lock's lifetime; the key is a stable
  64-bit hash of the database name and the lock's name. The server releases it when the
  session ends. The holder's details travel in the session's ``application_name``,
  which a refused process finds through ``pg_locks`` and ``pg_stat_activity``.
* An in-memory SQLite database is private to its process: the lock is a no-op.

Typical use::

    with daemon_lock(runtime.store_url):                  # LockHeld: another daemon runs
        ...
        with run_lock(runtime.store_url, holder="the daemon"):
            run_engine()

    with run_lock(url, holder="a manual sync", wait=600, on_wait=tell_user):
        run_engine()
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import URL

from connector.errors import UsageError, UserError
from connector.private_files import make_private_dirs
from connector.store.db import cannot_write, sqlite_file, to_url

LockName = Literal["daemon", "run"]

#: Seconds between two attempts while waiting for a lock.
DEFAULT_POLL = 0.5

_FILE_MODE = 0o600
_APP_PREFIX = "connector-"  # application_name of a PostgreSQL lock session
_APP_NAME_MAX = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names

_HINTS: dict[str, str] = {
    "daemon": "only one daemon runs per database: stop that one first, or leave it running",
    "run": "a manual sync waits for it or runs when it stops",
}


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: a description ("the daemon"), its process, and since when (UTC)."""

    description: str
    pid: int | None
    since: datetime | None
    host: str | None = None

    def __str__(self) -> str:
        details = []
        if self.pid is not None:
            details.append(f"pid {self.pid}")
        if self.host and self.host != socket.gethostname():
            details.append(f"on {self.host}")
        if self.since is not None:
            details.append(f"since {self.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        return f"{self.description} ({', '.join(details)})" if details else self.description


#: What a refused process says when the holder left no readable details.
UNKNOWN_HOLDER = Holder("another process", None, None)


class LockHeld(UserError):
    """Another process holds the lock (and kept it for ``waited`` seconds, when we waited)."""

    exit_code = 3

    def __init__(self, name: str, target: str, holder: Holder, *, waited: float = 0, hint: str | None = None) -> None:
        self.name = name
        self.target = target
        self.holder = holder
        self.waited = waited
        line = f"{holder} holds the {name} lock on {target}"
        if waited > 0:
            line += f" (waited {waited:g} s)"
        hint = _HINTS.get(name) if hint is None else hint
        super().__init__([line, hint] if hint else [line])


@dataclass
class HeldLock:
    """A lock this process holds; what the context managers yield."""

    name: str
    target: str
    holder: Holder
    _alive: Callable[[], bool]

    def alive(self) -> bool:
        """Whether the lock is still ours. Always true for a file lock; on PostgreSQL it asks
        the server (a dropped connection loses the lock): call it at each daemon tick."""
        return self._alive()


def daemon_lock(
    store_url: str | os.PathLike[str] | URL, *, holder: str = "the daemon"
) -> AbstractContextManager[HeldLock]:
    """Context manager: the long-lived daemon lock. Raises :class:`LockHeld` at once when
    another daemon runs on the same database."""
    return hold_lock(store_url, name="daemon", holder=holder, wait=0)


def run_lock(
    store_url: str | os.PathLike[str] | URL,
    *,
    holder: str,
    wait: float = 0,
    poll: float = DEFAULT_POLL,
    on_wait: Callable[[Holder], None] | None = None,
) -> AbstractContextManager[HeldLock]:
    """Context manager: the run lock for one engine run (daemon job or manual sync).

    ``holder`` says who runs, as the other side's message will show it ("a manual sync").
    With ``wait`` > 0 it waits up to that many seconds; ``on_wait`` is called once with the
    current holder when it has to wait. Raises :class:`LockHeld` when not acquired.
    """
    return hold_lock(store_url, name="run", holder=holder, wait=wait, poll=poll, on_wait=on_wait)


@contextmanager
def hold_lock(
    store_url: str | os.PathLike[str] | URL,
    *,
    holder: str,
    name: LockName = "run",
    wait: float = 0,
    poll: float = DEFAULT_POLL,
    hint: str | None = None,
    on_wait: Callable[[Holder], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[HeldLock]:
    """Hold the exclusive lock ``name`` on the database at ``store_url`` for the block.

    ``store_url`` is what the settings give (a SQLite path or an SQLAlchemy URL).
    With ``wait`` = 0 a held lock raises :class:`LockHeld` at once; otherwise the lock is
    tried every ``poll`` seconds until ``wait`` seconds have passed (``clock`` and ``sleep``
    are injectable for tests). The lock is released when the block ends, and by the
    kernel or the database server when the process dies.
    """
    url = store_url if isinstance(store_url, URL) else to_url(store_url)
    me = Holder(holder, os.getpid(), None, socket.gethostname())
    with ExitStack() as stack:
        backend = stack.enter_context(_backend(url, name))
        deadline = clock() + max(wait, 0)
        started = clock()
        told = False
        while True:
            since = datetime.now(UTC)
            if backend.try_acquire(Holder(me.description, me.pid, since, me.host)):
                break
            current = backend.holder() or UNKNOWN_HOLDER
            now = clock()
            if now >= deadline:
                raise LockHeld(name, backend.target, current, waited=round(now - started, 1), hint=hint)
            if on_wait is not None and not told:
                on_wait(current)
                told = True
            sleep(min(poll, deadline - now))
        stack.callback(backend.release)
        yield HeldLock(name, backend.target, Holder(me.description, me.pid, since, me.host), backend.alive)


# --- backends ---------------------------------------------------------------------------


def _backend(url: URL, name: str) -> Any:
    if url.get_backend_name() == "postgresql":
        return _PgLock(url, name)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        return _NoLock(name) if path is None else _FileLock(path, name)
    raise UsageError(f"no instance lock for database backend {url.get_backend_name()!r}: use SQLite or PostgreSQL")


class _NoLock:
    """In-memory SQLite: no other process can see the database, so nothing to exclude."""

    def __init__(self, name: str) -> None:
        self.target = "an in-memory database"

    def __enter__(self) -> _NoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def try_acquire(self, me: Holder) -> bool:
        return True

    def holder(self) -> Holder | None:
        return None

    def release(self) -> None:
        return None

    def alive(self) -> bool:
        return True


class _FileLock:
    """``flock`` on ``<db>.<name>.lock``; the holder's record is one JSON line in the file."""

    def __init__(self, db: Path, name: str) -> None:
        self.path = db.with_name(f"{db.name}.{name}.lock")
        self.target = str(db)
        self.fd = -1

    def __enter__(self) -> _FileLock:
        try:
            make_private_dirs(self.path.parent)
            # os.open makes the descriptor non-inheritable (PEP 446): a child the daemon
            # starts must not keep the lock alive after the daemon dies.
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        except OSError as exc:  # a read-only folder or lock file: the service's set-up, not a bug
            if self.path.exists():
                raise cannot_write(self.path, exc, kind="lock") from None
            raise cannot_write(self.path.parent, exc, kind="folder") from None
        try:
            if stat.S_IMODE(os.fstat(self.fd).st_mode) != _FILE_MODE:
                os.fchmod(self.fd, _FILE_MODE)  # os.open's mode passed through the umask
        except PermissionError:
            pass  # someone else's file; it is theirs to keep private
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing also drops the flock, should release() not have run

    def try_acquire(self, me: Holder) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        record = {
            "holder": me.description,
            "pid": me.pid,
            "host": me.host,
            "since": me.since.isoformat() if me.since else None,
        }
        data = (json.dumps(record) + "\n").encode()
        # One write, then cut the tail: a reader sees a whole first line (old or new).
        os.pwrite(self.fd, data, 0)
        os.ftruncate(self.fd, len(data))
        return True

    def holder(self) -> Holder | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                return _holder_from_record(json.loads(f.readline()))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # just being written, or not ours: the message says "another process"

    def release(self) -> None:
        os.ftruncate(self.fd, 0)  # no stale record once the lock is free
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def alive(self) -> bool:
        return True


def _holder_from_record(record: dict[str, Any]) -> Holder:
    since = record.get("since")
    return Holder(
        str(record["holder"]),
        int(record["pid"]) if record.get("pid") is not None else None,
        datetime.fromisoformat(since) if since else None,
        record.get("host"),
    )


def advisory_key(database: str, name: str) -> int:
    """The stable signed 64-bit advisory-lock key of lock ``name`` on ``database``.

    A hash rather than Python's ``hash()`` (salted per process): every process, on every
    version, must compute the same key.
    """
    digest = hashlib.sha256(f"gesprekken-connector:{database}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _PgLock:
    """``pg_try_advisory_lock`` on a dedicated autocommit connection."""

    def __init__(self, url: URL, name: str) -> None:
        self.url = url
        self.name = name
        database = url.database or ""
        self.key = advisory_key(database, name)
        host = url.query.get("host") or url.host or "localhost"
        self.target = f"PostgreSQL database {database} on {host}"
        self.engine: Any = None
        self.conn: Any = None

    def __enter__(self) -> _PgLock:
        from sqlalchemy.pool import NullPool

        from connector.store.db import make_engine

        # A pool could hand this connection to someone else, or recycle it (and the lock).
        self.engine = make_engine(self.url, poolclass=NullPool)
        self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._set_app_name(f"{_APP_PREFIX}{self.name} waiting")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.conn.close()  # ends the session: the server drops any advisory lock
        finally:
            self.engine.dispose()

    def _scalar(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        return self.conn.execute(text(sql), params).scalar()

    def _set_app_name(self, value: str) -> None:
        self._scalar("SELECT set_config('application_name', :v, false)", v=value[:_APP_NAME_MAX])

    def try_acquire(self, me: Holder) -> bool:
        if not self._scalar("SELECT pg_try_advisory_lock(:k)", k=self.key):
            return False
        # connector-<name>|<pid>|<epoch>|<description>, cut to PostgreSQL's 63 bytes
        since = int(me.since.timestamp()) if me.since else 0
        self._set_app_name(f"{_APP_PREFIX}{self.name}|{me.pid}|{since}|{me.description}")
        return True

    def holder(self) -> Holder | None:
        from sqlalchemy import text

        # A bigint key shows in pg_locks as classid (high 32 bits), objid (low), objsubid 1.
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        row = self.conn.execute(
            text(
                "SELECT a.application_name, a.backend_start, a.client_hostname, host(a.client_addr)"
                " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"hi": unsigned >> 32, "lo": unsigned & 0xFFFF_FFFF},
        ).first()
        if row is None:
            return None  # released in the meantime: the next attempt will tell
        client = row[2] or row[3]
        return _holder_from_app_name(row[0], row[1], None if client in ("127.0.0.1", "::1") else client)

    def release(self) -> None:
        self._scalar("SELECT pg_advisory_unlock(:k)", k=self.key)
        self._set_app_name(f"{_APP_PREFIX}{self.name} released")

    def alive(self) -> bool:
        try:
            return bool(
                self._scalar(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND objsubid = 1"
                    " AND classid::bigint = :hi AND objid::bigint = :lo",
                    hi=(self.key & 0xFFFF_FFFF_FFFF_FFFF) >> 32,
                    lo=self.key & 0xFFFF_FFFF,
                )
            )
        except Exception:  # a dropped connection took the lock with it
            return False


def _holder_from_app_name(app_name: str | None, backend_start: datetime | None, client: str | None) -> Holder:
    """Read back what :meth:`_PgLock.try_acquire` put in application_name."""
    parts = (app_name or "").split("|", 3)
    if len(parts) == 4 and parts[0].startswith(_APP_PREFIX):
        try:
            since = datetime.fromtimestamp(int(parts[2]), UTC)
            return Holder(parts[3] or "another process", int(parts[1]), since, client)
        except ValueError:
            pass
    label = f"another session ({app_name})" if app_name else "another session"
    return Holder(label, None, backend_start, client)
