"""Alembic environment of the connector's state store.

Normally driven by :mod:`connector.store.migrate`, which passes a live
connection in ``config.attributes["connection"]``. For the alembic CLI the
database comes from ``CONNECTOR_DATABASE_URL`` (a path or SQLAlchemy URL).
No ``fileConfig``: logging is configured by connector.logging_setup.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from connector.store.db import make_engine, to_url
from connector.store.migrate import context_options
from connector.store.models import metadata

config = context.config
target_metadata = metadata


def _database_url() -> str:
    url = os.environ.get("CONNECTOR_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set CONNECTOR_DATABASE_URL to a database path or URL")
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **context_options(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL instead of running it (``alembic upgrade --sql``)."""
    url = to_url(_database_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **context_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the caller's connection, or on one from our engine factory."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
