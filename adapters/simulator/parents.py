"""What guardians do in the app: book, cancel, submit preferences, and a deterministic
"parents behave" step (most book, some late, some never, some cannot: no activated app)."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from typing import Any

from .world import Booking, PChild, Planner, Preference, School, Slot, World


class ParentActionError(Exception):
    """A guardian's action the app would refuse; `code` mirrors the planner's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _guardian_for(world: World, school: School, planner: Planner, child_id: str, guardian_id: str | None) -> str:
    now = world.now()
    child = school.p_children.get(child_id)
    if child is None or not child.visible(now) or child_id not in planner.invitee_child_ids:
        raise ParentActionError("validation_error", f"Child {child_id} is not invited to {planner.id}.")
    if guardian_id is None:
        active = [g for g in child.guardian_ids if school.p_guardians[g].app_active]
        if not active:
            raise ParentActionError("app_inactive", "No guardian of this child has an activated app.")
        guardian_id = active[0]
    if guardian_id not in child.guardian_ids:
        raise ParentActionError("validation_error", f"{guardian_id} is not a guardian of {child_id}.")
    if not school.p_guardians[guardian_id].app_active:
        raise ParentActionError("app_inactive", "Guardians without an activated app cannot book.")
    status = planner.status(now)
    if status not in ("scheduled", "open") or not world.bookable_from(school, planner, guardian_id) <= now:
        raise ParentActionError("invalid_state", f"Planner {planner.id} is not bookable for this guardian ({status}).")
    return guardian_id


def book(
    world: World,
    school: School,
    planner: Planner,
    child_id: str,
    guardian_id: str | None = None,
    slot_id: str | None = None,
) -> Booking:
    """Book a slot (the first free one when `slot_id` is None) in a self_select planner."""
    if planner.mode != "self_select":
        raise ParentActionError("invalid_mode", "Booking is only possible in self_select mode.")
    guardian_id = _guardian_for(world, school, planner, child_id, guardian_id)
    bookings = [b for b in school.planner_bookings(planner.id) if b.status == "booked"]
    if any(b.child_id == child_id for b in bookings):
        raise ParentActionError("already_booked", f"Child {child_id} already has a booking.")
    taken = {b.slot_id for b in bookings}
    free = [s.id for s in planner.slots if s.id not in taken]
    if slot_id is None:
        if not free:
            raise ParentActionError("slot_unavailable", "No free slot left.")
        slot_id = free[0]
    elif slot_id not in {s.id for s in planner.slots}:
        raise ParentActionError("validation_error", f"Slot {slot_id} does not belong to {planner.id}.")
    elif slot_id not in free:
        raise ParentActionError("slot_unavailable", f"Slot {slot_id} is taken.")
    now = world.now()
    booking = Booking(world.new_id("bkg_"), planner.id, slot_id, child_id, guardian_id, "booked", now, now)
    school.bookings.append(booking)
    world.counters.events["parent_bookings"] += 1
    return booking


def cancel_booking(world: World, school: School, planner: Planner, child_id: str) -> Booking:
    """Cancel the child's current booking (it stays listed with status cancelled)."""
    for b in school.planner_bookings(planner.id):
        if b.child_id == child_id and b.status == "booked":
            b.status, b.updated_at = "cancelled", world.now()
            world.counters.events["parent_cancellations"] += 1
            return b
    raise ParentActionError("not_found", f"Child {child_id} has no booking in {planner.id}.")


def submit_preferences(
    world: World, school: School, planner: Planner, child_id: str, slot_ids: list[str], guardian_id: str | None = None
) -> Preference:
    """Store a guardian's latest availability for a child (preferences mode)."""
    if planner.mode != "preferences":
        raise ParentActionError("invalid_mode", "Preferences are only possible in preferences mode.")
    guardian_id = _guardian_for(world, school, planner, child_id, guardian_id)
    known = {s.id for s in planner.slots}
    if not slot_ids or any(s not in known for s in slot_ids):
        raise ParentActionError("validation_error", "available_slot_ids must be slots of this planner.")
    pref = Preference(planner.id, child_id, guardian_id, list(slot_ids), world.now())
    school.preferences[(planner.id, child_id, guardian_id)] = pref
    world.counters.events["parent_preferences"] += 1
    return pref


def persona(seed: int, guardian_ids: list[str]) -> str:
    """prompt (70%), late (15%) or never (15%), fixed per family by the seed."""
    digest = hashlib.sha256(f"{seed}|persona|{sorted(guardian_ids)}".encode()).hexdigest()
    u = int(digest[:8], 16) / 16**8
    return "prompt" if u < 0.70 else "late" if u < 0.85 else "never"


