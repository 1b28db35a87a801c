"""Roster sync: groups, staff and pupils from the administration, linked to the planner's records.

Pupils are read incrementally (`changed_since` = the stored watermark); the watermark only moves
forward, and only in the transaction that stores the rows (pitfalls.md, "Bookmarks"). Pupils who
left are archived (no longer invited) and restored when they come back. A guard refuses a sync
that would archive more than `sync.max_removal_share` of a school's pupils or groups at once
(as Clever and Entra do), naming the flag that overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlmodel import col, delete, select

from connector.domain import Group as PasGroup
from connector.domain import Pupil as PasPupil
from connector.engine import pending
from connector.engine.context import Step
from connector.errors import UserError
from connector.store.models import (
    Group,
    GroupStaff,
    Guardian,
    IdentityLink,
    Pupil,
    PupilGuardian,
    School,
    SchoolYear,
    Staff,
    SyncWatermark,
)
from mappings.identity import Matching, match_children, match_groups, match_staff
from mappings.payloads import (
    Mapped,
    MappingError,
    child_from_planner,
    group_from_pas,
    group_from_planner,
    map_items,
    pupil_from_pas,
    staff_from_pas,
    staff_from_planner,
)

PUPILS_WATERMARK = "pas.pupils"


class RemovalGuardError(UserError):
    """A sync would remove too much at once; nothing was written."""


@dataclass(frozen=True)
class RosterResult:
    groups: int
    staff: int
    pupils_changed: int
    archived: int
    restored: int
    unmatched: int


def school_ids(engine, school_settings) -> tuple[int, int]:
    """The store ids of a school and its school year, created on first use."""
    plan = engine.school_plan(school_settings)
    year = school_settings.school_year.year
    with engine.store.write() as session:
        school = session.exec(select(School).where(School.brin == school_settings.brin)).first()
        if school is None:
            school = School(brin=school_settings.brin, name=school_settings.name)
            session.add(school)
            session.flush()
        school_year = session.exec(
            select(SchoolYear).where(SchoolYear.school_id == school.id, SchoolYear.pas_id == year)
        ).first()
        if school_year is None:
            school_year = SchoolYear(
                school_id=school.id,
                pas_id=year,
                start_date=plan.calendar.first_day,
                end_date=plan.calendar.last_day,
                current=True,
            )
            session.add(school_year)
            session.flush()
        return school.id, school_year.id


def find_school_ids(engine, school_settings) -> tuple[int | None, int | None]:
    """The store ids of a school and its school year, or None where not stored yet (reads only)."""
    with engine.store.read() as session:
        school = session.exec(select(School.id).where(School.brin == school_settings.brin)).first()
        if school is None:
            return None, None
        year = session.exec(
            select(SchoolYear.id).where(
                SchoolYear.school_id == school, SchoolYear.pas_id == school_settings.school_year.year
            )
        ).first()
        return school, year


@dataclass(frozen=True)
class RosterRead:
    """Both systems' rosters as read now, mapped, and checked against the removal guard."""

    groups: list[PasGroup]
    staff: list
    pupils: list[PasPupil]
    watermark: datetime
    previous_watermark: datetime | None
    planner_groups: list
    children: list
    planner_staff: list
    archiving: int
    restoring: int
    pending: pending.Sorted

    def summary(self) -> str:
        held = f", {len(self.pending.held)} kept pending" if self.pending.held else ""
        return (
            f"{len(self.groups)} groups, {len(self.staff)} staff, {len(self.pupils)} changed pupils "
            f"({self.archiving} leaving, {self.restoring} back{held})"
        )


