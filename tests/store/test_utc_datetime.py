"""UTCDateTime on SQLite formats and parses an instant in one step (W2-6): the text it writes is the
text SQLAlchemy's DATETIME writes after the type's own conversion, and what it reads back is the
same instant, aware and in UTC. Other databases keep SQLAlchemy's own processors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from connector.store.types import UTCDateTime

SQLITE = sqlite.dialect()
# Instants with any whole-minute UTC offset (as the vendors send them), microseconds included.
moments = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)


def sqlalchemy_text(value: datetime) -> str:
    """What the type wrote before: its own conversion, then SQLite DATETIME's formatting."""
    naive = UTCDateTime().process_bind_param(value, SQLITE)
    return sqlite.DATETIME().bind_processor(SQLITE)(naive)


@given(moments)
def test_sqlite_text_is_sqlalchemys_and_reads_back_as_the_same_instant(moment):
    write = UTCDateTime().bind_processor(SQLITE)
    read = UTCDateTime().result_processor(SQLITE, None)
    text = write(moment)
    assert text == sqlalchemy_text(moment)
    back = read(text)
    assert back == moment and back.tzinfo is UTC
    assert read(sqlite.DATETIME().bind_processor(SQLITE)(back.replace(tzinfo=None))) == moment


def test_text_without_microseconds_or_time_still_reads_as_utc():
    read = UTCDateTime().result_processor(SQLITE, None)
    assert read("2026-11-23 07:00:00") == datetime(2026, 11, 23, 7, tzinfo=UTC)
    assert read(None) is None


def test_sqlite_refuses_what_the_type_refuses():
    write = UTCDateTime().bind_processor(SQLITE)
    assert write(None) is None
    with pytest.raises(ValueError, match="naive datetime refused"):
        write(datetime(2026, 11, 23, 7))
    with pytest.raises(TypeError, match="expects a datetime"):
        write("2026-11-23")


def test_postgresql_keeps_sqlalchemys_processors():
    dialect = postgresql.psycopg.dialect()
    moment = datetime(2026, 11, 23, 8, tzinfo=timezone(timedelta(hours=1)))
    write = UTCDateTime().bind_processor(dialect)
    sent = write(moment) if write else UTCDateTime().process_bind_param(moment, dialect)
    assert sent == moment and sent.tzinfo is UTC
