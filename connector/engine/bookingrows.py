"""The bookings of polled planners, written in bulk: per planner only the bookings that are new or
changed, in one statement per kind of change, and each planner's `last_synced_at` in one statement
for all of them (issue W2-6). A poll that finds nothing new writes the planners' sync moment only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for planner, records in read:
        assert planner.id is not None  # read from the store
        found_new, found_changed = _differences(session, planner.id, records)
        new += found_new
        changed += found_changed
    insert_rows(session, Booking, new)
    if changed:
        session.exec(_UPDATE, params=changed)
    if ids := [planner.id for planner, _ in read]:
        session.exec(update(Planner).where(col(Planner.id).in_(ids)).values(last_synced_at=now))


def _differences(
    session: Session, planner_id: int, records: list[BookingRecord]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The planner's bookings to insert and to update (with their `row_id`)."""
    slots = dict(session.exec(select(Slot.vendor_id, Slot.id).where(Slot.planner_id == planner_id)).all())
    invitees = select(PlannerInvitee.child_planner_id, PlannerInvitee.pupil_id).where(
        PlannerInvitee.planner_id == planner_id
    )
    pupils = dict(session.exec(invitees).all())
    columns = [getattr(Booking, name) for name in FIELDS]
    stored = {
        vendor_id: (row_id, tuple(values))
        for vendor_id, row_id, *values in session.exec(
            select(Booking.vendor_id, Booking.id, *columns).where(Booking.planner_id == planner_id)
        )
    }
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
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
        row = stored.get(booking.booking_id)
        if row is None:
            new.append({"vendor_id": booking.booking_id, "planner_id": planner_id, **values})
        elif row[1] != tuple(values.values()):
            changed.append({"row_id": row[0], **values})
    return new, changed
