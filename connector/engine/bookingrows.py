"""The bookings of polled planners, written in bulk: what the planners have stored is read with one
query per table for all of them, only the bookings that are new or changed are written, in one
statement per kind of change, and the planners' `last_synced_at` in one statement (issue W2-6).
A poll that finds nothing new writes the planners' sync moment only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from connector.domain import Booking as BookingRecord
from connector.store.bulk import insert_rows
from connector.store.models import Booking, Planner, PlannerInvitee, Slot

# What a poll may change in a stored booking, in this order (the stored tuple is compared with it).
FIELDS = (
    "slot_vendor_id",
    "slot_id",
    "child_planner_id",
    "pupil_id",
    "guardian_planner_id",
    "status",
    "vendor_updated_at",
)
_TABLE = Booking.__table__  # type: ignore[attr-defined]
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("row_id"))


def store(session: Session, read: Sequence[tuple[Planner, list[BookingRecord]]], now: datetime) -> None:
    """Store the bookings read of each planner, and that the planners were synced at `now`."""
    ids = [planner.id for planner, _ in read if planner.id is not None]
    if not ids:
        return
    stored = _stored(session, ids)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for planner, records in read:
        assert planner.id is not None  # read from the store
        slots, pupils, bookings = stored[planner.id]
        for booking in records:
            values = dict(
                zip(
                    FIELDS,
                    (
                        booking.slot_id,
                        slots.get(booking.slot_id),
                        booking.child_id,
                        pupils.get(booking.child_id),
                        booking.guardian_id,
                        booking.status,
                        booking.updated_at,
                    ),
                    strict=True,
                )
            )
            row = bookings.get(booking.booking_id)
            if row is None:
                new.append({"vendor_id": booking.booking_id, "planner_id": planner.id, **values})
            elif row[1] != tuple(values.values()):
                changed.append({"row_id": row[0], **values})
    insert_rows(session, Booking, new)
    if changed:
        session.exec(_UPDATE, params=changed)
    session.exec(update(Planner).where(col(Planner.id).in_(ids)).values(last_synced_at=now))


class _Stored(NamedTuple):
    slots: dict[str | None, int | None]  # vendor id -> row id
    pupils: dict[str, int]  # planner child id -> pupil row id
    bookings: dict[str, tuple[int | None, tuple]]  # vendor id -> (row id, the FIELDS' values)


def _stored(session: Session, planner_ids: list[int]) -> dict[int, _Stored]:
    """What the planners have stored: one query per table for all of them."""
    found = {planner_id: _Stored({}, {}, {}) for planner_id in planner_ids}
    slots = select(Slot.planner_id, Slot.vendor_id, Slot.id).where(col(Slot.planner_id).in_(planner_ids))
    for planner_id, vendor_id, slot_id in session.exec(slots):
        found[planner_id].slots[vendor_id] = slot_id
    invitees = select(PlannerInvitee.planner_id, PlannerInvitee.child_planner_id, PlannerInvitee.pupil_id).where(
        col(PlannerInvitee.planner_id).in_(planner_ids)
    )
    for planner_id, child_id, pupil_id in session.exec(invitees):
        found[planner_id].pupils[child_id] = pupil_id
    columns = [getattr(Booking, name) for name in FIELDS]
    bookings = select(Booking.planner_id, Booking.vendor_id, Booking.id, *columns).where(
        col(Booking.planner_id).in_(planner_ids)
    )
    for planner_id, vendor_id, row_id, *values in session.exec(bookings):
        found[planner_id].bookings[vendor_id] = (row_id, tuple(values))
    return found
