"""The round's solver in "preferences" mode (connector/engine/scheduling.py): hard constraints always
hold, siblings land back to back, the IB is never in two places, and the same input gives the same
schedule."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.engine.scheduling import Need, Slot, Solution, gap_minutes, overlaps, solve

ZONE = ZoneInfo("Europe/Amsterdam")
REPO = Path(__file__).resolve().parents[2]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 16 + day, hour, minute, tzinfo=ZONE)


def evening(planner: str, staff: tuple[str, ...], count: int, *, day: int = 0, start: tuple[int, int] = (18, 30)):
    first = at(day, *start)
    return [
        Slot(
            f"{planner}-{day}-{n}",
            planner,
            first + timedelta(minutes=15 * n),
            first + timedelta(minutes=15 * (n + 1)),
            staff,
        )
        for n in range(count)
    ]


def ids(slots: list[Slot]) -> tuple[str, ...]:
    return tuple(s.id for s in slots)


def broken(slots: list[Slot], needs: list[Need], solution: Solution) -> list[str]:
    """The hard constraints the solution breaks."""
    slot = {s.id: s for s in slots}
    need = {(n.planner, n.child): n for n in needs}
    out = [f"{k} outside its availability" for k, i in solution.assigned.items() if i not in need[k].available]
    out += [f"{k} in another planner's slot" for k, i in solution.assigned.items() if slot[i].planner != k[0]]
    taken = list(solution.assigned.values())
    out += [f"slot {i} twice" for i in set(taken) if taken.count(i) > 1]
    people = defaultdict(list)
    for k, i in solution.assigned.items():
        for person in (*slot[i].staff, *(f"guardian {g}" for g in need[k].guardians)):
            people[person].append(slot[i])
    for person, held in people.items():
        out += [f"{person} at {a.id} and {b.id}" for a, b in combinations(held, 2) if overlaps(a, b)]
    return out


def greedy_placed(slots: list[Slot], needs: list[Need]) -> int:
    """First fit in a fixed order: the first available slot of the need's planner that breaks nothing."""
    slot = {s.id: s for s in slots}
    busy: dict[str, list[Slot]] = defaultdict(list)
    taken: set[str] = set()
    for n in needs:
        for i in n.available:
            s = slot.get(i)
            if s is None or s.planner != n.planner or i in taken:
                continue
            people = (*s.staff, *(f"guardian {g}" for g in n.guardians))
            if any(overlaps(s, o) for p in people for o in busy[p]):
                continue
            taken.add(i)
            for p in people:
                busy[p].append(s)
            break
    return len(taken)


