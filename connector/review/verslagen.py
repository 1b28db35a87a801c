"""Conversations and verslagen per school, round and leerkracht (`connector report verslagen`, the
weekly overview, the web page).

Every conversation a round expects has one status: its verslag `on_time`, `late`, `missing`,
`not_visible` or `pending` (held, the deadline not passed, no acceptable note yet); `not_required`
(held, in a round whose verslag is the report itself); or `not_seen` (a mandatory invitation no
booking and no dated note met by the round's deadline). A conversation credited to two teachers
(a kindgesprek of duo teachers) is in both teachers' rows.
"""

from __future__ import annotations

from sqlmodel import col, select

from connector.engine.conversations import conversation_word
from connector.store import Store
from connector.store.models import (
    Conversation,
    ConversationSource,
    Pupil,
    Round,
    School,
    SchoolYear,
    Staff,
    VerslagCheck,
)

OUTCOMES = ("on_time", "late", "missing", "not_visible")
STATUSES = (*OUTCOMES, "pending", "not_required", "not_seen")
OVERDUE = ("missing", "not_visible")


def status_of(source: str, outcome: str | None, required: bool) -> str:
    """One conversation's status (see the module's docstring)."""
    if source == ConversationSource.NOT_SEEN.value:
        return "not_seen"
    if not required:
        return "not_required"
    return outcome or "pending"


def verslag_rows(store: Store, settings, *, brin: str | None = None, round_key: str | None = None) -> list[dict]:
    """Per school, round and teacher: the conversations with their statuses, counted and listed
    (PAS pupil ids, never names). Rounds of the settings' school year, in the cycle's order."""
    out = []
    with store.read() as session:
        for school in settings.schools:
            if brin and school.brin != brin:
                continue
            rounds = settings.cycle_for(school).rounds
            order = {r.id: n for n, r in enumerate(rounds)}
            required = {r.id: r.verslag.required for r in rounds}
            query = (
                select(Conversation, Round.round_key, Pupil.pas_id, VerslagCheck.outcome)
                .join(Round, col(Round.id) == Conversation.round_id)
                .join(SchoolYear, col(SchoolYear.id) == Round.school_year_id)
                .join(School, col(School.id) == Conversation.school_id)
                .join(Pupil, col(Pupil.id) == Conversation.pupil_id)
                .outerjoin(VerslagCheck, col(VerslagCheck.conversation_id) == Conversation.id)
                .where(School.brin == school.brin, SchoolYear.pas_id == school.school_year.year)
                .order_by(col(Conversation.held_on), col(Pupil.pas_id), col(Conversation.occasion))
            )
            if round_key:
                query = query.where(Round.round_key == round_key)
            found = list(session.exec(query))
            staff_query = (
                select(Staff).join(School, col(School.id) == Staff.school_id).where(School.brin == school.brin)
            )
            staff = {s.id: s for s in session.exec(staff_query)}
            groups: dict[tuple, dict] = {}
            for conversation, key, pupil, outcome in found:
                if key not in order:
                    continue  # a round no longer in the settings
                kind = next(r.kind.value for r in rounds if r.id == key)
                status = status_of(conversation.source, outcome, required[key])
                item = {
                    "pupil": pupil,
                    "conversation": conversation_word(conversation.occasion),
                    "how": conversation.source,
                    "held_on": None if status == "not_seen" else conversation.held_on.isoformat(),
                    "verslag_due_on": conversation.verslag_due_on.isoformat(),
                    "status": status,
                }
                credited: list[Staff | None] = [staff[s] for s in conversation.staff_ids if s in staff]
                for teacher in credited or [None]:
                    row = groups.setdefault(
                        (key, teacher.pas_id if teacher else None),
                        _empty_row(school.brin, school.school_year.year, key, kind, teacher),
                    )
                    row[status] += 1
                    row["conversations"] += status != "not_seen"
                    row["pupils"][status].append(pupil)
                    row["items"].append(item)
            for row in groups.values():
                for ids in row["pupils"].values():
                    ids.sort()
            out += sorted(
                groups.values(), key=lambda r: (order.get(r["round"], len(order)), r["round"], r["teacher"] or "~")
            )
    return out


def _empty_row(brin: str, year: str, round_key: str, kind: str, teacher: Staff | None) -> dict:
    return {
        "brin": brin,
        "school_year": year,
        "round": round_key,
        "kind": kind,
        "teacher": teacher.pas_id if teacher else None,
        "teacher_name": (teacher.name or None) if teacher else None,
        "conversations": 0,
        **dict.fromkeys(STATUSES, 0),
        "pupils": {name: [] for name in STATUSES},
        "items": [],
    }
