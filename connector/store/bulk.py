"""Rows inserted in bulk: one executemany, without the ORM's work per row.

A table with `created_at`/`updated_at` gets both from one clock reading for the whole statement
(the rows are inserted together): given with the rows, they spare SQLAlchemy its Python-side
default per row and column, which costs as much as the rest of the insert (W2-6).

On SQLite the statement SQLAlchemy compiles for the rows' columns is kept per table and column
set, and the rows go to the driver's executemany as tuples already in their stored form, each value
through its column type's own bind processor (so the stored text is SQLAlchemy's, byte for byte):
Core's executemany builds and processes a parameter dict per row, most of a roster sync's storing
CPU. A column left out gets its scalar default as Core would; a table whose missing columns need a
callable or SQL default, and every other database, takes Core's executemany.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session

from connector.store.base import Timestamps
from connector.store.types import utcnow

_STAMPS = ("created_at", "updated_at")
_NOW = object()  # a parameter given the statement's one clock reading


class _Column(NamedTuple):
    """One parameter of the compiled INSERT: a row's value by `name` (`given`), or else `default`."""

    name: str
    process: Callable[[Any], Any] | None
    given: bool
    default: Any


class _Insert(NamedTuple):
    sql: str
    columns: tuple[_Column, ...]

    def values(self, rows: list[dict[str, Any]], now: datetime) -> list[tuple]:
        """The rows' parameters in the statement's order, as the driver takes them."""
        columns = [
            c._replace(default=c.process(now) if c.process else now) if c.default is _NOW else c for c in self.columns
        ]
        return [tuple([(p(row[n]) if p else row[n]) if g else d for n, p, g, d in columns]) for row in rows]


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (column name -> value, the same names in every row) into the model's table in one
    statement."""
    if not rows:
        return
    table, stamped, now = model.__table__, issubclass(model, Timestamps), utcnow()
    connection = session.connection()
    if connection.dialect.name == "sqlite" and (plan := _compiled(connection.dialect, table, tuple(rows[0]), stamped)):
        try:
            values = plan.values(rows, now)
        except Exception:  # a row without a column the first has, a value its type refuses: Core's error
            pass
        else:
            connection.exec_driver_sql(plan.sql, values)
            return
    if stamped:
        rows = [{"created_at": now, "updated_at": now, **row} for row in rows]
    session.exec(insert(table), params=rows)


@lru_cache(maxsize=256)  # per engine's dialect (tests make many engines), table and column set
def _compiled(dialect: Dialect, table: Table, keys: tuple[str, ...], stamped: bool) -> _Insert | None:
    """The INSERT Core compiles for `keys` (and the time stamps if `stamped`), with each parameter's
    bind processor; None when a column missing from `keys` has a default other than a constant
    (computed per row by Core)."""
    stamps = tuple(name for name in _STAMPS if stamped and name not in keys)
    compiled = insert(table).compile(dialect=dialect, column_keys=[*keys, *stamps])
    names = compiled.positiontup
    if names is None or compiled.escaped_bind_names:
        return None
    columns = []
    for name in names:
        if name not in table.c:
            return None
        column = table.c[name]
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if name in stamps:
            columns.append(_Column(name, process, False, _NOW))
        elif name in keys:
            columns.append(_Column(name, process, True, None))
        elif isinstance(column.default, ScalarElementColumnDefault):
            default = column.default.arg
            columns.append(_Column(name, None, False, process(default) if process else default))
        else:
            return None
    return _Insert(compiled.string, tuple(columns))
