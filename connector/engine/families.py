"""Who still has to book, who cannot, and how families group for one message.

A family is every pupil connected through a shared guardian or household: siblings, and both
households of separated parents. A message to the planner addresses children, and reaches every
guardian of those children who has the app, so one message per family reaches both households
of a split family, once (contract: MessageCreate recipients).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import col, select

from connector.store.models import Booking, Guardian, Planner, PlannerInvitee, PupilGuardian


@dataclass(frozen=True)
class Invitee:
    pupil_id: int
    pas_id: str
    child_id: str  # "" when the pupil is not in the app
    planner_id: int
    mandatory: bool
    booked: bool


Fresh = dict[int, dict[str, tuple[str, str]]]  # planner row id -> booking id -> (child id, status)


def invitees(session, planners: list[Planner], fresh: Fresh | None = None) -> list[Invitee]:
    """Every invitee of these planners, with whether they hold an active booking. `fresh` holds
    bookings just read, which count over what is stored (as if stored already)."""
    from connector.store.models import Pupil

    ids = [p.id for p in planners]
    status: dict[tuple[int, str], tuple[str, str]] = {}  # (planner, booking) -> (child, status)
    for b in session.exec(select(Booking).where(col(Booking.planner_id).in_(ids))):
        status[(b.planner_id, b.vendor_id)] = (b.child_planner_id, b.status)
    for planner_id, bookings in (fresh or {}).items():
        for vendor_id, child_and_state in bookings.items():
            status[(planner_id, vendor_id)] = child_and_state
    booked = {(planner_id, child) for (planner_id, _), (child, state) in status.items() if state == "booked"}
    rows = session.exec(
        select(PlannerInvitee, Pupil.pas_id)
        .join(Pupil, col(Pupil.id) == PlannerInvitee.pupil_id)
        .where(col(PlannerInvitee.planner_id).in_(ids))
    )
    return [
        Invitee(
            inv.pupil_id,
            pas_id,
            inv.child_planner_id,
            inv.planner_id,
            inv.mandatory,
            (inv.planner_id, inv.child_planner_id) in booked,
        )
        for inv, pas_id in rows
    ]


def families(session, pupil_ids: set[int]) -> list[set[int]]:
    """Pupils grouped into families via shared guardians and households (union-find)."""
    parent: dict[object, object] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    links = session.exec(
        select(PupilGuardian.pupil_id, Guardian.id, Guardian.huishouden_id)
        .join(Guardian, col(Guardian.id) == PupilGuardian.guardian_id)
        .where(col(PupilGuardian.pupil_id).in_(pupil_ids))
    )
    for pupil_id in pupil_ids:
        find(("p", pupil_id))
    for pupil_id, guardian_id, household in links:
        union(("p", pupil_id), ("g", guardian_id))
        union(("g", guardian_id), ("h", household))
    groups: dict[object, set[int]] = defaultdict(set)
    for pupil_id in pupil_ids:
        groups[find(("p", pupil_id))].add(pupil_id)
    return sorted(groups.values(), key=min)


def households(session, pupil_ids: set[int]) -> set[str]:
    rows = session.exec(
        select(Guardian.huishouden_id)
        .join(PupilGuardian, col(PupilGuardian.guardian_id) == Guardian.id)
        .where(col(PupilGuardian.pupil_id).in_(pupil_ids))
    )
    return set(rows)


def reachable_children(children: list[dict], guardians: list[dict]) -> set[str]:
    """Planner child ids with at least one guardian who activated the app (others cannot book)."""
    active = {g["id"] for g in guardians if g.get("app_active") is True}
    return {c["id"] for c in children if any(gid in active for gid in c.get("guardian_ids") or [])}
