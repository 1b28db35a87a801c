"""Conversations and verslagen per school, round and leerkracht (`connector report verslagen`, the
weekly overview, the web page).

Every conversation a round expects has one status: its verslag `on_time`, `late`, `missing`,
`not_visible` or `pending` (held, the deadline not passed, no acceptable note yet); `not_required`
(held, in a round whose verslag is the report itself); or `not_seen` (a mandatory invitation no
booking and no dated note met by the round's deadline). A conversation credited to two teachers
(a kindgesprek of duo teachers) is in both teachers' rows.

`verslagen_csv` and `verslagen_json` render the rows as `report verslagen --format csv|json`
writes them, and the web page's download is the very same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from sqlmodel import col, select

from connector.engine.conversations import columns, conversation_word
from connector.store import Store
from connector.store.models import (
    Conversation,
    ConversationSource,
    Group,
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
                columns(  # plain columns: a board's report reads every conversation of the year
                    Conversation.source,
                    Conversation.occasion,
                    Conversation.held_on,
                    Conversation.verslag_due_on,
                    Conversation.staff_ids,
                    Round.round_key,
                    Pupil.pas_id,
                    Pupil.group_id,
                    VerslagCheck.outcome,
                )
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
            group_query = select(Group.id, Group.name).join(School, col(School.id) == Group.school_id)
            group_names = dict(session.exec(group_query.where(School.brin == school.brin)).all())
            groups: dict[tuple, dict] = {}
            for source, occasion, held_on, due_on, staff_ids, key, pupil, group_id, outcome in found:
                if key not in order:
                    continue  # a round no longer in the settings
                kind = next(r.kind.value for r in rounds if r.id == key)
                status = status_of(source, outcome, required[key])
                item = {
                    "pupil": pupil,
                    "group": group_names.get(group_id) or None,  # the pupil's group as PAS names it now
                    "conversation": conversation_word(occasion),
                    "how": source,
                    "held_on": None if status == "not_seen" else held_on.isoformat(),
                    "verslag_due_on": due_on.isoformat(),
                    "status": status,
                }
                credited: list[Staff | None] = [staff[s] for s in staff_ids if s in staff]
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


# --- rendered as `report verslagen` writes them ---------------------------------------------------

CSV_COLUMNS = (
    "school",
    "school year",
    "round",
    "teacher",
    "teacher (PAS id)",
    "conversations",
    "on time",
    "late",
    "missing",
    "not visible",
    "pending",
    "no verslag needed",
    "not seen",
    "pupils missing",
    "pupils not visible",
    "pupils not seen",
    "pupils late",
    "pupils on time",
    "pupils pending",
)
COUNTED = ("on_time", "late", "missing", "not_visible", "pending", "not_required", "not_seen")
_LISTED = ("missing", "not_visible", "not_seen", "late", "on_time", "pending")


def verslagen_csv(rows: list[dict]) -> bytes:
    """One row per teacher and round; `;`-separated UTF-8 with a BOM and CRLF, as Excel in a
    Dutch locale opens it by double-click (a comma file lands in one column there, and without
    the BOM Excel reads the text as ANSI). Pupil ids of an outcome share one cell."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r["brin"],
                    r["school_year"],
                    r["round"],
                    r["teacher_name"] or "",
                    r["teacher"] or "",
                    r["conversations"],
                    *(r[k] for k in COUNTED),
                    *(", ".join(pupils_with(r, k)) for k in _LISTED),
                )
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def verslagen_json(rows: list[dict], generated_at: datetime) -> bytes:
    """The rows as one JSON object, with the moment they were read (UTC)."""
    text = json.dumps({"generated_at": generated_at.isoformat(), "rows": rows}, indent=2, sort_keys=True)
    return (text + "\n").encode()


def pupils_with(row: dict, status: str, show=str) -> list[str]:
    """The PAS ids of a row's conversations with this status; a pupil's OPP extra conversation marked."""
    return [
        show(i["pupil"]) + (" (extra)" if i["conversation"] == "extra" else "")
        for i in sorted(row["items"], key=lambda i: (i["pupil"], i["conversation"] == "extra"))
        if i["status"] == status
    ]


def _cell(value):
    """Neutralise text a spreadsheet would run as a formula (ids come from a vendor)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
