"""Opening and closing planners: one per group per round, plus the OPP extra conversations.

Plan, then execute. `plan_group_planners` computes each planner (invitees, slots, invitation)
from the store; `open_round` records each as a Planner row and creates and releases it through
the intent log. The external_ref is deterministic (`sync:{brin}:{year}:{round}:{group}`), so a
planner whose creation outcome was lost is found again at the vendor, never created twice.
The planner is released `sibling_head_start_hours` before it opens, so that families with
several children can book first (contract: "Planner lifecycle").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select

from adapters.errors import DuplicateExternalRef
from connector.cycle.settings.models import Round as RoundSettings
from connector.cycle.settings.models import RoundKind
from connector.cycle.yearplan import RoundPlan
from connector.engine import intents, messages, pool
from connector.engine.actions import Action
from connector.engine.agenda import Agenda
from connector.engine.attendees import Person, colleagues, the_ib
from connector.engine.attention import NeedsPerson, last_roster
from connector.engine.context import Step
from connector.engine.intents import perform, recorded_payload
from connector.engine.roster import find_school_ids
from connector.engine.slots import SlotSpec, slot_pool, take_slots, wanted
from connector.store.base import metadata
from connector.store.bulk import insert_rows
from connector.store.models import (
    Group,
    GroupStaff,
    Planner,
    PlannerInvitee,
    Round,
    School,
    SchoolYear,
    Slot,
    Staff,
)

KIND = {
    RoundKind.RAPPORT: "report_meeting",
    RoundKind.ADVIES: "advice_meeting",
    RoundKind.VERWIJZING: "advice_meeting",
}
RELEASED = ("scheduled", "open", "closed")
# The tables opening writes, for Core statements.
_PLANNERS = metadata.tables["planners"]
_INVITEES = metadata.tables["planner_invitees"]
_SLOTS = metadata.tables["slots"]
_STATE = (
    update(_PLANNERS)
    .where(_PLANNERS.c.id == bindparam("row_id"))
    .values(vendor_id=bindparam("vendor"), status=bindparam("status_"), last_synced_at=bindparam("now"))
)
_SLOT_IDS = sa_select(_SLOTS.c.vendor_id).where(_SLOTS.c.planner_id == bindparam("row_id"))
_PUPILS = metadata.tables["pupils"]
_MEMBERS = (
    sa_select(
        _PUPILS.c.group_id,
        _PUPILS.c.id,
        _PUPILS.c.pas_id,
        _PUPILS.c.planner_id,
        _PUPILS.c.leerjaar,
        _PUPILS.c.ondersteuningsniveau,
        _PUPILS.c.opp,
    )
    .where(_PUPILS.c.group_id.in_(bindparam("groups", expanding=True)), _PUPILS.c.archived_at.is_(None))
    .order_by(_PUPILS.c.id)
)


@dataclass(frozen=True, slots=True)
class Member:
    """A current pupil of a group, as planning needs it. Read as plain rows for all the round's groups
    at once: ORM objects, a query per group, were a fifth of the time it took to plan a board's round."""

    id: int
    pas_id: str
    planner_id: str | None
    leerjaar: int
    ondersteuningsniveau: int
    opp: bool


def _members(session: Session, group_ids: list[int]) -> dict[int, list[Member]]:
    """The current pupils of these groups, by group id, in the order they were stored."""
    found: dict[int, list[Member]] = {group_id: [] for group_id in group_ids}
    for group_id, *columns in session.connection().execute(_MEMBERS, {"groups": group_ids}):
        found[group_id].append(Member(*columns))
    return found


@dataclass
class PlannerPlan:
    external_ref: str
    group: Group
    title: str
    invitees: list[tuple[Member, bool]]  # (pupil, mandatory); pupils without planner id cannot be invited
    slots: tuple[SlotSpec, ...]
    body: dict | None  # None when there is nothing to create (no invitable child, no slot)
    problems: list[str]
    short: int = 0  # invitees who have no slot


