"""The families each teacher must contact (`connector report contact`, `status --json`, the web page).

A teacher's list is what their notices said, read back from the store: at a round's closing, per
group, every mandatory invitation of its planners (the main and the support conversation) without
a booking; when a planner was cancelled in the planner, every family it invited. Each family is
a pupil's PAS id (the leerlingnummer the web page shows) with the reason; never a name: the
teacher has those from the planner's message.
"""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select

from connector.engine.occasions import is_support
from connector.store import Store
from connector.store.models import (
    Booking,
    Group,
    Planner,
    PlannerInvitee,
    Pupil,
    Round,
    School,
    SchoolYear,
    Staff,
    TeacherNotice,
)

#: Why a family is on a teacher's list, as a code (`REASON_WORDS` says it in English).
#: The store does not keep which parents activated the app, so "no booking" covers both a family that
#: did not choose a time and one that could not (the teacher's message, from the planner, says which).
REASONS = ("not_in_app", "no_booking", "planner_cancelled")
REASON_WORDS = {
    "not_in_app": "cannot book: the pupil is not in the app",
    "no_booking": "no booking when the planner closed",
    "planner_cancelled": "the planner was cancelled",
}


def contact_rows(store: Store, settings, *, brin: str | None = None, round_key: str | None = None) -> list[dict]:
    """Per school, round and teacher (PAS id, and name for the reports): the families to contact,
    each `{"pupil", "group", "conversation" ("main"/"support"), "reason"}`, and their count. A duo
    group's families are on both teachers' lists. Rounds of the settings' school year, in the
    cycle's order; teachers by PAS id."""
    out: list[dict] = []
    with store.read() as session:
        for school in settings.schools:
            if brin and school.brin != brin:
                continue
            order = {r.id: n for n, r in enumerate(settings.cycle_for(school).rounds)}
            rows = session.exec(
                select(TeacherNotice, Planner, Round.round_key, Staff)
                .join(Planner, col(Planner.id) == TeacherNotice.planner_id)
                .join(Round, col(Round.id) == Planner.round_id)
                .join(SchoolYear, col(SchoolYear.id) == Round.school_year_id)
                .join(School, col(School.id) == Planner.school_id)
                .join(Staff, col(Staff.id) == TeacherNotice.staff_id)
                .where(School.brin == school.brin, SchoolYear.pas_id == school.school_year.year)
            )
            lists: dict[tuple[str, str], dict] = {}
            for notice, planner, key, teacher in rows:
                if key not in order or (round_key and key != round_key):
                    continue
                entry = lists.setdefault(
                    (key, teacher.pas_id),
                    {
                        "brin": school.brin,
                        "round": key,
                        "teacher": teacher.pas_id,
                        "teacher_name": teacher.name or None,
                        "families": [],
                    },
                )
                entry["families"] += _families(session, notice.kind, planner)
            for _, entry in sorted(lists.items(), key=lambda item: (order[item[0][0]], item[0][1])):
                entry["families"] = sorted(
                    {tuple(sorted(f.items())): f for f in entry["families"]}.values(),
                    key=lambda f: (f["group"], f["pupil"], f["conversation"]),
                )
                entry["count"] = len(entry["families"])
                out.append(entry)
    return out


def per_teacher(rows: list[dict], brin: str, round_key: str) -> dict[str, dict]:
    """One round's lists by teacher (PAS id): `{"name", "families" (the count), "pupils"}`."""
    return {
        r["teacher"]: {"name": r["teacher_name"], "families": r["count"], "pupils": r["families"]}
        for r in rows
        if r["brin"] == brin and r["round"] == round_key
    }


def _families(session, kind: str, planner: Planner) -> list[dict]:
    """The families one notice listed: a cancelled planner's invitees, or the mandatory invitees of
    the group's planners of the round (main and support, not cancelled) without a booking."""
    if kind == "cancelled":
        planners = [planner]
    else:
        planners = list(
            session.exec(
                select(Planner).where(
                    Planner.round_id == planner.round_id,
                    Planner.group_id == planner.group_id,
                    Planner.status != "cancelled",
                    col(Planner.vendor_id).is_not(
                        None
                    ),  # one never made at the vendor (nobody to invite) was not closed
                )
            )
        )
    ids = [p.id for p in planners]
    support = {p.id for p in planners if is_support(p.external_ref)}
    booked = {
        (b.planner_id, b.child_planner_id)
        for b in session.exec(select(Booking).where(col(Booking.planner_id).in_(ids), Booking.status == "booked"))
    }
    invitees = list(
        session.exec(
            select(PlannerInvitee, Pupil.pas_id, Group.name)
            .join(Pupil, col(Pupil.id) == PlannerInvitee.pupil_id)
            .join(Group, col(Group.id) == planner.group_id)
            .where(col(PlannerInvitee.planner_id).in_(ids))
        )
    )
    out = []
    for invitee, pas_id, group in invitees:
        if kind == "cancelled":
            reason = "planner_cancelled"
        elif not invitee.mandatory or (invitee.planner_id, invitee.child_planner_id) in booked:
            continue
        elif not invitee.child_planner_id:
            reason = "not_in_app"
        else:
            reason = "no_booking"
        conversation = "support" if invitee.planner_id in support else "main"
        out.append({"pupil": pas_id, "group": group, "conversation": conversation, "reason": reason})
    return out


def reason_counts(rows: list[dict]) -> dict[str, int]:
    """How many lines of these lists have each reason (`REASONS`), a duo's family once per group."""
    seen: dict[tuple, str] = {}
    for row in rows:
        for f in row["families"]:
            seen[(row["brin"], row["round"], f["pupil"], f["conversation"], f["reason"])] = f["reason"]
    counts: dict[str, int] = defaultdict(int)
    for reason in seen.values():
        counts[reason] += 1
    return {reason: counts[reason] for reason in REASONS}