def _reminded(world: World, school: School, planner: Planner, child_id: str) -> bool:
    return any(
        m.kind == "message"
        and m.brin == school.brin
        and m.created_at >= planner.opens_at - timedelta(hours=planner.sibling_head_start_hours)
        and child_id in m.recipients.get("child_ids", [])
        for m in world.messages
    )


def _family_slots(school: School) -> dict[str, list[Slot]]:
    """Booked slots per guardian, across all planners of the school."""
    out: dict[str, list[Slot]] = {}
    slots = {sl.id: sl for p in school.planners.values() for sl in p.slots}
    for b in school.bookings:
        child = school.p_children.get(b.child_id)
        if b.status == "booked" and child is not None:
            for gid in child.guardian_ids:
                out.setdefault(gid, []).append(slots[b.slot_id])
    return out


def _pick(world: World, planner: Planner, child: PChild, taken: set[str], family: dict[str, list[Slot]]) -> Slot | None:
    """A free slot; close to (and not overlapping) a sibling's booking elsewhere when there is one."""
    free = [s for s in planner.slots if s.id not in taken]
    if not free:
        return None
    sibling_slots = [sl for gid in child.guardian_ids for sl in family.get(gid, [])]
    if sibling_slots:
        ok = [s for s in free if all(s.end <= o.start or s.start >= o.end for o in sibling_slots)]
        if ok:
            return min(ok, key=lambda s: min(abs((s.start - o.end).total_seconds()) for o in sibling_slots))
    return random.Random(f"{world.config.seed}:{planner.id}:{child.id}").choice(free)


def _available(world: World, planner: Planner, child: PChild) -> list[str]:
    """What a family states in a preferences planner: every slot on the evenings it can, about half
    of the days (at least one of the planner's), drawn per family and date from the seed, so that
    the family states the same evenings for all its children, whichever teacher's planner."""
    days = sorted({s.start.date() for s in planner.slots})
    family = sorted(child.guardian_ids)

    def draw(day: object) -> float:
        digest = hashlib.sha256(f"{world.config.seed}|evening|{family}|{day}".encode()).hexdigest()
        return int(digest[:8], 16) / 16**8

    can = {d for d in days if draw(d) < 0.5} or ({min(days, key=draw)} if days else set())
    return sorted(s.id for s in planner.slots if s.start.date() in can)


def behave(world: World, planner_id: str | None = None) -> dict[str, list[str]]:
    """One deterministic round of parent behaviour over released planners; returns child ids per outcome."""
    out: dict[str, list[str]] = {
        k: []
        for k in (
            "booked",
            "preferences",
            "already_done",
            "late_waiting",
            "never",
            "cannot",
            "not_yet_bookable",
            "no_free_slot",
        )
    }
    now = world.now()
    for school in world.schools.values():
        family = _family_slots(school)
        for planner in list(school.planners.values()):
            if (planner_id and planner.id != planner_id) or planner.status(now) not in ("scheduled", "open"):
                continue
            done = {b.child_id for b in school.planner_bookings(planner.id) if b.status == "booked"}
            done |= {cid for (pid, cid, _) in school.preferences if pid == planner.id}
            taken = {b.slot_id for b in school.planner_bookings(planner.id) if b.status == "booked"}
            late_from = planner.opens_at + (planner.closes_at - planner.opens_at) * 0.6
            for child_id in planner.invitee_child_ids:
                child = school.p_children.get(child_id)
                if child is None or not child.visible(now):
                    continue
                if child_id in done:
                    out["already_done"].append(child_id)
                    continue
                active = [g for g in child.guardian_ids if school.p_guardians[g].app_active]
                kind = persona(world.config.seed, child.guardian_ids)
                if not active:
                    out["cannot"].append(child_id)
                elif kind == "never":
                    out["never"].append(child_id)
                elif kind == "late" and now < late_from and not _reminded(world, school, planner, child_id):
                    out["late_waiting"].append(child_id)
                elif not world.bookable_from(school, planner, active[0]) <= now:
                    out["not_yet_bookable"].append(child_id)
                elif planner.mode == "preferences":
                    submit_preferences(world, school, planner, child_id, _available(world, planner, child), active[0])
                    out["preferences"].append(child_id)
                else:
                    slot = _pick(world, planner, child, taken, family)
                    if slot is None:
                        out["no_free_slot"].append(child_id)
                        continue
                    book(world, school, planner, child_id, active[0], slot.id)
                    taken.add(slot.id)
                    for gid in child.guardian_ids:
                        family.setdefault(gid, []).append(slot)
                    out["booked"].append(child_id)
    return out


def summary(result: dict[str, list[str]]) -> dict[str, Any]:
    return {"counts": {k: len(v) for k, v in result.items()}, **result}
