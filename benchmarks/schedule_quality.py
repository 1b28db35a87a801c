"""Schedule quality in "preferences" mode: the round's solver against two simpler ways to fill the slots.

    .venv/bin/python benchmarks/schedule_quality.py [--seed 1] [--time-limit 10] [--out FILE]

One generated school (450 pupils in 18 groups, 60 sibling families, 25 support conversations with
the IB), the same input for three schedulers:

  solver       connector.engine.scheduling.solve
  greedy       first fit: needs in a fixed order, each the first available slot that is free and
               puts no staff member and no guardian in two overlapping conversations
  self-select  today's booking with the siblings' head start: families with several children first,
               in a seeded random order, each child the free available slot closest to a sibling's
               booked one (not overlapping it); then the other families in random order, a random
               free available slot each. Families do not see other planners' staff, so the IB (and a
               teacher, between the group's two planners) can be booked twice at one time.

Prints a table of the metrics per scheduler and, with --out, writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connector.engine.scheduling import (  # noqa: E402
    Need,
    Slot,
    Weights,
    gap_minutes,
    overlaps,
    sibling_pairs,
    solve,
    support_pairs,
)

ZONE = ZoneInfo("Europe/Amsterdam")
MONDAY = date(2026, 11, 16)  # the round's conversation evenings: Monday to Thursday of this week
EVENINGS = tuple(MONDAY + timedelta(days=n) for n in range(4))
FIRST, SLOT_MINUTES, SLOTS_PER_EVENING = (18, 30), 15, 10  # 18:30-21:00
MARGIN = 1.5  # slots offered per invitee
IB = "ib"
# Working days (0 = Monday) of a group's teacher(s): one full-timer, or a duo splitting the week.
TEACHER_DAYS = (((0, 1, 2, 3, 4),), ((0, 1, 2), (2, 3, 4)), ((0, 1), (2, 3, 4)), ((0, 1, 2), (3, 4)))
DUO_SHARE = 1 / 3
SILENT_SHARE = 0.05  # families that state no availability at all
Key = tuple[str, str]


@dataclass(frozen=True)
class School:
    slots: tuple[Slot, ...]
    needs: tuple[Need, ...]
    families: dict[str, tuple[Key, ...]]  # family -> the keys of its children's needs
    teachers: tuple[str, ...]  # group teachers (the IB is not one)


def generate(*, seed: int = 1, pupils: int = 450, groups: int = 18, siblings: int = 60, support: int = 25) -> School:
    """A school as the service would see it at closing: planners, their slots, and each family's
    availability in whole evenings. Everything follows from `seed`."""
    rng = random.Random(seed)
    sizes = [pupils // groups + (g < pupils % groups) for g in range(groups)]
    for _ in range(groups // 2):  # a little spread in group sizes, the total kept
        i, j = rng.sample(range(groups), 2)
        sizes[i], sizes[j] = sizes[i] + 1, sizes[j] - 1
    slots: list[Slot] = []
    teachers: list[str] = []
    pools: dict[str, list[Slot]] = {}
    members: dict[str, list[str]] = {}
    child = 0
    for g, size in enumerate(sizes):
        planner = f"grp{g + 1:02d}"
        days = TEACHER_DAYS[rng.randrange(1, len(TEACHER_DAYS))] if rng.random() < DUO_SHARE else TEACHER_DAYS[0]
        staff = [f"{planner}-t{n + 1}" for n in range(len(days))]
        teachers += staff
        pools[planner] = _pool(planner, dict(zip(staff, days, strict=True)))
        slots += _take(pools[planner], math.ceil(MARGIN * size))
        members[planner] = [f"c{child + n + 1:03d}" for n in range(size)]
        child += size
    group_of = {c: p for p, cs in members.items() for c in cs}

    # Support conversations: made independently of the group's planner, at times of the group's
    # evenings picked by whoever set them up; with the group's teacher(s) and the IB, so the IB's
    # slots of different planners overlap (and a teacher's overlap the group's own slots).
    in_support = sorted(rng.sample(sorted(group_of), support))
    support_of: dict[str, list[str]] = defaultdict(list)
    for c in in_support:
        support_of[group_of[c]].append(c)
    for planner, children in sorted(support_of.items()):
        times = rng.sample(pools[planner], min(len(pools[planner]), math.ceil(MARGIN * len(children))))
        ref = f"{planner}:opp"
        slots += [
            Slot(f"{ref}-s{n + 1:02d}", ref, s.start, s.end, (*s.staff, IB))
            for n, s in enumerate(sorted(times, key=lambda s: s.start))
        ]

    # Families: `siblings` of two or three children in different groups, everyone else alone.
    order = sorted(group_of)
    rng.shuffle(order)
    family_children: list[list[str]] = []
    left = order
    for _ in range(siblings):
        want = rng.choice((2, 2, 3))
        kids: list[str] = []
        rest: list[str] = []
        for c in left:
            if len(kids) < want and group_of[c] not in {group_of[k] for k in kids}:
                kids.append(c)
            else:
                rest.append(c)
        family_children.append(kids)
        left = rest
    family_children += [[c] for c in left]

    by_planner: dict[str, list[Slot]] = defaultdict(list)
    for s in slots:
        by_planner[s.planner].append(s)
    needs: list[Need] = []
    families: dict[str, tuple[Key, ...]] = {}
    for f, kids in enumerate(family_children):
        name = f"fam{f + 1:03d}"
        guardians = frozenset(f"{name}-g{n + 1}" for n in range(rng.choice((1, 2, 2))))
        planners = [(group_of[c], c, True) for c in sorted(kids)]
        planners += [(f"{group_of[c]}:opp", c, False) for c in sorted(kids) if c in in_support]
        offered = sorted({s.start.date() for p, _, _ in planners for s in by_planner[p]})
        silent = rng.random() < SILENT_SHARE
        chosen = set() if silent else set(rng.sample(offered, min(len(offered), rng.choice((1, 2, 2, 3)))))
        for planner, c, main in planners:
            available = tuple(s.id for s in by_planner[planner] if s.start.date() in chosen)
            needs.append(Need(planner, c, guardians, available, main))
        families[name] = tuple((p, c) for p, c, _ in planners)
    return School(tuple(slots), tuple(needs), families, tuple(teachers))


def _pool(planner: str, teachers: dict[str, tuple[int, ...]]) -> list[Slot]:
    """Every slot of the group's evenings, handed out as the service does: evening by evening, in turn."""
    per_day = []
    for day in EVENINGS:
        present = tuple(sorted(t for t, days in teachers.items() if day.weekday() in days))
        if present:
            first = datetime(day.year, day.month, day.day, *FIRST, tzinfo=ZONE)
            step = timedelta(minutes=SLOT_MINUTES)
            per_day.append([(first + n * step, first + (n + 1) * step, present) for n in range(SLOTS_PER_EVENING)])
    turns = [day[n] for n in range(SLOTS_PER_EVENING) for day in per_day]
    return [Slot(f"{planner}-s{n + 1:02d}", planner, *t) for n, t in enumerate(turns)]


