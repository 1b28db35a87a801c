"""While a planner is open and when it closes: bookings, reminders to families, notices to teachers.

Reminders go to families who must book and have not, one message per family per moment naming
each of its children still to book; none to families who booked, none to families who cannot
receive them (no guardian with the app): those are on the teacher's list. At closing each
teacher gets one message listing the families to contact personally (domain.md, "The job" 3).

A planner that school staff cancelled in the planner (status `cancelled`) is found by the next job
that reads its status (the day's first booking poll, a reminder moment, the closing): each teacher
of its group is told once which families were invited, to contact them personally; then it is
stored as cancelled and left alone: no booking poll, no reminder, no closing, no request at all.
The main planner and the OPP extra planner of a group are separate planners: one can be cancelled
while the other goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from connector.cycle.yearplan import RoundPlan
from connector.domain import Booking as BookingRecord
from connector.engine import bookingrows, messages, pool
from connector.engine.actions import Action
from connector.engine.assignments import NO_AVAILABILITY, NO_FREE_SLOT, Assigning, plan_assignments, stated_children
from connector.engine.context import Step
from connector.engine.families import Fresh, Invitee, families, households, invitees, reachable_children
from connector.engine.intents import perform
from connector.engine.occasions import is_support
from connector.engine.outbox import Message, send_all
from connector.store.models import (
    Group,
    GroupStaff,
    Intent,
    IntentState,
    Planner,
    PlannerInvitee,
    PlannerStatus,
    Pupil,
    ReminderSent,
    Staff,
    TeacherNotice,
)
from mappings.payloads import Mapped, booking_from_planner, map_items

CANCELLED = PlannerStatus.CANCELLED.value  # by school staff in the planner (contract: "Planner lifecycle")


def round_planners(step: Step, round_id: int) -> list[Planner]:
    with step.store.read() as session:
        return list(
            session.exec(select(Planner).where(Planner.round_id == round_id, col(Planner.vendor_id).is_not(None)))
        )


def read_bookings(step: Step, planner: Planner) -> Mapped[BookingRecord]:
    """The planner's bookings, mapped; safe in a pool worker (it records nothing)."""
    assert planner.vendor_id is not None  # `round_planners`: planners at the vendor only
    return map_items("booking", step.planner.bookings(planner.vendor_id), booking_from_planner)


def fetch_all(step: Step, planners: list[Planner]) -> list[list[BookingRecord]]:
    """Each planner's bookings, `sync.concurrency` planners at a time; bad records go to the run log
    in the planners' order. A planner that fails does not stop the others: the first failure is
    raised once every planner was read (`pool.results`)."""
    done = pool.each(step.engine, lambda p: read_bookings(step, p), planners, name="bookings")
    return [_mapped(step, mapped) for mapped in pool.results(done)]


def _mapped(step: Step, mapped: Mapped[BookingRecord]) -> list[BookingRecord]:
    for error in mapped.errors:
        step.run.event("record failed", str(error), level="error", ids=[error.record_id], count="records failed")
    return mapped.records


def store_all(step: Step, read: list[tuple[Planner, list[BookingRecord]]]) -> int:
    """Store the bookings read of several planners (`fetch_all`) in one transaction; returns the number
    of active ones."""
    with step.store.write() as session:
        bookingrows.store(session, read, step.now)
    return sum(1 for _, records in read for b in records if b.active)


def is_extra(planner: Planner) -> bool:
    """A support planner of a group (OPP or IB, `occasions.is_support`)."""
    return is_support(planner.external_ref)


def vendor_statuses(step: Step, planners: list[Planner]) -> dict[int, str]:
    """Each planner's status at the vendor (reads only): one request per planner, `sync.concurrency`
    at a time, none for a planner already stored as cancelled (it is read-only at the vendor, and
    left alone). The first failure is raised once every planner was read."""

    def status(planner: Planner) -> str:
        assert planner.id is not None and planner.vendor_id is not None  # `round_planners`: stored, at the vendor
        return CANCELLED if planner.status == CANCELLED else step.planner.get_planner(planner.vendor_id)["status"]

    found = pool.results(pool.each(step.engine, status, planners, name="status"))
    return {p.id: s for p, s in zip(planners, found, strict=True) if p.id is not None}


def live(planners: list[Planner], statuses: dict[int, str]) -> list[Planner]:
    """The planners not cancelled (by `vendor_statuses`)."""
    return [p for p in planners if p.id is not None and statuses[p.id] != CANCELLED]


