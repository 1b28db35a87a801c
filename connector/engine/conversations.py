"""The conversations a round expects, and what the store knows of them (reads only).

A conversation is one (planner, child) invitation met by a booking whose slot has begun, or one
kindgesprek per pupil of the round's groups at the end of its window. An invitation without a
booking once its planner closed (or was cancelled) is open: the teacher may plan it by hand (a
dated note shows it); a mandatory one of a planner that was not cancelled is, after the round's
deadline, a pupil not seen.
Rounds whose window ended before the school's first roster sync ran before the service: nothing
is expected of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from connector.cycle.yearplan import RoundPlan
from connector.engine.context import Step
from connector.engine.occasions import is_support
from connector.store.models import (
    Booking,
    Conversation,
    ConversationSource,
    Group,
    GroupStaff,
    Planner,
    PlannerInvitee,
    PlannerStatus,
    Pupil,
    School,
    Slot,
    Staff,
)

KINDGESPREK = "kindgesprek"  # the occasion of a kindgesprek (planner conversations: the planner's external_ref)
WEEKDAY_CODES = ("ma", "di", "wo", "do", "vr", "za", "zo")


@dataclass
class Record:
    """A conversation as the verslag check works on it: a stored row's columns (`id` set) or a new
    one (`id` None until it is stored; `round_id` None for a kindgesprek of a round not stored yet).
    Plain values, not a table model: a school's check builds thousands of them."""

    school_id: int
    round_id: int | None
    pupil_id: int
    occasion: str
    category: str
    held_on: date
    verslag_due_on: date
    source: str = ConversationSource.BOOKING.value
    held_at: datetime | None = None
    booking_id: int | None = None
    staff_ids: list[int] = field(default_factory=list)
    id: int | None = None

    def values(self) -> dict:
        """The row's columns (without `id`), as a Core insert or update takes them."""
        return {name: getattr(self, name) for name in RECORD_FIELDS if name != "id"}


RECORD_FIELDS = tuple(f.name for f in fields(Record))
RECORD_COLUMNS: tuple[Any, ...] = tuple(col(getattr(Conversation, name)) for name in RECORD_FIELDS)


def columns(*selected: Any) -> Any:
    """A `select` of plain column tuples, no table models built: any number of columns (sqlmodel's
    `select` types at most four)."""
    return select(*selected)


def record(row) -> Record:
    """A Record of a row selected with `RECORD_COLUMNS` first."""
    return Record(*row[: len(RECORD_FIELDS)])


def served_since(step: Step, school_id: int) -> date | None:
    """The local day of the school's first successful roster sync (None: not yet)."""
    with step.store.read() as session:
        school = session.get(School, school_id)
    if school is None or school.served_since is None:
        return None
    return step.local_date(school.served_since)


def before_the_service(plan: RoundPlan, since: date | None) -> bool:
    """A round whose window ended before the service first read the school's roster is not judged."""
    return since is None or plan.window_end < since


@dataclass(frozen=True)
class OpenInvitation:
    """An invitation without a conversation (yet): `stored` is its not-seen row, if any. An optional
    invitation, or one of a cancelled planner, is not `expected`: only a dated note makes it a conversation."""

    plan: RoundPlan
    school_id: int
    round_id: int
    pupil_id: int
    pupil_pas_id: str
    occasion: str
    group_id: int | None
    stored: Record | None = None
    expected: bool = True


