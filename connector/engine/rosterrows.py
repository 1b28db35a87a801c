"""The roster's rows: groups, staff and who teaches which group, pupils and their guardians, and
the links between the two systems, written in the roster's one transaction.

Each function writes only what differs from what is stored, so a sync that read nothing new
writes no row here, and writes in bulk: one statement per table and kind of change (insert,
update, delete), never one per record. A first sync of a 400-pupil school is a few statements,
not one flush per pupil and guardian.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select as sa_select
from sqlalchemy import tuple_, update
from sqlmodel import Session, col, delete, select

from connector.domain import Group as PasGroup
from connector.domain import Pupil as PasPupil
from connector.domain import PupilStatus
from connector.store.bulk import insert_rows
from connector.store.models import Group, GroupStaff, Guardian, IdentityLink, Pupil, PupilGuardian, Staff
from mappings.identity import Matching

LINKED_KINDS = ("group", "child", "staff")  # the kinds a roster sync links (guardians need no link)
_NEVER = datetime.min.replace(tzinfo=UTC)


def _assign(row: Any, values: dict[str, Any]) -> None:
    """Set the attributes that differ: an unchanged row stays clean and is never written."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _rows(session: Session, *columns: Any, where: list[Any]) -> list[tuple]:
    """Plain tuples of `columns` (no ORM objects), after the session's pending changes are flushed."""
    session.flush()
    return [tuple(row) for row in session.connection().execute(sa_select(*columns).where(*where))]


def store_groups(session: Session, school_id: int, year_id: int, groups: list[PasGroup], now: datetime):
    """The school year's groups as PAS has them (those gone archived); returns the current ones by PAS id."""
    rows = {g.pas_id: g for g in session.exec(select(Group).where(Group.school_year_id == year_id))}
    for group in groups:
        values = {"name": group.name, "leerjaren": list(group.leerjaren), "archived_at": None}
        if group.pas_id in rows:
            _assign(rows[group.pas_id], values)
        else:
            rows[group.pas_id] = Group(
                school_id=school_id,
                school_year_id=year_id,
                pas_id=group.pas_id,
                name=group.name,
                leerjaren=list(group.leerjaren),
            )
            session.add(rows[group.pas_id])
    return _archive_rest(session, rows, {g.pas_id for g in groups}, now)


def store_staff(session: Session, school_id: int, staff: list, now: datetime) -> dict[str, Staff]:
    """The school's staff as PAS has them (those gone archived); returns the current ones by PAS id."""
    rows = {s.pas_id: s for s in session.exec(select(Staff).where(Staff.school_id == school_id))}
    for member in staff:
        values = {
            "roles": sorted(member.roles),
            "werkdagen": list(member.werkdagen),
            "archived_at": None,
            "name": member.name,
        }
        if member.pas_id in rows:
            _assign(rows[member.pas_id], values)
        else:
            rows[member.pas_id] = Staff(school_id=school_id, pas_id=member.pas_id)
            _assign(rows[member.pas_id], values)
            session.add(rows[member.pas_id])
    return _archive_rest(session, rows, {s.pas_id for s in staff}, now)


def _archive_rest(session: Session, rows: dict, seen: set[str], now: datetime) -> dict:
    for pas_id, row in rows.items():
        if pas_id not in seen and row.archived_at is None:
            row.archived_at = now
    session.flush()  # the new rows get their ids
    return {k: v for k, v in rows.items() if k in seen}


def store_teachers(session: Session, groups: list[PasGroup], group_rows: dict, staff_rows: dict) -> None:
    """Who teaches each current group, as PAS says (duo-leerkrachten: two rows)."""
    wanted = {
        (group_rows[g.pas_id].id, staff_rows[t].id)
        for g in groups
        for t in g.teacher_ids
        if t in staff_rows and g.pas_id in group_rows
    }
    pair = tuple_(col(GroupStaff.group_id), col(GroupStaff.staff_id))
    group_ids = [g.id for g in group_rows.values()]
    stored = set(
        session.exec(select(GroupStaff.group_id, GroupStaff.staff_id).where(col(GroupStaff.group_id).in_(group_ids)))
    )
    if gone := stored - wanted:
        session.exec(delete(GroupStaff).where(pair.in_(sorted(gone))))
    if new := wanted - stored:
        insert_rows(session, GroupStaff, [{"group_id": g, "staff_id": s} for g, s in sorted(new)])


