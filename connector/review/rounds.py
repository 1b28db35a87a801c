"""What happened per school and round, read from the store: for the demo, `status` and reports."""

from __future__ import annotations

from collections import Counter

from sqlmodel import col, select

from connector.review.verslagen import STATUSES, status_of
from connector.store import Store
from connector.store.models import (
    Booking,
    Conversation,
    Intent,
    IntentState,
    Planner,
    PlannerInvitee,
    Round,
    School,
    SchoolYear,
    TeacherNotice,
    VerslagCheck,
)

RELEASED = ("scheduled", "open", "closed")


def round_summaries(store: Store, settings) -> list[dict]:
    """Per school and round of the settings: planners opened, invited, booked, reminders sent,
    families for the teacher to contact, and the verslag outcomes so far."""
    out = []
    with store.read() as session:
        for school in settings.schools:
            school_row = session.exec(select(School).where(School.brin == school.brin)).first()
            year = school.school_year.year
            rounds = {}
            if school_row:
                year_row = session.exec(
                    select(SchoolYear).where(SchoolYear.school_id == school_row.id, SchoolYear.pas_id == year)
                ).first()
                if year_row:
                    rounds = {
                        r.round_key: r for r in session.exec(select(Round).where(Round.school_year_id == year_row.id))
                    }
            for rnd in settings.cycle_for(school).rounds:
                row = rounds.get(rnd.id)
                out.append(_summary(session, school.brin, year, rnd, row))
    return out


def _notice_families(session, planner_ids: list) -> dict[tuple[int, int | None], int]:
    """Per planner and teacher (staff row id): the most families one of its notices listed."""
    out: dict[tuple[int, int | None], int] = {}
    for notice in session.exec(select(TeacherNotice).where(col(TeacherNotice.planner_id).in_(planner_ids))):
        key = (notice.planner_id, notice.staff_id)
        out[key] = max(out.get(key, 0), int(notice.detail.get("families", 0)))
    return out


def _summary(session, brin: str, year: str, rnd, row: Round | None) -> dict:
    summary = {
        "brin": brin,
        "school_year": year,
        "round": rnd.id,
        "name": rnd.name,
        "kind": rnd.kind.value,
        "uses_planner": rnd.has_planner,
        "planners_opened": 0,
        "invited": 0,
        "booked": 0,
        "reminders_sent": 0,
        "families_to_contact": 0,
        "conversations": 0,
        "not_seen": 0,
        "verslagen": dict.fromkeys(STATUSES[:-1], 0),
    }
    if row is None:
        return summary
    planners = list(session.exec(select(Planner).where(Planner.round_id == row.id)))
    ids = [p.id for p in planners]
    summary["planners_opened"] = sum(1 for p in planners if p.vendor_id and p.status in RELEASED)
    summary["invited"] = len(
        set(
            session.exec(
                select(PlannerInvitee.pupil_id).where(
                    col(PlannerInvitee.planner_id).in_(ids), PlannerInvitee.child_planner_id != ""
                )
            )
        )
    )
    summary["booked"] = len(
        set(
            session.exec(
                select(Booking.pupil_id).where(
                    col(Booking.planner_id).in_(ids), Booking.status == "booked", col(Booking.pupil_id).is_not(None)
                )
            )
        )
    )
    prefix = f"remind:{brin}:{year}:{rnd.id}:"
    summary["reminders_sent"] = len(
        list(
            session.exec(
                select(Intent.id).where(
                    col(Intent.natural_key).startswith(prefix), Intent.state == IntentState.CONFIRMED.value
                )
            )
        )
    )
    per_planner: dict[int, int] = {}
    for (planner_id, _), count in _notice_families(session, ids).items():
        per_planner[planner_id] = max(per_planner.get(planner_id, 0), count)
    summary["families_to_contact"] = sum(per_planner.values())
    statuses: Counter[str] = Counter()
    conversations = session.exec(
        select(Conversation.source, VerslagCheck.outcome)
        .outerjoin(VerslagCheck, col(VerslagCheck.conversation_id) == Conversation.id)
        .where(Conversation.round_id == row.id)
    )
    for source, outcome in conversations:
        statuses[status_of(source, outcome, rnd.verslag.required)] += 1
    summary["not_seen"] = statuses.pop("not_seen", 0)
    summary["conversations"] = sum(statuses.values())
    summary["verslagen"].update(statuses)
    return summary