@dataclass
class Teachers:
    """Who teaches what: staff rows by id, each group's teachers, and planner staff ids."""

    staff: dict[int, Staff] = field(default_factory=dict)
    of_group: dict[int, list[int]] = field(default_factory=dict)
    by_planner_id: dict[str, int] = field(default_factory=dict)

    def group(self, group_id: int | None) -> list[int]:
        return sorted(self.of_group.get(group_id, [])) if group_id is not None else []

    def on_slot(self, slot_staff: list[str], group_id: int | None) -> list[int]:
        """The slot's teachers of the group (the slot's staff when none of them teaches it)."""
        on = [self.by_planner_id[s] for s in slot_staff if s in self.by_planner_id]
        of_group = [s for s in on if s in self.group(group_id)]
        return sorted(set(of_group or on))

    def working(self, group_id: int | None, day: date) -> list[int]:
        """The group's teachers who work on `day`."""
        code = WEEKDAY_CODES[day.weekday()]
        return [s for s in self.group(group_id) if code in self.staff[s].werkdagen]


def teachers(step: Step, school_id: int) -> Teachers:
    out = Teachers()
    with step.store.read() as session:
        for staff in session.exec(select(Staff).where(Staff.school_id == school_id)):
            assert staff.id is not None  # read from the store
            out.staff[staff.id] = staff
            if staff.planner_id:
                out.by_planner_id[staff.planner_id] = staff.id
        links = select(GroupStaff).join(Group, col(Group.id) == GroupStaff.group_id).where(Group.school_id == school_id)
        for link in session.exec(links):
            out.of_group.setdefault(link.group_id, []).append(link.staff_id)
    return out


def known_occasions(step: Step, round_id: int) -> dict[tuple[int, str], Record]:
    """The round's stored conversations by (pupil row id, occasion)."""
    with step.store.read() as session:
        rows = session.exec(columns(*RECORD_COLUMNS).where(col(Conversation.round_id) == round_id))
        return {(c.pupil_id, c.occasion): c for c in map(record, rows)}


def booked(step: Step, plan: RoundPlan, round_id: int, known, who: Teachers) -> list[Record]:
    """Bookings of the round's planners (not cancelled ones) whose slot has begun and that are not stored."""
    zone = ZoneInfo(step.school.timezone)
    deadline = timedelta(days=plan.round.verslag.deadline_days)
    out = []
    with step.store.read() as session:
        rows = session.exec(
            columns(
                col(Booking.id),
                col(Booking.pupil_id),
                col(Slot.starts_at),
                col(Slot.staff_ids),
                col(Planner.school_id),
                col(Planner.external_ref),
                col(Planner.group_id),
            )
            .join(Slot, col(Slot.id) == Booking.slot_id)
            .join(Planner, col(Planner.id) == Booking.planner_id)
            .where(
                Planner.round_id == round_id,
                Planner.status != PlannerStatus.CANCELLED.value,
                Booking.status == "booked",
                col(Booking.pupil_id).is_not(None),
                Slot.starts_at <= step.now,
            )
            .order_by(col(Slot.starts_at), col(Booking.id))
        )
        for booking_id, pupil_id, starts_at, slot_staff, school_id, occasion, group_id in rows:
            assert pupil_id is not None  # the query reads bookings of known pupils only
            if (pupil_id, occasion) in known:
                continue
            held = starts_at.astimezone(zone).date()
            conversation = Record(
                school_id=school_id,
                round_id=round_id,
                pupil_id=pupil_id,
                occasion=occasion,
                booking_id=booking_id,
                staff_ids=who.on_slot(slot_staff, group_id),
                category=plan.round.verslag_category,
                source=ConversationSource.BOOKING.value,
                held_on=held,
                held_at=starts_at,
                verslag_due_on=held + deadline,
            )
            known[(pupil_id, occasion)] = conversation
            out.append(conversation)
    return out