@dataclass
class Cancellation:
    """Planners found cancelled in the planner that the store does not know as cancelled yet, and
    one notice per teacher of each one's group listing the families it invited."""

    planners: list[Planner] = field(default_factory=list)
    notices: list[tuple[Message, int, int, int]] = field(default_factory=list)  # message, staff, planner, pupils

    def actions(self) -> list[Action]:
        found = [Action("record cancelled planner", p.external_ref, "cancelled in the planner") for p in self.planners]
        return found + [message.action() for message, _, _, _ in self.notices]

    def execute(self, step: Step) -> None:
        """Send the notices, then store the planners as cancelled. A planner whose notice waits for a
        retry is stored once it went out: until then each job reads it again (and sends it then)."""
        for message, staff_id, planner_id, count in self.notices:
            if message.send(step) and _record_notice(step, message, "cancelled", staff_id, planner_id, count):
                step.run_log.counts["families to contact"] += count
        for planner in self.planners:
            waiting = [m.key for m, _, pid, _ in self.notices if pid == planner.id and not _settled(step, m.key)]
            if waiting:
                continue
            with step.store.write() as session:
                row = session.get(Planner, planner.id)
                assert row is not None, planner.external_ref  # read from the store
                row.status, row.last_synced_at = CANCELLED, step.now
                session.add(row)
            step.run.event(
                "planner cancelled",
                f"{planner.external_ref}: cancelled in the planner; no more reminders or closing for it",
                level="warning",
                ids=[planner.vendor_id or ""],
                count="planners cancelled",
            )


def plan_cancellation(
    step: Step,
    plan: RoundPlan,
    planners: list[Planner],
    statuses: dict[int, str],
    names: dict[str, str] | None = None,
) -> Cancellation:
    """What to do about the planners `vendor_statuses` found cancelled and the store does not know
    as cancelled: the notices to their groups' teachers (names read from PAS only if there is one)."""
    found = [p for p in planners if p.id is not None and statuses[p.id] == CANCELLED and p.status != CANCELLED]
    cancellation = Cancellation(found)
    if not found:
        return cancellation
    names = pupil_names(step) if names is None else names
    for planner in sorted(found, key=lambda p: p.external_ref):
        assert planner.id is not None  # read from the store
        with step.store.read() as session:
            group = session.get(Group, planner.group_id)
            teachers = _teachers(session, planner.group_id)
            invited = session.exec(
                select(Pupil.pas_id)
                .join(PlannerInvitee, col(PlannerInvitee.pupil_id) == Pupil.id)
                .where(PlannerInvitee.planner_id == planner.id)
            )
            lines = sorted(names.get(pas_id, f"leerling {pas_id}") for pas_id in invited)
        if not lines:
            continue
        assert group is not None
        extra = is_extra(planner)
        what = "extra gesprek over de ondersteuning, " if extra else ""
        subject = f"Gespreksplanner geannuleerd: {what}{plan.round.name.lower()} {group.name}"
        text = messages.cancelled_notice(
            plan.round,
            step.engine.loaded.path.parent,
            extra=extra,
            group_name=group.name,
            days=plan.conversation_days,
            families=lines,
            school=step.school.name,
        )
        key = f"cancelled:{planner.external_ref}"
        for teacher in teachers:
            message = _to_teacher(teacher, key, subject, text, "cancelled notice", lines)
            assert teacher.id is not None  # read from the store
            cancellation.notices.append((message, teacher.id, planner.id, len(lines)))
        if not teachers:
            step.run.event(
                "teacher notice failed",
                f"{planner.external_ref}: cancelled in the planner; no teacher of the group is linked in the planner",
                level="error",
            )
    return cancellation


def _to_teacher(teacher: Staff, key: str, subject: str, text: str, what: str, lines: list[str]) -> Message:
    """One teacher's copy of a notice listing families to contact (`key` plus the teacher's PAS id)."""
    body = {"recipients": {"staff_ids": [teacher.planner_id]}, "subject": subject[:200], "body": text}
    return Message(f"{key}:{teacher.pas_id}", body, what, f"{len(lines)} families to contact", count=f"{what}s sent")


def _teachers(session, group_id: int) -> list[Staff]:
    """The group's teachers who are linked in the planner (who can get a message)."""
    return list(
        session.exec(
            select(Staff)
            .join(GroupStaff, col(GroupStaff.staff_id) == Staff.id)
            .where(GroupStaff.group_id == group_id, col(Staff.planner_id).is_not(None))
        )
    )