def _take(pool: list[Slot], wanted: int) -> list[Slot]:
    return sorted(pool[:wanted], key=lambda s: s.start)


# The schedulers: each returns (planner, child) -> slot id.


def schedule_solver(school: School, time_limit_s: float) -> tuple[dict[Key, str], dict]:
    solution = solve(school.slots, school.needs, time_limit_s=time_limit_s)
    cost = metrics(school, solution.assigned)["weighted_cost"]
    # The objective is (one need's worth) x unplaced + the weighted cost, and one need outweighs any
    # cost: an absolute gap below the cost means placing is proven best and the rest bounds the cost.
    cost_bound = cost - (solution.objective - solution.bound)
    info = {
        "seconds": round(solution.seconds, 2),
        "optimal": solution.optimal,
        "gap": solution.gap,
        "objective": solution.objective,
        "bound": solution.bound,
        "weighted_cost_bound": cost_bound if cost_bound >= 0 else None,
    }
    return solution.assigned, info


class _Book:
    """Who is where already: slots taken, and each staff member's and guardian's conversations."""

    def __init__(self, school: School, *, see_staff: bool) -> None:
        self.slot = {s.id: s for s in school.slots}
        self.see_staff = see_staff
        self.taken: dict[str, Key] = {}
        self.staff: dict[str, list[Slot]] = defaultdict(list)
        self.guardian: dict[str, list[Slot]] = defaultdict(list)

    def fits(self, need: Need, slot_id: str) -> bool:
        slot = self.slot[slot_id]
        if slot_id in self.taken or slot.planner != need.planner:
            return False
        people = [self.guardian[g] for g in need.guardians]
        if self.see_staff:
            people += [self.staff[p] for p in slot.staff]
        return not any(overlaps(slot, other) for busy in people for other in busy)

    def book(self, need: Need, slot_id: str) -> None:
        slot = self.slot[slot_id]
        self.taken[slot_id] = (need.planner, need.child)
        for p in slot.staff:
            self.staff[p].append(slot)
        for g in need.guardians:
            self.guardian[g].append(slot)