def test_importing_the_solver_does_not_load_ortools():
    # A fresh interpreter: other tests may have imported ortools into this one already.
    code = (
        "import sys, connector.engine.scheduling; print(sorted(m for m in sys.modules if m.split('.')[0] == 'ortools'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_gap_minutes_counts_the_wait_between_two_conversations():
    a, b, c, d = evening("p", ("t",), 4)
    assert gap_minutes(a, b) == gap_minutes(b, a) == 0  # back to back
    assert gap_minutes(a, d) == 30
    assert gap_minutes(a, dataclasses.replace(b, start=a.start)) == 0  # overlapping
    assert gap_minutes(a, dataclasses.replace(d, start=at(0, 23), end=at(0, 23, 15))) == 240  # capped
    assert gap_minutes(a, evening("p", ("t",), 1, day=1)[0]) == 240  # another day


def test_two_siblings_with_overlapping_availability_land_back_to_back():
    one, two = evening("grp1", ("t1",), 8), evening("grp2", ("t2",), 8)
    family = frozenset({"mother"})
    needs = [
        Need("grp1", "anna", family, ids(one[:5])),  # 18:30-19:45
        Need("grp2", "bram", family, ids(two[3:])),  # 19:15-20:30
        Need("grp1", "cas", frozenset({"other"}), ids(one)),
    ]
    solution = solve(one + two, needs, time_limit_s=2)
    slot = {s.id: s for s in one + two}
    a, b = slot[solution.assigned["grp1", "anna"]], slot[solution.assigned["grp2", "bram"]]
    assert gap_minutes(a, b) == 0 and not overlaps(a, b)
    assert len(solution.assigned) == 3 and solution.optimal and solution.gap == 0.0
    assert solution.objective == solution.bound


def test_overlapping_ib_slots_of_two_planners_are_never_both_used():
    first = evening("grp1:opp", ("t1", "ib"), 1)
    second = evening("grp2:opp", ("t2", "ib"), 1, start=(18, 35))  # made independently: overlaps the first
    needs = [
        Need("grp1:opp", "anna", frozenset({"g1"}), ids(first), main=False),
        Need("grp2:opp", "bram", frozenset({"g2"}), ids(second), main=False),
    ]
    solution = solve(first + second, needs, time_limit_s=2)
    assert len(solution.assigned) == 1 and len(solution.unplaced) == 1
    assert set(solution.unplaced.values()) == {"no_free_slot"}
    assert solution.optimal


def test_children_linked_only_through_a_third_one_may_have_their_conversations_at_one_time():
    # Anna and Bram share no guardian (each shares one with Cas), so nobody has to be at both.
    one, two = evening("grp1", ("t1",), 1), evening("grp2", ("t2",), 1)
    needs = [
        Need("grp1", "anna", frozenset({"father"}), ids(one)),
        Need("grp2", "bram", frozenset({"mother"}), ids(two)),
        Need("grp3", "cas", frozenset({"father", "mother"}), ()),
    ]
    solution = solve(one + two, needs, time_limit_s=2)
    assert solution.assigned == {("grp1", "anna"): one[0].id, ("grp2", "bram"): two[0].id}


def test_a_child_without_availability_is_unplaced_for_that_reason():
    one, two = evening("grp1", ("t1",), 2), evening("grp2", ("t2",), 2)
    needs = [
        Need("grp1", "anna", frozenset({"g1"}), ()),
        Need("grp1", "bram", frozenset({"g2"}), ids(two)),  # another planner's slots do not count
        Need("grp1", "cas", frozenset({"g3"}), ids(one[:1])),
        Need("grp1", "dirk", frozenset({"g4"}), ids(one[:1])),
    ]
    solution = solve(one + two, needs, time_limit_s=2)
    assert solution.assigned == {("grp1", "cas"): one[0].id} or solution.assigned == {("grp1", "dirk"): one[0].id}
    assert {k: r for k, r in solution.unplaced.items() if r == "no_availability"} == {
        ("grp1", "anna"): "no_availability",
        ("grp1", "bram"): "no_availability",
    }
    assert sorted(solution.unplaced.values()) == ["no_availability", "no_availability", "no_free_slot"]


def school(seed: int) -> tuple[list[Slot], list[Need]]:
    """A few planners over two evenings, a shared IB, siblings and support conversations."""
    rng = random.Random(seed)
    slots: list[Slot] = []
    for g in range(4):
        for day in (0, 1):
            slots += evening(f"grp{g}", (f"t{g}",), 8, day=day)
        slots += [
            dataclasses.replace(s, id=f"{s.id}:opp", planner=f"grp{g}:opp", staff=(f"t{g}", "ib"))
            for s in rng.sample(evening(f"grp{g}", (f"t{g}",), 10, day=rng.randrange(2)), 3)
        ]
    by_planner = defaultdict(list)
    for s in slots:
        by_planner[s.planner].append(s)
    needs = []
    for c in range(26):
        group, family = f"grp{c % 4}", frozenset({f"fam{rng.randrange(18)}"})
        days = rng.sample((0, 1), rng.choice((1, 2)))
        for planner, main in ((group, True), (f"{group}:opp", False)):
            if main or rng.random() < 0.2:
                available = tuple(s.id for s in by_planner[planner] if s.start.day - 16 in days)
                needs.append(Need(planner, f"c{c}", family, available, main))
    return slots, needs


def test_the_same_input_gives_the_same_schedule_in_any_order():
    slots, needs = school(7)
    first = solve(slots, needs, time_limit_s=2)
    random.Random(1).shuffle(slots)
    random.Random(2).shuffle(needs)
    again = solve(slots, needs, time_limit_s=2)
    assert dataclasses.replace(first, seconds=0.0) == dataclasses.replace(again, seconds=0.0)
    assert not broken(slots, needs, first)


@st.composite
def problems(draw):
    """Up to three planners of up to six slots on one or two days, an IB in some slots of every
    planner, and up to eight needs sharing a few guardians; availability may name other planners' slots."""
    slots: list[Slot] = []
    for p in range(draw(st.integers(1, 3))):
        for n in range(draw(st.integers(1, 6))):
            start = at(draw(st.integers(0, 1)), 18, 30) + timedelta(minutes=15 * draw(st.integers(0, 6)))
            staff = (f"t{p}", "ib") if draw(st.booleans()) else (f"t{p}",)
            slots.append(
                Slot(f"p{p}-{n}", f"p{p}", start, start + timedelta(minutes=draw(st.sampled_from((15, 30)))), staff)
            )
    planners = sorted({s.planner for s in slots})
    needs = []
    for c in range(draw(st.integers(0, 8))):
        planner = draw(st.sampled_from(planners))
        guardians = frozenset(draw(st.lists(st.sampled_from(("g0", "g1", "g2", "g3", "g4")), min_size=1, max_size=2)))
        available = tuple(draw(st.lists(st.sampled_from([s.id for s in slots]), max_size=5, unique=True)))
        needs.append(Need(planner, f"c{c}", guardians, available, main=draw(st.booleans())))
    return slots, needs


@settings(max_examples=30, deadline=None)
@given(problems())
def test_hard_constraints_always_hold_and_the_solver_places_at_least_what_first_fit_does(problem):
    slots, needs = problem
    solution = solve(slots, needs, time_limit_s=1)
    assert not broken(slots, needs, solution)
    assert set(solution.assigned) | set(solution.unplaced) == {(n.planner, n.child) for n in needs}
    assert not set(solution.assigned) & set(solution.unplaced)
    own = {s.id for s in slots}
    for n in needs:
        reason = solution.unplaced.get((n.planner, n.child))
        has_own = any(i in own and i.startswith(f"{n.planner}-") for i in n.available)
        assert reason is None or reason == ("no_free_slot" if has_own else "no_availability")
    assert len(solution.assigned) >= greedy_placed(slots, needs)
    assert solution.bound <= solution.objective and 0.0 <= solution.gap <= 1.0