def stored_pupils(session: Session, school_id: int) -> dict[str, tuple[int, str, str | None]]:
    """Every stored pupil of the school: PAS id -> (id, status, planner id)."""
    rows = _rows(session, Pupil.pas_id, Pupil.id, Pupil.status, Pupil.planner_id, where=[Pupil.school_id == school_id])
    return {pas_id: (pupil_id, status, planner_id) for pas_id, pupil_id, status, planner_id in rows}


def for_matching(pas_id: str, status: str) -> PasPupil:
    """A stored pupil as `match_children` reads it: its id and whether it is enrolled."""
    return PasPupil(pas_id, "", 0, PupilStatus(status), None, 1, False, (), _NEVER)


def store_pupils(
    session: Session,
    school_id: int,
    group_rows: dict[str, Group],
    pupils: list[PasPupil],
    now: datetime,
    children: dict[str, str],
) -> tuple[int, int]:
    """Upsert the changed pupils (with their planner id from `children`) and their guardians;
    returns (archived, restored)."""
    rows = {
        p.pas_id: p
        for p in session.exec(
            select(Pupil).where(Pupil.school_id == school_id, col(Pupil.pas_id).in_([p.pas_id for p in pupils]))
        )
    }
    new: list[dict[str, Any]] = []
    archived = restored = 0
    for pupil in pupils:
        row = rows.get(pupil.pas_id)
        group = group_rows.get(pupil.group_id)
        archived_at = row.archived_at if row is not None else None
        if not pupil.enrolled and archived_at is None:
            archived_at, archived = now, archived + 1
        elif pupil.enrolled and archived_at is not None:
            archived_at, restored = None, restored + 1
        values = {
            "group_id": group.id if group else None,
            "leerjaar": pupil.leerjaar,
            "status": pupil.status.value,
            "ondersteuningsniveau": pupil.ondersteuningsniveau,
            "opp": pupil.opp,
            "pas_changed_at": pupil.changed_at,
            "archived_at": archived_at,
            "planner_id": children.get(pupil.pas_id),
        }
        if row is None:
            new.append({"school_id": school_id, "pas_id": pupil.pas_id, **values})
        else:
            _assign(row, values)
    ids = {pas_id: cast(int, row.id) for pas_id, row in rows.items()}  # stored rows have their ids
    if new:
        insert_rows(session, Pupil, new)
        ids |= _ids(session, Pupil, school_id, [n["pas_id"] for n in new])
    _store_guardians(session, school_id, pupils, ids, set(rows))
    return archived, restored


def _ids(session: Session, model: Any, school_id: int, pas_ids: list[str]) -> dict[str, int]:
    return dict(_rows(session, model.pas_id, model.id, where=[model.school_id == school_id, model.pas_id.in_(pas_ids)]))


