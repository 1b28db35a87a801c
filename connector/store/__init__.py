"""The connector's state store: table models, engine factory and migrations.

Typical use at start-up::

    from connector.store import Store, upgrade_to_head

    upgrade_to_head(url)          # create or migrate the database
    store = Store(url)
    with store.write() as session:  # BEGIN IMMEDIATE on SQLite
        session.add(...)
"""

from __future__ import annotations

from connector.store import models
from connector.store.db import Store, make_engine, read_only, session_scope, to_url
from connector.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    schema_diff,
    upgrade_to_head,
)
from connector.store.types import UTCDateTime, utcnow

__all__ = [
    "Store",
    "UTCDateTime",
    "alembic_config",
    "current_revision",
    "head_revision",
    "make_engine",
    "models",
    "read_only",
    "schema_diff",
    "session_scope",
    "to_url",
    "upgrade_to_head",
    "utcnow",
]