def _record_notice(step: Step, message: Message, kind: str, staff_id: int, planner_id: int, count: int) -> bool:
    """The TeacherNotice of a notice just sent; True when it is the planner's first of this kind."""
    with step.store.write() as session:
        first = (
            session.exec(
                select(TeacherNotice.id).where(TeacherNotice.planner_id == planner_id, TeacherNotice.kind == kind)
            ).first()
            is None
        )
        session.add(
            TeacherNotice(
                natural_key=message.key,
                kind=kind,
                staff_id=staff_id,
                planner_id=planner_id,
                detail={"families": count},
                sent_at=step.now,
            )
        )
    return first


def _settled(step: Step, key: str) -> bool:
    """Whether a message's intent is over: sent, or failed for good (reported; never retried)."""
    with step.store.read() as session:
        state = session.exec(select(Intent.state).where(Intent.natural_key == key)).first()
    return state in (IntentState.CONFIRMED.value, IntentState.FAILED_PERMANENT.value)


@dataclass
class Polling:
    """One booking poll of a round: the planners to read, and those found cancelled."""

    planners: list[Planner]
    cancellation: Cancellation

    def actions(self) -> list[Action]:
        return self.cancellation.actions() + [Action("read bookings", p.external_ref) for p in self.planners]

    def execute(self, step: Step) -> int:
        """Returns the number of active bookings seen."""
        self.cancellation.execute(step)
        done = pool.each(step.engine, lambda p: read_bookings(step, p), self.planners, name="bookings")
        read = [(d.item, _mapped(step, d.result)) for d in done if d.result is not None and d.error is None]
        active = store_all(step, read)  # what was read is kept, also when another planner failed
        pool.results(done)
        return active


def plan_poll(step: Step, plan: RoundPlan, round_id: int | None) -> Polling:
    """Which planners of the round to poll for bookings: those not cancelled. A poll reads a planner's
    status only when it was last synced before today (the school's day): a cancellation is noticed by
    the day's first poll, and a poll every few minutes costs one request per planner, not two. The
    reminder moments and the closing read every status anyway."""
    planners = round_planners(step, round_id) if round_id is not None else []
    today = step.local_date()
    stale = [p for p in planners if p.last_synced_at is None or step.local_date(p.last_synced_at) < today]
    statuses = {p.id: p.status for p in planners if p.id is not None} | vendor_statuses(step, stale)
    return Polling(live(planners, statuses), plan_cancellation(step, plan, planners, statuses))


@dataclass
class Reminding:
    """One reminder moment of a round: the bookings read for it, and one message per family."""

    fresh: dict[int, tuple[Planner, list[BookingRecord]]]  # planner row id -> its bookings read now
    messages: list[tuple[Message, list[Invitee], set[str]]]  # with its invitees and their households
    moment: datetime
    cancellation: Cancellation = field(default_factory=Cancellation)

    def actions(self) -> list[Action]:
        reads = [Action("store bookings", p.external_ref, f"{len(b)} read") for p, b in self.fresh.values()]
        return self.cancellation.actions() + reads + [message.action() for message, _, _ in self.messages]

    def execute(self, step: Step) -> int:
        self.cancellation.execute(step)
        store_all(step, list(self.fresh.values()))
        sent = 0
        went = send_all(step, [message for message, _, _ in self.messages])
        for (_, members, houses), out in zip(self.messages, went, strict=True):
            if out:
                sent += 1
                _record_reminders(step, members, houses, f"{self.moment:%Y%m%dT%H%M}")
        return sent


