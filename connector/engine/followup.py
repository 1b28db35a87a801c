"""While a planner is open and when it closes: bookings, reminders to families, notices to teachers.

Reminders go to families who must book and have not, one message per family per moment naming
each of its children still to book; none to families who booked, none to families who cannot
receive them (no guardian with the app): those are on the teacher's list. At closing each
teacher gets one message listing the families to contact personally (domain.md, "The job" 3).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from connector.engine import messages, outbox
from connector.engine.context import Step
from connector.engine.families import families, households, invitees, reachable_children
from connector.engine.intents import perform
from connector.store.models import (
    Booking,
    GroupStaff,
    Planner,
    PlannerInvitee,
    ReminderSent,
    Slot,
    Staff,
    TeacherNotice,
)
from connector.yearplan import RoundPlan
from mappings.payloads import booking_from_planner, map_items


def round_planners(step: Step, round_id: int) -> list[Planner]:
    with step.store.read() as session:
        return list(session.exec(select(Planner).where(Planner.round_id == round_id, Planner.vendor_id.is_not(None))))


def pull_bookings(step: Step, planner: Planner) -> int:
    """Store the planner's bookings as the vendor has them now; returns the number of active ones."""
    mapped = map_items("booking", step.planner.bookings(planner.vendor_id), booking_from_planner)
    for error in mapped.errors:
        step.run.event("record failed", str(error), level="error", ids=[error.record_id], count="records failed")
    if step.engine.dry_run:
        return sum(1 for b in mapped.records if b.active)
    with step.store.write() as session:
        slots = {s.vendor_id: s.id for s in session.exec(select(Slot).where(Slot.planner_id == planner.id))}
        pupils = {
            i.child_planner_id: i.pupil_id
            for i in session.exec(select(PlannerInvitee).where(PlannerInvitee.planner_id == planner.id))
        }
        stored = {b.vendor_id: b for b in session.exec(select(Booking).where(Booking.planner_id == planner.id))}
        for booking in mapped.records:
            row = stored.get(booking.booking_id) or Booking(
                vendor_id=booking.booking_id,
                planner_id=planner.id,
                slot_vendor_id=booking.slot_id,
                child_planner_id=booking.child_id,
            )
            row.slot_vendor_id, row.slot_id = booking.slot_id, slots.get(booking.slot_id)
            row.child_planner_id, row.pupil_id = booking.child_id, pupils.get(booking.child_id)
            row.guardian_planner_id, row.status, row.vendor_updated_at = (
                booking.guardian_id,
                booking.status,
                booking.updated_at,
            )
            session.add(row)
        row = session.get(Planner, planner.id)
        row.last_synced_at = step.now
        session.add(row)
    return sum(1 for b in mapped.records if b.active)


def send_reminders(step: Step, plan: RoundPlan, round_id: int, moment: datetime) -> int:
    """One reminder per family that must book and has not, for this moment; returns messages sent."""
    planners = round_planners(step, round_id)
    for planner in planners:
        pull_bookings(step, planner)
    with step.store.read() as session:
        everyone = invitees(session, planners)
        todo = [i for i in everyone if i.mandatory and not i.booked and i.child_id]
        # Families over all invitees, not only those still to book: the key stays the same all round.
        groups = families(session, {i.pupil_id for i in everyone})
        house_of = {frozenset(f): households(session, f) for f in groups}
        pas_of = {i.pupil_id: i.pas_id for i in everyone}
    if not todo:
        return 0
    children = list(step.planner.children())
    reachable = reachable_children(children, list(step.planner.guardians()))
    first_names = {c["id"]: c.get("first_name") or "uw kind" for c in children}
    sent = 0
    for family in groups:
        members = [i for i in todo if i.pupil_id in family and i.child_id in reachable]
        if not members:
            continue
        child_ids = sorted({i.child_id for i in members})
        key = f"remind:{step.school.brin}:{plan.school_year}:{plan.round_id}:{min(pas_of[p] for p in family)}:{moment:%Y%m%dT%H%M}"
        body = {
            "recipients": {"child_ids": child_ids},
            "subject": f"Herinnering: {plan.round.name.lower()}"[:200],
            "body": messages.reminder(
                plan.round,
                step.engine.loaded.path.parent,
                children=[first_names[c] for c in child_ids],
                now=moment,
                closes=plan.planner_closes,
                school=step.school.name,
            ),
        }
        if outbox.send(step, key, body, what="reminder", detail=f"{len(child_ids)} child(ren)", count="reminders sent"):
            sent += 1
            _record_reminders(step, members, house_of[frozenset(family)], f"{moment:%Y%m%dT%H%M}")
    return sent


