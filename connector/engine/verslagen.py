"""Verslag checks: after each conversation, a note of the round's category within the deadline,
visible in the ouderportaal when the round asks it (domain.md, "The job" 4). Only note metadata
is read, never its text.

Each day: the conversations held since (`conversations.py`) are recorded; every open one gets its
own note (`notematch.py`: one note never credits two conversations); a dated note for a pupil the
teacher had to plan by hand records that conversation; an invitation still without one after the
round's deadline is recorded as not seen. Outcomes: on_time, late, missing, not_visible; a
conversation whose deadline has not passed and has no acceptable note yet has none (pending). A
round with `verslag.required = false` records its conversations and judges no verslag. Notes are
re-read from the oldest conversation still open, so a note made visible later counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from connector.cycle.yearplan import RoundPlan
from connector.domain import NoteMeta
from connector.engine import conversations, oversight
from connector.engine.actions import Action
from connector.engine.context import Step
from connector.engine.conversations import OpenInvitation, Record, Teachers, columns
from connector.engine.notematch import Held, NoteView, Rules, Unbooked, hand_planned, match, verdict
from connector.engine.outbox import Message, send_all
from connector.engine.planners import ensure_round, find_round
from connector.store.bulk import insert_rows
from connector.store.models import (
    Booking,
    Conversation,
    ConversationSource,
    Note,
    Planner,
    Pupil,
    Round,
    Slot,
    VerslagCheck,
    VerslagOutcome,
)
from mappings.payloads import map_items, note_from_pas

FINAL = (VerslagOutcome.ON_TIME.value, VerslagOutcome.LATE.value)
RECHECK_DAYS = 60  # after this, a missing or invisible verslag (or a pupil not seen) is no longer looked for


@dataclass
class Open:
    """A conversation being judged today: stored or new, with its round's plan and latest check."""

    conversation: Record
    plan: RoundPlan
    pupil_pas_id: str
    check: int | None = None  # the id of its stored check
    note: NoteView | None = None


@dataclass
class Checking:
    """The daily verslag check: the conversations to record (new, or stored ones that changed), the
    note metadata read from PAS, the verdicts on every open conversation, and the teacher reminders."""

    new: list[tuple[RoundPlan, Record]] = field(default_factory=list)  # each gets its round's id when stored
    changed: list[Record] = field(default_factory=list)
    notes: list[NoteMeta] = field(default_factory=list)
    verdicts: list[tuple[Record, int | None, str, NoteView | None]] = field(default_factory=list)  # check id
    reminders: list[Message] = field(default_factory=list)
    seen_late: int = 0  # stored as not seen, now known to be planned by hand

    def actions(self) -> list[Action]:
        held: Counter[tuple[str, str]] = Counter((rp.round_id, c.source) for rp, c in self.new)
        recorded = []
        for key in sorted({k for k, _ in held}):
            parts = [f"{held[(key, s.value)]} {_WORDS[s]}" for s in ConversationSource if held[(key, s.value)]]
            recorded.append(Action("record conversations", key, ", ".join(parts)))
        if self.seen_late:
            recorded.append(Action("record conversations", "not seen", f"{self.seen_late} seen after all, by hand"))
        outcomes = Counter(outcome for _, _, outcome, _ in self.verdicts)
        judged = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        checks = (
            [Action("store verslag checks", "verslagen", f"{len(self.notes)} notes read; {judged}")]
            if (self.notes or self.verdicts)
            else []
        )
        return recorded + checks + [message.action() for message in self.reminders]

    def execute(self, step: Step, school_id: int, year_id: int) -> None:
        by_round: dict[str, list[Record]] = {}
        for rp, conversation in self.new:
            by_round.setdefault(rp.round_id, []).append(conversation)
        plans = {rp.round_id: rp for rp, _ in self.new}
        round_ids = {key: ensure_round(step, rp, school_id, year_id) for key, rp in plans.items()}
        with step.store.write() as session:  # one transaction: every row in bulk, only rows that change
            for key, records in by_round.items():
                _insert_conversations(session, round_ids[key], records)
            _update_conversations(session, self.changed)
            _store_notes(session, school_id, self.notes)
            _store_checks(session, self.verdicts, step.now)
        for rp in plans.values():
            counted = Counter(c.source for c in by_round[rp.round_id])
            step.run.event(
                "conversations recorded",
                f"{rp.round_id}: "
                + ", ".join(f"{n} {_WORDS[ConversationSource(s)]}" for s, n in sorted(counted.items())),
            )
            step.run_log.counts["conversations held"] += sum(
                n for s, n in counted.items() if s != ConversationSource.NOT_SEEN.value
            )
            step.run_log.counts["pupils not seen"] += counted[ConversationSource.NOT_SEEN.value]
        # A pupil recorded as not seen whose dated verslag came later: seen after all.
        step.run_log.counts["conversations held"] += self.seen_late
        for outcome, number in Counter(outcome for _, _, outcome, _ in self.verdicts).items():
            step.run_log.counts[f"verslagen {outcome}"] += number
        send_all(step, self.reminders)


