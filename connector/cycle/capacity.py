"""Can each round's windows hold the conversations it needs, with the people they need (issue W2-4)?

`check-config` and `plan` warn before a round when they cannot, so that no planner silently has
fewer slots than invitees. Pure: read from the year plan and the roster's facts (`SchoolFacts`).

The rules are the engine's (`engine/planners.py`, `engine/slots.py`): every pupil of the round's
leerjaren has a main conversation with the group's teachers who work that day (a day none of
them works offers no slot); a pupil with an OPP (`opp_extra_conversation`) or of
`ib_from_ondersteuningsniveau` or higher has one support conversation besides, with the IB on
it when the round has that level; a named `second_colleague` is on every main conversation. A
day offers the whole `slot_minutes` slots of the round's hours. Nobody is in two slots at once,
so a person's slots are shared by all the groups and rounds that need them.

This is a necessary condition, a bound, not a schedule: every warning is a real shortage, but a
round without warnings may still not fit (the slots left once others have chosen theirs). Per
round, a group's conversations are counted against the slots of its teachers' working days, and
each kind whose extra person narrows the days (the IB, the second colleague) against the days
they work together; a person whom two or more groups need (a teacher of two groups, the IB, the
second colleague) against the slots on their own working days. Rounds whose conversation days
overlap are counted once more together, in minutes, since their slots differ in length. A duo
teacher is counted for the conversations the other teacher's days cannot take; someone joining
conversations who works on none of the round's days is said once. The second colleague
`previous_teacher` differs per group and is read from PAS by the engine: not checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from functools import partial
from zoneinfo import ZoneInfo

from connector.cycle.schooldays import WEEKDAY_CODES
from connector.cycle.settings.models import PREVIOUS_TEACHER
from connector.cycle.yearplan import RoundPlan, SchoolPlan, day_slots

IB_ROLE = "intern_begeleider"


@dataclass(frozen=True)
class PupilFacts:
    """One pupil, as the check needs them: no id, no name."""

    leerjaar: int
    opp: bool = False
    ondersteuningsniveau: int = 1


@dataclass(frozen=True)
class GroupFacts:
    pas_id: str
    name: str
    leerjaren: tuple[int, ...]
    pupils: tuple[PupilFacts, ...]
    teachers: tuple[str, ...]  # PAS staff ids


@dataclass(frozen=True)
class StaffFacts:
    pas_id: str
    werkdagen: tuple[str, ...] = ()  # none known: works every day, as the engine takes it
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchoolFacts:
    """A school's roster as the capacity check needs it: this school year's groups, and the staff."""

    groups: tuple[GroupFacts, ...]
    staff: tuple[StaffFacts, ...]


@dataclass(frozen=True)
class CapacityWarning:
    message: str
    margin: bool = False  # the conversations fit, but not the round's slot margin: the weaker warning


@dataclass(frozen=True)
class _Need:
    """Conversations of one kind (main or support) of one group in one round."""

    rp: RoundPlan
    group: GroupFacts
    support: bool
    count: int
    wanted: int  # with the round's slot margin, per planner as the engine takes it
    joining: tuple[str, ...]  # staff on every one of them besides the group's teachers
    days: tuple[date, ...]  # the round's days on which they can be held


@dataclass(frozen=True)
class _Tally:
    load: int  # conversations (one round) or minutes (several)
    wanted: int
    offer: int  # slots (one round) or minutes (several)
    days: tuple[date, ...]
    per_group: tuple[tuple[RoundPlan, GroupFacts, int, int], ...]  # what falls to them of how many


# How many of a need's conversations (or, given its `wanted`, of the slots wanted) fall to someone.
Share = Callable[[_Need, int], int]


def capacity_warnings(plan: SchoolPlan, facts: SchoolFacts) -> list[CapacityWarning]:
    """The warnings for every round with a planner of one school's year plan, in the plan's order."""
    return _Check(plan, facts).run()


class _Check:
    def __init__(self, plan: SchoolPlan, facts: SchoolFacts) -> None:
        self.brin = plan.school.brin
        self.zone = ZoneInfo(plan.school.timezone)
        self.rounds = [rp for rp in plan.rounds if rp.round.has_planner]
        self.groups = sorted(facts.groups, key=lambda g: g.pas_id)
        self.staff = {s.pas_id: s for s in facts.staff}
        self.ib = min((s.pas_id for s in facts.staff if IB_ROLE in s.roles), default=None)
        self.found: list[CapacityWarning] = []
        self.warned: set[tuple[str, str]] = set()  # (round id, who) warned of a shortage
        self.noted: set[tuple[str, str]] = set()  # (round id, who) warned of the margin
        self._slots: dict[tuple[str, date], int] = {}

    def run(self) -> list[CapacityWarning]:
        needs: dict[str, list[_Need]] = {}
        for rp in self.rounds:
            needs[rp.round_id] = self._needs(rp)
            self._round(rp, needs[rp.round_id])
        for together in _overlapping(self.rounds):
            self._together(together, [n for rp in together for n in needs[rp.round_id]])
        return self.found

    # --- facts -----------------------------------------------------------------------------

    def works(self, staff_id: str, day: date) -> bool:
        member = self.staff.get(staff_id)
        return member is None or not member.werkdagen or WEEKDAY_CODES[day.weekday()] in member.werkdagen

    def teaches(self, group: GroupFacts, day: date) -> bool:
        return any(self.works(t, day) for t in group.teachers)

    def slots(self, rp: RoundPlan, day: date) -> int:
        key = (rp.round_id, day)
        if key not in self._slots:
            self._slots[key] = len(day_slots(day, rp.hours, rp.round.slot_minutes, self.zone))
        return self._slots[key]

    def _needs(self, rp: RoundPlan) -> list[_Need]:
        rnd = rp.round
        level = rnd.attendance.ib_from_ondersteuningsniveau
        colleague = rnd.attendance.second_colleague
        named = colleague if isinstance(colleague, str) and colleague != PREVIOUS_TEACHER else None
        where = f"school {self.brin}, round {rp.round_id}"
        out: list[_Need] = []
        without_ib = 0  # support conversations for the IB, when the school has none
        for group in self.groups:
            if not set(group.leerjaren) & set(rnd.groups):
                continue
            pupils = [p for p in group.pupils if p.leerjaar in rnd.groups]
            opp = [p for p in pupils if p.opp and rnd.opp_extra_conversation]
            with_ib = [
                p
                for p in pupils
                if level is not None and p.ondersteuningsniveau >= level and not (p.opp and rnd.opp_extra_conversation)
            ]
            if self.ib is None:
                without_ib, with_ib = without_ib + len(with_ib), []  # the engine opens no planner for them
            main = (named,) if named is not None and named in self.staff else ()
            support = (self.ib,) if level is not None and self.ib is not None else ()
            for is_support, counts, joining in (
                (False, (len(pupils),), main),
                (True, (len(opp), len(with_ib)), support),
            ):
                count = sum(counts)
                if not count:
                    continue
                days = tuple(
                    d for d in rp.conversation_days if self.teaches(group, d) and all(self.works(p, d) for p in joining)
                )
                wanted = sum(_with_margin(n, rnd.planner.slot_margin) for n in counts)
                out.append(_Need(rp, group, is_support, count, wanted, joining, days))
        mains = sum(n.count for n in out if not n.support)
        if named is not None and named not in self.staff and mains:
            self.found.append(
                CapacityWarning(
                    f"{where}: the second colleague (staff {named}) is not staff of this school in PAS; "
                    f"{_conversations(mains)} {_need(mains)} them"
                )
            )
        if without_ib:
            self.found.append(
                CapacityWarning(
                    f"{where}: {_conversations(without_ib, 'support')} {_need(without_ib)} the IB, but PAS lists no "
                    f"staff member with the role {IB_ROLE}"
                )
            )
        return out

    def who(self, staff_id: str) -> str:
        if staff_id == self.ib:
            return f"the IB (staff {staff_id})"
        return f"staff {staff_id}"

    # --- one round -------------------------------------------------------------------------

    def _round(self, rp: RoundPlan, needs: list[_Need]) -> None:
        where = f"school {self.brin}, round {rp.round_id}"
        away = sorted({p for n in needs for p in n.joining if not any(self.works(p, d) for d in rp.conversation_days)})
        for person in away:  # said once for the round, not for each group that needs them
            theirs = [n for n in needs if person in n.joining]
            count, kinds = sum(n.count for n in theirs), {_kind(n) for n in theirs}
            self.warned.add((rp.round_id, f"staff:{person}"))
            self.found.append(
                CapacityWarning(
                    f"{where}: {_conversations(count, kinds.pop() if len(kinds) == 1 else '')} {_need(count)} "
                    f"{self.who(person)}, who works on none of the window's days ({_codes(rp.conversation_days)})"
                )
            )
        for group in self.groups:
            own = [n for n in needs if n.group is group]
            if not own:
                continue
            if not group.teachers:
                count = sum(n.count for n in own)
                self.found.append(
                    CapacityWarning(
                        f"{where}, {group.name}: {_conversations(count)} {_need(count)} the group's "
                        "teacher, but PAS links no teacher to the group: the window offers no slot"
                    )
                )
                continue
            tally = self.tally(own, _of_group(group), partial(self.teaches, group), joined=False)
            self._judge(
                [rp.round_id], f"group:{group.pas_id}", tally, f"{where}, {group.name}", _kinds(own), *_teachers(group)
            )
            for need in own:
                if not need.joining or need.days == tally.days or set(need.joining) & set(away):
                    continue  # the group's own count covers a kind held on all of the group's days
                if need.count > (offer := sum(self.slots(rp, d) for d in need.days)):
                    others = " and ".join(self.who(p) for p in need.joining)
                    self.found.append(
                        CapacityWarning(
                            f"{where}, {group.name}: {_conversations(need.count, _kind(need))} {_need(need.count)} "
                            f"{_teachers(group)[0]} and {others}, the window offers {_n(offer, 'slot')} on the days "
                            f"they work together ({_codes(need.days)})"
                        )
                    )
        self._people(needs, [rp.round_id], where, lambda n: n.group.pas_id)

    def _together(self, rounds: list[RoundPlan], needs: list[_Need]) -> None:
        """Rounds whose conversation days overlap share the slots of the same people on those days."""
        ids = [rp.round_id for rp in rounds]
        where = f"school {self.brin}, rounds {_and(ids)} (their conversation days overlap)"
        for group in self.groups:
            own = [n for n in needs if n.group is group]
            if len({n.rp.round_id for n in own}) < 2 or not group.teachers:
                continue
            tally = self.tally(own, _of_group(group), partial(self.teaches, group), minutes=True, joined=False)
            self._judge(ids, f"group:{group.pas_id}", tally, f"{where}, {group.name}", _kinds(own), *_teachers(group))
        self._people(needs, ids, where, lambda n: (n.rp.round_id, n.group.pas_id))

    def _people(self, needs: list[_Need], ids: list[str], where: str, part: Callable[[_Need], object]) -> None:
        """Each person needed by two or more `part`s of `needs` (groups, or groups in rounds); a
        teacher whom only their own group needs is that group's count."""
        for person in sorted({p for n in needs for p in (*n.group.teachers, *n.joining)}):
            share = self.share(person)
            mine = [n for n in needs if share(n, n.wanted)]
            if len({part(n) for n in mine}) < 2 or (
                len({n.group.pas_id for n in mine}) == 1 and not any(person in n.joining for n in mine)
            ):
                continue
            tally = self.tally(needs, share, partial(self.works, person), minutes=len(ids) > 1)
            self._judge(ids, f"staff:{person}", tally, where, _split(tally, len(ids) > 1), self.who(person), "their")

    # --- counting --------------------------------------------------------------------------

    def share(self, person: str) -> Share:
        """The conversations of a need that must have `person`: all of them when they join every one
        or teach on each of its days; for a duo teacher, those the other teacher's days cannot take."""

        def share(need: _Need, demand: int) -> int:
            if person in need.joining:
                return demand
            if person not in need.group.teachers:
                return 0
            elsewhere = sum(self.slots(need.rp, d) for d in need.days if not self.works(person, d))
            return max(0, demand - elsewhere)

        return share

    def tally(
        self,
        needs: list[_Need],
        share: Share,
        present: Callable[[date], bool],
        *,
        minutes: bool = False,
        joined: bool = True,
    ) -> _Tally:
        """What `needs` ask of someone (`share`, present on the days `present` says): in slots for
        one round, in minutes for several. `joined=False` (a group's teachers) offers every day they
        are present, not only those the people joining a need work too: the kinds of conversation
        those people narrow to fewer days are counted on their own."""
        load = wanted = 0
        per_group = []
        on: dict[date, dict[str, RoundPlan]] = {}  # the days offered, and the rounds that use each
        for need in needs:
            if not share(need, need.wanted):
                continue
            unit = need.rp.round.slot_minutes if minutes else 1
            load += share(need, need.count) * unit
            wanted += share(need, need.wanted) * unit
            per_group.append((need.rp, need.group, share(need, need.count), need.count))
            for day in need.days if joined else need.rp.conversation_days:
                if present(day):
                    on.setdefault(day, {})[need.rp.round_id] = need.rp
        offer = 0
        for day, rps in on.items():
            if len(rps) == 1:
                (rp,) = rps.values()
                offer += self.slots(rp, day) * (rp.round.slot_minutes if minutes else 1)
            else:  # several rounds' slots on one day: the time their hours cover together
                offer += _covered([span for rp in rps.values() for span in rp.hours])
        return _Tally(load, wanted, offer, tuple(sorted(on)), tuple(per_group))

    # --- the warnings ------------------------------------------------------------------------

    def _judge(
        self,
        ids: list[str],
        key: str,
        tally: _Tally,
        where: str,
        conversations: str,
        who: str,
        owner: str,
    ) -> None:
        """Warn when `tally`'s load exceeds its offer, or (the weaker warning) its wanted slots do,
        once per person or group (`key`) and round; several `ids`: overlapping rounds, in minutes."""
        if any((r, key) in self.warned for r in ids):
            return  # a shortage already said for one of the rounds
        short = tally.load > tally.offer
        if not short and (tally.wanted <= tally.offer or any((r, key) in self.noted for r in ids)):
            return
        together = len(ids) > 1
        unit = "min" if together else "slots"
        minutes = f" for {tally.load} min" if together else ""
        days = f"on {owner} working days ({_codes(tally.days)})"
        shown = sum(share for _, _, share, _ in tally.per_group)
        if short:
            self.warned |= {(r, key) for r in ids}
            partly = any(share < count for _, _, share, count in tally.per_group)
            self.found.append(
                CapacityWarning(
                    f"{where}: {'at least ' if partly else ''}{conversations} {_need(shown)} {who}{minutes}, "
                    f"{'these windows offer' if together else 'the window offers'} {tally.offer} {unit} {days}"
                )
            )
            return
        self.noted |= {(r, key) for r in ids}
        margin = "the rounds' margins" if together else f"the {_percent(self._margin(ids[0]))} margin"
        self.found.append(
            CapacityWarning(
                f"{where}: {'these windows hold' if together else 'the window holds'} the {conversations} "
                f"that {_need(shown)} {who}{minutes}, but {'have' if together else 'has'} no room for {margin}: "
                f"{tally.offer} of {tally.wanted} wanted {unit} {days}",
                margin=True,
            )
        )

    def _margin(self, round_id: str) -> float:
        return next(rp.round.planner.slot_margin for rp in self.rounds if rp.round_id == round_id)


