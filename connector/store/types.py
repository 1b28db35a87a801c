"""Portable column types for the state store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, always stored and returned in UTC.

    PostgreSQL gets ``timestamptz``; SQLite has no such type, so the value is
    stored as naive UTC text (ordering and comparison stay correct) and made
    aware again on the way out. Naive datetimes are refused on the way in:
    guessing their zone is how DST bugs start (pitfalls: "store instants in UTC").
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite each value takes one step instead of two (this type's, then DATETIME's text formatting or
    # parsing by regular expression), with the text DATETIME itself writes: "2026-11-23 07:00:00.000000".
    # A board's first roster sync writes some 230,000 instants; its verslag check reads tens of thousands.

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        to_utc = self.process_bind_param

        def process(value: datetime | None) -> str | None:
            naive = to_utc(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        from_stored = self.process_result_value

        def process(value: str | None) -> datetime | None:
            return None if value is None else from_stored(datetime.fromisoformat(value), dialect)

        return process


def utcnow() -> datetime:
    """The current instant as an aware UTC datetime (default for timestamp columns)."""
    return datetime.now(UTC)