def schedule_greedy(school: School) -> tuple[dict[Key, str], dict]:
    began = time.monotonic()
    book = _Book(school, see_staff=True)
    assigned = {}
    for need in sorted(school.needs, key=lambda n: (n.planner, n.child)):
        for slot_id in sorted(need.available, key=lambda i: (book.slot[i].start, i)):
            if slot_id in book.slot and book.fits(need, slot_id):
                book.book(need, slot_id)
                assigned[need.planner, need.child] = slot_id
                break
    return assigned, {"seconds": round(time.monotonic() - began, 2)}


def schedule_self_select(school: School, seed: int) -> tuple[dict[Key, str], dict]:
    began = time.monotonic()
    rng = random.Random(seed)
    book = _Book(school, see_staff=False)
    need_of = {(n.planner, n.child): n for n in school.needs}
    assigned: dict[Key, str] = {}
    names = sorted(school.families)
    several = [f for f in names if len({c for _, c in school.families[f]}) > 1]
    rng.shuffle(several)
    others = [f for f in names if f not in set(several)]
    rng.shuffle(others)
    for f in several + others:
        booked: list[Slot] = []
        for key in school.families[f]:
            need = need_of[key]
            free = [i for i in sorted(need.available) if i in book.slot and book.fits(need, i)]
            if not free:
                continue
            if booked and f in several:  # the head start: as close to a sibling's conversation as it gets
                choice = min(free, key=lambda i: (min(gap_minutes(book.slot[i], b) for b in booked), i))
            else:
                choice = rng.choice(free)
            book.book(need, choice)
            booked.append(book.slot[choice])
            assigned[key] = choice
    return assigned, {"seconds": round(time.monotonic() - began, 2)}


# What a schedule is worth.


def violations(school: School, assigned: dict[Key, str], *, staff: bool = True) -> list[str]:
    """Broken hard constraints: a need outside its availability, a slot twice, a guardian (and, with
    `staff`, a staff member) in two overlapping conversations."""
    slot = {s.id: s for s in school.slots}
    need_of = {(n.planner, n.child): n for n in school.needs}
    out = [f"{k} not in its availability" for k, i in assigned.items() if i not in need_of[k].available]
    out += [f"{k} in a slot of another planner" for k, i in assigned.items() if slot[i].planner != k[0]]
    holders = defaultdict(list)
    for k, i in assigned.items():
        holders[i].append(k)
    out += [f"slot {i} twice: {ks}" for i, ks in holders.items() if len(ks) > 1]
    people: dict[str, list[str]] = defaultdict(list)
    for k, i in assigned.items():
        for g in need_of[k].guardians:
            people[g].append(i)
        if staff:
            for p in slot[i].staff:
                people[p].append(i)
    for person, ids in people.items():
        out += [f"{person} in {a} and {b}" for a, b in combinations(ids, 2) if overlaps(slot[a], slot[b])]
    return out


