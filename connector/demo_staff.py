"""The demo school's staff on the simulator, and the truth of every conversation.

Teachers hold the booked conversations and the kindgesprekken; when a planner closes they plan a
conversation by hand with about half of the families who did not book (and with the families of a
planner that was cancelled), and they write a verslag after each conversation: most on time, some
late, some never, one per school not visible in the ouderportaal. One staff member cancels one
planner. Every conversation's truth is kept, so the service's report can be held against what
really happened (`truth`).

The teachers write like careful people do, which is what makes the truth knowable to anyone
reading PAS: a verslag carries the day of its conversation (`gespreksdatum`); a pupil's
conversations of one day get their verslagen in the order they were held, and a forgotten one is
the last of that day; a conversation planned by hand is on a day of its own and always gets its
verslag (without one, nobody could know it took place).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import requests

from adapters.simulator import Simulator
from adapters.simulator.world import Planner as SimPlanner
from adapters.simulator.world import School as SimSchool
from connector.cycle.yearplan import RoundPlan, SchoolPlan
from connector.engine.occasions import SUPPORT_SUFFIXES, is_support

HAND_PLANNED_SHARE = 0.5  # of the families who did not book, those the teacher reaches and plans by hand


@dataclass
class Verslag:
    """A teacher's note as it will be written (never written: `created_at` is None)."""

    brin: str
    pupil_id: str
    category: str
    held_on: date
    created_at: datetime | None
    visible: bool
    author: str | None


@dataclass
class Truth:
    """One conversation a round expected of a pupil, as it really went."""

    plan: RoundPlan
    pupil_id: str
    conversation: str  # main, extra or kindgesprek
    how: str  # booking, kindgesprek, hand or not_seen
    due: date
    teachers: frozenset[str]  # PAS staff ids of the teachers accountable for it
    verslag: Verslag | None = None
    group_teachers: frozenset[str] = frozenset()  # accountable when no verslag tells which of them held it

    def written(self, at: datetime) -> bool:
        return self.verslag is not None and self.verslag.created_at is not None and self.verslag.created_at <= at

    def accountable(self, at: datetime) -> frozenset[str]:
        """A kindgesprek or a conversation planned by hand: the teacher who worked that day, once the
        verslag (dated) says which day; before that, all of the group's teachers."""
        if self.how in ("kindgesprek", "hand") and not self.written(at):
            return self.group_teachers
        return self.teachers

    def status(self, at: datetime) -> str:
        """The status the report must show at `at` (after that day's check)."""
        if self.how == "not_seen":
            return "not_seen"
        rules = self.plan.round.verslag
        if not rules.required:
            return "not_required"
        note = self.verslag
        if self.written(at) and note is not None and note.created_at is not None:
            if note.visible or not rules.visible_in_ouderportaal:
                return "on_time" if note.created_at.date() <= self.due else "late"
            return "not_visible" if at.date() > self.due else "pending"
        return "missing" if at.date() > self.due else "pending"