def _overlapping(rounds: list[RoundPlan]) -> list[list[RoundPlan]]:
    """The sets of two or more rounds linked by shared conversation days, in the plan's order."""
    sets: list[tuple[set[date], list[RoundPlan]]] = []
    for rp in rounds:
        days = set(rp.conversation_days)
        joined = [s for s in sets if s[0] & days]
        for s in joined:
            sets.remove(s)
            days |= s[0]
        sets.append((days, sorted([r for s in joined for r in s[1]] + [rp], key=rounds.index)))
    return [members for _, members in sorted(sets, key=lambda s: rounds.index(s[1][0])) if len(members) > 1]


def _of_group(group: GroupFacts) -> Share:
    return lambda need, demand: demand if need.group is group else 0


def _with_margin(invitees: int, margin: float) -> int:
    return math.ceil(invitees * (1 + margin)) if invitees else 0  # as `slots.take_slots` counts them


def _covered(spans: list[tuple[time, time]]) -> int:
    """The minutes of a day that the spans cover together."""
    total, end = 0, -1
    for start_t, end_t in sorted(spans):
        start, stop = start_t.hour * 60 + start_t.minute, end_t.hour * 60 + end_t.minute
        total += max(0, stop - max(start, end))
        end = max(end, stop)
    return total


def _teachers(group: GroupFacts) -> tuple[str, str]:
    """The group's teachers as a subject, and as an owner of working days."""
    return ("the teachers", "the teachers'") if len(group.teachers) > 1 else ("the teacher", "the teacher's")


