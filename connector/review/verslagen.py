"""Verslagen per school, round and leerkracht (`connector report verslagen`, the web page)."""

from __future__ import annotations

from sqlmodel import select

from connector.review.rounds import OUTCOMES
from connector.store import Store
from connector.store.models import Conversation, Pupil, Round, School, SchoolYear, Staff, VerslagCheck

OVERDUE = ("missing", "not_visible")


def verslag_rows(store: Store, settings, *, brin: str | None = None, round_key: str | None = None) -> list[dict]:
    """Per school, round and teacher (PAS staff id): conversations and verslag outcomes, with the
    PAS pupil ids of each outcome. Rounds of the settings' school year, in the cycle's order."""
    out = []
    with store.read() as session:
        for school in settings.schools:
            if brin and school.brin != brin:
                continue
            order = {r.id: n for n, r in enumerate(settings.cycle_for(school).rounds)}
            query = (
                # sqlmodel types select() for at most four columns (fastapi/sqlmodel#271); it runs with five.
                select(  # type: ignore[call-overload]
                    Round.round_key, Round.kind, Staff.pas_id, Pupil.pas_id, VerslagCheck.outcome
                )
                .select_from(Conversation)
                .join(Round, Round.id == Conversation.round_id)
                .join(SchoolYear, SchoolYear.id == Round.school_year_id)
                .join(School, School.id == Conversation.school_id)
                .join(Pupil, Pupil.id == Conversation.pupil_id)
                .outerjoin(Staff, Staff.id == Conversation.staff_id)
                .outerjoin(VerslagCheck, VerslagCheck.conversation_id == Conversation.id)
                .where(School.brin == school.brin, SchoolYear.pas_id == school.school_year.year)
            )
            if round_key:
                query = query.where(Round.round_key == round_key)
            groups: dict[tuple, dict] = {}
            for key, kind, teacher, pupil, outcome in session.exec(query):
                row = groups.setdefault(
                    (key, teacher), _empty_row(school.brin, school.school_year.year, key, kind, teacher)
                )
                name = outcome or "pending"
                row[name] += 1
                row["conversations"] += 1
                row["pupils"][name].append(pupil)
            for row in groups.values():
                for ids in row["pupils"].values():
                    ids.sort()
            out += sorted(
                groups.values(), key=lambda r: (order.get(r["round"], len(order)), r["round"], r["teacher"] or "~")
            )
    return out


def _empty_row(brin: str, year: str, round_key: str, kind: str, teacher: str | None) -> dict:
    names = (*OUTCOMES, "pending")
    return {
        "brin": brin,
        "school_year": year,
        "round": round_key,
        "kind": kind,
        "teacher": teacher,
        "conversations": 0,
        **dict.fromkeys(names, 0),
        "pupils": {name: [] for name in names},
    }
