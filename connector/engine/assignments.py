"""Preferences rounds: at closing, the school's schedule for the whole round (issue W2-4).

Families stated in the app when they can (`GET …/preferences`); when the round closes, the
service places every child of every preferences planner of the round at once, because the same
guardians and the same IB are in several planners: siblings back to back across teachers, the
support conversation straight after the main one, few evenings per teacher, nobody in two
places at once (`scheduling.solve`, CP-SAT, imported only here and only when solving).

Crash-safe in two steps. Planning solves (reads only); executing first records every planner's
assignments as intents in one transaction, then posts them (`POST …/assignments`, a stable
Idempotency-Key). A run after a crash between solving and recording solves again (the same input
gives the same schedule); after recording, it posts what was recorded and solves nothing, so a
repeat never moves a child. Assigning a child to the slot it has changes nothing at the vendor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from connector.cycle.yearplan import RoundPlan
from connector.engine.actions import Action
from connector.engine.context import Step
from connector.engine.families import Fresh
from connector.engine.intents import perform, record_all, recorded_payload
from connector.engine.occasions import is_support
from connector.engine.scheduling import Need, Weights, solve
from connector.engine.scheduling import Slot as SolverSlot
from connector.store.models import Planner, PlannerInvitee, Slot

NO_AVAILABILITY = "no_availability"
NO_FREE_SLOT = "no_free_slot"
PREFERENCES = "preferences"


def assign_key(planner: Planner) -> str:
    return f"assign:{planner.external_ref}"


@dataclass
class Assigning:
    """The round's assignments per planner, and why a child who must be seen has no slot."""

    planners: dict[int, Planner] = field(default_factory=dict)
    assignments: dict[int, list[dict[str, str]]] = field(default_factory=dict)  # planner row id -> [{child, slot}]
    reasons: dict[tuple[int, str], str] = field(default_factory=dict)  # (planner row id, child id) -> reason
    recorded: bool = False  # read back from an earlier run's intents: nothing was solved now
    summary: str = ""

    def actions(self) -> list[Action]:
        what = "as recorded by an earlier run" if self.recorded else self.summary
        return [
            Action("assign slots", self.planners[pid].external_ref, f"{len(rows)} children, {what}")
            for pid, rows in sorted(self.assignments.items())
            if rows
        ]

    def booked(self) -> Fresh:
        """The assignments as bookings, for the teacher notices planned before they are posted."""
        return {
            pid: {f"assigned:{row['child_id']}": (row["child_id"], "booked") for row in rows}
            for pid, rows in self.assignments.items()
        }

    def execute(self, step: Step) -> int:
        """Record every planner's assignments, then post them; returns the children assigned now."""
        todo = {pid: rows for pid, rows in self.assignments.items() if rows}
        record_all(
            step.store,
            [(assign_key(self.planners[pid]), "assign_slots", {"assignments": rows}) for pid, rows in todo.items()],
            now=step.now,
            run_id=step.run_log.id,
        )
        assigned = 0
        for pid, rows in sorted(todo.items()):
            if _post(step, self.planners[pid], rows):
                assigned += len(rows)
        return assigned


def _post(step: Step, planner: Planner, rows: list[dict[str, str]]) -> bool:
    vendor_id = planner.vendor_id
    assert vendor_id is not None  # planners at the vendor only

    def send(key: str) -> str:
        step.planner.assign(vendor_id, rows, idempotency_key=key)
        return vendor_id

    def lookup() -> str | None:
        """Whether an interrupted request took effect: the vendor holds every one of its assignments."""
        active = [b for b in step.planner.bookings(vendor_id) if b.get("status") == "booked"]
        held = {(b.get("child_id"), b.get("slot_id")) for b in active}
        return vendor_id if all((r["child_id"], r["slot_id"]) in held for r in rows) else None

    outcome = perform(
        step.store,
        step.run_log,
        key=assign_key(planner),
        kind="assign_slots",
        payload={"assignments": rows},
        now=step.now,
        send=send,
        lookup=lookup,
        keep_payload=True,
    )
    return outcome.done and not outcome.already