class SchoolStaff:
    """The staff of the simulated schools, stepped by the demo at each of its moments."""

    def __init__(self, sim: Simulator, plans: list[SchoolPlan], seed: int) -> None:
        self.sim = sim
        self.plans = plans
        self.seed = seed
        self.conversations: dict[tuple[str, str, str, str], Truth] = {}
        self.unseen: list[tuple[Truth, datetime]] = []  # not seen, if the pupil is still at school at that moment
        self.contacted: set[tuple[str, str]] = set()  # (brin, planner) whose families were planned by hand
        self.cancelled: set[str] = set()
        self.hidden_one: set[str] = set()  # schools that already have their one invisible verslag
        self.written: set[int] = set()

    # --- what the demo calls --------------------------------------------------------------

    def step(self, http: requests.Session, now: datetime) -> None:
        self._cancel_one_planner(http, now)
        with self.sim.world.lock:
            for plan in self.plans:
                school = self.sim.world.schools[plan.school.brin]
                for rp in plan.rounds:
                    if rp.round.has_planner:
                        self._held_bookings(school, rp, now)
                        self._plan_by_hand(school, rp, now)
                    else:
                        self._kindgesprekken(school, rp, now)
        self._write_due(http, now)

    def truth(self, at: datetime) -> dict[tuple[str, str, str, str], tuple[str, str, frozenset[str]]]:
        """(brin, round, pupil, conversation) -> (how it was known, status, teachers), as the report
        must have it at `at`."""
        out = {}
        for key, t in self.conversations.items():
            if t.how == "hand" and not t.written(at):
                continue  # nobody can know of it yet: its verslag says it took place (not seen, if expected)
            out[key] = (t.how, t.status(at), t.accountable(at))
        with self.sim.world.lock:
            for t, moment in self.unseen:
                record = self.sim.world.schools[t.plan.brin].pupils[t.pupil_id].at(moment)
                key = (t.plan.brin, t.plan.round_id, t.pupil_id, t.conversation)
                if moment <= at and key not in out and record is not None and record["status"] == "ingeschreven":
                    out[(t.plan.brin, t.plan.round_id, t.pupil_id, t.conversation)] = (
                        "not_seen",
                        "not_seen",
                        t.teachers,
                    )
        return out

    # --- the staff member -----------------------------------------------------------------

    def _cancel_one_planner(self, http: requests.Session, now: datetime) -> None:
        """A day after the first planner round opens, its last group's planner is cancelled in the planner."""
        if self.cancelled:
            return
        plan = self.plans[0]
        rp = next((r for r in plan.rounds if r.planner_opens is not None), None)
        if rp is None or rp.planner_opens is None or now < rp.planner_opens + timedelta(days=1):
            return
        with self.sim.world.lock:
            school = self.sim.world.schools[plan.school.brin]
            mains = sorted(
                (p for p in self._planners(school, rp) if len(p.external_ref.split(":")) == 5),
                key=lambda p: p.external_ref,
            )
        if mains:
            http.post(
                f"{self.sim.base_url}/_sim/planners/{mains[-1].id}/cancel", json={}, timeout=10
            ).raise_for_status()
            self.cancelled.add(mains[-1].id)

    # --- teachers -------------------------------------------------------------------------

    @staticmethod
    def _planners(school: SimSchool, rp: RoundPlan) -> list[SimPlanner]:
        prefix = f"sync:{rp.brin}:{rp.school_year}:{rp.round_id}:"
        return [p for p in school.planners.values() if p.external_ref.startswith(prefix)]

    def _held_bookings(self, school: SimSchool, rp: RoundPlan, now: datetime) -> None:
        pupil_of = school.facts["child_pupil"]
        for planner in sorted(self._planners(school, rp), key=lambda p: p.external_ref):
            if planner.cancelled_at is not None:
                continue  # its conversations do not take place
            slots = {s.id: s for s in planner.slots}
            for booking in school.planner_bookings(planner.id):
                slot = slots.get(booking.slot_id)
                if booking.status != "booked" or slot is None or slot.start > now:
                    continue
                key = (rp.brin, rp.round_id, pupil_of[booking.child_id], _conversation(planner.external_ref))
                if key in self.conversations:
                    continue
                # The group's teacher on the slot writes the verslag, not the IB or the colleague with them.
                on_slot = [school.p_staff[s]["external_id"] for s in slot.staff_ids]
                teaching = self._group(school, school.p_groups[planner.group_id]["external_id"])
                author = next((t for t in on_slot if t in teaching), on_slot[0] if on_slot else None)
                held = slot.start.astimezone(now.tzinfo)
                self._record(key, rp, "booking", held, frozenset([author] if author else []), author)

    def _plan_by_hand(self, school: SimSchool, rp: RoundPlan, now: datetime) -> None:
        """At closing, the families without a booking (all of a cancelled planner's): the teacher plans
        their conversations by hand on one day, or they are not seen."""
        todo: dict[str, list[tuple[SimPlanner, tuple[str, str, str, str]]]] = {}
        planners = sorted(self._planners(school, rp), key=lambda p: p.external_ref)
        booked = set()  # (pupil, conversation): booked in any planner of the round that was not cancelled
        for planner in planners:
            for b in school.planner_bookings(planner.id) if planner.cancelled_at is None else ():
                if b.status == "booked":
                    booked.add((school.facts["child_pupil"][b.child_id], _conversation(planner.external_ref)))
        for planner in planners:
            # Each planner at its own closing: a late arrival's planner closes after the round's.
            if now < planner.closes_at or (rp.brin, planner.id) in self.contacted:
                continue
            self.contacted.add((rp.brin, planner.id))
            for pupil_id in self._invited(school, rp, planner):
                key = (rp.brin, rp.round_id, pupil_id, _conversation(planner.external_ref))
                if (
                    (pupil_id, key[3]) not in booked
                    and key not in self.conversations
                    and all(k != key for _, k in todo.get(pupil_id, []))
                ):
                    todo.setdefault(pupil_id, []).append((planner, key))
        for pupil_id, invitations in sorted(todo.items()):
            self._by_hand(school, rp, pupil_id, invitations, now)

    def _by_hand(self, school: SimSchool, rp: RoundPlan, pupil_id: str, invitations, now: datetime) -> None:
        rng = random.Random(f"{self.seed}:{rp.brin}:{rp.round_id}:{pupil_id}:hand")
        record = school.pupils[pupil_id].at(now)
        teachers = frozenset(self._group(school, record["group_id"])) if record else frozenset()
        busy = self._booked_days(school, pupil_id, now)
        days = [d for d in rp.conversation_days if d not in busy]
        if rng.random() < HAND_PLANNED_SHARE and days and record and record["status"] == "ingeschreven":
            day = rng.choice(days)
            author = self._working(school, record["group_id"], day)
            held = datetime.combine(day, time(15, 0), tzinfo=now.tzinfo)
            for _, key in invitations:  # the main conversation first, then the extra one
                self._record(key, rp, "hand", held, frozenset([author]), author, written=True, group=teachers)
        hand_end = rp.window_end + timedelta(days=rp.round.verslag.deadline_days)
        check = datetime.combine(hand_end + timedelta(days=1), time(7, 0), tzinfo=now.tzinfo)
        for planner, key in invitations:
            if planner.cancelled_at is None and _mandatory(rp, school, pupil_id, planner):
                self.unseen.append((Truth(rp, pupil_id, key[3], "not_seen", rp.verslag_deadline, teachers), check))

    @staticmethod
    def _booked_days(school: SimSchool, pupil_id: str, now: datetime) -> set[date]:
        """The days of the pupil's booked conversations, in every planner that was not cancelled."""
        pupil_of = school.facts["child_pupil"]
        days = set()
        for planner in school.planners.values():
            if planner.cancelled_at is not None:
                continue
            slots = {s.id: s for s in planner.slots}
            for b in school.planner_bookings(planner.id):
                if b.status == "booked" and pupil_of.get(b.child_id) == pupil_id and b.slot_id in slots:
                    days.add(slots[b.slot_id].start.astimezone(now.tzinfo).date())
        return days

    def _invited(self, school: SimSchool, rp: RoundPlan, planner: SimPlanner) -> list[str]:
        """The pupils the service invites with this planner, as the school knows them: the group's
        pupils of the round's leerjaren (OPP extra: those with an OPP) when it was made; a late
        planner: its children."""
        parts = planner.external_ref.split(":")
        if len(parts) > 6 or (len(parts) == 6 and parts[5] not in SUPPORT_SUFFIXES):
            return sorted(school.facts["child_pupil"][c] for c in planner.invitee_child_ids)
        group = school.p_groups[planner.group_id]["external_id"]
        out = []
        for pupil in school.pupils.values():
            record = pupil.at(planner.created_at)
            if (
                record is not None
                and record["status"] == "ingeschreven"
                and record["group_id"] == group
                and record["leerjaar"] in rp.round.groups
                and (len(parts) == 5 or _support_for(rp, parts[5], record))
            ):
                out.append(pupil.id)
        return sorted(out)

    def _kindgesprekken(self, school: SimSchool, rp: RoundPlan, now: datetime) -> None:
        """After the window, one kindgesprek per pupil of its leerjaren, on a day of the window."""
        check = datetime.combine(rp.window_end + timedelta(days=1), time(7, 0), tzinfo=now.tzinfo)
        if now < check:
            return
        for pupil in school.pupils.values():
            record = pupil.at(check)
            key = (rp.brin, rp.round_id, pupil.id, "kindgesprek")
            if record is None or record["status"] != "ingeschreven" or record["leerjaar"] not in rp.round.groups:
                continue
            if key in self.conversations:
                continue
            rng = random.Random(f"{self.seed}:{rp.brin}:{rp.round_id}:{pupil.id}:day")
            day = rng.choice(rp.conversation_days)
            author = self._working(school, record["group_id"], day)
            held = datetime.combine(day, time(11, 0), tzinfo=now.tzinfo)
            due = rp.window_end + timedelta(days=rp.round.verslag.deadline_days)
            group = frozenset(self._group(school, record["group_id"]))
            self._record(key, rp, "kindgesprek", held, frozenset([author]), author, due=due, group=group)

    @staticmethod
    def _group(school: SimSchool, group_id: str) -> list[str]:
        return list(next(g["teacher_ids"] for g in school.groups if g["id"] == group_id))

    def _working(self, school: SimSchool, group_id: str, day: date) -> str:
        """The group's teacher who works on `day` (the first one when nobody does)."""
        code = ("ma", "di", "wo", "do", "vr", "za", "zo")[day.weekday()]
        teachers = self._group(school, group_id)
        days = {m["id"]: m["werkdagen"] for m in school.staff}
        return next((t for t in teachers if code in days[t]), teachers[0])

    def _record(
        self,
        key: tuple[str, str, str, str],
        rp: RoundPlan,
        how: str,
        held: datetime,
        teachers: frozenset[str],
        author: str | None,
        *,
        written: bool = False,
        due: date | None = None,
        group: frozenset[str] = frozenset(),
    ) -> None:
        """A conversation held, and the verslag its teacher will write (or not)."""
        days = rp.round.verslag.deadline_days
        due = due or held.date() + timedelta(days=days)
        rng = random.Random(f"{self.seed}:{key}")
        draw = rng.random()
        same_day = [
            t.verslag
            for t in self.conversations.values()
            if t.verslag
            and t.pupil_id == key[2]
            and t.verslag.category == rp.round.verslag_category
            and t.verslag.held_on == held.date()
        ]
        created: datetime | None = None
        forgotten = any(v.created_at is None for v in same_day)
        if not (forgotten or (draw < 0.08 and not written)):
            delay = rng.randint(days + 2, days + 6) if draw < 0.18 else rng.randint(0, max(0, days - 2))
            created = max(
                (held + timedelta(days=delay)).replace(hour=16, minute=rng.randrange(0, 60, 5)),
                held + timedelta(minutes=30),
                *(v.created_at + timedelta(minutes=5) for v in same_day if v.created_at),
            )
        visible = True
        if created is not None and rp.brin not in self.hidden_one and created.date() <= due:
            self.hidden_one.add(rp.brin)
            visible = False
        verslag = Verslag(rp.brin, key[2], rp.round.verslag_category, held.date(), created, visible, author)
        self.conversations[key] = Truth(rp, key[2], key[3], how, due, teachers, verslag, group)

    def _write_due(self, http: requests.Session, now: datetime) -> None:
        due = [
            t for t in self.conversations.values() if t.verslag and t.verslag.created_at and id(t) not in self.written
        ]
        for truth in sorted(due, key=lambda t: (t.verslag.created_at, t.pupil_id)):  # type: ignore[union-attr]
            note = truth.verslag
            assert note is not None and note.created_at is not None  # filtered above
            if note.created_at > now:
                continue
            body = {
                "pupil_id": note.pupil_id,
                "category": note.category,
                "gespreksdatum": note.held_on.isoformat(),
                "created_at": note.created_at.isoformat(),
                "zichtbaar_ouderportaal": note.visible,
                **({"author_id": note.author} if note.author else {}),
            }
            http.post(f"{self.sim.base_url}/_sim/schools/{note.brin}/notes", json=body, timeout=10).raise_for_status()
            self.written.add(id(truth))


def _conversation(external_ref: str) -> str:
    return "extra" if is_support(external_ref) else "main"


def _support_for(rp: RoundPlan, suffix: str, record: dict) -> bool:
    """Whether the service invites this pupil to the group's support planner `suffix` (opp or ib)."""
    opp = rp.round.opp_extra_conversation and record["ontwikkelingsperspectief"]
    if suffix == "opp":
        return bool(opp)
    level = rp.round.attendance.ib_from_ondersteuningsniveau
    return level is not None and record["ondersteuningsniveau"] >= level and not opp


def _mandatory(rp: RoundPlan, school: SimSchool, pupil_id: str, planner: SimPlanner) -> bool:
    record = school.pupils[pupil_id].at(planner.created_at) or school.pupils[pupil_id].latest()
    return rp.round.is_mandatory_for(record["leerjaar"])