_WORDS = {
    ConversationSource.BOOKING: "took place",
    ConversationSource.KINDGESPREK: "kindgesprekken held",
    ConversationSource.HAND: "planned by hand",
    ConversationSource.NOT_SEEN: "not seen",
}


def plan_check(step: Step, rounds: list[RoundPlan], school_id: int | None) -> Checking:
    """What the verslag check of today does (reads only). `rounds`: those whose window has begun."""
    checking = Checking()
    if school_id is None:
        return checking
    since = conversations.served_since(step, school_id)
    rounds = [rp for rp in rounds if not conversations.before_the_service(rp, since)]
    today = step.local_date()
    who = conversations.teachers(step, school_id)
    invitations: list[OpenInvitation] = []
    fresh: list[Open] = []
    for rp in rounds:
        round_id = find_round(step, rp)
        known = conversations.known_occasions(step, round_id) if round_id is not None else {}
        if rp.round.has_planner:
            if round_id is None:
                continue
            new = conversations.booked(step, rp, round_id, known, who)
            if today <= conversations.hand_window(rp)[1] + timedelta(days=RECHECK_DAYS):
                invitations += conversations.open_invitations(step, rp, round_id, known)
        else:
            new = conversations.kindgesprekken(step, rp, known, who)
        checking.new += [(rp, c) for c in new]
        fresh += [Open(c, rp, "") for c in new]
    _judge(step, school_id, rounds, fresh, invitations, who, checking)
    return checking


def _judge(
    step: Step,
    school_id: int,
    rounds: list[RoundPlan],
    fresh: list[Open],
    invitations: list[OpenInvitation],
    who: Teachers,
    checking: Checking,
) -> None:
    """Match notes to every open conversation, record those planned by hand or not seen, judge."""
    zone = ZoneInfo(step.school.timezone)
    today = step.now.astimezone(zone).date()
    candidates = _stored_open(step, school_id, {rp.round_id: rp for rp in rounds}, today) + fresh
    _fill_pupil_ids(step, candidates)
    starts = [c.conversation.held_at or _midnight(c.conversation.held_on, zone) for c in candidates]
    starts += [_midnight(i.plan.window_start, zone) for i in invitations]
    if not starts:
        return
    categories = sorted({rp.round.verslag_category for rp in rounds})
    checking.notes, notes = _read_notes(step, school_id, categories, min(starts))
    claimed = _claimed(step, school_id)
    found = match([_held(n, c, zone) for n, c in enumerate(candidates)], notes, claimed)
    for n, candidate in enumerate(candidates):
        candidate.note = found.get(n)
    unbooked = [
        Unbooked(n, i.pupil_pas_id, i.plan.round.verslag_category, *conversations.hand_window(i.plan))
        for n, i in enumerate(invitations)
    ]
    by_hand = hand_planned(unbooked, notes, claimed)
    for n, invitation in enumerate(invitations):
        note = by_hand.get(n)
        if note is not None:
            candidates.append(_planned_by_hand(invitation, note, who, zone, checking))
        elif (
            invitation.expected and invitation.stored is None and today > conversations.hand_window(invitation.plan)[1]
        ):
            checking.new.append((invitation.plan, _not_seen(invitation, who)))
    context = _context(step, candidates)
    reminded = []
    for candidate in candidates:
        conversation = candidate.conversation
        credit = _credit(conversation, candidate.note, who, context)
        if credit != conversation.staff_ids:
            conversation.staff_ids = credit
            if conversation.id is not None:
                checking.changed.append(conversation)
        if not candidate.plan.round.verslag.required:
            continue
        rules = Rules(conversation.verslag_due_on, candidate.plan.round.verslag.visible_in_ouderportaal)
        outcome = verdict(candidate.note, rules, today, zone)
        if outcome is not None:
            checking.verdicts.append((conversation, candidate.check, outcome, candidate.note))
        reminded.append((conversation, outcome, candidate.pupil_pas_id))
    checking.changed = list({id(c): c for c in checking.changed}.values())  # a row changed twice is stored once
    checking.reminders = oversight.plan_teacher_reminders(step, reminded)


