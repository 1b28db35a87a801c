"""Opening and closing planners: one per group per round, plus the OPP extra conversations.

Plan, then execute. `plan_group_planners` computes each planner (invitees, slots, invitation)
from the store; `open_round` records each as a Planner row and creates and releases it through
the intent log. The external_ref is deterministic (`sync:{brin}:{year}:{round}:{group}`), so a
planner whose creation outcome was lost is found again at the vendor, never created twice.
The planner is released `sibling_head_start_hours` before it opens, so that families with
several children can book first (contract: "Planner lifecycle").
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import delete, select

from adapters.errors import DuplicateExternalRef
from connector.engine import messages
from connector.engine.context import Step
from connector.engine.intents import perform, recorded_payload
from connector.engine.slots import SlotSpec, slot_pool, take_slots
from connector.settings.models import RoundKind
from connector.store.models import Group, GroupStaff, Planner, PlannerInvitee, Pupil, Round, Slot, Staff
from connector.yearplan import RoundPlan

KIND = {
    RoundKind.RAPPORT: "report_meeting",
    RoundKind.ADVIES: "advice_meeting",
    RoundKind.VERWIJZING: "advice_meeting",
}
RELEASED = ("scheduled", "open", "closed")


@dataclass
class PlannerPlan:
    external_ref: str
    group: Group
    title: str
    invitees: list[tuple[Pupil, bool]]  # (pupil, mandatory); pupils without planner id cannot be invited
    slots: tuple[SlotSpec, ...]
    body: dict | None  # None when there is nothing to create (no invitable child, no slot)
    problems: list[str]


def release_at(plan: RoundPlan) -> datetime:
    """When a round's planners are created and released: before opening, by the siblings' head start."""
    return plan.planner_opens - timedelta(hours=plan.round.planner.sibling_head_start_hours)


def external_ref(step: Step, plan: RoundPlan, group: Group, suffix: str = "") -> str:
    return f"sync:{step.school.brin}:{plan.school_year}:{plan.round_id}:{group.pas_id}{suffix}"


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
        return row.id


def plan_group_planners(step: Step, plan: RoundPlan, year_id: int) -> list[PlannerPlan]:
    """The planners a round needs, per group of the school year that has the round's leerjaren."""
    rnd = plan.round
    zone = ZoneInfo(step.school.timezone)
    out: list[PlannerPlan] = []
    with step.store.read() as session:
        groups = [
            g
            for g in session.exec(select(Group).where(Group.school_year_id == year_id, Group.archived_at.is_(None)))
            if set(g.leerjaren) & set(rnd.groups)
        ]
        for group in sorted(groups, key=lambda g: g.pas_id):
            pupils = [
                p
                for p in session.exec(select(Pupil).where(Pupil.group_id == group.id, Pupil.archived_at.is_(None)))
                if p.leerjaar in rnd.groups
            ]
            teachers = list(
                session.exec(
                    select(Staff)
                    .join(GroupStaff, GroupStaff.staff_id == Staff.id)
                    .where(GroupStaff.group_id == group.id)
                )
            )
            prefix = external_ref(step, plan, group)
            used = {
                (s.starts_at.astimezone(zone), tuple(s.staff_ids))
                for s in session.exec(
                    select(Slot)
                    .join(Planner, Planner.id == Slot.planner_id)
                    .where(Planner.group_id == group.id, Planner.external_ref.startswith(prefix))
                )
            }
            # A planner whose creation was interrupted has no slots stored yet: its request has them.
            for ref in session.exec(
                select(Planner.external_ref).where(
                    Planner.group_id == group.id, Planner.external_ref.startswith(prefix), Planner.vendor_id.is_(None)
                )
            ):
                for slot in (recorded_payload(step.store, f"create_planner:{ref}") or {}).get("slots", []):
                    used.add((datetime.fromisoformat(slot["start"]).astimezone(zone), tuple(slot["staff_ids"])))
            existing = set(session.exec(select(Planner.external_ref).where(Planner.group_id == group.id)))
            invited = set(
                session.exec(
                    select(PlannerInvitee.pupil_id)
                    .join(Planner, Planner.id == PlannerInvitee.planner_id)
                    .where(
                        Planner.group_id == group.id,
                        Planner.external_ref.startswith(external_ref(step, plan, group)),
                        PlannerInvitee.child_planner_id != "",
                    )
                )
            )
            out += _group_plans(step, plan, group, pupils, teachers, used, existing, invited, zone)
    return out