def plan_reminders(step: Step, plan: RoundPlan, round_id: int | None, moment: datetime) -> Reminding:
    """One reminder per family that must book and has not, for this moment, on the bookings read now.
    None for a planner cancelled in the planner: its families are on its teachers' list instead."""
    planners = round_planners(step, round_id) if round_id is not None else []
    statuses = vendor_statuses(step, planners)
    fresh: dict[int, tuple[Planner, list[BookingRecord]]] = {}
    reading = live(planners, statuses)
    for planner, records in zip(reading, fetch_all(step, reading), strict=True):
        assert planner.id is not None  # read from the store
        fresh[planner.id] = (planner, records)
    extra = {p.id for p in planners if is_extra(p)}
    reminding = Reminding(fresh, [], moment, plan_cancellation(step, plan, planners, statuses))
    done = _booked(fresh)
    for planner, _ in fresh.values():  # in a preferences planner, stating when you can is what is asked
        if planner.mode == "preferences" and planner.id is not None:
            done[planner.id] |= {f"stated:{child}": (child, "booked") for child in stated_children(step, planner)}
    with step.store.read() as session:
        everyone = invitees(session, planners, done)
        todo = [i for i in everyone if i.planner_id in fresh and i.mandatory and not i.booked and i.child_id]
        # Families over all invitees (of cancelled planners too), not only those still to book: the
        # key stays the same all round.
        groups = families(session, {i.pupil_id for i in everyone})
        house_of = {frozenset(f): households(session, f) for f in groups}
        pas_of = {i.pupil_id: i.pas_id for i in everyone}
    if not todo:
        return reminding
    children = list(step.planner.children())
    reachable = reachable_children(children, list(step.planner.guardians()))
    first_names = {c["id"]: c.get("first_name") or "uw kind" for c in children}
    base = step.engine.loaded.path.parent
    for family in groups:
        members = [i for i in todo if i.pupil_id in family and i.child_id in reachable]
        if not members:
            continue
        child_ids = sorted({i.child_id for i in members})
        main = sorted({i.child_id for i in members if i.planner_id not in extra})
        opp = sorted({i.child_id for i in members if i.planner_id in extra})
        eldest = min(pas_of[p] for p in family)
        key = f"remind:{step.school.brin}:{plan.school_year}:{plan.round_id}:{eldest}:{moment:%Y%m%dT%H%M}"
        assert plan.planner_closes is not None  # a round with planners
        body = {
            "recipients": {"child_ids": child_ids},
            "subject": f"Herinnering: {plan.round.name.lower()}"[:200],
            "body": messages.reminder(
                plan.round,
                base,
                children=[first_names[c] for c in main],
                extra=[first_names[c] for c in opp],
                now=moment,
                closes=plan.planner_closes,
                school=step.school.name,
            ),
        }
        message = Message(key, body, "reminder", f"{len(child_ids)} child(ren)", count="reminders sent")
        reminding.messages.append((message, members, house_of[frozenset(family)]))
    to_extra = any(m.planner_id in extra for _, members, _ in reminding.messages for m in members)
    if to_extra and not messages.names_conversations(plan.round, base):
        step.run.event(
            "reminder warning",
            f"{plan.round_id}: the round's own reminder has no ${{gesprekken}}, so it cannot say which child "
            "has to book the extra conversation about the support; those reminders use the built-in text",
            level="warning",
        )
    return reminding


def _booked(fresh: dict[int, tuple[Planner, list[BookingRecord]]]) -> Fresh:
    """The bookings just read, as `invitees` counts them over what is stored."""
    return {pid: {b.booking_id: (b.child_id, b.status) for b in records} for pid, (_, records) in fresh.items()}


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


@dataclass
class Closing:
    """Closing a round: the planners still open to close, their final bookings, and one notice
    per teacher of each group listing the families to contact."""

    to_close: list[Planner]
    fresh: dict[int, tuple[Planner, list[BookingRecord]]]
    notices: list[tuple[Message, int, int, int]]  # message, staff row id, planner row id, families
    contact: int  # families for the teachers to contact
    cancellation: Cancellation = field(default_factory=Cancellation)
    assigning: Assigning = field(default_factory=Assigning)

    def actions(self) -> list[Action]:
        closes = [Action("close planner", p.external_ref) for p in self.to_close]
        reads = [Action("store bookings", p.external_ref, f"{len(b)} read") for p, b in self.fresh.values()]
        notices = [message.action() for message, _, _, _ in self.notices]
        return self.cancellation.actions() + closes + self.assigning.actions() + reads + notices

    def execute(self, step: Step) -> int:
        """Close, assign (preferences planners), store the final bookings, then tell the teachers."""
        self.cancellation.execute(step)
        for planner in self.to_close:
            _close(step, planner)
        step.run_log.counts["children assigned"] += self.assigning.execute(step)
        # A preferences planner's bookings are made by the assignments just posted: read them now.
        again = [p for pid, (p, _) in self.fresh.items() if pid in self.assigning.planners]
        final = dict(zip([p.id for p in again], fetch_all(step, again), strict=True))
        store_all(step, [(p, final.get(pid, records)) for pid, (p, records) in self.fresh.items()])
        went = send_all(step, [message for message, _, _, _ in self.notices])
        for (message, staff_id, planner_id, count), out in zip(self.notices, went, strict=True):
            if out:
                _record_notice(step, message, "not_booked", staff_id, planner_id, count)
        return self.contact


def _close(step: Step, planner: Planner) -> None:
    vendor_id = planner.vendor_id
    assert vendor_id is not None  # `round_planners`: planners at the vendor only
    perform(
        step.store,
        step.run_log,
        key=f"close_planner:{planner.external_ref}",
        kind="close_planner",
        payload={"id": vendor_id},
        now=step.now,
        send=lambda _k: step.planner.close_planner(vendor_id)["id"],
    )