def _midnight(day, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _held(key: int, candidate: Open, zone: ZoneInfo) -> Held:
    c = candidate.conversation
    start = c.held_at or _midnight(c.held_on, zone)
    first = start.astimezone(zone).date() if c.source == ConversationSource.KINDGESPREK.value else c.held_on
    return Held(key, candidate.pupil_pas_id, c.category, first, c.held_on, start)


def _stored_open(step: Step, school_id: int, plans: dict[str, RoundPlan], today) -> list[Open]:
    """Stored conversations of the judged rounds still open: held, without a final verdict, recent."""
    with step.store.read() as session:
        rows = session.exec(
            columns(
                *conversations.RECORD_COLUMNS, col(VerslagCheck.id), col(VerslagCheck.outcome), col(Round.round_key)
            )
            .join(Round, col(Round.id) == Conversation.round_id)
            .outerjoin(VerslagCheck, col(VerslagCheck.conversation_id) == Conversation.id)
            .where(
                Conversation.school_id == school_id,
                Conversation.source != ConversationSource.NOT_SEEN.value,
                Conversation.verslag_due_on >= today - timedelta(days=RECHECK_DAYS),
            )
            .order_by(col(Conversation.id))
        )
        return [
            Open(conversations.record(row), plans[key], "", check)
            for row in rows
            for check, outcome, key in [row[-3:]]
            if key in plans and (check is None or outcome not in FINAL)
        ]


def _fill_pupil_ids(step: Step, candidates: list[Open]) -> None:
    with step.store.read() as session:
        query = select(Pupil.id, Pupil.pas_id).where(col(Pupil.id).in_({c.conversation.pupil_id for c in candidates}))
        pas_of = dict(session.exec(query).all())
    for candidate in candidates:
        candidate.pupil_pas_id = pas_of[candidate.conversation.pupil_id]


def _claimed(step: Step, school_id: int) -> set[str]:
    """Notes that are another conversation's verslag for good."""
    with step.store.read() as session:
        query = (
            select(VerslagCheck.note_id)
            .join(Conversation, col(Conversation.id) == VerslagCheck.conversation_id)
            .where(
                Conversation.school_id == school_id,
                col(VerslagCheck.outcome).in_(FINAL),
                col(VerslagCheck.note_id).is_not(None),
            )
        )
        return {note_id for note_id in session.exec(query) if note_id}


def _planned_by_hand(
    invitation: OpenInvitation, note: NoteView, who: Teachers, zone: ZoneInfo, checking: Checking
) -> Open:
    """The conversation a dated note shows the teacher held with a family that did not book."""
    assert note.gespreksdatum is not None  # `hand_planned` hands out dated notes only
    day = note.gespreksdatum
    due = day + timedelta(days=invitation.plan.round.verslag.deadline_days)
    conversation = invitation.stored or Record(
        school_id=invitation.school_id,
        round_id=invitation.round_id,
        pupil_id=invitation.pupil_id,
        occasion=invitation.occasion,
        category=invitation.plan.round.verslag_category,
        held_on=day,
        verslag_due_on=due,
    )
    conversation.source = ConversationSource.HAND.value
    conversation.held_on, conversation.held_at, conversation.verslag_due_on = day, _midnight(day, zone), due
    conversation.staff_ids = who.group(invitation.group_id)
    if invitation.stored is None:
        checking.new.append((invitation.plan, conversation))
    else:
        checking.changed.append(conversation)
        checking.seen_late += 1
    return Open(conversation, invitation.plan, invitation.pupil_pas_id, note=note)


def _not_seen(invitation: OpenInvitation, who: Teachers) -> Record:
    """A mandatory invitation that no booking and no dated note met by the round's deadline."""
    plan = invitation.plan
    return Record(
        school_id=invitation.school_id,
        round_id=invitation.round_id,
        pupil_id=invitation.pupil_id,
        occasion=invitation.occasion,
        staff_ids=who.group(invitation.group_id),
        category=plan.round.verslag_category,
        source=ConversationSource.NOT_SEEN.value,
        held_on=plan.window_end,
        verslag_due_on=plan.verslag_deadline,
    )


@dataclass
class _Context:
    """What crediting a teacher needs: each booking's slot staff and group, each pupil's group."""

    slots: dict[int, tuple[list[str], int]]
    groups: dict[int, int | None]


def _context(step: Step, candidates: list[Open]) -> _Context:
    bookings = {c.conversation.booking_id for c in candidates if c.conversation.booking_id is not None}
    pupils = {c.conversation.pupil_id for c in candidates}
    with step.store.read() as session:
        slot_rows = session.exec(
            select(Booking.id, Slot.staff_ids, Planner.group_id)
            .join(Slot, col(Slot.id) == Booking.slot_id)
            .join(Planner, col(Planner.id) == Booking.planner_id)
            .where(col(Booking.id).in_(bookings))
        )
        slots: dict[int, tuple[list[str], int]] = {}
        for booking_id, staff, group in slot_rows:
            assert booking_id is not None  # read from the store
            slots[booking_id] = (list(staff), group)
        groups: dict[int, int | None] = {}
        for pupil_id, group_id in session.exec(select(Pupil.id, Pupil.group_id).where(col(Pupil.id).in_(pupils))):
            assert pupil_id is not None  # read from the store
            groups[pupil_id] = group_id
    return _Context(slots, groups)


def _credit(conversation: Record, note: NoteView | None, who: Teachers, context: _Context) -> list[int]:
    """The teachers accountable for the verslag: those on the booked slot (a duo slot: the note's
    author when that is one of them); otherwise the group's teachers who work on the day the note
    is dated, else all of them."""
    if conversation.booking_id is not None and conversation.booking_id in context.slots:
        staff, group = context.slots[conversation.booking_id]
        base = who.on_slot(staff, group)
    else:
        group_id = context.groups.get(conversation.pupil_id)
        base = who.group(group_id)
        if note is not None and note.gespreksdatum is not None:
            base = who.working(group_id, note.gespreksdatum) or base
    if not base:
        return conversation.staff_ids  # nobody linked now: keep whom it was credited to
    author = [s for s in base if note is not None and who.staff[s].pas_id == note.author_pas_id]
    return author if author and len(base) > 1 else base


def _read_notes(
    step: Step, school_id: int, categories: list[str], since: datetime
) -> tuple[list[NoteMeta], list[NoteView]]:
    """The notes of the categories created since `since`: read from PAS, over what is stored."""
    mapped = map_items(
        "PAS note", step.engine.pas.notes(step.school.brin, categories=categories, created_since=since), note_from_pas
    )
    for error in mapped.errors:
        step.run.event("record failed", str(error), level="error", ids=[error.record_id], count="records failed")
    fresh_ids = [m.pas_id for m in mapped.records]
    with step.store.read() as session:
        open_period = columns(*_VIEW).where(col(Note.school_id) == school_id, col(Note.note_created_at) >= since)
        notes = {n.pas_id: n for n in map(_stored_view, session.exec(open_period)) if n.category in categories}
        just_read = columns(*_VIEW).where(col(Note.school_id) == school_id, col(Note.pas_id).in_(fresh_ids))
        stored = {n.pas_id: n for n in map(_stored_view, session.exec(just_read))}
    for meta in mapped.records:  # as `_store_notes` will store them
        note = _fresh_view(stored.get(meta.pas_id), meta)
        if note.note_created_at >= since:
            notes[meta.pas_id] = note
    return mapped.records, list(notes.values())


_VIEW = (
    col(Note.pas_id),
    col(Note.pupil_pas_id),
    col(Note.category),
    col(Note.note_created_at),
    col(Note.visible),
    col(Note.gespreksdatum),
    col(Note.author_pas_id),
)  # a stored note's columns in NoteView's order


def _stored_view(row) -> NoteView:
    return NoteView(*row)


def _fresh_view(stored: NoteView | None, meta: NoteMeta) -> NoteView:
    """A stored note as `_store_notes` will update it (its pupil, moment and author stay), or a new one."""
    if stored is not None:
        return NoteView(
            stored.pas_id,
            stored.pupil_pas_id,
            meta.category,
            stored.note_created_at,
            meta.visible_to_parents,
            meta.gespreksdatum,
            stored.author_pas_id,
        )
    return NoteView(
        meta.pas_id,
        meta.pupil_id,
        meta.category,
        meta.created_at,
        meta.visible_to_parents,
        meta.gespreksdatum,
        meta.author_id,
    )


def _store_notes(session: Session, school_id: int, metas: list[NoteMeta]) -> None:
    """New notes inserted, stored ones updated where PAS changed them (their pupil, moment and author stay)."""
    latest = {m.pas_id: m for m in metas}  # a note listed twice: as last listed
    query = columns(Note.id, Note.pas_id, Note.category, Note.visible, Note.gespreksdatum).where(
        col(Note.school_id) == school_id, col(Note.pas_id).in_(list(latest))
    )
    stored = {pas_id: (row_id, tuple(rest)) for row_id, pas_id, *rest in session.exec(query)}
    new, changed = [], []
    for meta in latest.values():
        values = {"category": meta.category, "visible": meta.visible_to_parents, "gespreksdatum": meta.gespreksdatum}
        if meta.pas_id not in stored:
            new.append(
                {
                    "school_id": school_id,
                    "pas_id": meta.pas_id,
                    "pupil_pas_id": meta.pupil_id,
                    "author_pas_id": meta.author_id,
                    "note_created_at": meta.created_at,
                    **values,
                }
            )
        elif stored[meta.pas_id][1] != tuple(values.values()):
            changed.append({"row_id": stored[meta.pas_id][0], **values})
    insert_rows(session, Note, new)
    _update(session, Note, changed)


def _insert_conversations(session: Session, round_id: int, records: list[Record]) -> None:
    """The round's new conversations, each given its round and its row id."""
    for conversation in records:
        conversation.round_id = round_id
    insert_rows(session, Conversation, [c.values() for c in records])
    ids = session.exec(
        select(Conversation.id, Conversation.pupil_id, Conversation.occasion).where(Conversation.round_id == round_id)
    )
    by_key = {(pupil_id, occasion): row_id for row_id, pupil_id, occasion in ids}
    for conversation in records:
        conversation.id = by_key[(conversation.pupil_id, conversation.occasion)]


def _update_conversations(session: Session, records: list[Record]) -> None:
    _update(session, Conversation, [{"row_id": c.id, **c.values()} for c in records])


def _store_checks(
    session: Session, verdicts: list[tuple[Record, int | None, str, NoteView | None]], now: datetime
) -> None:
    """Each judged conversation's check: its latest outcome and note, checked now."""
    new, stored = [], []
    for conversation, check, outcome, note in verdicts:
        assert conversation.id is not None  # read from the store, or stored above
        values = {
            "outcome": outcome,
            "checked_at": now,
            "note_id": note.pas_id if note else None,
            "note_created_at": note.note_created_at if note else None,
        }
        if check is None:
            new.append({"conversation_id": conversation.id, **values})
        else:
            stored.append({"row_id": check, **values})
    insert_rows(session, VerslagCheck, new)
    _update(session, VerslagCheck, stored)


def _update(session: Session, model, rows: list[dict]) -> None:
    """One executemany: each row's columns set on the row with id `row_id` (`updated_at` moves)."""
    if rows:
        table = model.__table__
        session.exec(update(table).where(table.c.id == bindparam("row_id")), params=rows)