def metrics(school: School, assigned: dict[Key, str]) -> dict:
    slot = {s.id: s for s in school.slots}

    def gaps(pairs) -> list[int]:
        keys = [((a.planner, a.child), (b.planner, b.child)) for a, b in pairs]
        return [gap_minutes(slot[assigned[a]], slot[assigned[b]]) for a, b in keys if a in assigned and b in assigned]

    siblings, support = gaps(sibling_pairs(school.needs)), gaps(support_pairs(school.needs))
    days: dict[str, set[date]] = defaultdict(set)
    for i in assigned.values():
        for p in slot[i].staff:
            days[p].add(slot[i].start.date())
    evenings = [len(days[t]) for t in school.teachers]
    staff_evenings = sum(len(d) for d in days.values())
    w = Weights()
    ib = sorted(i for i in assigned.values() if IB in slot[i].staff)
    teacher_twice = sum(
        1
        for t in school.teachers
        for a, b in combinations(sorted(i for i in assigned.values() if t in slot[i].staff), 2)
        if overlaps(slot[a], slot[b])
    )
    placed_families = sum(all(k in assigned for k in keys) for keys in school.families.values())
    return {
        "needs": len(school.needs),
        "needs_placed": len(assigned),
        "needs_unplaced": len(school.needs) - len(assigned),
        "families": len(school.families),
        "families_placed": placed_families,
        "families_unplaced": len(school.families) - placed_families,
        "sibling_pairs_placed": len(siblings),
        "sibling_gap_total": sum(siblings),
        "sibling_gap_worst": max(siblings, default=0),
        "support_gap_total": sum(support),
        "evenings_per_teacher_mean": round(sum(evenings) / max(1, len(evenings)), 2),
        "evenings_per_teacher_max": max(evenings, default=0),
        "ib_evenings": len(days[IB]),
        "staff_evenings": staff_evenings,
        "weighted_cost": w.sibling_gap * sum(siblings) + w.support_gap * sum(support) + w.evening * staff_evenings,
        "ib_double_bookings": sum(overlaps(slot[a], slot[b]) for a, b in combinations(ib, 2)),
        "teacher_double_bookings": teacher_twice,
    }


def run(
    *, seed: int, time_limit_s: float, pupils: int = 450, groups: int = 18, siblings: int = 60, support: int = 25
) -> dict:
    size = {"pupils": pupils, "groups": groups, "siblings": siblings, "support": support}
    school = generate(seed=seed, **size)
    out = {}
    for name, scheduler in (
        ("solver", lambda: schedule_solver(school, time_limit_s)),
        ("greedy", lambda: schedule_greedy(school)),
        ("self-select", lambda: schedule_self_select(school, seed)),
    ):
        assigned, info = scheduler()
        out[name] = metrics(school, assigned) | info
    return {
        "input": {
            "seed": seed,
            "time_limit_s": time_limit_s,
            "slots": len(school.slots),
            "planners": len({s.planner for s in school.slots}),
            "teachers": len(school.teachers),
            **size,
        },
        "results": out,
    }


ROWS = (
    ("families placed (all their conversations)", "families_placed"),
    ("families with a conversation unplaced", "families_unplaced"),
    ("needs placed", "needs_placed"),
    ("needs unplaced", "needs_unplaced"),
    ("sibling gap, total minutes", "sibling_gap_total"),
    ("sibling gap, worst pair (minutes)", "sibling_gap_worst"),
    ("support gap, total minutes", "support_gap_total"),
    ("evenings per teacher, mean", "evenings_per_teacher_mean"),
    ("evenings per teacher, max", "evenings_per_teacher_max"),
    ("IB evenings", "ib_evenings"),
    ("weighted cost of gaps and evenings", "weighted_cost"),
    ("IB double-bookings", "ib_double_bookings"),
    ("teacher double-bookings", "teacher_double_bookings"),
    ("time (s)", "seconds"),
)


def table(report: dict) -> str:
    results = report["results"]
    names = list(results)
    lines = [f"| metric | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]
    for label, field in ROWS:
        lines.append(f"| {label} | {' | '.join(str(results[n].get(field, '')) for n in names)} |")
    solver = results["solver"]
    if solver["optimal"]:
        proof = "optimal"
    elif solver["weighted_cost_bound"] is None:
        proof = f"not that placing more is impossible (gap {solver['gap']:.2%})"
    else:
        proof = f"placing: none better; weighted cost >= {solver['weighted_cost_bound']}"
    lines.append(f"| solver proved | {proof} | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=10.0, help="the solver's limit in seconds")
    parser.add_argument("--out", type=Path, help="write the metrics as JSON to this file")
    args = parser.parse_args()
    report = run(seed=args.seed, time_limit_s=args.time_limit)
    report["machine"] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    i = report["input"]
    print(f"{i['planners']} planners, {i['slots']} slots, {i['teachers']} teachers, seed {i['seed']}")
    print(table(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