def external_ref(step: Step, plan: RoundPlan, group: Group, suffix: str = "") -> str:
    return f"sync:{step.school.brin}:{plan.school_year}:{plan.round_id}:{group.pas_id}{suffix}"


def find_round(step: Step, plan: RoundPlan) -> int | None:
    """The store id of the round in the school's current year, if stored (reads only)."""
    with step.store.read() as session:
        return session.exec(
            select(Round.id)
            .join(SchoolYear, col(SchoolYear.id) == Round.school_year_id)
            .join(School, col(School.id) == SchoolYear.school_id)
            .where(
                School.brin == step.school.brin, SchoolYear.pas_id == plan.school_year, Round.round_key == plan.round_id
            )
        ).first()


def ensure_round(step: Step, plan: RoundPlan, school_id: int, year_id: int) -> int:
    with step.store.write() as session:
        row = session.exec(
            select(Round).where(Round.school_year_id == year_id, Round.round_key == plan.round_id)
        ).first()
        if row is None:
            row = Round(
                school_id=school_id,
                school_year_id=year_id,
                round_key=plan.round_id,
                kind=plan.round.kind.value,
                window_start=plan.window_start,
                window_end=plan.window_end,
            )
            session.add(row)
            session.flush()
        assert row.id is not None  # loaded or flushed
        return row.id


SUPPORT = {":opp": "Extra gesprek over de ondersteuning: ", ":ib": "Gesprek met de intern begeleider: "}