def _store_guardians(
    session: Session, school_id: int, pupils: list[PasPupil], pupil_ids: dict[str, int], known: set[str]
) -> None:
    """The pupils' guardians, and each pupil's guardian links as PAS has them now (`known`: the
    pupils stored before, whose links may be there already)."""
    households = {g.pas_id: g.huishouden_id for p in pupils for g in p.guardians}  # the last one read wins
    found = _rows(
        session,
        Guardian.pas_id,
        Guardian.id,
        Guardian.huishouden_id,
        where=[Guardian.school_id == school_id, col(Guardian.pas_id).in_(list(households))],
    )
    stored = {pas_id: (guardian_id, household) for pas_id, guardian_id, household in found}
    moved = [
        {"id": stored[g][0], "huishouden_id": h} for g, h in households.items() if g in stored and stored[g][1] != h
    ]
    if moved:
        session.exec(update(Guardian), params=moved)  # by primary key
    guardian_ids = {pas_id: guardian_id for pas_id, (guardian_id, _) in stored.items()}
    if new := [g for g in households if g not in stored]:
        added = [{"school_id": school_id, "pas_id": g, "huishouden_id": households[g]} for g in new]
        insert_rows(session, Guardian, added)
        guardian_ids |= _ids(session, Guardian, school_id, new)

    wanted: dict[int, set[int]] = {}
    for pupil in pupils:
        wanted[pupil_ids[pupil.pas_id]] = {guardian_ids[g.pas_id] for g in pupil.guardians}
    before: dict[int, set[int]] = defaultdict(set)
    known_ids = [pupil_ids[p] for p in known]
    if known_ids:
        links = _rows(
            session,
            PupilGuardian.pupil_id,
            PupilGuardian.guardian_id,
            where=[col(PupilGuardian.pupil_id).in_(known_ids)],
        )
        for pupil_id, guardian_id in links:
            before[pupil_id].add(guardian_id)
    changed = [pupil_id for pupil_id, links in wanted.items() if before.get(pupil_id, set()) != links]
    replaced = [pupil_id for pupil_id in changed if pupil_id in before]
    if replaced:
        session.exec(delete(PupilGuardian).where(col(PupilGuardian.pupil_id).in_(replaced)))
    rows = [
        {"pupil_id": pupil_id, "guardian_id": guardian_id}
        for pupil_id in changed
        for guardian_id in sorted(wanted[pupil_id])
    ]
    if rows:
        insert_rows(session, PupilGuardian, rows)


def store_links(session: Session, school_id: int, year: str, links: list[Matching]) -> None:
    """Make the school's stored links this sync's (the planner's directory was read in full):
    only the links that appeared, went or changed are written."""
    wanted = {
        (link.kind, year if link.kind == "group" else "", link.pas_id): (link.planner_id, link.matched_by)
        for matching in links
        for link in matching.links
    }
    found = _rows(
        session,
        IdentityLink.id,
        IdentityLink.kind,
        IdentityLink.school_year,
        IdentityLink.pas_id,
        IdentityLink.planner_id,
        IdentityLink.matched_by,
        where=[IdentityLink.school_id == school_id, col(IdentityLink.kind).in_(LINKED_KINDS)],
    )
    stored = {
        (kind, scope, pas_id): (link_id, (planner_id, by)) for link_id, kind, scope, pas_id, planner_id, by in found
    }
    if gone := [link_id for key, (link_id, value) in stored.items() if wanted.get(key) != value]:
        # Before the inserts: a planner id that moved to another PAS id is unique per kind.
        session.exec(delete(IdentityLink).where(col(IdentityLink.id).in_(gone)))
    new = [
        {
            "school_id": school_id,
            "kind": kind,
            "school_year": scope,
            "pas_id": pas_id,
            "planner_id": planner_id,
            "matched_by": by,
        }
        for (kind, scope, pas_id), (planner_id, by) in wanted.items()
        if stored.get((kind, scope, pas_id), (None, None))[1] != (planner_id, by)
    ]
    if new:
        insert_rows(session, IdentityLink, new)


def store_planner_ids(session: Session, rows: dict, planner_ids: dict[str, str]) -> None:
    """The convenience copy of the links on the group or staff rows (`rows` by PAS id)."""
    for pas_id, row in rows.items():
        _assign(row, {"planner_id": planner_ids.get(pas_id)})


def store_pupil_planner_ids(
    session: Session, stored: dict[str, tuple[int, str, str | None]], children: dict[str, str], skip: set[str]
) -> None:
    """The links' copy on the pupils stored before and not read now (`skip`: stored with theirs)."""
    moved = [
        {"id": pupil_id, "planner_id": children.get(pas_id)}
        for pas_id, (pupil_id, _, planner_id) in stored.items()
        if pas_id not in skip and planner_id != children.get(pas_id)
    ]
    if moved:
        session.exec(update(Pupil), params=moved)  # by primary key
