"""`insert_rows` on SQLite hands the driver tuples in their stored form (W2-6): what it stores is what
SQLAlchemy Core's executemany stores, value for value and type for type, for every column type the
roster tables use (text, integers, booleans, instants with any offset, NULLs, left-out columns with
their defaults, the statement's time stamps) and JSON. What the fast path cannot do as Core does, it
leaves to Core, errors included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from connector.store import Store
from connector.store.bulk import insert_rows
from connector.store.models import (
    Group,
    GroupStaff,
    Guardian,
    IdentityLink,
    Intent,
    Pupil,
    PupilGuardian,
    School,
    SchoolYear,
    Staff,
)

NOW = datetime(2026, 8, 30, 5, 0, 0, 123456, tzinfo=UTC)
ROSTER = (Pupil, Guardian, PupilGuardian, IdentityLink, GroupStaff, Intent)
Rows = dict[type, list[dict[str, Any]]]

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
moments = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def roster(draw: st.DrawFn) -> Rows:
    """Rows for each table, the optional columns left out or given (NULLs included) table by table."""

    def columns(optional: dict[str, st.SearchStrategy]) -> dict[str, st.SearchStrategy]:
        return {name: strategy for name, strategy in optional.items() if draw(st.booleans())}

    pas_ids = draw(st.lists(texts, min_size=1, max_size=6, unique=True))
    pupil = columns(
        {
            "planner_id": st.none() | texts,
            "group_id": st.sampled_from([None, 1]),
            "status": texts,
            "ondersteuningsniveau": st.integers(1, 5),
            "opp": st.booleans(),
            "pas_changed_at": st.none() | moments,
            "archived_at": st.none() | moments,
            "created_at": moments,
            "updated_at": moments,
        }
    )
    guardian = columns({"planner_id": st.none() | texts, "app_active": st.none() | st.booleans()})
    guardian["archived_at"] = st.none() | moments
    payloads = st.none() | st.dictionaries(texts, json_values, max_size=3)
    integers = st.integers(-(2**63), 2**63 - 1)
    intent = columns({"payload": payloads, "state": st.just("confirmed"), "attempts": integers})
    intent |= {"next_attempt_at": st.none() | moments}

    def rows(fixed: list[dict[str, Any]], optional: dict[str, st.SearchStrategy]) -> list[dict[str, Any]]:
        return [row | {name: draw(strategy) for name, strategy in optional.items()} for row in fixed]

    pupils = rows([{"school_id": 1, "pas_id": p, "leerjaar": draw(integers)} for p in pas_ids], pupil)
    guardians = rows([{"school_id": 1, "pas_id": p, "huishouden_id": draw(texts)} for p in pas_ids], guardian)
    intents = rows(
        [
            {"natural_key": p, "idempotency_key": f"{n}", "kind": "open_planner", "payload_hash": draw(texts)}
            for n, p in enumerate(pas_ids)
        ],
        intent,
    )
    ids = range(1, len(pas_ids) + 1)
    links = sorted({(p, g) for p in ids for g in ids if draw(st.booleans())}) or [(1, 1)]
    return {
        Pupil: pupils,
        Guardian: guardians,
        PupilGuardian: [{"pupil_id": p, "guardian_id": g} for p, g in links],
        IdentityLink: [
            {"school_id": 1, "kind": kind, "pas_id": p, "planner_id": f"{kind}:{p}", "matched_by": draw(texts)}
            for p in pas_ids
            for kind in draw(st.sets(st.sampled_from(["group", "child", "staff", "guardian"]), min_size=1))
        ],
        GroupStaff: [{"group_id": 1, "staff_id": 1, **draw(st.sampled_from([{}, {"role": "ib"}]))}],
        Intent: intents,
    }


def core_insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """The plain SQLAlchemy Core insert, the time stamps as `insert_rows` gives them."""
    if "created_at" in model.__table__.c:
        rows = [{"created_at": NOW, "updated_at": NOW, **row} for row in rows]
    session.exec(insert(model.__table__), params=rows)


def add_parents(session: Session) -> None:
    """The school, year, group and staff member the rows refer to (each id 1)."""
    session.add(School(brin="12AB00"))
    session.flush()
    session.add(SchoolYear(school_id=1, pas_id="2026-2027", start_date=date(2026, 8, 1), end_date=date(2027, 7, 31)))
    session.flush()
    session.add_all([Group(school_id=1, school_year_id=1, pas_id="g1"), Staff(school_id=1, pas_id="s1")])
    session.flush()


def stored(store: Store, rows: Rows, write: Callable[[Session, Any, list], None]) -> tuple[dict, list]:
    """Each table's rows as SQLite stores them (each value with its Python type), and the ORM's
    reading of them, after writing `rows` with `write`; rolled back, so the next write starts alike."""
    raw, read = {}, []
    with time_machine.travel(NOW, tick=False), Session(store.engine) as session:
        add_parents(session)
        for model, table_rows in rows.items():
            write(session, model, table_rows)
        connection = session.connection()
        for model in rows:
            name = model.__table__.name
            raw[name] = [
                tuple((type(v).__name__, v) for v in row)
                for row in connection.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY rowid')
            ]
            columns = list(model.__table__.c.keys())
            read += [tuple(getattr(obj, c) for c in columns) for obj in session.exec(select(model))]
        session.rollback()
    return raw, read


@contextmanager
def inserts(store: Store) -> Iterator[list[tuple[str, bool]]]:
    """The INSERT statements executed meanwhile: (table, sent as driver SQL, not compiled by Core)."""
    seen: list[tuple[str, bool]] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT"):
            seen.append((statement.split()[2], context.compiled is None))

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=roster())
def test_rows_are_stored_exactly_as_core_stores_them(store: Store, rows: Rows):
    with inserts(store) as seen:
        fast = stored(store, rows, insert_rows)
    assert fast == stored(store, rows, core_insert)
    assert all(fast[0].values())
    # Each table in one statement, on the fast path (after the parents' ORM inserts).
    assert seen[-len(rows) :] == [(model.__table__.name, True) for model in rows]


def test_no_rows_no_statement(store: Store):
    with inserts(store) as seen, Session(store.engine) as session:
        insert_rows(session, PupilGuardian, [])
        session.rollback()
    assert seen == []


def test_what_core_refuses_fails_as_core_fails(store: Store):
    with Session(store.engine) as session:
        add_parents(session)
        uneven = [{"school_id": 1, "pas_id": "a", "leerjaar": 1}, {"school_id": 1, "pas_id": "b"}]
        with pytest.raises(StatementError, match="A value is required for bind parameter 'leerjaar'"):
            insert_rows(session, Pupil, uneven)
        naive = datetime(2026, 8, 30, 7)
        with pytest.raises(StatementError, match="naive datetime refused"):
            insert_rows(session, Pupil, [{"school_id": 1, "pas_id": "a", "leerjaar": 1, "archived_at": naive}])
        session.rollback()


def test_a_left_out_column_with_a_default_per_row_gets_one_per_row(store: Store):
    rows = [{"natural_key": k, "kind": "open_planner", "payload_hash": "h"} for k in "abc"]
    with Session(store.engine) as session:
        insert_rows(session, Intent, rows)
        keys = session.exec(select(Intent.idempotency_key)).all()
        session.rollback()
    assert len(set(keys)) == 3 and all(keys)


def test_rows_read_back_as_given_on_every_backend(any_store: Store):
    moment = datetime(2026, 11, 23, 8, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    given_rows = [
        {"school_id": 1, "pas_id": "p1", "leerjaar": 3, "opp": True, "pas_changed_at": moment, "group_id": 1},
        {"school_id": 1, "pas_id": "p2", "leerjaar": 8, "opp": False, "pas_changed_at": None, "group_id": None},
    ]
    with any_store.write() as session:
        add_parents(session)
        insert_rows(session, Pupil, given_rows)
    with any_store.read() as session:
        back = session.exec(select(Pupil).order_by(Pupil.pas_id)).all()
    assert [(p.pas_id, p.leerjaar, p.opp, p.pas_changed_at, p.group_id) for p in back] == [
        ("p1", 3, True, moment, 1),
        ("p2", 8, False, None, None),
    ]
    assert back[0].pas_changed_at.tzinfo is UTC and back[0].status == "ingeschreven"
    assert back[0].created_at == back[1].created_at == back[0].updated_at  # one clock reading
