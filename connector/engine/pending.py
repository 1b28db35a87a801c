"""PAS pupils the roster could not use yet: kept as pending work, never dropped (issue W2-2).

A pupil record that fails mapping (a null, an invalid date) or names a group that is not one of
the school year's is not stored; it is kept in `pending_records` with the moment to read again
from: its own `changed_at` when that can be read, else the `changed_since` of the read that
returned it. The next roster read asks PAS from the oldest of those (or reads everything), so
the record comes back although the watermark moved on. It leaves the list when it maps, or when
a read that would have returned it no longer does (PAS changed or removed it); `status` lists it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from connector.domain import Pupil as PasPupil
from connector.store.models import PendingRecord
from mappings.payloads import Mapped

RESOURCE = "PAS pupil"


@dataclass(frozen=True)
class Held:
    record_id: str
    reason: str
    reread_from: datetime | None


@dataclass(frozen=True)
class Sorted:
    """A pupil read, sorted out: the pupils to store, those held back, the pending ones resolved."""

    pupils: list[PasPupil]
    held: list[Held]
    resolved: list[str]


def stored(session: Session, school_id: int | None) -> list[PendingRecord]:
    if school_id is None:
        return []
    query = select(PendingRecord).where(PendingRecord.school_id == school_id, PendingRecord.resource == RESOURCE)
    return list(session.exec(query.order_by(col(PendingRecord.record_id))))


def read_from(since: datetime | None, pending: Iterable[PendingRecord]) -> datetime | None:
    """The `changed_since` of the next read: the watermark, or earlier so that every pending
    record is returned again (None: read everything)."""
    moments: list[datetime] = []
    for record in pending:
        if record.reread_from is None:
            return None
        moments.append(record.reread_from)
    if since is None:
        return None
    return min([since, *moments])


def sort_out(
    items: list[Any],
    mapped: Mapped[PasPupil],
    groups: set[str],
    asked_since: datetime | None,
    pending: list[PendingRecord],
) -> Sorted:
    """Split a pupil read into what to store and what to hold (with the reason and the moment to
    read again from), and say which pending records are resolved."""
    held = [Held(e.record_id, e.reason, _changed_at(items, e.record_id) or asked_since) for e in mapped.errors]
    pupils = []
    for pupil in mapped.records:
        if pupil.enrolled and pupil.group_id not in groups:
            reason = f"group {pupil.group_id} is not one of the school year's groups"
            held.append(Held(pupil.pas_id, reason, pupil.changed_at or asked_since))
        else:
            pupils.append(pupil)
    returned = {item.get("id") for item in items if isinstance(item, dict)}
    still = {h.record_id for h in held}
    resolved = []
    for record in pending:
        covered = asked_since is None or (record.reread_from is not None and asked_since <= record.reread_from)
        if record.record_id not in still and (record.record_id in returned or covered):
            resolved.append(record.record_id)
    return Sorted(pupils, held, resolved)


def _changed_at(items: list[Any], record_id: str) -> datetime | None:
    for item in items:
        if isinstance(item, dict) and item.get("id") == record_id and isinstance(item.get("changed_at"), str):
            try:
                moment = datetime.fromisoformat(item["changed_at"])
            except ValueError:
                return None
            return moment if moment.tzinfo else None
    return None


def store(session: Session, school_id: int, result: Sorted, now: datetime) -> None:
    """Write the held records and drop the resolved ones (in the roster's transaction)."""
    if result.resolved:
        session.exec(
            delete(PendingRecord).where(
                col(PendingRecord.school_id) == school_id,
                col(PendingRecord.resource) == RESOURCE,
                col(PendingRecord.record_id).in_(result.resolved),
            )
        )
    rows = {r.record_id: r for r in stored(session, school_id)}
    for item in result.held:
        row = rows.get(item.record_id) or PendingRecord(
            school_id=school_id, resource=RESOURCE, record_id=item.record_id, reason=item.reason, first_seen_at=now
        )
        row.reason, row.reread_from, row.last_seen_at = item.reason, item.reread_from, now
        session.add(row)
