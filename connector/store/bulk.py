"""Rows inserted in bulk: one executemany through SQLAlchemy Core, without the ORM's work per row.

A table with `created_at`/`updated_at` gets both from one clock reading for the whole statement
(the rows are inserted together): given with the rows, they spare SQLAlchemy its Python-side
default per row and column, which costs as much as the rest of the insert (W2-6).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from connector.store.base import Timestamps
from connector.store.types import utcnow


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (column name -> value) into the model's table in one statement."""
    if not rows:
        return
    if issubclass(model, Timestamps):
        stamp = utcnow()
        rows = [{"created_at": stamp, "updated_at": stamp, **row} for row in rows]
    session.exec(insert(model.__table__), params=rows)