def read_roster(step: Step) -> RosterRead:
    """Read both systems' rosters (reads only); raises RemovalGuardError when storing them would
    remove too much at once."""
    brin, year = step.school.brin, step.school.school_year.year
    school_id, year_id = find_school_ids(step.engine, step.school)
    with step.store.read() as session:
        mark = session.exec(
            select(SyncWatermark).where(
                SyncWatermark.school_id == school_id, SyncWatermark.resource == PUPILS_WATERMARK
            )
        ).first()
        waiting = pending.stored(session, school_id)
    since = datetime.fromisoformat(mark.value) if mark else None

    groups = _mapped(step, "PAS group", step.engine.pas.groups(brin, schoolyear=year), group_from_pas)
    staff = _mapped(step, "PAS staff member", step.engine.pas.staff(brin, schoolyear=year), staff_from_pas)
    asked_since = pending.read_from(since, waiting)
    sweep = step.engine.pas.pupils(brin, schoolyear=year, changed_since=asked_since)
    items = list(sweep)
    mapped = map_items("PAS pupil", items, pupil_from_pas)
    _report(step, mapped.errors)
    sorted_out = pending.sort_out(items, mapped, {g.pas_id for g in groups}, asked_since, waiting)
    _report_pending(step, sorted_out, mapped.errors)
    pupils = sorted_out.pupils
    watermark = sweep.watermark
    planner = step.planner
    planner_groups = _mapped(step, "planner group", planner.groups(), group_from_planner)
    children = _mapped(step, "planner child", planner.children(), child_from_planner)
    planner_staff = _mapped(step, "planner staff member", planner.staff(), staff_from_planner)

    with step.store.read() as session:
        stored_groups = {g.pas_id: g for g in session.exec(select(Group).where(Group.school_year_id == year_id))}
        stored_pupils = {p.pas_id: p for p in session.exec(select(Pupil).where(Pupil.school_id == school_id))}
    _guard(step, stored_groups, groups, stored_pupils, pupils)
    archiving = restoring = 0
    for pupil in pupils:
        row = stored_pupils.get(pupil.pas_id)
        if not pupil.enrolled and (row is None or row.archived_at is None):
            archiving += 1
        elif pupil.enrolled and row is not None and row.archived_at is not None:
            restoring += 1
    return RosterRead(
        groups,
        staff,
        pupils,
        watermark,
        since,
        planner_groups,
        children,
        planner_staff,
        archiving,
        restoring,
        sorted_out,
    )


def store_roster(step: Step, read: RosterRead) -> RosterResult:
    """Store what `read_roster` read, with the links between the two systems."""
    year = step.school.school_year.year
    school_id, year_id = school_ids(step.engine, step.school)
    groups, staff, pupils = read.groups, read.staff, read.pupils
    with step.store.write() as session:
        group_rows = _store_groups(session, school_id, year_id, groups, step.now)
        staff_rows = _store_staff(session, school_id, staff, step.now)
        session.exec(delete(GroupStaff).where(col(GroupStaff.group_id).in_([g.id for g in group_rows.values()])))
        for group in groups:
            for teacher in group.teacher_ids:
                if teacher in staff_rows and group.pas_id in group_rows:
                    group_id, staff_id = group_rows[group.pas_id].id, staff_rows[teacher].id
                    assert group_id is not None and staff_id is not None  # both stored (flushed) above
                    session.add(GroupStaff(group_id=group_id, staff_id=staff_id))
        archived, restored = _store_pupils(session, school_id, group_rows, pupils, step.now)
        all_pupils = list(session.exec(select(Pupil).where(Pupil.school_id == school_id)))
        links = [
            match_groups(groups, read.planner_groups),
            match_children([_as_domain(p) for p in all_pupils], read.children),
            match_staff(staff, read.planner_staff),
        ]
        _store_links(session, school_id, year, links, group_rows, staff_rows, all_pupils)
        if read.previous_watermark is None or read.watermark >= read.previous_watermark:
            _set_watermark(session, school_id, read.watermark, step.now)
        pending.store(session, school_id, read.pending, step.now)
        school = session.get(School, school_id)
        if school is not None and school.served_since is None:
            school.served_since = step.now
            session.add(school)
    unmatched = [u for m in links for u in m.unmatched]
    for item in unmatched:
        step.run.event(
            "not linked",
            f"{item.kind} {item.record_id} ({item.system}): {item.reason}",
            level="warning",
            ids=[item.record_id],
            count="not linked",
        )
    step.run_log.counts["pupils changed"] += len(pupils)
    step.run_log.counts["pupils archived"] += archived
    step.run_log.counts["pupils restored"] += restored
    return RosterResult(len(groups), len(staff), len(pupils), archived, restored, len(unmatched))


def sync_roster(step: Step) -> RosterResult:
    """Read both rosters and store them at once (the roster job plans the two apart)."""
    return store_roster(step, read_roster(step))