def _group_plans(
    step, plan: RoundPlan, group: Group, pupils, teachers, used, existing, invited, zone
) -> list[PlannerPlan]:
    rnd = plan.round
    problems = []
    linked_teachers = {t.planner_id: tuple(t.werkdagen) for t in teachers if t.planner_id}
    if not linked_teachers:
        problems.append(f"group {group.pas_id} has no teacher linked in the planner")
    pool, no_teacher_days = slot_pool(
        days=plan.conversation_days, spans=plan.hours, minutes=rnd.slot_minutes, zone=zone, teachers=linked_teachers
    )
    if no_teacher_days:
        problems.append(
            f"group {group.pas_id}: no teacher works on {', '.join(d.isoformat() for d in no_teacher_days)}"
        )
    mandatory = {p.id: rnd.is_mandatory_for(p.leerjaar) for p in pupils}
    wanted = [("", "", pupils)]
    if rnd.opp_extra_conversation:
        wanted.append((":opp", "Extra gesprek over de ondersteuning: ", [p for p in pupils if p.opp]))
    plans: list[PlannerPlan] = []
    for suffix, prefix, members in wanted:
        ref = external_ref(step, plan, group, suffix)
        if ref in existing:
            members = [
                p for p in members if p.id not in invited and p.planner_id
            ]  # arrived or linked since: a planner of their own
            if not members:
                continue
            ref = f"{ref}:{'-'.join(sorted(p.pas_id for p in members))}"[:128]
            if ref in existing:
                continue
        plans.append(
            _one(
                step,
                plan,
                group,
                ref,
                prefix,
                [(p, mandatory[p.id]) for p in members],
                pool,
                used,
                [] if plans else problems,
            )
        )
        used |= {(s.start, s.staff_ids) for s in plans[-1].slots}
    return plans


def _one(
    step: Step, plan: RoundPlan, group: Group, ref: str, prefix: str, invitees, pool, used, problems
) -> PlannerPlan:
    rnd = plan.round
    invitable = [p for p, _ in invitees if p.planner_id]
    taken = take_slots(pool, used, len(invitable), rnd.planner.slot_margin)
    notes = list(problems)
    if taken.shortfall:
        notes.append(f"{ref}: {taken.shortfall} of {taken.wanted} slots do not fit in the window")
    title = f"{prefix}{rnd.name} {group.name}".strip()[:200]
    body = None
    if invitable and taken.slots:
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
            ),
            "location": None,
            "kind": KIND.get(
                rnd.kind, "parent_child_meeting" if rnd.attendance.child_from_leerjaar else "parent_meeting"
            ),
            "mode": "self_select",
            "sibling_head_start_hours": rnd.planner.sibling_head_start_hours,
            "opens_at": plan.planner_opens.isoformat(),
            "closes_at": plan.planner_closes.isoformat(),
            "invitee_child_ids": sorted(p.planner_id for p in invitable),
            "slots": [
                {"start": s.start.isoformat(), "end": s.end.isoformat(), "staff_ids": list(s.staff_ids)}
                for s in taken.slots
            ],
        }
    return PlannerPlan(ref, group, title, invitees, taken.slots, body, notes)


def open_round(step: Step, plan: RoundPlan, school_id: int, year_id: int) -> dict[str, int]:
    """Create and release every planner the round still needs; returns counts."""
    counts = {"planners opened": 0, "invited": 0, "cannot be invited": 0}
    round_id = ensure_round(step, plan, school_id, year_id)
    todo: list[tuple[int, PlannerPlan]] = _unfinished(step, round_id)
    for planned in plan_group_planners(step, plan, year_id):
        for problem in planned.problems:
            step.run.event("planner warning", problem, level="warning", ids=[planned.external_ref])
        if step.engine.dry_run:
            step.run.event(
                "planner planned",
                f"{planned.external_ref}: {len(planned.invitees)} invitees, {len(planned.slots)} slots (dry run)",
            )
            continue
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
        row_id = _record(step, planned, school_id, round_id, plan)
        counts["cannot be invited"] += sum(1 for p, _ in planned.invitees if not p.planner_id)
        if planned.body is None:
            step.run.event(
                "planner skipped", f"{planned.external_ref}: no child can be invited or no slot fits", level="warning"
            )
            continue
        todo.append((row_id, planned))
    late = " (late)" if step.now > plan.planner_opens else ""
    for planned, vendor_id in _in_parallel(step, todo):
        if vendor_id:
            counts["planners opened"] += 1
            counts["invited"] += len(planned.body["invitee_child_ids"])
            step.run.event(
                "planner opened",
                f"{planned.external_ref}: {len(planned.body['invitee_child_ids'])} invited, {len(planned.body['slots'])} slots{late}",
                ids=[vendor_id],
            )
    return counts