def _split(tally: _Tally, together: bool) -> str:
    """`52 conversations (Groep 3: 31, Groep 4: 21)`; with several rounds, each group with its round."""
    counted: dict[str, int] = {}
    for rp, group, share, _ in tally.per_group:
        label = f"{rp.round_id} {group.name}" if together else group.name
        counted[label] = counted.get(label, 0) + share
    parts = ", ".join(f"{label}: {n}" for label, n in counted.items() if n)
    return f"{_conversations(sum(counted.values()))} ({parts})"


def _kind(need: _Need) -> str:
    return "support" if need.support else "main"


def _kinds(needs: list[_Need]) -> str:
    """`31 conversations`, or with support conversations `35 conversations (31 main, 4 support)`."""
    count = {kind: sum(n.count for n in needs if _kind(n) == kind) for kind in ("main", "support")}
    total = _conversations(sum(count.values()))
    return f"{total} ({count['main']} main, {count['support']} support)" if count["support"] else total


def _conversations(count: int, kind: str = "") -> str:
    return _n(count, f"{kind} conversation".strip())


def _need(count: int) -> str:
    return "needs" if count == 1 else "need"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _codes(days: tuple[date, ...]) -> str:
    codes = {WEEKDAY_CODES[d.weekday()] for d in days}
    return ", ".join(c for c in WEEKDAY_CODES if c in codes) or "none in the window"


def _percent(margin: float) -> str:
    return f"{round(margin * 100, 1):g} %"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
