"""Fixtures for the state store tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command

from connector.store import Store, alembic_config, make_engine, upgrade_to_head

POSTGRES_ENV = "CONNECTOR_TEST_POSTGRES_URL"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database path whose directory does not exist yet."""
    return tmp_path / "var" / "connector.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A migrated SQLite store on a fresh file."""
    upgrade_to_head(db_path)
    s = Store(db_path)
    yield s
    s.dispose()


def downgrade_to_base(url: str | Path) -> None:
    """Drop everything the migrations created (used to reset a shared database)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, and PostgreSQL when configured."""
    if request.param == "sqlite":
        yield str(tmp_path / "any.db")
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests skipped")
    pytest.importorskip("psycopg", reason="install the 'postgres' extra (psycopg)")
    downgrade_to_base(url)  # start clean even if a previous run was interrupted
    yield url
    downgrade_to_base(url)


@pytest.fixture
def any_store(any_db_url: str) -> Iterator[Store]:
    """A migrated store on SQLite, and on PostgreSQL when configured."""
    upgrade_to_head(any_db_url)
    s = Store(any_db_url)
    yield s
    s.dispose()