def load_agenda(session, step: Step, school_id: int, kept) -> Agenda:
    """The school's agenda: the slots of every planner the service made that was not cancelled (a
    planner whose creation was interrupted has no slots stored yet: its recorded request has them)."""
    agenda = Agenda()
    live = (Planner.school_id == school_id, col(Planner.status) != "cancelled", kept)
    for slot in session.exec(select(Slot).join(Planner, col(Planner.id) == Slot.planner_id).where(*live)):
        agenda.claim(slot.starts_at, slot.ends_at, slot.staff_ids)
    for ref in session.exec(select(Planner.external_ref).where(*live, col(Planner.vendor_id).is_(None))):
        for slot in (recorded_payload(step.store, f"create_planner:{ref}") or {}).get("slots", []):
            agenda.claim(datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"]), slot["staff_ids"])
    return agenda


@dataclass(frozen=True)
class Wanted:
    """One planner a group needs: its ref suffix, title prefix, invitees, and who joins every slot."""

    suffix: str
    prefix: str
    members: list[Member]
    joining: tuple[Person, ...] = ()
    ib: bool = False


def plan_group_planners(
    step: Step, plan: RoundPlan, school_id: int, year_id: int | None, forget: frozenset[int] = frozenset()
) -> list[PlannerPlan]:
    """The planners a round needs, per group of the school year that has the round's leerjaren.
    Planner rows in `forget` (recorded, never attempted: `_unfinished`) count as not there. Slots
    are taken from the school's agenda, so nobody is offered in two places at once."""
    rnd = plan.round
    kept = col(Planner.id).not_in(forget)
    zone = ZoneInfo(step.school.timezone)
    drafts: list[Draft] = []
    second = colleagues(step, plan, school_id)
    with step.store.read() as session:
        agenda = load_agenda(session, step, school_id, kept)
        ib = the_ib(session, school_id) if rnd.attendance.ib_from_ondersteuningsniveau is not None else None
        groups = [
            g
            for g in session.exec(
                select(Group).where(Group.school_year_id == year_id, col(Group.archived_at).is_(None))
            )
            if set(g.leerjaren) & set(rnd.groups)
        ]
        members = _members(session, [g.id for g in groups if g.id is not None])
        for group in sorted(groups, key=lambda g: g.pas_id):
            assert group.id is not None  # read from the store
            pupils = [p for p in members[group.id] if p.leerjaar in rnd.groups]
            teachers = list(
                session.exec(
                    select(Staff)
                    .join(GroupStaff, col(GroupStaff.staff_id) == Staff.id)
                    .where(GroupStaff.group_id == group.id)
                )
            )
            prefix = external_ref(step, plan, group)
            existing = set(session.exec(select(Planner.external_ref).where(Planner.group_id == group.id, kept)))
            invited = set(
                session.exec(
                    select(PlannerInvitee.pupil_id)
                    .join(Planner, col(Planner.id) == PlannerInvitee.planner_id)
                    .where(
                        Planner.group_id == group.id,
                        col(Planner.external_ref).startswith(prefix),
                        PlannerInvitee.child_planner_id != "",
                        kept,
                    )
                )
            )
            problems: list[str] = []
            colleague, problem = second.for_group(
                group, sorted({p.leerjaar for p in pupils}) or list(group.leerjaren), {t.pas_id for t in teachers}
            )
            problems += [problem] if problem else []
            needed = [Wanted("", "", pupils, (colleague,) if colleague else ())]
            needed += _support(rnd, group, pupils, ib, problems)
            drafts += _group_drafts(step, plan, group, teachers, needed, existing, invited, zone, problems)
    _allot(drafts, agenda, rnd.planner.slot_margin)
    return [_one(step, plan, draft) for draft in drafts]


def _allot(drafts: list[Draft], agenda: Agenda, margin: float) -> None:
    """Slots for every draft from the school's agenda: first one per invitee, support planners first
    (they need two people at once, one of them shared by all groups), then the margins, so that a
    scarce person's time goes to conversations before it goes to choice."""
    ordered = sorted(drafts, key=lambda d: not d.want.suffix)
    for draft in ordered:
        draft.slots += take_slots(draft.pool, agenda, draft.invitable)
    for draft in ordered:
        draft.slots += take_slots(draft.pool, agenda, wanted(draft.invitable, margin) - len(draft.slots))


def _support(
    rnd: RoundSettings, group: Group, pupils: list[Member], ib: Person | None, problems: list[str]
) -> list[Wanted]:
    """The group's support planners: the OPP extra conversation (with the IB when the round has
    one), and the IB's conversation for pupils from `ib_from_ondersteuningsniveau` without an OPP
    conversation; one support conversation per pupil at most."""
    level = rnd.attendance.ib_from_ondersteuningsniveau
    joining = (ib,) if ib is not None else ()
    out = []
    opp = [p for p in pupils if p.opp] if rnd.opp_extra_conversation else []
    if opp:
        out.append(Wanted(":opp", SUPPORT[":opp"], opp, joining, ib is not None))
    if level is not None:
        with_opp = {p.id for p in opp}
        with_ib = [p for p in pupils if p.ondersteuningsniveau >= level and p.id not in with_opp]
        if with_ib and ib is None:
            problems.append(
                f"group {group.pas_id}: {len(with_ib)} pupil(s) of ondersteuningsniveau {level} or higher should "
                "meet the IB, but no staff member with the role intern_begeleider is linked in the planner"
            )
        elif with_ib:
            out.append(Wanted(":ib", SUPPORT[":ib"], with_ib, joining, True))
    return out


@dataclass
class Draft:
    """A planner being planned: its invitees and slot pool; `slots` as `_allot` hands them out."""

    group: Group
    ref: str
    want: Wanted
    invitees: list[tuple[Member, bool]]
    pool: list[SlotSpec]
    problems: list[str]
    slots: list[SlotSpec] = field(default_factory=list)

    @property
    def invitable(self) -> int:
        return sum(1 for p, _ in self.invitees if p.planner_id)


def _group_drafts(
    step, plan: RoundPlan, group: Group, teachers, wanted: list[Wanted], existing, invited, zone, problems
) -> list[Draft]:
    rnd = plan.round
    linked_teachers = {t.planner_id: tuple(t.werkdagen) for t in teachers if t.planner_id}
    if not linked_teachers:
        problems.append(f"group {group.pas_id} has no teacher linked in the planner")
    mandatory = {p.id: rnd.is_mandatory_for(p.leerjaar) for p in wanted[0].members}
    drafts: list[Draft] = []
    for want in wanted:
        pool, no_teacher_days = slot_pool(
            days=plan.conversation_days,
            spans=plan.hours,
            minutes=rnd.slot_minutes,
            zone=zone,
            teachers=linked_teachers,
            joining={p.planner_id: p.werkdagen for p in want.joining},
            concentrate=rnd.slots.concentrate,
        )
        if no_teacher_days and not want.suffix:
            problems.append(
                f"group {group.pas_id}: no teacher works on {', '.join(d.isoformat() for d in no_teacher_days)}"
            )
        members = want.members
        ref = external_ref(step, plan, group, want.suffix)
        if ref in existing:
            members = [
                p for p in members if p.id not in invited and p.planner_id
            ]  # arrived or linked since: a planner of their own
            if not members:
                continue
            ref = f"{ref}:{'-'.join(sorted(p.pas_id for p in members))}"[:128]
            if ref in existing:
                continue
        drafts.append(Draft(group, ref, want, [(p, mandatory[p.id]) for p in members], pool, []))
    if drafts:
        drafts[0].problems[:0] = problems
    return drafts


def _one(step: Step, plan: RoundPlan, draft: Draft) -> PlannerPlan:
    rnd, group, ref, want, invitees = plan.round, draft.group, draft.ref, draft.want, draft.invitees
    invitable = [p.planner_id for p, _ in invitees if p.planner_id]
    slots = sorted(draft.slots, key=lambda s: s.start)
    notes = list(draft.problems)
    short = max(0, len(invitable) - len(slots))
    missing = wanted(len(invitable), rnd.planner.slot_margin) - len(slots)
    if short:
        notes.append(
            f"{ref}: {len(slots)} slots for {len(invitable)} invitees: {short} families cannot book in the "
            "window with the people this conversation needs (see check-config)"
        )
    elif missing:
        notes.append(f"{ref}: {missing} of {len(slots) + missing} slots do not fit in the window")
    title = f"{want.prefix}{rnd.name} {group.name}".strip()[:200]
    body = None
    if invitable and slots:
        assert plan.planner_opens is not None and plan.planner_closes is not None  # a round with planners
        body = {
            "external_ref": ref,
            "group_id": group.planner_id,
            "title": title,
            "description": messages.invitation(
                rnd,
                step.engine.loaded.path.parent,
                group_name=group.name,
                leerjaren=sorted({p.leerjaar for p, _ in invitees}) or list(group.leerjaren),
                days=plan.conversation_days,
                closes=plan.planner_closes,
                school=step.school.name,
                ib=want.ib,
                colleague=not want.suffix and bool(want.joining),
            ),
            "location": None,
            "kind": KIND.get(
                rnd.kind, "parent_child_meeting" if rnd.attendance.child_from_leerjaar else "parent_meeting"
            ),
            "mode": rnd.planner.mode.value,
            "sibling_head_start_hours": rnd.planner.sibling_head_start_hours,
            "opens_at": plan.planner_opens.isoformat(),
            "closes_at": plan.planner_closes.isoformat(),
            "invitee_child_ids": sorted(invitable),
            "slots": [
                {"start": s.start.isoformat(), "end": s.end.isoformat(), "staff_ids": list(s.staff_ids)} for s in slots
            ],
        }
    return PlannerPlan(ref, group, title, invitees, tuple(slots), body, notes, short)


@dataclass
class RoundOpening:
    """What opening a round's planners will do: resume the interrupted ones, forget the rows of
    those never attempted, record the new ones (`send` those with a request to make)."""

    plan: RoundPlan
    resume: list[tuple[int, PlannerPlan]]
    forget: list[int]
    record: list[PlannerPlan]

    @property
    def send(self) -> list[PlannerPlan]:
        return [p for p in self.record if p.body is not None]

    def actions(self) -> list[Action]:
        resumed = [
            Action("resume planner", p.external_ref, "interrupted earlier: looked up at the planner first")
            for _, p in self.resume
        ]
        return resumed + [Action("create and release planner", p.external_ref, _size(p)) for p in self.send]


def _size(planned: PlannerPlan) -> str:
    body = planned.body or {}
    return f"{len(body.get('invitee_child_ids', []))} invited, {len(body.get('slots', []))} slots"


def plan_opening(step: Step, plan: RoundPlan) -> RoundOpening:
    """Which planners the round still needs (reads only; what planning finds goes to `step.run`)."""
    round_id = find_round(step, plan)
    resume, forget = _unfinished(step, round_id) if round_id is not None else ([], [])
    school_id, year_id = find_school_ids(step.engine, step.school)
    record = []
    planned_groups = (
        plan_group_planners(step, plan, school_id, year_id, frozenset(forget)) if school_id is not None else []
    )
    if not planned_groups and not resume and not _has_planners(step, round_id):
        leerjaren = ", ".join(map(str, plan.round.groups))
        if last_roster(step.engine, step.school.brin) is None:
            raise NeedsPerson(
                f"{plan.round_id}: no planner can be opened before the school's roster has been read once "
                "(its own failure says why)"
            )
        raise NeedsPerson(
            f"{plan.round_id}: PAS lists no group of leerjaar {leerjaren} for this school year, so no planner "
            "can be opened: check the groups in PAS, or the round's groups in the settings"
        )
    for planned in planned_groups:
        for problem in planned.problems:
            step.run.event("planner warning", problem, level="warning", ids=[planned.external_ref])
        if not planned.invitees:
            continue
        if planned.group.planner_id is None:
            step.run.event(
                "planner failed",
                f"{planned.external_ref}: group {planned.group.pas_id} is not linked in the planner",
                level="error",
                ids=[planned.group.pas_id],
            )
            continue
        record.append(planned)
        if planned.body is None:
            step.run.event(
                "planner skipped", f"{planned.external_ref}: no child can be invited or no slot fits", level="warning"
            )
    return RoundOpening(plan, resume, forget, record)


def open_round(step: Step, opening: RoundOpening, school_id: int, year_id: int) -> dict[str, int]:
    """Do what `plan_opening` planned: record, create and release the planners; returns counts."""
    plan = opening.plan
    counts = {"planners opened": 0, "invited": 0, "cannot be invited": 0}
    round_id = ensure_round(step, plan, school_id, year_id)
    todo = list(opening.resume)
    with step.store.write() as session:  # one transaction: every row and intent before any call
        for row_id in opening.forget:
            session.exec(delete(PlannerInvitee).where(col(PlannerInvitee.planner_id) == row_id))
            session.exec(delete(Planner).where(col(Planner.id) == row_id))
        ids = _record(session, opening.record, school_id, round_id, plan)
        for planned in opening.record:
            counts["cannot be invited"] += sum(1 for p, _ in planned.invitees if not p.planner_id)
            if planned.body is not None:
                todo.append((ids[planned.external_ref], planned))
        intents.add_all(
            session,
            [(f"create_planner:{p.external_ref}", "create_planner", p.body) for _, p in todo if p.body is not None],
            now=step.now,
            run_id=step.run_log.id,
        )
    assert plan.planner_opens is not None
    late = " (late)" if step.now > plan.planner_opens else ""
    done = _in_parallel(step, todo)
    with step.run.batch():  # one transaction for the round's "planner opened" lines, not one each
        for outcome in done:
            planned, vendor_id = outcome.item[1], outcome.result
            if vendor_id:
                body = planned.body or {}
                invited, slots = len(body["invitee_child_ids"]), len(body["slots"])
                counts["planners opened"] += 1
                counts["invited"] += invited
                step.run.event(
                    "planner opened", f"{planned.external_ref}: {invited} invited, {slots} slots{late}", ids=[vendor_id]
                )
    pool.results(done)  # a planner that crashed does not stop the others: its error comes after them
    return counts


def _in_parallel(step: Step, todo: list[Todo]) -> list[pool.Done[Todo, str | None]]:
    """Create and release the planners, `sync.concurrency` at a time (issue 7: wall time close to
    requests x latency / concurrency), in the pool's copies of the caller's context."""

    def one(item: Todo) -> str | None:
        row_id, planned = item
        assert planned.body is not None  # `todo` holds only planners with a request to make
        return create_and_release(step, row_id, planned.external_ref, planned.body)

    return pool.each(step.engine, one, todo, name="planner")


Todo = tuple[int, PlannerPlan]  # a Planner row id and what to create for it


def _has_planners(step: Step, round_id: int | None) -> bool:
    """Whether any planner of the round is recorded (then an opening with nothing left to do is done)."""
    if round_id is None:
        return False
    with step.store.read() as session:
        return session.exec(select(Planner.id).where(Planner.round_id == round_id)).first() is not None


def _unfinished(step: Step, round_id: int) -> tuple[list[tuple[int, PlannerPlan]], list[int]]:
    """Planners recorded by an earlier, interrupted run and not yet released: resumed with the
    request that was recorded (their intents are looked up at the vendor before anything is
    sent again). A planner recorded but never attempted is forgotten (its row id is returned),
    and planned afresh."""
    resume: list[tuple[int, PlannerPlan]] = []
    forget: list[int] = []
    with step.store.read() as session:
        rows = session.exec(
            select(Planner, Group)
            .join(Group, col(Group.id) == Planner.group_id)
            .where(Planner.round_id == round_id, col(Planner.status).not_in(RELEASED + ("cancelled",)))
        )
        for row, group in list(rows):
            assert row.id is not None  # read from the store
            body = recorded_payload(step.store, f"create_planner:{row.external_ref}")
            if body is None:
                forget.append(row.id)
                continue
            resume.append((row.id, PlannerPlan(row.external_ref, group, body["title"], [], (), body, [])))
    return resume, forget


def _record(
    session: Session, planned: list[PlannerPlan], school_id: int, round_id: int, plan: RoundPlan
) -> dict[str, int]:
    """The Planner rows and their invitees, stored before any call (the intents' subjects); returns
    the row ids by external_ref. Core inserts, one per table: a planner has some twenty invitees."""
    refs = [p.external_ref for p in planned]
    ids = _ids(session, refs)
    new = [p for p in planned if p.external_ref not in ids]
    if not new:
        return ids
    assert plan.planner_opens is not None and plan.planner_closes is not None  # a round with planners
    rows = []
    for one in new:
        assert one.group.id is not None  # read from the store
        rows.append(
            {
                "external_ref": one.external_ref,
                "school_id": school_id,
                "round_id": round_id,
                "group_id": one.group.id,
                "kind": (one.body or {}).get("kind", "parent_meeting"),
                "mode": plan.round.planner.mode.value,
                "short": one.short,
                "opens_at": plan.planner_opens,
                "closes_at": plan.planner_closes,
            }
        )
    insert_rows(session, Planner, rows)
    ids |= _ids(session, [p.external_ref for p in new])
    invitees = [
        {
            "planner_id": ids[one.external_ref],
            "pupil_id": pupil.id,
            "child_planner_id": pupil.planner_id or "",
            "mandatory": mandatory,
        }
        for one in new
        for pupil, mandatory in one.invitees
    ]
    insert_rows(session, PlannerInvitee, invitees)
    return ids


def _ids(session: Session, refs: list[str]) -> dict[str, int]:
    """The stored Planner rows' ids by external_ref."""
    ids: dict[str, int] = {}
    for n in range(0, len(refs), 500):  # SQLite's bound on parameters per statement
        chunk = refs[n : n + 500]
        query = sa_select(_PLANNERS.c.external_ref, _PLANNERS.c.id).where(_PLANNERS.c.external_ref.in_(chunk))
        ids.update((ref, row_id) for ref, row_id in session.connection().execute(query))
    return ids


def create_and_release(step: Step, row_id: int, ref: str, body: dict) -> str | None:
    """Create the planner (once) and release it (once); returns its vendor id when released.

    Both calls answer with the planner itself, stored in the same transaction as the call's
    confirmation (with the release's intent, recorded before its call); it is read again only
    after an interrupted attempt, when our own answer was lost."""
    planner = step.planner
    seen: dict[str, dict] = {}
    release_claimed: list[Row[Any]] = []  # claimed with the create's confirmation, when it stored the create

    def lookup() -> str | None:
        found = planner.find_planner(ref)
        return found["id"] if found else None

    def send(key: str) -> str | None:
        try:
            seen["created"] = planner.create_planner(body, idempotency_key=key).planner
            return seen["created"]["id"]
        except DuplicateExternalRef as exc:  # created earlier under another key: it is ours
            return exc.existing_id

    def opening(vendor_id: str) -> tuple[str, str, dict]:
        return f"open_planner:{ref}", "open_planner", {"id": vendor_id}

    def store_created(session: Session, vendor_id: str | None) -> None:
        if "created" in seen and vendor_id is not None:
            _write_state(session, step, row_id, seen["created"], opening(vendor_id))
            if (row := intents.claim(session, f"open_planner:{ref}", step.now)) is not None:
                release_claimed.append(row)

    created = perform(
        step.store,
        step.run_log,
        key=f"create_planner:{ref}",
        kind="create_planner",
        payload=body,
        now=step.now,
        send=send,
        lookup=lookup,
        keep_payload=True,
        on_confirm=store_created,
    )
    if not created.done:
        return None
    vendor_id = created.vendor_id
    assert vendor_id is not None  # a planner that was created has its vendor id
    state = seen.get("created")
    if state is None:  # confirmed before, or found at the vendor: read what it holds now
        state = planner.get_planner(vendor_id)
        _store_vendor_state(step, row_id, state, opening(vendor_id))
    already = state["status"] in RELEASED  # released by the create itself: the intent only records it

    def release(_key: str) -> str:
        if not already:
            seen["opened"] = planner.open_planner(vendor_id)
        return vendor_id

    def released() -> str | None:
        return vendor_id if already or planner.get_planner(vendor_id)["status"] in RELEASED else None

    def store_opened(session: Session, _vendor_id: str | None) -> None:
        if "opened" in seen:  # its slots are those the create stored, when this process stored them
            stored = {slot["id"] for slot in seen["created"].get("slots") or []} if "created" in seen else None
            _write_state(session, step, row_id, seen["opened"], stored=stored)

    opened = perform(
        step.store,
        step.run_log,
        key=f"open_planner:{ref}",
        kind="open_planner",
        payload={"id": vendor_id},
        now=step.now,
        send=release,
        lookup=released,
        on_confirm=store_opened,
        claimed=release_claimed[0] if release_claimed else None,
    )
    if not opened.done:
        return None
    if not already and "opened" not in seen:
        _store_vendor_state(step, row_id, planner.get_planner(vendor_id))
    return vendor_id


def _store_vendor_state(step: Step, row_id: int, state: dict, intent: tuple[str, str, dict] | None = None) -> None:
    with step.store.write() as session:
        _write_state(session, step, row_id, state, intent)


def _write_state(
    session: Session,
    step: Step,
    row_id: int,
    state: dict,
    intent: tuple[str, str, dict] | None = None,
    stored: set[str] | None = None,
) -> None:
    """The planner as the vendor answered (status, slots); `intent` recorded in the same transaction;
    `stored`, when known, the vendor ids of its slots in the store (else they are read).
    Core statements: this runs twice per planner, and ORM objects for its slots were most of its cost."""
    if intent is not None:
        intents.add_all(session, [intent], now=step.now, run_id=step.run_log.id, keep_payload=False)
    connection = session.connection()
    values = {"row_id": row_id, "vendor": state["id"], "status_": state["status"], "now": step.now}
    changed = connection.execute(_STATE, values).rowcount
    assert changed == 1, row_id  # recorded before any call
    known = stored if stored is not None else set(connection.scalars(_SLOT_IDS, {"row_id": row_id}))
    new = [
        {
            "planner_id": row_id,
            "vendor_id": slot["id"],
            "starts_at": datetime.fromisoformat(slot["start"]),
            "ends_at": datetime.fromisoformat(slot["end"]),
            "staff_ids": list(slot["staff_ids"]),
        }
        for slot in state.get("slots") or []
        if slot["id"] not in known
    ]
    insert_rows(session, Slot, new)
