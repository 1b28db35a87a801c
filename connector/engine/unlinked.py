"""The records one system has that the other has no match for, kept as state (W2-6).

A roster sync matches the PAS groups, pupils and staff with the planner's; what stays unmatched
(a pupil not in the app yet, a planner child with no PAS id) cannot be invited and needs a
person. `status` lists the current set from `unlinked_records`. A sync writes only what
appeared, went or changed its reason, and logs a warning for what appeared or changed: the
hourly sync of a school with six unlinked children writes no row and no event for them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, update

from connector.store.base import metadata
from connector.store.bulk import insert_rows
from connector.store.models import UnlinkedRecord
from mappings.identity import Unmatched

Key = tuple[str, str, str]  # kind, system, record id


def store(session: Session, school_id: int, unmatched: list[Unmatched], run_id: str, now: datetime) -> list[Unmatched]:
    """Make the school's stored set this sync's (in the roster's transaction); returns the
    records that are new or whose reason changed, in the order matching found them."""
    t = metadata.tables["unlinked_records"].c  # five columns: more than sqlmodel's `select` is typed for
    found = session.connection().execute(
        sa_select(t.id, t.kind, t.system, t.record_id, t.reason).where(t.school_id == school_id)
    )
    stored: dict[Key, tuple[int, str]] = {
        (kind, system, rid): (row_id, why) for row_id, kind, system, rid, why in found
    }
    wanted: dict[Key, Unmatched] = {(u.kind, u.system, u.record_id): u for u in unmatched}
    if gone := [row_id for key, (row_id, _) in stored.items() if key not in wanted]:
        session.exec(delete(UnlinkedRecord).where(col(UnlinkedRecord.id).in_(gone)))
    noticed = {key: u for key, u in wanted.items() if key not in stored or stored[key][1] != u.reason}
    new = []
    for key, u in noticed.items():
        if key in stored:
            values = {"reason": u.reason, "run_id": run_id}
            session.exec(update(UnlinkedRecord).where(col(UnlinkedRecord.id) == stored[key][0]).values(values))
        else:
            row = {"kind": u.kind, "system": u.system, "record_id": u.record_id, "reason": u.reason}
            new.append({"school_id": school_id, **row, "since": now, "run_id": run_id})
    insert_rows(session, UnlinkedRecord, new)
    return list(noticed.values())
