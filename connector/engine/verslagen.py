"""Verslag checks: after each conversation, a note of the round's category within the deadline,
visible in the ouderportaal (domain.md, "The job" 4). Only note metadata is read, never its text.

A conversation took place when a booked slot lies in the past; a kindgesprek round counts as
held for every pupil at the end of its window. Outcomes: on_time, late, missing, not_visible;
a conversation whose deadline has not passed and has no visible note yet has no outcome yet.
Notes are re-read from the oldest conversation still open, so a note made visible later counts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from connector.engine.context import Step
from connector.store.models import (
    Booking,
    Conversation,
    Group,
    GroupStaff,
    Note,
    Planner,
    Pupil,
    Slot,
    Staff,
    VerslagCheck,
    VerslagOutcome,
)
from connector.yearplan import RoundPlan
from mappings.payloads import map_items, note_from_pas

FINAL = (VerslagOutcome.ON_TIME.value, VerslagOutcome.LATE.value)
RECHECK_DAYS = 60  # after this, a missing or invisible verslag is no longer looked for


def record_conversations(step: Step, plan: RoundPlan, round_id: int) -> int:
    """Store every conversation of the round that has taken place by now; returns the new ones."""
    zone = ZoneInfo(step.school.timezone)
    deadline = timedelta(days=plan.round.verslag.deadline_days)
    category = plan.round.verslag_category
    new = 0
    with step.store.write() as session:
        known = {
            c.pupil_id
            for c in session.exec(
                select(Conversation).where(Conversation.round_id == round_id, Conversation.category == category)
            )
        }
        if plan.round.has_planner:
            rows = session.exec(
                select(Booking, Slot, Planner)
                .join(Slot, Slot.id == Booking.slot_id)
                .join(Planner, Planner.id == Booking.planner_id)
                .where(
                    Planner.round_id == round_id,
                    Booking.status == "booked",
                    Booking.pupil_id.is_not(None),
                    Slot.starts_at <= step.now,
                )
            )
            staff = {s.planner_id: s.id for s in session.exec(select(Staff).where(Staff.planner_id.is_not(None)))}
            for booking, slot, planner in rows:
                if booking.pupil_id in known:
                    continue
                held = slot.starts_at.astimezone(zone)
                session.add(
                    Conversation(
                        school_id=planner.school_id,
                        round_id=round_id,
                        pupil_id=booking.pupil_id,
                        booking_id=booking.id,
                        staff_id=staff.get(slot.staff_ids[0]) if slot.staff_ids else None,
                        category=category,
                        held_on=held.date(),
                        held_at=slot.starts_at,
                        verslag_due_on=held.date() + deadline,
                    )
                )
                known.add(booking.pupil_id)
                new += 1
        elif step.now >= datetime.combine(plan.window_end, time(23, 59), tzinfo=zone):
            start = datetime.combine(plan.window_start, time(0, 0), tzinfo=zone)
            groups = [
                g
                for g in session.exec(select(Group).where(Group.school_id == _school_id(session, step)))
                if set(g.leerjaren) & set(plan.round.groups)
            ]
            for group in groups:
                teacher = session.exec(select(GroupStaff.staff_id).where(GroupStaff.group_id == group.id)).first()
                for pupil in session.exec(select(Pupil).where(Pupil.group_id == group.id, Pupil.archived_at.is_(None))):
                    if pupil.leerjaar not in plan.round.groups or pupil.id in known:
                        continue
                    session.add(
                        Conversation(
                            school_id=group.school_id,
                            round_id=round_id,
                            pupil_id=pupil.id,
                            staff_id=teacher,
                            category=category,
                            source="kindgesprek",
                            held_on=plan.window_end,
                            held_at=start,
                            verslag_due_on=plan.window_end + deadline,
                        )
                    )
                    known.add(pupil.id)
                    new += 1
    if new:
        step.run.event("conversations recorded", f"{plan.round_id}: {new} conversation(s) took place")
        step.run.counts["conversations held"] += new
    return new


def _school_id(session, step: Step) -> int:
    from connector.store.models import School

    return session.exec(select(School.id).where(School.brin == step.school.brin)).one()


def check(step: Step, categories: list[str]) -> dict[str, int]:
    """Read the notes of the open period and judge every open conversation; returns outcome counts."""
    today = step.now.astimezone(ZoneInfo(step.school.timezone)).date()
    with step.store.read() as session:
        school_id = _school_id(session, step)
        open_rows = list(
            session.exec(
                select(Conversation, VerslagCheck, Pupil.pas_id)
                .join(Pupil, Pupil.id == Conversation.pupil_id)
                .outerjoin(VerslagCheck, VerslagCheck.conversation_id == Conversation.id)
                .where(
                    Conversation.school_id == school_id,
                    Conversation.verslag_due_on >= today - timedelta(days=RECHECK_DAYS),
                )
            )
        )
    open_rows = [(c, v, pas) for c, v, pas in open_rows if v is None or v.outcome not in FINAL]
    if not open_rows:
        return {}
    since = min(
        c.held_at or datetime.combine(c.held_on, time(0), tzinfo=ZoneInfo(step.school.timezone))
        for c, _, _ in open_rows
    )
    _pull_notes(step, school_id, categories, since)
    counts: dict[str, int] = {}
    with step.store.write() as session:
        notes: dict[tuple[str, str], list[Note]] = {}
        for note in session.exec(select(Note).where(Note.school_id == school_id, Note.note_created_at >= since)):
            notes.setdefault((note.pupil_pas_id, note.category), []).append(note)
        for conversation, verdict, pas_id in open_rows:
            outcome, note = judge(conversation, notes.get((pas_id, conversation.category), []), today)
            if outcome is None:
                continue
            counts[outcome] = counts.get(outcome, 0) + 1
            row = verdict or VerslagCheck(conversation_id=conversation.id, outcome=outcome)
            row.outcome, row.checked_at = outcome, step.now
            row.note_id, row.note_created_at = (note.pas_id, note.note_created_at) if note else (None, None)
            session.add(row)
    for outcome, number in counts.items():
        step.run.counts[f"verslagen {outcome}"] += number
    return counts


def judge(conversation: Conversation, notes: list[Note], today: date) -> tuple[str | None, Note | None]:
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


def _pull_notes(step: Step, school_id: int, categories: list[str], since: datetime) -> None:
    mapped = map_items(
        "PAS note", step.engine.pas.notes(step.school.brin, categories=categories, created_since=since), note_from_pas
    )
    for error in mapped.errors:
        step.run.event("record failed", str(error), level="error", ids=[error.record_id], count="records failed")
    with step.store.write() as session:
        stored = {
            n.pas_id: n
            for n in session.exec(
                select(Note).where(Note.school_id == school_id, Note.pas_id.in_([m.pas_id for m in mapped.records]))
            )
        }
        for meta in mapped.records:
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
