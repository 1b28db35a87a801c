"""Verslag checks: after each conversation, a note of the round's category within the deadline,
visible in the ouderportaal (domain.md, "The job" 4). Only note metadata is read, never its text.

A conversation took place when a booked slot lies in the past; a kindgesprek round counts as
held for every pupil at the end of its window. Outcomes: on_time, late, missing, not_visible;
a conversation whose deadline has not passed and has no visible note yet has no outcome yet.
Notes are re-read from the oldest conversation still open, so a note made visible later counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from connector.cycle.yearplan import RoundPlan
from connector.domain import NoteMeta
from connector.engine import oversight
from connector.engine.actions import Action
from connector.engine.context import Step
from connector.engine.outbox import Message
from connector.engine.planners import ensure_round, find_round
from connector.store.models import (
    Booking,
    Conversation,
    Group,
    GroupStaff,
    Note,
    Planner,
    Pupil,
    School,
    Slot,
    Staff,
    VerslagCheck,
    VerslagOutcome,
)
from mappings.payloads import map_items, note_from_pas

FINAL = (VerslagOutcome.ON_TIME.value, VerslagOutcome.LATE.value)
RECHECK_DAYS = 60  # after this, a missing or invisible verslag is no longer looked for


@dataclass
class Checking:
    """The daily verslag check: the conversations that took place since the last one, the note
    metadata read from PAS, the verdicts on every open conversation, and the teacher reminders."""

    new: list[tuple[RoundPlan, Conversation]]  # unsaved; each gets its round's id when stored
    notes: list[NoteMeta]
    verdicts: list[tuple[Conversation, VerslagCheck | None, str, NoteView | None]]
    reminders: list[Message]

    def actions(self) -> list[Action]:
        held = Counter(rp.round_id for rp, _ in self.new)
        recorded = [Action("record conversations", key, f"{n} took place") for key, n in held.items()]
        outcomes = Counter(outcome for _, _, outcome, _ in self.verdicts)
        judged = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        checks = (
            [Action("store verslag checks", "verslagen", f"{len(self.notes)} notes read; {judged}")]
            if (self.notes or self.verdicts)
            else []
        )
        return recorded + checks + [message.action() for message in self.reminders]

    def execute(self, step: Step, school_id: int, year_id: int) -> None:
        by_round: dict[str, list[Conversation]] = {}
        for rp, conversation in self.new:
            by_round.setdefault(rp.round_id, []).append(conversation)
        for rp in {rp.round_id: rp for rp, _ in self.new}.values():
            round_id = ensure_round(step, rp, school_id, year_id)
            with step.store.write() as session:
                for conversation in by_round[rp.round_id]:
                    conversation.round_id = round_id
                    session.add(conversation)
            step.run.event(
                "conversations recorded", f"{rp.round_id}: {len(by_round[rp.round_id])} conversation(s) took place"
            )
            step.run_log.counts["conversations held"] += len(by_round[rp.round_id])
        _store_notes(step, school_id, self.notes)
        with step.store.write() as session:
            for conversation, verdict, outcome, note in self.verdicts:
                assert conversation.id is not None  # read from the store, or stored above
                row = verdict or VerslagCheck(conversation_id=conversation.id, outcome=outcome)
                row.outcome, row.checked_at = outcome, step.now
                row.note_id, row.note_created_at = (note.pas_id, note.note_created_at) if note else (None, None)
                session.add(row)
        for outcome, number in Counter(outcome for _, _, outcome, _ in self.verdicts).items():
            step.run_log.counts[f"verslagen {outcome}"] += number
        for message in self.reminders:
            message.send(step)


def plan_check(step: Step, rounds: list[RoundPlan], school_id: int | None) -> Checking:
    """What the verslag check of today does (reads only)."""
    new = []
    for rp in rounds:
        new += new_conversations(step, rp, find_round(step, rp))
    if school_id is None:
        return Checking(new, [], [], [])
    categories = sorted({rp.round.verslag_category for rp in rounds})
    notes, verdicts = _judge_open(step, school_id, categories, [c for _, c in new])
    judged = {c.id: outcome for c, _, outcome, _ in verdicts if c.id is not None}
    new_outcomes = {id(c): outcome for c, _, outcome, _ in verdicts if c.id is None}
    reminders = oversight.plan_teacher_reminders(
        step, school_id, judged, [(c, new_outcomes.get(id(c))) for _, c in new]
    )
    return Checking(new, notes, verdicts, reminders)


def new_conversations(step: Step, plan: RoundPlan, round_id: int | None) -> list[tuple[RoundPlan, Conversation]]:
    """Every conversation of the round that has taken place by now and is not stored (unsaved)."""
    zone = ZoneInfo(step.school.timezone)
    deadline = timedelta(days=plan.round.verslag.deadline_days)
    category = plan.round.verslag_category
    out: list[tuple[RoundPlan, Conversation]] = []
    with step.store.read() as session:
        known = set()
        if round_id is not None:
            known = {
                c.pupil_id
                for c in session.exec(
                    select(Conversation).where(Conversation.round_id == round_id, Conversation.category == category)
                )
            }
        if plan.round.has_planner:
            if round_id is None:
                return out
            rows = session.exec(
                select(Booking, Slot, Planner)
                .join(Slot, col(Slot.id) == Booking.slot_id)
                .join(Planner, col(Planner.id) == Booking.planner_id)
                .where(
                    Planner.round_id == round_id,
                    Booking.status == "booked",
                    col(Booking.pupil_id).is_not(None),
                    Slot.starts_at <= step.now,
                )
            )
            staff = {s.planner_id: s.id for s in session.exec(select(Staff).where(col(Staff.planner_id).is_not(None)))}
            for booking, slot, planner in rows:
                assert booking.pupil_id is not None  # the query reads bookings of known pupils only
                if booking.pupil_id in known:
                    continue
                held = slot.starts_at.astimezone(zone)
                conversation = Conversation(
                    school_id=planner.school_id,
                    pupil_id=booking.pupil_id,
                    booking_id=booking.id,
                    staff_id=staff.get(slot.staff_ids[0]) if slot.staff_ids else None,
                    category=category,
                    held_on=held.date(),
                    held_at=slot.starts_at,
                    verslag_due_on=held.date() + deadline,
                )
                out.append((plan, conversation))
                known.add(booking.pupil_id)
        elif step.now >= datetime.combine(plan.window_end, time(23, 59), tzinfo=zone):
            start = datetime.combine(plan.window_start, time(0, 0), tzinfo=zone)
            school = session.exec(select(School.id).where(School.brin == step.school.brin)).first()
            groups = [
                g
                for g in session.exec(select(Group).where(Group.school_id == school))
                if set(g.leerjaren) & set(plan.round.groups)
            ]
            for group in groups:
                teacher = session.exec(select(GroupStaff.staff_id).where(GroupStaff.group_id == group.id)).first()
                for pupil in session.exec(
                    select(Pupil).where(Pupil.group_id == group.id, col(Pupil.archived_at).is_(None))
                ):
                    assert pupil.id is not None  # read from the store
                    if pupil.leerjaar not in plan.round.groups or pupil.id in known:
                        continue
                    conversation = Conversation(
                        school_id=group.school_id,
                        pupil_id=pupil.id,
                        staff_id=teacher,
                        category=category,
                        source="kindgesprek",
                        held_on=plan.window_end,
                        held_at=start,
                        verslag_due_on=plan.window_end + deadline,
                    )
                    out.append((plan, conversation))
                    known.add(pupil.id)
    return out


def _judge_open(
    step: Step, school_id: int, categories: list[str], new: list[Conversation]
) -> tuple[list[NoteMeta], list[tuple[Conversation, VerslagCheck | None, str, NoteView | None]]]:
    """Read the notes of the open period and judge every open conversation (the new ones too)."""
    zone = ZoneInfo(step.school.timezone)
    today = step.now.astimezone(zone).date()
    with step.store.read() as session:
        open_rows = list(
            session.exec(
                select(Conversation, VerslagCheck, Pupil.pas_id)
                .join(Pupil, col(Pupil.id) == Conversation.pupil_id)
                .outerjoin(VerslagCheck, col(VerslagCheck.conversation_id) == Conversation.id)
                .where(
                    Conversation.school_id == school_id,
                    Conversation.verslag_due_on >= today - timedelta(days=RECHECK_DAYS),
                )
            )
        )
        pupils = select(Pupil.id, Pupil.pas_id).where(col(Pupil.id).in_([c.pupil_id for c in new]))
        pas_of = dict(session.exec(pupils).all())
    candidates: list[tuple[Conversation, VerslagCheck | None, str]] = [
        (c, v, pas) for c, v, pas in open_rows if v is None or v.outcome not in FINAL
    ]
    candidates += [(c, None, pas_of[c.pupil_id]) for c in new if c.verslag_due_on >= today - timedelta(RECHECK_DAYS)]
    if not candidates:
        return [], []
    since = min(c.held_at or datetime.combine(c.held_on, time(0), tzinfo=zone) for c, _, _ in candidates)
    mapped = map_items(
        "PAS note", step.engine.pas.notes(step.school.brin, categories=categories, created_since=since), note_from_pas
    )
    for error in mapped.errors:
        step.run.event("record failed", str(error), level="error", ids=[error.record_id], count="records failed")
    fresh_ids = [m.pas_id for m in mapped.records]
    with step.store.read() as session:
        open_period = select(Note).where(Note.school_id == school_id, Note.note_created_at >= since)
        notes = {n.pas_id: _stored_view(n) for n in session.exec(open_period)}
        just_read = select(Note).where(Note.school_id == school_id, col(Note.pas_id).in_(fresh_ids))
        stored = {n.pas_id: _stored_view(n) for n in session.exec(just_read)}
    for meta in mapped.records:  # as `_store_notes` will store them
        note = _fresh_view(stored.get(meta.pas_id), meta)
        if note.note_created_at >= since:
            notes[meta.pas_id] = note
    by_pupil: dict[tuple[str, str], list[NoteView]] = {}
    for note in notes.values():
        by_pupil.setdefault((note.pupil_pas_id, note.category), []).append(note)
    verdicts: list[tuple[Conversation, VerslagCheck | None, str, NoteView | None]] = []
    for conversation, verdict, pas_id in candidates:
        outcome, found = judge(conversation, by_pupil.get((pas_id, conversation.category), []), today)
        if outcome is not None:
            verdicts.append((conversation, verdict, outcome, found))
    return mapped.records, verdicts


@dataclass(frozen=True)
class NoteView:
    """What judging needs of a note, stored or just read."""

    pas_id: str
    pupil_pas_id: str
    category: str
    note_created_at: datetime
    visible: bool


def _stored_view(note: Note) -> NoteView:
    return NoteView(note.pas_id, note.pupil_pas_id, note.category, note.note_created_at, note.visible)


def _fresh_view(stored: NoteView | None, meta: NoteMeta) -> NoteView:
    """A stored note as `_store_notes` will update it (its pupil and moment stay), or a new one."""
    if stored is not None:
        return NoteView(
            stored.pas_id, stored.pupil_pas_id, meta.category, stored.note_created_at, meta.visible_to_parents
        )
    return NoteView(meta.pas_id, meta.pupil_id, meta.category, meta.created_at, meta.visible_to_parents)


def judge(conversation: Conversation, notes: list[NoteView], today: date) -> tuple[str | None, NoteView | None]:
    """The outcome for one conversation given the pupil's notes of its category."""
    after = conversation.held_at or datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    relevant = sorted((n for n in notes if n.note_created_at >= after), key=lambda n: n.note_created_at)
    visible = [n for n in relevant if n.visible]
    due_end = conversation.verslag_due_on
    if visible:
        first = visible[0]
        on_time = first.note_created_at.astimezone(ZoneInfo("Europe/Amsterdam")).date() <= due_end
        return (VerslagOutcome.ON_TIME.value if on_time else VerslagOutcome.LATE.value), first
    if today <= due_end:
        return None, None
    if relevant:
        return VerslagOutcome.NOT_VISIBLE.value, relevant[0]
    return VerslagOutcome.MISSING.value, None


def _store_notes(step: Step, school_id: int, metas: list[NoteMeta]) -> None:
    with step.store.write() as session:
        stored = {
            n.pas_id: n
            for n in session.exec(
                select(Note).where(Note.school_id == school_id, col(Note.pas_id).in_([m.pas_id for m in metas]))
            )
        }
        for meta in metas:
            row = stored.get(meta.pas_id) or Note(
                school_id=school_id,
                pas_id=meta.pas_id,
                pupil_pas_id=meta.pupil_id,
                category=meta.category,
                author_pas_id=meta.author_id,
                note_created_at=meta.created_at,
            )
            row.category, row.visible, row.gespreksdatum = meta.category, meta.visible_to_parents, meta.gespreksdatum
            session.add(row)