def _mapped(step: Step, resource: str, items, convert) -> list:
    mapped: Mapped = map_items(resource, items, convert)
    _report(step, mapped.errors)
    return mapped.records


def _report(step: Step, errors: list[MappingError]) -> None:
    for error in errors:
        step.run.event("record failed", str(error), level="error", ids=[error.record_id], count="records failed")


def _report_pending(step: Step, result: pending.Sorted, errors: list[MappingError]) -> None:
    """Name every pupil held back (the mapping failures are named already) and every one resolved."""
    failed = {e.record_id for e in errors}
    for item in result.held:
        if item.record_id not in failed:
            message = f"PAS pupil {item.record_id}: {item.reason}"
            step.run.event("record failed", message, level="error", ids=[item.record_id], count="records failed")
    if result.held:
        ids = [h.record_id for h in result.held]
        step.run.event(
            "records pending",
            f"{len(ids)} PAS pupil(s) kept pending, read again at every roster sync until they can be used: "
            + ", ".join(ids),
            level="warning",
            ids=ids,
        )
    if result.resolved:
        step.run.event(
            "records resolved",
            f"{len(result.resolved)} pending PAS pupil(s) read again and resolved: " + ", ".join(result.resolved),
            ids=result.resolved,
        )


def _guard(
    step: Step, stored_groups: dict, groups: list[PasGroup], stored_pupils: dict, pupils: list[PasPupil]
) -> None:
    if step.engine.allow_removals:
        return
    share = step.engine.settings.sync.max_removal_share
    active_groups = [g for g in stored_groups.values() if g.archived_at is None]
    gone_groups = [g for g in active_groups if g.pas_id not in {x.pas_id for x in groups}]
    enrolled = [p for p in stored_pupils.values() if p.archived_at is None]
    leaving = [
        p
        for p in pupils
        if not p.enrolled and p.pas_id in stored_pupils and stored_pupils[p.pas_id].archived_at is None
    ]
    problems = []
    if active_groups and len(gone_groups) > share * len(active_groups):
        problems.append(f"{len(gone_groups)} of {len(active_groups)} groups")
    if enrolled and len(leaving) > share * len(enrolled):
        problems.append(f"{len(leaving)} of {len(enrolled)} pupils")
    if problems:
        message = (
            f"school {step.school.brin}: this sync would remove {' and '.join(problems)} at once, more than "
            f"{share:.0%} (sync.max_removal_share); nothing was changed. If this is right (e.g. a new school "
            f"year), run `connector sync --school {step.school.brin} --only roster --allow-removals`."
        )
        step.run.event("roster refused", message, level="error")
        raise RemovalGuardError(message)


def _store_groups(session, school_id: int, year_id: int, groups: list[PasGroup], now: datetime) -> dict[str, Group]:
    rows = {g.pas_id: g for g in session.exec(select(Group).where(Group.school_year_id == year_id))}
    seen = set()
    for group in groups:
        row = rows.get(group.pas_id) or Group(school_id=school_id, school_year_id=year_id, pas_id=group.pas_id)
        row.name, row.leerjaren, row.archived_at = group.name, list(group.leerjaren), None
        session.add(row)
        rows[group.pas_id] = row
        seen.add(group.pas_id)
    for pas_id, row in rows.items():
        if pas_id not in seen and row.archived_at is None:
            row.archived_at = now
    session.flush()
    return {k: v for k, v in rows.items() if k in seen}


def _store_staff(session, school_id: int, staff, now: datetime) -> dict[str, Staff]:
    rows = {s.pas_id: s for s in session.exec(select(Staff).where(Staff.school_id == school_id))}
    seen = set()
    for member in staff:
        row = rows.get(member.pas_id) or Staff(school_id=school_id, pas_id=member.pas_id)
        row.roles, row.werkdagen, row.archived_at = sorted(member.roles), list(member.werkdagen), None
        row.name = member.name
        session.add(row)
        rows[member.pas_id] = row
        seen.add(member.pas_id)
    for pas_id, row in rows.items():
        if pas_id not in seen and row.archived_at is None:
            row.archived_at = now
    session.flush()
    return {k: v for k, v in rows.items() if k in seen}