def _in_parallel(step: Step, todo: list[tuple[int, PlannerPlan]]) -> list[tuple[PlannerPlan, str | None]]:
    """Create and release the planners, `sync.concurrency` at a time (issue 7: wall time close to
    requests x latency / concurrency). Each worker runs in a copy of the caller's context, so
    its log lines carry the run id too (pitfalls: pool threads do not inherit contextvars)."""
    workers = max(1, min(step.engine.settings.sync.concurrency, len(todo)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="planner") as pool:
        futures = [
            (
                planned,
                pool.submit(
                    contextvars.copy_context().run, create_and_release, step, row_id, planned.external_ref, planned.body
                ),
            )
            for row_id, planned in todo
        ]
        return [(planned, future.result()) for planned, future in futures]


def _unfinished(step: Step, round_id: int) -> list[tuple[int, PlannerPlan]]:
    """Planners recorded by an earlier, interrupted run and not yet released: resumed with the
    request that was recorded (their intents are looked up at the vendor before anything is
    sent again). A planner recorded but never attempted is forgotten, and planned afresh."""
    resume: list[tuple[int, PlannerPlan]] = []
    with step.store.write() as session:
        rows = session.exec(
            select(Planner, Group)
            .join(Group, Group.id == Planner.group_id)
            .where(Planner.round_id == round_id, Planner.status.not_in(RELEASED + ("cancelled",)))
        )
        for row, group in list(rows):
            body = recorded_payload(step.store, f"create_planner:{row.external_ref}")
            if body is None:
                session.exec(delete(PlannerInvitee).where(PlannerInvitee.planner_id == row.id))
                session.delete(row)
                continue
            resume.append((row.id, PlannerPlan(row.external_ref, group, body["title"], [], (), body, [])))
    return resume


def _record(step: Step, planned: PlannerPlan, school_id: int, round_id: int, plan: RoundPlan) -> int:
    """The Planner row and its invitees, stored before any call (the intent's subject)."""
    with step.store.write() as session:
        row = session.exec(select(Planner).where(Planner.external_ref == planned.external_ref)).first()
        if row is None:
            row = Planner(
                external_ref=planned.external_ref,
                school_id=school_id,
                round_id=round_id,
                group_id=planned.group.id,
                kind=(planned.body or {}).get("kind", "parent_meeting"),
                opens_at=plan.planner_opens,
                closes_at=plan.planner_closes,
            )
            session.add(row)
            session.flush()
            for pupil, mandatory in planned.invitees:
                session.add(
                    PlannerInvitee(
                        planner_id=row.id,
                        pupil_id=pupil.id,
                        child_planner_id=pupil.planner_id or "",
                        mandatory=mandatory,
                    )
                )
        return row.id


def create_and_release(step: Step, row_id: int, ref: str, body: dict) -> str | None:
    """Create the planner (once) and release it (once); returns its vendor id when released.

    Both calls answer with the planner itself; it is read again only after an interrupted
    attempt, when our own answer was lost."""
    planner = step.planner
    seen: dict[str, dict] = {}

    def lookup() -> str | None:
        found = planner.find_planner(ref)
        return found["id"] if found else None

    def send(key: str) -> str:
        try:
            seen["created"] = planner.create_planner(body, idempotency_key=key).planner
            return seen["created"]["id"]
        except DuplicateExternalRef as exc:  # created earlier under another key: it is ours
            return exc.existing_id

    created = perform(
        step.store,
        step.run,
        key=f"create_planner:{ref}",
        kind="create_planner",
        payload=body,
        now=step.now,
        send=send,
        lookup=lookup,
        keep_payload=True,
    )
    if not created.done:
        return None
    vendor_id = created.vendor_id
    state = seen.get("created") or planner.get_planner(vendor_id)
    _store_vendor_state(step, row_id, state)
    if state["status"] in RELEASED:
        opened = perform(
            step.store,
            step.run,
            key=f"open_planner:{ref}",
            kind="open_planner",
            payload={"id": vendor_id},
            now=step.now,
            send=lambda _key: vendor_id,
            lookup=lambda: vendor_id,
        )
        return vendor_id if opened.done else None

    def release(_key: str) -> str:
        seen["opened"] = planner.open_planner(vendor_id)
        return vendor_id

    def released() -> str | None:
        return vendor_id if planner.get_planner(vendor_id)["status"] in RELEASED else None

    opened = perform(
        step.store,
        step.run,
        key=f"open_planner:{ref}",
        kind="open_planner",
        payload={"id": vendor_id},
        now=step.now,
        send=release,
        lookup=released,
    )
    if opened.done:
        _store_vendor_state(step, row_id, seen.get("opened") or planner.get_planner(vendor_id))
        return vendor_id
    return None


def _store_vendor_state(step: Step, row_id: int, state: dict) -> None:
    with step.store.write() as session:
        row = session.get(Planner, row_id)
        row.vendor_id, row.status, row.last_synced_at = state["id"], state["status"], step.now
        session.add(row)
        known = {s.vendor_id for s in session.exec(select(Slot).where(Slot.planner_id == row_id))}
        for slot in state.get("slots") or []:
            if slot["id"] not in known:
                session.add(
                    Slot(
                        planner_id=row_id,
                        vendor_id=slot["id"],
                        starts_at=datetime.fromisoformat(slot["start"]),
                        ends_at=datetime.fromisoformat(slot["end"]),
                        staff_ids=list(slot["staff_ids"]),
                    )
                )
