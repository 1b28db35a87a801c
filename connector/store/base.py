"""Shared metadata settings and column helpers for the table models.

Imported by every model module before any table is declared, because the
naming convention is applied when a constraint is attached to its table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic._internal import _fields
from sqlmodel import Field, SQLModel

from connector.store.types import UTCDateTime, utcnow

_takes_validated_data = _fields.takes_validated_data_argument
_asked = cache(_takes_validated_data)


def _takes_validated_data_once(factory: Callable[..., Any]) -> bool:
    """Whether a default factory takes the validated data, asked once per factory. SQLModel builds a
    table model with `get_default(call_default_factory=True)`, and pydantic 2.14 then runs
    `inspect.signature` on each factory at every construction (pydantic issue #13376): a few
    milliseconds per row, for a question whose answer never changes."""
    try:
        return _asked(factory)
    except TypeError:  # an unhashable factory: asked every time, as pydantic does
        return _takes_validated_data(factory)


_fields.takes_validated_data_argument = _takes_validated_data_once  # type: ignore[assignment]

#: Deterministic constraint names, so Alembic can alter/drop them later (also
#: in SQLite batch mode, which needs names to find constraints).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

metadata = SQLModel.metadata

#: What a foreign key does when its row is deleted (the values sqlmodel's Field accepts).
OnDelete = Literal["CASCADE", "SET NULL", "RESTRICT"]


def utc_field(*, nullable: bool = False, index: bool = False, **kw: Any) -> Any:
    """A UTC timestamp column (aware datetimes only; see UTCDateTime)."""
    if not nullable:
        kw.setdefault("default_factory", utcnow)
    else:
        kw.setdefault("default", None)
    return Field(sa_type=UTCDateTime, nullable=nullable, index=index, **kw)


def fk(target: str, *, ondelete: OnDelete = "CASCADE", nullable: bool = False, index: bool = True, **kw: Any) -> Any:
    """A foreign key column, indexed by default (PostgreSQL does not index FKs itself)."""
    if nullable:
        kw.setdefault("default", None)
    return Field(foreign_key=target, ondelete=ondelete, nullable=nullable, index=index, **kw)


class Timestamps(SQLModel):
    """created_at/updated_at, both aware UTC; updated_at moves on every UPDATE."""

    created_at: datetime = utc_field()
    updated_at: datetime = utc_field(sa_column_kwargs={"onupdate": utcnow})