def _record_reminders(step: Step, members, houses: set[str], moment: str) -> None:
    with step.store.write() as session:
        for planner_id in {m.planner_id for m in members}:
            for house in houses:
                exists = session.exec(
                    select(ReminderSent).where(
                        ReminderSent.planner_id == planner_id,
                        ReminderSent.huishouden_id == house,
                        ReminderSent.moment == moment,
                    )
                ).first()
                if not exists:
                    session.add(
                        ReminderSent(planner_id=planner_id, huishouden_id=house, moment=moment, sent_at=step.now)
                    )


def close_round(step: Step, plan: RoundPlan, round_id: int, names: dict[str, str]) -> int:
    """Close each planner (a repeat is a no-op), take the final bookings, notify the teachers.

    `names` maps PAS pupil ids to display names, read from the administration for the notices
    only and never stored. Returns the number of families for the teachers to contact."""
    planners = round_planners(step, round_id)
    children = list(step.planner.children())
    reachable = reachable_children(children, list(step.planner.guardians()))
    for planner in planners:
        state = step.planner.get_planner(planner.vendor_id)
        if state["status"] in ("scheduled", "open") and not step.engine.dry_run:
            perform(
                step.store,
                step.run,
                key=f"close_planner:{planner.external_ref}",
                kind="close_planner",
                payload={"id": planner.vendor_id},
                now=step.now,
                send=lambda _k, p=planner: step.planner.close_planner(p.vendor_id)["id"],
            )
        pull_bookings(step, planner)
    by_group: dict[int, list[Planner]] = {}
    for planner in sorted(planners, key=lambda p: p.external_ref):
        by_group.setdefault(planner.group_id, []).append(planner)
    return sum(_notify_teachers(step, plan, group_planners, reachable, names) for group_planners in by_group.values())


def pupil_names(step: Step) -> dict[str, str]:
    """Display names of the school's pupils, read for a teacher's message only: never stored or logged."""
    names = {}
    for item in step.engine.pas.pupils(step.school.brin, schoolyear=step.school.school_year.year):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            parts = (item.get("roepnaam"), item.get("tussenvoegsel"), item.get("achternaam"))
            names[item["id"]] = " ".join(p for p in parts if isinstance(p, str) and p)
    return names


def families_to_contact(step: Step, planners: list[Planner], reachable: set[str], names: dict[str, str]) -> list[str]:
    """One line per child of these planners (one group's) who must be seen and has no booking."""
    extra = {p.id for p in planners if p.external_ref.endswith(":opp")}
    with step.store.read() as session:
        rows = [i for i in invitees(session, planners) if i.mandatory and not i.booked]
    lines = []
    for item in sorted(rows, key=lambda i: (names.get(i.pas_id, i.pas_id), i.planner_id in extra)):
        name = names.get(item.pas_id, f"leerling {item.pas_id}") + (
            " (extra gesprek over de ondersteuning)" if item.planner_id in extra else ""
        )
        if not item.child_id:
            lines.append(f"{name}: kan niet boeken (staat niet in de app)")
        elif item.child_id not in reachable:
            lines.append(f"{name}: kan niet boeken (geen ouder heeft de app geactiveerd)")
        else:
            lines.append(f"{name}: heeft geen tijd gekozen")
    return lines


def _notify_teachers(
    step: Step, plan: RoundPlan, planners: list[Planner], reachable: set[str], names: dict[str, str]
) -> int:
    """One message per teacher of the group for the whole round (main and extra planners together)."""
    planner = planners[0]
    lines = families_to_contact(step, planners, reachable, names)
    with step.store.read() as session:
        from connector.store.models import Group

        group = session.get(Group, planner.group_id)
        teachers = list(
            session.exec(
                select(Staff)
                .join(GroupStaff, GroupStaff.staff_id == Staff.id)
                .where(GroupStaff.group_id == planner.group_id, Staff.planner_id.is_not(None))
            )
        )
    if not lines:
        return 0
    for teacher in teachers:
        key = f"notice:{planner.external_ref}:{teacher.pas_id}"
        body = {
            "recipients": {"staff_ids": [teacher.planner_id]},
            "subject": f"Nog te plannen: {plan.round.name.lower()} {group.name}"[:200],
            "body": messages.teacher_notice(
                plan.round,
                step.engine.loaded.path.parent,
                group_name=group.name,
                days=plan.conversation_days,
                families=lines,
                school=step.school.name,
            ),
        }
        if outbox.send(
            step,
            key,
            body,
            what="teacher notice",
            detail=f"{len(lines)} families to contact",
            count="teacher notices sent",
        ):
            with step.store.write() as session:
                session.add(
                    TeacherNotice(
                        natural_key=key,
                        kind="not_booked",
                        staff_id=teacher.id,
                        planner_id=planner.id,
                        detail={"families": len(lines)},
                        sent_at=step.now,
                    )
                )
    if not teachers:
        step.run.event(
            "teacher notice failed",
            f"{planner.external_ref}: no teacher of the group is linked in the planner",
            level="error",
        )
    return len(lines)
