"""The roster facts behind the capacity check (`connector/cycle/capacity.py`), read from the store.

Reads only, and leaves a database it did not find alone: `check-config` and `plan` may run before
`init-db`, on a laptop, or beside a daemon. A missing SQLite file is not created, and a database
that cannot be opened, is not at this connector's schema revision (never migrated here) or cannot
be read counts as no roster read yet. Group names and ids come from PAS: made safe to print.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from connector.cycle.capacity import GroupFacts, PupilFacts, SchoolFacts, StaffFacts
from connector.cycle.settings import LoadedSettings
from connector.cycle.settings.models import School as SchoolSettings
from connector.errors import AccessError
from connector.logging_setup import safe_id
from connector.runtime import store_url
from connector.store import Store, current_revision, head_revision, make_engine
from connector.store.db import sqlite_file, to_url
from connector.store.models import Group, GroupStaff, Pupil, School, SchoolYear, Staff

CONNECT_TIMEOUT_SECONDS = 5  # PostgreSQL: a server out of reach must not hold up check-config


def roster_facts(loaded: LoadedSettings, schools: list[SchoolSettings]) -> dict[str, SchoolFacts | None]:
    """Per school (by BRIN), its roster's facts for the settings' school year; None when the roster
    has not been read yet (or the database is missing, at another schema, or unreadable)."""
    unread: dict[str, SchoolFacts | None] = {s.brin: None for s in schools}
    url = to_url(store_url(loaded))
    database = sqlite_file(url)
    if database is not None and not database.exists():
        return unread
    timeout = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = make_engine(url, connect_args=timeout)
    except AccessError:  # a database this user may not write: SQLite cannot read it in WAL mode either
        return unread
    store = Store(engine)
    try:
        if current_revision(engine) != head_revision():
            return unread
        return {s.brin: _school_facts(store, s) for s in schools}
    except SQLAlchemyError:
        return unread
    finally:
        store.dispose()


def _school_facts(store: Store, school: SchoolSettings) -> SchoolFacts | None:
    with store.read() as session:
        row = session.exec(select(School).where(School.brin == school.brin)).first()
        if row is None or row.served_since is None:
            return None
        year = session.exec(
            select(SchoolYear.id).where(SchoolYear.school_id == row.id, SchoolYear.pas_id == school.school_year.year)
        ).first()
        if year is None:
            return None  # read in an earlier school year only
        groups = list(session.exec(select(Group).where(Group.school_year_id == year, col(Group.archived_at).is_(None))))
        ids = [g.id for g in groups]
        pupils: defaultdict[int | None, list[PupilFacts]] = defaultdict(list)
        for group_id, leerjaar, opp, niveau in session.exec(
            select(Pupil.group_id, Pupil.leerjaar, Pupil.opp, Pupil.ondersteuningsniveau).where(
                col(Pupil.group_id).in_(ids), col(Pupil.archived_at).is_(None)
            )
        ):
            pupils[group_id].append(PupilFacts(leerjaar, opp, niveau))
        teachers: defaultdict[int | None, list[str]] = defaultdict(list)
        for group_id, pas_id in session.exec(
            select(GroupStaff.group_id, Staff.pas_id)
            .join(Staff, col(Staff.id) == GroupStaff.staff_id)
            .where(col(GroupStaff.group_id).in_(ids), col(Staff.archived_at).is_(None))
        ):
            teachers[group_id].append(safe_id(pas_id))
        staff = session.exec(select(Staff).where(Staff.school_id == row.id, col(Staff.archived_at).is_(None)))
        return SchoolFacts(
            groups=tuple(
                GroupFacts(
                    pas_id=safe_id(g.pas_id),
                    name=safe_id(g.name or g.pas_id),
                    leerjaren=tuple(g.leerjaren),
                    pupils=tuple(pupils[g.id]),
                    teachers=tuple(sorted(teachers[g.id])),
                )
                for g in groups
            ),
            staff=tuple(StaffFacts(safe_id(s.pas_id), tuple(s.werkdagen), tuple(s.roles)) for s in staff),
        )
