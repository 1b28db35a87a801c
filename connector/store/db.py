"""Engine factory and transaction helpers for the state store.

SQLite is the default backend (one school server, one process); PostgreSQL is
supported for boards that run a database server. What the engine must know:

* Write with ``Store.write()`` (or ``session_scope(engine)``). On SQLite that
  opens the transaction with ``BEGIN IMMEDIATE``: a deferred transaction that
  later upgrades to a write fails at once with "database is locked" and ignores
  ``busy_timeout`` (pitfalls, SQLite section).
* Read with ``Store.read()``: a plain deferred ``BEGIN``, a consistent snapshot
  under WAL that never blocks writers. Writes inside it may fail; don't.
* Any connection or session *not* marked read-only takes the write lock at
  its first statement, reads included: keep write transactions short, and do
  not open a second ``write()`` while one is open in the same thread (it
  waits ``BUSY_TIMEOUT_MS`` for the first, then fails "database is locked").
* Never hold a transaction open across an HTTP call (record the intent, commit,
  call, then record the outcome in a new transaction).
* On SQLite the threads of one process (schools worked at once, pool workers)
  take turns at ``Store.write()`` in the process: a long write (a large roster)
  makes the others wait for it, not fail after ``BUSY_TIMEOUT_MS``.
* ``WRITE_HOOK`` is called at the start of every ``Store.write()`` of its
  context, and what it returns before the commit: a sync run stores its own row
  with the first thing it writes (``RunLog``).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

from connector.errors import AccessError, not_writable
from connector.private_files import make_private_dirs

#: How long a connection waits for another writer before "database is locked".
BUSY_TIMEOUT_MS = 10_000

#: Execution option that marks an engine/connection as read-only (deferred BEGIN).
READ_ONLY_OPTION = "connector_read_only"

_DB_FILE_MODE = 0o600


def to_url(value: str | os.PathLike[str]) -> URL:
    """Turn a settings value into a SQLAlchemy URL.

    A value with ``://`` is a SQLAlchemy URL (``sqlite:///...``,
    ``postgresql+psycopg://...``); anything else is a path to a SQLite file,
    made absolute so the result does not depend on the working directory.
    """
    text = os.fspath(value)
    if "://" in text:
        return make_url(text)
    if text == ":memory:":
        return make_url("sqlite://")
    return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for other backends and memory DBs."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the database file 0600 (and its directory 0700) before SQLite does.

    SQLite would create it with the process umask (usually world-readable), and
    the file holds pupil data. An existing file keeps its owner/group bits but
    loses any world bits (pitfalls: owner/group-only permissions).
    """
    try:
        make_private_dirs(path.parent)
    except OSError as exc:
        raise cannot_write(Path(exc.filename or path.parent).parent, exc, kind="folder") from None
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _DB_FILE_MODE)
    except FileExistsError:
        _strip_world_bits(path)
    except OSError as exc:
        raise cannot_write(path.parent, exc, kind="folder") from None
    else:
        os.close(fd)
        os.chmod(path, _DB_FILE_MODE)  # os.open's mode is filtered by the umask
    _check_writable(path)


_WHAT = {
    "folder": " (the database folder: the database and its -wal, -shm and lock files are written there)",
    "file": " (the store: SQLite writes to it, and to its -wal and -shm files, even to read)",
    "lock": " (the database's lock file)",
}


def cannot_write(path: Path, exc: OSError | None = None, *, kind: str = "file") -> AccessError:
    """The AccessError for a database `folder`, `file` (the database, -wal, -shm) or `lock` file
    that this process may not write; the message names it and the fix."""
    return not_writable(path, exc, what=_WHAT[kind], setting="[store] url")


def _check_writable(path: Path) -> None:
    """Refuse, naming the path and the fix, what SQLite would fail on later with no more than
    "unable to open database file": a database, -wal or -shm file, or its folder, that this
    process may not write (another owner, a read-only mount). Readers need it too: in WAL mode
    every connection writes the -shm file, and the first one creates it in the folder."""
    if not path.is_file():
        raise AccessError(f"{path} is not a database file ({'a folder' if path.is_dir() else 'not a regular file'})")
    for target in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if target.exists() and not os.access(target, os.R_OK | os.W_OK):
            raise cannot_write(target)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise cannot_write(path.parent, kind="folder")


def _strip_world_bits(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o007:
        try:
            os.chmod(path, mode & ~0o007)
        except PermissionError as exc:  # another user's file: only its owner can make it private
            raise cannot_write(path, exc) from None


def _install_sqlite_listeners(engine: Engine, path: Path | None) -> None:
    """Per-connection pragmas and BEGIN IMMEDIATE (SQLAlchemy's sqlite recipe)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 driver; the "begin"
        # listener below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself may wait for a lock.
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        if path is not None:
            # SQLite gives -wal/-shm the database file's mode; make sure anyway.
            for suffix in ("-wal", "-shm"):
                _strip_world_bits(path.with_name(path.name + suffix))

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | os.PathLike[str] | URL, **kwargs: Any) -> Engine:
    """Create the store's engine for a path or SQLAlchemy URL.

    For SQLite files the file (and its directory) is created with owner-only
    permissions first; every connection sets busy_timeout, WAL, synchronous
    NORMAL and foreign keys, and every transaction starts with BEGIN IMMEDIATE
    unless the connection carries the ``connector_read_only`` option.
    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    sa_url = url if isinstance(url, URL) else to_url(url)
    if sa_url.get_backend_name() == "sqlite":
        path = sqlite_file(sa_url)
        if path is not None:
            _prepare_sqlite_file(path)
        engine = create_engine(sa_url, **kwargs)
        _install_sqlite_listeners(engine, path)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(sa_url, **kwargs)


def read_only(engine: Engine) -> Engine:
    """A view of ``engine`` (same pool) whose transactions are plain deferred reads."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.

    ``readonly=True`` uses a deferred BEGIN on SQLite and always rolls back.
    Objects stay usable after the block (``expire_on_commit=False``).
    """
    bind = read_only(engine) if readonly else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            if readonly:
                # Detach first: a rollback would expire what was read, and the caller keeps it.
                session.expunge_all()
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise


#: Called with the session at the start of every `Store.write()` in its context (pool threads copy it);
#: what it returns, if not None, is called with the session before the commit.
WriteHook = Callable[[Session], Callable[[Session], None] | None]
WRITE_HOOK: ContextVar[WriteHook | None] = ContextVar("write_hook", default=None)


class Store:
    """The state store: one engine plus write/read transaction helpers."""

    def __init__(self, url_or_engine: str | os.PathLike[str] | URL | Engine) -> None:
        self.engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
        # One SQLite writer at a time anyway: this process's threads queue here, without a timeout.
        # Reentrant, so that a nested write fails as SQLite makes it fail instead of hanging.
        self._writer: AbstractContextManager[Any] = threading.RLock() if self.dialect == "sqlite" else nullcontext()

    @property
    def dialect(self) -> str:
        """Backend name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); commits on success."""
        with self._writer, session_scope(self.engine) as session:
            hook = WRITE_HOOK.get()
            before_commit = hook(session) if hook is not None else None
            yield session
            if before_commit is not None:
                before_commit(session)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot; never takes the SQLite write lock."""
        with session_scope(self.engine, readonly=True) as session:
            yield session

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        from connector.store.migrate import upgrade_engine_to_head

        upgrade_engine_to_head(self.engine)

    def dispose(self) -> None:
        """Close all pooled connections (call before the process exits)."""
        self.engine.dispose()