def plan_assignments(step: Step, plan: RoundPlan, planners: list[Planner], children: list[dict]) -> Assigning:
    """The assignments of the round's preferences planners (`planners`: not cancelled), solved now
    or as an earlier run recorded them."""
    chosen = {p.id: p for p in planners if p.mode == PREFERENCES and p.id is not None}
    assigning = Assigning(planners=chosen)
    if not chosen:
        return assigning
    guardians = {c["id"]: frozenset(g for g in c.get("guardian_ids") or [] if isinstance(g, str)) for c in children}
    stated = {pid: _stated(step, p) for pid, p in chosen.items()}
    invited, slots = _invitees_and_slots(step, chosen)
    for pid, planner in chosen.items():
        own = {s.id for s in slots if s.planner == planner.external_ref}
        for child in invited[pid]:
            if not stated[pid].get(child, set()) & own:
                assigning.reasons[(pid, child)] = NO_AVAILABILITY
    recorded = {pid: recorded_payload(step.store, assign_key(p)) for pid, p in chosen.items()}
    if any(payload is not None for payload in recorded.values()):
        assigning.recorded = True
        assigning.assignments = {pid: (payload or {}).get("assignments", []) for pid, payload in recorded.items()}
    else:
        _solve(step, plan, chosen, invited, slots, stated, guardians, assigning)
    placed = {(pid, row["child_id"]) for pid, rows in assigning.assignments.items() for row in rows}
    for pid in chosen:
        for child in invited[pid]:
            if (pid, child) not in placed:
                assigning.reasons.setdefault((pid, child), NO_FREE_SLOT)
    return assigning


def _solve(step, plan: RoundPlan, chosen, invited, slots, stated, guardians, assigning: Assigning) -> None:
    needs = [
        Need(
            planner=planner.external_ref,
            child=child,
            guardians=guardians.get(child) or frozenset({f"child:{child}"}),
            available=tuple(sorted(stated[pid].get(child, set()))),
            main=not is_support(planner.external_ref),
        )
        for pid, planner in sorted(chosen.items(), key=lambda item: item[1].external_ref)
        for child in sorted(invited[pid])
    ]
    settings = plan.round.planner
    solution = solve(slots, needs, Weights(**settings.weights.model_dump()), time_limit_s=settings.solve_seconds)
    by_ref = {p.external_ref: pid for pid, p in chosen.items()}
    assigning.assignments = {pid: [] for pid in chosen}
    for (ref, child), slot_id in sorted(solution.assigned.items()):
        assigning.assignments[by_ref[ref]].append({"child_id": child, "slot_id": slot_id})
    proof = (
        "proven optimal"
        if solution.optimal
        else f"not proven optimal: the best possible costs at most {solution.gap:.0%} less in gaps and evenings"
    )
    assigning.summary = f"solved in {solution.seconds:.1f} s, {proof}"
    step.run.event(
        "schedule solved",
        f"{plan.round_id}: {len(solution.assigned)} of {len(needs)} conversations placed, {assigning.summary}",
        count="conversations scheduled",
    )


def stated_children(step: Step, planner: Planner) -> set[str]:
    """The children of a preferences planner for whom a guardian stated any time."""
    return {child for child, slots in _stated(step, planner).items() if slots}


def _stated(step: Step, planner: Planner) -> dict[str, set[str]]:
    """Per child, the slots any of its guardians marked available (their latest submission)."""
    assert planner.vendor_id is not None  # planners at the vendor only
    out: dict[str, set[str]] = {}
    for item in step.planner.preferences(planner.vendor_id):
        child = item.get("child_id")
        if isinstance(child, str):
            out.setdefault(child, set()).update(s for s in item.get("available_slot_ids") or [] if isinstance(s, str))
    return out


def _invitees_and_slots(step: Step, chosen: dict[int, Planner]) -> tuple[dict[int, set[str]], list[SolverSlot]]:
    """Each planner's invited children (in the app) and the slots of all of them."""
    refs = {pid: p.external_ref for pid, p in chosen.items()}
    invited: dict[int, set[str]] = {pid: set() for pid in refs}
    with step.store.read() as session:
        for row in session.exec(select(PlannerInvitee).where(col(PlannerInvitee.planner_id).in_(list(refs)))):
            if row.child_planner_id:
                invited[row.planner_id].add(row.child_planner_id)
        stored = list(session.exec(select(Slot).where(col(Slot.planner_id).in_(list(refs)))))
    slots = [
        SolverSlot(s.vendor_id, refs[s.planner_id], s.starts_at, s.ends_at, tuple(s.staff_ids))
        for s in sorted(stored, key=lambda s: (s.starts_at, s.vendor_id or ""))
        if s.vendor_id is not None
    ]
    return invited, slots
