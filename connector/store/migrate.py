"""Alembic, configured in code so it works from an installed package.

The CLI calls :func:`upgrade_to_head` at every start: a new database is
created, an old one migrated. A database already at :data:`HEAD_REVISION` is
recognised by one plain query, so a start with a current schema never imports
Alembic (with mako and the migration scripts, some 12 MB of the daemon's RSS).
Migrations run on a connection from our own engine factory, so they get the
same pragmas, permissions and (on SQLite) ``BEGIN IMMEDIATE``: two processes
starting at once serialise on the lock instead of both migrating.

Developers create a new revision with::

    CONNECTOR_DATABASE_URL=/tmp/dev.db alembic -c connector/store/alembic.ini \
        revision --autogenerate -m "what changed"

and set :data:`HEAD_REVISION` to it (a test fails until they do).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL

from connector.store.db import make_engine, read_only
from connector.store.types import UTCDateTime

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: The newest revision in `migrations/versions/`, known without importing Alembic. A new
#: revision moves it; tests/store/test_migrations.py checks it against Alembic's script directory.
HEAD_REVISION = "0010"
VERSION_TABLE = "alembic_version"


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer connector version than this one."""


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import application types: render UTCDateTime as the
    # plain column type it stores (timestamptz on PostgreSQL).
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def context_options(dialect_name: str) -> dict[str, Any]:
    """Options for ``context.configure``, shared by env.py and :func:`schema_diff`."""
    return {
        "compare_type": True,
        "compare_server_default": True,
        # SQLite cannot ALTER most things: let Alembic copy-and-move tables.
        "render_as_batch": dialect_name == "sqlite",
        "render_item": _render_item,
    }


def alembic_config() -> Config:
    """An Alembic Config that needs neither an ini file nor a working directory.

    Pass a live connection via ``cfg.attributes["connection"]``; env.py uses it.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this version of the connector."""
    return HEAD_REVISION


def _with_engine(url: str | os.PathLike[str] | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(url, Engine):
        return url, False
    return make_engine(url), True


def upgrade_engine_to_head(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to head, in one transaction.

    On SQLite, foreign keys are off while migrating: batch mode rebuilds a
    table by DROP + rename, and with foreign keys on that DROP deletes rows,
    firing ON DELETE CASCADE in the child tables (sqlite.org/lang_altertable,
    "other kinds of table schema changes"). Integrity is checked before commit.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:  # PRAGMA foreign_keys is a no-op inside a transaction
            _pragma(conn, "PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():  # BEGIN IMMEDIATE on SQLite: one migrator at a time
                current = MigrationContext.configure(conn).get_current_revision()
                known = {r.revision for r in script.walk_revisions()}
                if current is not None and current not in known:
                    raise SchemaTooNewError(
                        f"database schema revision {current!r} is unknown to this "
                        f"connector version (newest known: {script.get_current_head()!r}); "
                        "upgrade the connector or restore a matching backup"
                    )
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite and (bad := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"migration broke foreign keys: {bad[:5]!r}")
        finally:
            if sqlite:
                _pragma(conn, "PRAGMA foreign_keys = ON")


def _pragma(conn: Connection, statement: str) -> None:
    """Run a PRAGMA on the DBAPI connection itself, outside SQLAlchemy's transaction handling."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None, "a checked-out connection has its DBAPI connection"
    dbapi.execute(statement)


_MIGRATING = threading.Lock()


def upgrade_to_head(url: str | os.PathLike[str] | URL | Engine) -> str | None:
    """Create or migrate the database at ``url`` to head; returns the revision.

    ``url`` is a SQLite path, a SQLAlchemy URL, or an existing Engine.
    Raises :class:`SchemaTooNewError` when the database is newer than the code.
    """
    engine, owned = _with_engine(url)
    try:
        if current_revision(engine) == HEAD_REVISION:
            return HEAD_REVISION  # current: nothing to do, and Alembic stays unloaded
        with _MIGRATING:  # Alembic's migration context is process-wide: one upgrade at a time
            upgrade_engine_to_head(engine)
        return current_revision(engine)
    finally:
        if owned:
            engine.dispose()


def current_revision(url: str | os.PathLike[str] | URL | Engine) -> str | None:
    """The database's current revision, or None if it was never migrated (read with plain SQL)."""
    engine, owned = _with_engine(url)
    try:
        with read_only(engine).connect() as conn:
            if not inspect(conn).has_table(VERSION_TABLE):
                return None
            rows = [row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
            if len(rows) > 1:  # branches: this project has one line of revisions; let Alembic say what is wrong
                from alembic.runtime.migration import MigrationContext

                return MigrationContext.configure(conn).get_current_revision()
            return rows[0] if rows else None
    finally:
        if owned:
            engine.dispose()


def schema_diff(url: str | os.PathLike[str] | URL | Engine) -> list[Any]:
    """Differences between the models and the database (``alembic check``).

    Empty when the migrations produce exactly what the models describe.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from connector.store.models import metadata

    engine, owned = _with_engine(url)
    try:
        with read_only(engine).connect() as conn:
            ctx = MigrationContext.configure(conn, opts=context_options(engine.dialect.name))
            return list(compare_metadata(ctx, metadata))
    finally:
        if owned:
            engine.dispose()