def plan_close(step: Step, plan: RoundPlan, round_id: int | None) -> Closing:
    """What closing the round does. Bookings closed at `planner_closes`, so what is read now is final;
    a planner still open at the vendor is closed, and a repeat is a no-op. A planner cancelled in the
    planner is not closed and has no families to contact: its teachers had (or get now) its list."""
    planners = round_planners(step, round_id) if round_id is not None else []
    statuses = vendor_statuses(step, planners)
    open_planners = live(planners, statuses)
    names = pupil_names(step)
    children = list(step.planner.children())
    reachable = reachable_children(children, list(step.planner.guardians()))
    to_close = []
    fresh: dict[int, tuple[Planner, list[BookingRecord]]] = {}
    for planner, records in zip(open_planners, fetch_all(step, open_planners), strict=True):
        assert planner.id is not None  # read from the store
        if statuses[planner.id] in ("scheduled", "open"):
            to_close.append(planner)
        fresh[planner.id] = (planner, records)
    assigning = plan_assignments(step, plan, open_planners, children)
    closing = Closing(to_close, fresh, [], 0, plan_cancellation(step, plan, planners, statuses, names), assigning)
    booked = _booked(fresh)
    for pid, assigned in assigning.booked().items():
        booked[pid] = {**booked.get(pid, {}), **assigned}
    by_group: dict[int, list[Planner]] = {}
    for planner in sorted(open_planners, key=lambda p: p.external_ref):
        by_group.setdefault(planner.group_id, []).append(planner)
    for group_planners in by_group.values():
        closing.contact += _plan_notices(step, plan, group_planners, reachable, names, booked, closing)
    return closing


def pupil_names(step: Step) -> dict[str, str]:
    """Display names of the school's pupils, read for a teacher's message only: never stored or logged."""
    names = {}
    for item in step.engine.pas.pupils(step.school.brin, schoolyear=step.school.school_year.year):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            parts = (item.get("roepnaam"), item.get("tussenvoegsel"), item.get("achternaam"))
            names[item["id"]] = " ".join(p for p in parts if isinstance(p, str) and p)
    return names


NOT_ASSIGNED = {
    NO_AVAILABILITY: "heeft niet aangegeven wanneer het kan",
    NO_FREE_SLOT: "kon op geen van de opgegeven tijden worden ingepland",
}


def families_to_contact(
    step: Step,
    planners: list[Planner],
    reachable: set[str],
    names: dict[str, str],
    booked: Fresh,
    reasons: dict[tuple[int, str], str] | None = None,
) -> list[str]:
    """One line per child of these planners (one group's) who must be seen and has no booking; in a
    preferences planner, why the schedule has no slot for them (`reasons`)."""
    extra = {p.id for p in planners if is_extra(p)}
    with step.store.read() as session:
        rows = [i for i in invitees(session, planners, booked) if i.mandatory and not i.booked]
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
            reason = (reasons or {}).get((item.planner_id, item.child_id))
            lines.append(f"{name}: {NOT_ASSIGNED[reason] if reason else 'heeft geen tijd gekozen'}")
    return lines


def _plan_notices(
    step: Step,
    plan: RoundPlan,
    planners: list[Planner],
    reachable: set[str],
    names: dict[str, str],
    booked: Fresh,
    closing: Closing,
) -> int:
    """One message per teacher of the group for the whole round (main and extra planners together)."""
    planner = planners[0]
    lines = families_to_contact(step, planners, reachable, names, booked, closing.assigning.reasons)
    with step.store.read() as session:
        group = session.get(Group, planner.group_id)
        teachers = _teachers(session, planner.group_id)
    if not lines:
        return 0
    assert group is not None
    subject = f"Nog te plannen: {plan.round.name.lower()} {group.name}"
    text = messages.teacher_notice(
        plan.round,
        step.engine.loaded.path.parent,
        group_name=group.name,
        days=plan.conversation_days,
        families=lines,
        school=step.school.name,
    )
    for teacher in teachers:
        message = _to_teacher(teacher, f"notice:{planner.external_ref}", subject, text, "teacher notice", lines)
        assert teacher.id is not None and planner.id is not None  # read from the store
        closing.notices.append((message, teacher.id, planner.id, len(lines)))
    if not teachers:
        step.run.event(
            "teacher notice failed",
            f"{planner.external_ref}: no teacher of the group is linked in the planner",
            level="error",
        )
    return len(lines)
