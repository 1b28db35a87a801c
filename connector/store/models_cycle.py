"""The conversation cycle: rounds, planners, slots, bookings, follow-up.

Instants are aware UTC (``UTCDateTime``); business dates (a round's window,
the day a conversation was held, when its verslag is due) are local
``date`` values computed in Europe/Amsterdam by the engine (pitfalls, DST).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from connector.store.base import Timestamps, fk, utc_field


class PlannerStatus(StrEnum):
    """The vendor's planner statuses; ``pending`` = not created at the vendor yet."""

    PENDING = "pending"
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class VerslagOutcome(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    NOT_VISIBLE = "not_visible"  # note exists but not visible in the ouderportaal


class Round(Timestamps, table=True):
    """One round of a school year's cycle; ``round_key`` is the id from settings."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("school_year_id", "round_key"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    school_year_id: int = fk("school_years.id", index=False)
    round_key: str  # e.g. "najaar"
    kind: str  # e.g. "startgesprek", "rapportgesprek", "kindgesprek"
    window_start: date
    window_end: date


class Planner(Timestamps, table=True):
    """A planner we open for one group in one round.

    ``external_ref`` is ours and deterministic (e.g.
    ``sync:12AB00:2026-2027:najaar:71003``): it is how a planner whose
    creation outcome was lost is found again at the vendor.
    """

    __tablename__ = "planners"
    __table_args__ = (Index("ix_planners_round_id_group_id", "round_id", "group_id"),)

    id: int | None = Field(default=None, primary_key=True)
    external_ref: str = Field(unique=True)
    vendor_id: str | None = Field(default=None, unique=True)  # "pln_..."
    school_id: int = fk("schools.id")
    round_id: int = fk("rounds.id", index=False)
    group_id: int = fk("school_groups.id")
    kind: str = "parent_meeting"
    mode: str = "self_select"  # "preferences": families state when they can, the service assigns at closing
    short: int = 0  # invitees the window had no slot for, with the people the conversation needs
    status: str = PlannerStatus.PENDING.value
    opens_at: datetime = utc_field()
    closes_at: datetime = utc_field()
    last_synced_at: datetime | None = utc_field(nullable=True)


class PlannerInvitee(SQLModel, table=True):
    """A pupil invited through a planner; ``mandatory`` says whether the family must book."""

    __tablename__ = "planner_invitees"

    planner_id: int = fk("planners.id", primary_key=True, index=False)
    pupil_id: int = fk("pupils.id", primary_key=True)
    child_planner_id: str
    mandatory: bool = True


class Note(Timestamps, table=True):
    """A note's metadata as the administration reports it: never its text (domain.md, Privacy)."""

    __tablename__ = "notes"
    __table_args__ = (
        UniqueConstraint("school_id", "pas_id"),
        Index("ix_notes_school_id_pupil_pas_id", "school_id", "pupil_pas_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id", index=False)
    pas_id: str
    pupil_pas_id: str
    category: str
    author_pas_id: str
    note_created_at: datetime = utc_field()
    gespreksdatum: date | None = None
    visible: bool = False


class Slot(Timestamps, table=True):
    """A bookable slot; ``staff_ids`` are planner staff ids (teacher, IB, expert)."""

    __tablename__ = "slots"
    __table_args__ = (Index("ix_slots_planner_id_starts_at", "planner_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    planner_id: int = fk("planners.id", index=False)
    vendor_id: str | None = Field(default=None, unique=True)  # "slt_..."
    starts_at: datetime = utc_field()
    ends_at: datetime = utc_field()
    staff_ids: list[str] = Field(default_factory=list, sa_type=JSON)


class Booking(Timestamps, table=True):
    """A booking as last seen at the vendor (status ``booked`` or ``cancelled``)."""

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_planner_id_status", "planner_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    vendor_id: str = Field(unique=True)
    planner_id: int = fk("planners.id", index=False)
    slot_id: int | None = fk("slots.id", ondelete="SET NULL", nullable=True)
    slot_vendor_id: str
    child_planner_id: str
    pupil_id: int | None = fk("pupils.id", ondelete="SET NULL", nullable=True)
    guardian_planner_id: str | None = None
    guardian_id: int | None = fk("guardians.id", ondelete="SET NULL", nullable=True)
    status: str = "booked"
    vendor_created_at: datetime | None = utc_field(nullable=True)
    vendor_updated_at: datetime | None = utc_field(nullable=True)


class ReminderSent(Timestamps, table=True):
    """A reminder to a household that has not booked; at most one per moment.

    ``moment`` names the reminder in the round's schedule (e.g. "first",
    "last_call"). Both parents of a household are reminded together.
    """

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("planner_id", "huishouden_id", "moment"),)

    id: int | None = Field(default=None, primary_key=True)
    planner_id: int = fk("planners.id", index=False)
    huishouden_id: str
    moment: str
    intent_id: int | None = fk("intents.id", ondelete="SET NULL", nullable=True)
    sent_at: datetime | None = utc_field(nullable=True)


class TeacherNotice(Timestamps, table=True):
    """A message to a teacher (families to contact, verslagen overdue).

    ``natural_key`` makes each notice unique, e.g.
    ``not_booked:{planner_external_ref}:{staff_pas_id}``. ``detail`` holds ids
    and counts only, never names.
    """

    __tablename__ = "teacher_notices"

    id: int | None = Field(default=None, primary_key=True)
    natural_key: str = Field(unique=True)
    kind: str
    staff_id: int | None = fk("staff.id", ondelete="SET NULL", nullable=True)
    planner_id: int | None = fk("planners.id", ondelete="SET NULL", nullable=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    intent_id: int | None = fk("intents.id", ondelete="SET NULL", nullable=True)
    sent_at: datetime | None = utc_field(nullable=True)


class ConversationSource(StrEnum):
    BOOKING = "booking"  # a booked slot of a planner, once its time came
    KINDGESPREK = "kindgesprek"  # held in class, one per pupil of the round's groups
    HAND = "hand"  # planned by the teacher for a family without a booking: known from its dated note
    NOT_SEEN = "not_seen"  # a mandatory invitation with no conversation by the round's deadline


class Conversation(Timestamps, table=True):
    """A conversation a round expects of a pupil: one per (planner, child) invitation, or one
    kindgesprek per pupil, with how it is known (``source``).

    ``occasion`` says which: the planner's ``external_ref`` (the main planner or the OPP extra
    one) or ``kindgesprek``. ``category`` is the verslag category due. ``staff_ids`` are the
    teachers (staff row ids) accountable for the verslag, as the director's view credits them.
    """

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("round_id", "pupil_id", "occasion"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    round_id: int = fk("rounds.id", index=False)
    pupil_id: int = fk("pupils.id")
    occasion: str
    booking_id: int | None = fk("bookings.id", ondelete="SET NULL", nullable=True)
    staff_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    category: str
    source: str = ConversationSource.BOOKING.value
    held_on: date  # not seen: the round's last day
    held_at: datetime | None = utc_field(nullable=True)
    verslag_due_on: date = Field(index=True)


class VerslagCheck(Timestamps, table=True):
    """The latest check of a conversation's verslag (one row per conversation).

    Only metadata of the note is kept (id, when): never its text.
    """

    __tablename__ = "verslag_checks"
    __table_args__ = (CheckConstraint("outcome IN ('on_time', 'late', 'missing', 'not_visible')", name="outcome"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = fk("conversations.id", index=False, unique=True)
    outcome: str = Field(index=True)
    note_id: str | None = None
    note_created_at: datetime | None = utc_field(nullable=True)
    checked_at: datetime = utc_field()


__all__ = [
    "Booking",
    "Conversation",
    "ConversationSource",
    "Note",
    "PlannerInvitee",
    "Planner",
    "PlannerStatus",
    "ReminderSent",
    "Round",
    "Slot",
    "TeacherNotice",
    "VerslagCheck",
    "VerslagOutcome",
]