def _store_pupils(
    session, school_id: int, group_rows: dict[str, Group], pupils: list[PasPupil], now: datetime
) -> tuple[int, int]:
    """Upsert changed pupils and their guardians; returns (archived, restored)."""
    rows = {
        p.pas_id: p
        for p in session.exec(
            select(Pupil).where(Pupil.school_id == school_id, col(Pupil.pas_id).in_([p.pas_id for p in pupils]))
        )
    }
    guardian_ids = {g.pas_id for p in pupils for g in p.guardians}
    guardians = {
        g.pas_id: g
        for g in session.exec(
            select(Guardian).where(Guardian.school_id == school_id, col(Guardian.pas_id).in_(guardian_ids))
        )
    }
    archived = restored = 0
    for pupil in pupils:
        row = rows.get(pupil.pas_id) or Pupil(school_id=school_id, pas_id=pupil.pas_id, leerjaar=pupil.leerjaar)
        group = group_rows.get(pupil.group_id)
        row.group_id = group.id if group else None
        row.leerjaar, row.status = pupil.leerjaar, pupil.status.value
        row.ondersteuningsniveau, row.opp = pupil.ondersteuningsniveau, pupil.opp
        row.pas_changed_at = pupil.changed_at
        if not pupil.enrolled and row.archived_at is None:
            row.archived_at, archived = now, archived + 1
        elif pupil.enrolled and row.archived_at is not None:
            row.archived_at, restored = None, restored + 1
        session.add(row)
        session.flush()
        session.exec(delete(PupilGuardian).where(col(PupilGuardian.pupil_id) == row.id))
        for guardian in pupil.guardians:
            g_row = guardians.get(guardian.pas_id) or Guardian(
                school_id=school_id, pas_id=guardian.pas_id, huishouden_id=guardian.huishouden_id
            )
            g_row.huishouden_id = guardian.huishouden_id
            session.add(g_row)
            session.flush()
            guardians[guardian.pas_id] = g_row
            assert row.id is not None and g_row.id is not None  # both flushed
            session.add(PupilGuardian(pupil_id=row.id, guardian_id=g_row.id))
    session.flush()
    return archived, restored


def _as_domain(row: Pupil) -> PasPupil:
    from connector.domain import PupilStatus

    return PasPupil(
        row.pas_id,
        "",
        row.leerjaar,
        PupilStatus(row.status),
        None,  # not stored (data minimisation), as the group and the guardians here
        row.ondersteuningsniveau,
        row.opp,
        (),
        # Always stored from PAS by `_store_pupils`; matching reads only the id and the status.
        cast(datetime, row.pas_changed_at),
    )


def _store_links(
    session, school_id: int, year: str, links: list[Matching], group_rows, staff_rows, pupils: list[Pupil]
) -> None:
    """Replace the school's links by this sync's: the planner's directory was read in full."""
    session.exec(
        delete(IdentityLink).where(
            col(IdentityLink.school_id) == school_id, col(IdentityLink.kind).in_(["group", "child", "staff"])
        )
    )
    session.flush()
    groups, children, staff = (m.by_pas_id() for m in links)
    for matching in links:
        for link in matching.links:
            scope = year if link.kind == "group" else ""
            session.add(
                IdentityLink(
                    school_id=school_id,
                    kind=link.kind,
                    school_year=scope,
                    pas_id=link.pas_id,
                    planner_id=link.planner_id,
                    matched_by=link.matched_by,
                )
            )
    for pas_id, row in group_rows.items():
        row.planner_id = groups.get(pas_id)
        session.add(row)
    for pas_id, row in staff_rows.items():
        row.planner_id = staff.get(pas_id)
        session.add(row)
    for row in pupils:
        row.planner_id = children.get(row.pas_id)
        session.add(row)


def _set_watermark(session, school_id: int, watermark: datetime, now: datetime) -> None:
    row = session.exec(
        select(SyncWatermark).where(SyncWatermark.school_id == school_id, SyncWatermark.resource == PUPILS_WATERMARK)
    ).first()
    row = row or SyncWatermark(school_id=school_id, resource=PUPILS_WATERMARK, value="")
    row.value, row.updated_at = watermark.isoformat(), now
    session.add(row)