def kindgesprekken(step: Step, plan: RoundPlan, known, who: Teachers) -> list[Record]:
    """One kindgesprek per current pupil of the round's leerjaren, once the window has ended."""
    zone = ZoneInfo(step.school.timezone)
    if step.now < datetime.combine(plan.window_end, time(23, 59), tzinfo=zone):
        return []
    start = datetime.combine(plan.window_start, time(0, 0), tzinfo=zone)
    out = []
    with step.store.read() as session:
        school = session.exec(select(School.id).where(School.brin == step.school.brin)).first()
        pupils = session.exec(
            select(Pupil.id, Pupil.leerjaar, Group.id, Group.school_id)
            .join(Group, col(Group.id) == Pupil.group_id)
            .where(Group.school_id == school, col(Pupil.archived_at).is_(None))
            .order_by(col(Pupil.id))
        )
        for pupil_id, leerjaar, group_id, school_id in pupils:
            assert pupil_id is not None  # read from the store
            if leerjaar not in plan.round.groups or (pupil_id, KINDGESPREK) in known:
                continue
            conversation = Record(
                school_id=school_id,
                round_id=None,
                pupil_id=pupil_id,
                occasion=KINDGESPREK,
                staff_ids=who.group(group_id),
                category=plan.round.verslag_category,
                source=ConversationSource.KINDGESPREK.value,
                held_on=plan.window_end,
                held_at=start,
                verslag_due_on=plan.window_end + timedelta(days=plan.round.verslag.deadline_days),
            )
            known[(pupil_id, KINDGESPREK)] = conversation
            out.append(conversation)
    return out


def open_invitations(step: Step, plan: RoundPlan, round_id: int, known) -> list[OpenInvitation]:
    """Invitations of the round's planners (closed or cancelled by now) with no conversation but a
    not-seen one, of pupils still at school; in a stable order."""
    out = []
    with step.store.read() as session:
        rows = session.exec(
            columns(
                col(PlannerInvitee.pupil_id),
                col(PlannerInvitee.mandatory),
                col(Planner.external_ref),
                col(Planner.status),
                col(Planner.closes_at),
                col(Planner.school_id),
                col(Planner.group_id),
                col(Pupil.pas_id),
            )
            .join(Planner, col(Planner.id) == PlannerInvitee.planner_id)
            .join(Pupil, col(Pupil.id) == PlannerInvitee.pupil_id)
            .where(
                Planner.round_id == round_id,
                col(Planner.vendor_id).is_not(None),
                col(Pupil.archived_at).is_(None),
            )
            .order_by(col(Pupil.pas_id), col(Planner.external_ref))
        )
        # A pupil invited twice for one conversation (in the group's planner before the app knew them, then in
        # a planner of their own) has it once: a conversation under either invitation meets both.
        seen = [key for key, c in known.items() if c.source != ConversationSource.NOT_SEEN.value]
        met = {(pupil_id, conversation_word(occasion)) for pupil_id, occasion in seen}
        for pupil_id, mandatory, occasion, status, closes_at, school_id, group_id, pupil_pas_id in rows:
            word = (pupil_id, conversation_word(occasion))
            if word in met:
                continue
            met.add(word)
            stored = known.get((pupil_id, occasion))
            cancelled = status == PlannerStatus.CANCELLED.value
            closed = step.now >= closes_at  # its own: a late arrival's planner may close later
            if (stored is not None and stored.source != ConversationSource.NOT_SEEN.value) or not (closed or cancelled):
                continue
            out.append(
                OpenInvitation(
                    plan,
                    school_id,
                    round_id,
                    pupil_id,
                    pupil_pas_id,
                    occasion,
                    group_id,
                    stored,
                    expected=mandatory and not cancelled,
                )
            )
    return out


def conversation_word(occasion: str) -> str:
    """Which conversation of the round an occasion is: `main`, `extra` (a support planner, OPP or IB,
    also a late arrival's `…:opp:PUPILS`) or `kindgesprek`."""
    if occasion == KINDGESPREK:
        return KINDGESPREK
    return "extra" if is_support(occasion) else "main"


def hand_window(plan: RoundPlan) -> tuple[date, date]:
    """The days a note may be dated to show a conversation planned by hand: the window, and up to
    the verslag deadline after it."""
    return plan.window_start, plan.window_end + timedelta(days=plan.round.verslag.deadline_days)
