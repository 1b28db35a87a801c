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

from sqlmodel import select

from connector.domain import Group as PasGroup
from connector.domain import Pupil as PasPupil
from connector.engine import pending, unlinked
from connector.engine import rosterrows as rows
from connector.engine.context import Step
from connector.errors import UserError
from connector.store.models import Group, Pupil, School, SchoolYear, SyncWatermark
from mappings.identity import match_children, match_groups, match_staff
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
    found = find_school_ids(engine, school_settings)
    if found[0] is not None and found[1] is not None:
        return found[0], found[1]  # stored already: no write transaction
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


def _stored_ids(step: Step) -> tuple[int, int] | None:
    """The ids the step was given (the run looked them up at its start), or None: look them up."""
    if step.school_id is None or step.year_id is None:
        return None
    return step.school_id, step.year_id


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
    school_id, year_id = _stored_ids(step) or find_school_ids(step.engine, step.school)
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

    with step.store.read() as session:  # when each stored group and pupil was archived (None: current)
        groups_query = select(Group.pas_id, Group.archived_at).where(Group.school_year_id == year_id)
        stored_groups = dict(session.exec(groups_query).all())
        pupils_query = select(Pupil.pas_id, Pupil.archived_at).where(Pupil.school_id == school_id)
        stored_pupils = dict(session.exec(pupils_query).all())
    _guard(step, stored_groups, groups, stored_pupils, pupils)
    archiving = restoring = 0
    for pupil in pupils:
        archived_at = stored_pupils.get(pupil.pas_id)  # None also for a pupil not stored yet
        if not pupil.enrolled and archived_at is None:
            archiving += 1
        elif pupil.enrolled and archived_at is not None:
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
    """Store what `read_roster` read, with the links between the two systems; only what changed
    is written (`rosterrows.py`)."""
    year = step.school.school_year.year
    school_id, year_id = _stored_ids(step) or school_ids(step.engine, step.school)
    groups, staff, pupils = read.groups, read.staff, read.pupils
    with step.store.write() as session:
        group_rows = rows.store_groups(session, school_id, year_id, groups, step.now)
        staff_rows = rows.store_staff(session, school_id, staff, step.now)
        rows.store_teachers(session, groups, group_rows, staff_rows)
        stored = rows.stored_pupils(session, school_id)
        statuses = {pas_id: status for pas_id, (_, status, _) in stored.items()}
        statuses |= {p.pas_id: p.status.value for p in pupils}
        links = [
            match_groups(groups, read.planner_groups),
            match_children([rows.for_matching(pas_id, status) for pas_id, status in statuses.items()], read.children),
            match_staff(staff, read.planner_staff),
        ]
        by_group, children, by_staff = (m.by_pas_id() for m in links)
        archived, restored = rows.store_pupils(session, school_id, group_rows, pupils, step.now, children)
        rows.store_links(session, school_id, year, links)
        rows.store_planner_ids(session, group_rows, by_group)
        rows.store_planner_ids(session, staff_rows, by_staff)
        rows.store_pupil_planner_ids(session, stored, children, {p.pas_id for p in pupils})
        if read.previous_watermark is None or read.watermark >= read.previous_watermark:
            _set_watermark(session, school_id, read.watermark, step.now)
        pending.store(session, school_id, read.pending, step.now)
        unmatched = [u for m in links for u in m.unmatched]
        noticed = unlinked.store(session, school_id, unmatched, step.run_log.id, step.now)
        school = session.get(School, school_id)
        if school is not None and school.served_since is None:
            school.served_since = step.now
            session.add(school)
    with step.run.batch():
        for item in noticed:  # the ones found before are not logged again (`status` lists them all)
            step.run.event(
                "not linked",
                f"{item.kind} {item.record_id} ({item.system}): {item.reason}",
                level="warning",
                ids=[item.record_id],
            )
    if unmatched:
        step.run_log.counts["not linked"] += len(unmatched)
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
    step: Step,
    stored_groups: dict[str, datetime | None],
    groups: list[PasGroup],
    stored_pupils: dict[str, datetime | None],
    pupils: list[PasPupil],
) -> None:
    """Refuse a roster that would archive more than `sync.max_removal_share` of the current groups
    or pupils at once (`stored_*`: PAS id -> when it was archived, None while current)."""
    if step.engine.allow_removals:
        return
    share = step.engine.settings.sync.max_removal_share
    active_groups = [pas_id for pas_id, archived_at in stored_groups.items() if archived_at is None]
    read_groups = {g.pas_id for g in groups}
    gone_groups = [pas_id for pas_id in active_groups if pas_id not in read_groups]
    enrolled = [pas_id for pas_id, archived_at in stored_pupils.items() if archived_at is None]
    leaving = [p for p in pupils if not p.enrolled and p.pas_id in stored_pupils and stored_pupils[p.pas_id] is None]
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


def _set_watermark(session, school_id: int, watermark: datetime, now: datetime) -> None:
    row = session.exec(
        select(SyncWatermark).where(SyncWatermark.school_id == school_id, SyncWatermark.resource == PUPILS_WATERMARK)
    ).first()
    if row is not None and row.value == watermark.isoformat():
        return  # a read that found nothing new: nothing to write
    row = row or SyncWatermark(school_id=school_id, resource=PUPILS_WATERMARK, value="")
    row.value, row.updated_at = watermark.isoformat(), now
    session.add(row)
