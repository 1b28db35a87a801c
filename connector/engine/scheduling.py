"""The schedule of a whole round in "preferences" mode: every family's stated availability, solved at once.

Pure: no I/O, no store. CP-SAT (OR-Tools) is imported inside `solve` only, so the idle daemon, which
imports the engine but never solves, does not load it.

How a round is solved (a 450-pupil school has some 8,000 candidate (need, slot) pairs):

1. Warm start, greedy: families with more than one conversation first, the most constrained first,
   each trying every day for its conversations close together; then single conversations, the
   most constrained first. Every choice respects the hard constraints and prefers a staff evening
   already in use. (From nothing, CP-SAT found 10 to 25 times the sibling gap in the same time.)
2. CP-SAT, place: as many needs placed as possible; among those schedules, the one that keeps most
   of the warm start. Its status proves (or not) that no schedule places more.
3. CP-SAT, prove: with at least that many placed, the least weighted gaps and evenings; its LP
   gives the lower bound, and settles small rounds outright.
4. CP-SAT, improve: large neighbourhood search from the best schedule so far, with what is left of
   the budget. Every phase starts from a complete hint, so no phase can end worse than it began.

The model, kept compact:

- one boolean per need and *available* slot of its own planner (never need x all slots);
- at most one slot per need; "at most one" over every maximal clique of overlapping slots per staff
  member (a slot alone is such a clique, so a slot holds one child at most) and, per guardian of
  several needs, over every maximal clique of overlapping (need, slot) candidates of those needs;
- per pair of needs whose gap costs (siblings; a child's main and support conversation), per day
  both could be on: "same day" `u <= both on it`, and the gap `g >= start(b) - end(a)` and
  `g >= start(a) - end(b)` in minutes from that day's first candidate, relaxed by the day's span
  unless `u`. The pair costs `240 * (both placed - sum(u)) + sum(g)`: linear in the pair's
  candidates, where slot-pair reasoning would be quadratic, and exact including the 240 cap (a
  longer wait the same day is cheaper as `u = 0`);
- per (staff member, day) one boolean, at least each candidate slot's use that day, and at least
  the day's conversations over the most the staff member can hold that day (a bound for the LP).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations
from typing import Any, TypeVar

GAP_CAP_MINUTES = 240  # the gap of a pair on different days, and the most any pair can cost
NUM_WORKERS = 2
BATCH_SIZE = 3 * NUM_WORKERS  # CP-SAT's default for two workers, fixed so it cannot follow num_workers
RANDOM_SEED = 20260901
# CP-SAT's work budget (deterministic time) per second of `time_limit_s`. On a 450-pupil round one
# unit took about 2 s of wall time on two idle cores and 4 s with both busy, so 0.2 ends in time.
DTIME_PER_SECOND = 0.2
# The wall clock cuts the search only at this many times `time_limit_s`: a busy machine (CI, a
# school server doing its backups) takes longer over the same work rather than give another answer.
WALL_SLACK = 3.0
PLACE_SHARE, PROVE_SHARE = 0.2, 0.3  # of the budget, at most; "improve" gets what is left

Key = tuple[str, str]  # (planner, child)
T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True)
class Slot:
    id: str  # the vendor's slot id
    planner: str  # the planner's external_ref
    start: datetime  # timezone-aware
    end: datetime
    staff: tuple[str, ...]  # planner staff ids present in the conversation


@dataclass(frozen=True)
class Need:
    """One conversation to place: one invited child of one planner."""

    planner: str
    child: str  # planner child id
    guardians: frozenset[str]  # guardian ids of the child; needs of different children sharing a guardian are siblings
    available: tuple[str, ...]  # slot ids of this planner that the family marked available (may be empty)
    main: bool = True  # False: the child's support conversation (OPP/IB), best straight after its main one


@dataclass(frozen=True)
class Weights:
    sibling_gap: int = 10  # per minute between two siblings' conversations beyond back to back
    support_gap: int = 5  # per minute between a child's main conversation and its support conversation
    evening: int = 60  # per day on which a staff member has at least one conversation


@dataclass(frozen=True)
class Solution:
    """`objective` is `per_need * unplaced + weighted gaps and evenings`, where one need more placed
    (`per_need`) outweighs the most the other terms can cost together; `bound` is the solver's
    proven lower bound on it."""

    assigned: dict[tuple[str, str], str]  # (planner, child) -> slot id
    unplaced: dict[tuple[str, str], str]  # (planner, child) -> "no_availability" | "no_free_slot"
    optimal: bool  # the solver proved optimality
    gap: float  # how much better the best schedule could be, relative (0.0 when optimal; see `_gap`)
    objective: int
    bound: int
    seconds: float  # wall time of the solve


def day_of(slot: Slot) -> date:
    """The conversation's day, in the slot's own time zone."""
    return slot.start.date()


def overlaps(a: Slot, b: Slot) -> bool:
    return a.start < b.end and b.start < a.end


def gap_minutes(a: Slot, b: Slot) -> int:
    """Minutes between two conversations: 0 back to back (the later starts when the earlier ends) or
    overlapping, else the wait in between; capped at 240, and 240 for two different days."""
    if day_of(a) != day_of(b):
        return GAP_CAP_MINUTES
    earlier, later = (a, b) if a.start <= b.start else (b, a)
    return min(GAP_CAP_MINUTES, max(0, _minutes(later.start, earlier.end)))


def sibling_pairs(needs: Sequence[Need]) -> list[tuple[Need, Need]]:
    """Every pair of needs of different children that share a guardian, in a stable order."""
    ordered = sorted(needs, key=_key)
    return [(a, b) for a, b in combinations(ordered, 2) if a.child != b.child and a.guardians & b.guardians]


def support_pairs(needs: Sequence[Need]) -> list[tuple[Need, Need]]:
    """Every (main, support) pair of needs of one child, in a stable order."""
    ordered = sorted(needs, key=_key)
    mains = defaultdict(list)
    for need in ordered:
        if need.main:
            mains[need.child].append(need)
    return [(main, need) for need in ordered if not need.main for main in mains[need.child]]


def solve(
    slots: Sequence[Slot], needs: Sequence[Need], weights: Weights = Weights(), *, time_limit_s: float = 10.0
) -> Solution:
    """The round's schedule: as many needs placed as the hard constraints allow, then the least
    weighted sibling gaps, support gaps and staff evenings. Slot ids of another planner in a need's
    `available` are ignored. The same input (in any order) gives the same Solution, `seconds` aside,
    unless the wall clock (at `WALL_SLACK` times the limit) cuts the search short (see `_parameters`)."""
    from ortools.sat.python import cp_model

    began = time.monotonic()
    problem = _Problem(slots, needs, weights)
    warm = _warm_start(problem)
    budget = DTIME_PER_SECOND * time_limit_s

    def run(hint: list[tuple[Any, int]], dtime: float, subsolver: str) -> tuple[Any, Any]:
        model.clear_hints()
        for var, value in hint:
            model.add_hint(var, value)
        solver = cp_model.CpSolver()
        _parameters(solver.parameters, dtime, WALL_SLACK * time_limit_s - (time.monotonic() - began))
        solver.parameters.filter_subsolvers.append(subsolver)
        return solver, solver.solve(model)

    model = cp_model.CpModel()
    x = {(k, i): model.new_bool_var(f"x[{k[0]}|{k[1]}|{i}]") for k, ids in problem.candidates.items() for i in ids}
    if not x:  # nothing can be placed (CP-SAT answers UNKNOWN on an empty model)
        unplaced = dict.fromkeys(problem.need, "no_availability")
        return Solution({}, unplaced, True, 0.0, len(unplaced), len(unplaced), time.monotonic() - began)
    _hard_constraints(model, problem, x)
    placed = sum(x.values())

    # Place: the most needs placed; of those schedules, the one closest to the warm start
    # (moving a need with siblings or a support conversation loses more than moving a single one).
    keep = {k: 1 + sum(problem.pair_weight[k].values()) for k in warm}
    per_placed = sum(keep.values()) + 1
    model.maximize(per_placed * placed + sum(w * x[k, warm[k]] for k, w in sorted(keep.items())))
    first, status = run(_schedule_hint(x, warm), PLACE_SHARE * budget, "default_lp")  # its LP bounds placing best
    schedule = _read(first, status, x, warm)
    most = len(schedule)
    placing_proven = status == cp_model.OPTIMAL
    placeable = sum(1 for ids in problem.candidates.values() if ids)
    most_possible = most if placing_proven else min(placeable, int(first.best_objective_bound) // per_placed)
    used = first.deterministic_time

    # Prove, then improve: at least that many placed, the least weighted gaps and evenings.
    secondary = _Secondary(model, problem, x)
    model.add(placed >= most)
    model.minimize(secondary.expression)
    lower = 0
    optimal = False
    for share, subsolver in ((PROVE_SHARE, "max_lp_sym"), (1.0, "*lns*")):
        dtime = min(share * budget, budget - used)
        if optimal or dtime <= 0:
            break
        solver, status = run(_schedule_hint(x, schedule) + secondary.hint(schedule), dtime, subsolver)
        schedule = _read(solver, status, x, schedule)
        used += solver.deterministic_time
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            lower = max(lower, math.ceil(solver.best_objective_bound - 1e-6))
            optimal = status == cp_model.OPTIMAL

    per_need = problem.worst + 1
    cost = _cost(problem, schedule)
    objective = per_need * (len(problem.ordered) - len(schedule)) + cost
    optimal = optimal and placing_proven
    bound = per_need * (len(problem.ordered) - most_possible) + (lower if placing_proven else 0)
    unplaced = {
        _key(n): "no_availability" if not problem.candidates[_key(n)] else "no_free_slot"
        for n in problem.ordered
        if _key(n) not in schedule
    }
    return Solution(
        assigned=schedule,
        unplaced=unplaced,
        optimal=optimal,
        gap=_gap(optimal, placing_proven and len(schedule) == most_possible, cost, lower, objective, bound),
        objective=objective,
        bound=objective if optimal else bound,
        seconds=time.monotonic() - began,
    )


class _Problem:
    """The input in one canonical order, with each need's candidate slots and pair weights."""

    def __init__(self, slots: Sequence[Slot], needs: Sequence[Need], weights: Weights) -> None:
        self.weights = weights
        self.slot = {s.id: s for s in slots}
        if len(self.slot) != len(slots):
            raise ValueError("duplicate slot ids")
        self.ordered = sorted(needs, key=_key)
        self.need = {_key(n): n for n in self.ordered}
        if len(self.need) != len(self.ordered):
            raise ValueError("duplicate (planner, child) needs")
        self.candidates = {
            _key(n): sorted(
                {i for i in n.available if i in self.slot and self.slot[i].planner == n.planner},
                key=lambda i: _order(self.slot[i]),
            )
            for n in self.ordered
        }
        pairs = [(a, b, weights.sibling_gap) for a, b in sibling_pairs(self.ordered)]
        pairs += [(a, b, weights.support_gap) for a, b in support_pairs(self.ordered)]
        self.pairs = [
            (_key(a), _key(b), w)
            for a, b, w in pairs
            if w > 0 and self.candidates[_key(a)] and self.candidates[_key(b)]
        ]
        self.pair_weight: dict[Key, dict[Key, int]] = defaultdict(dict)
        for a, b, w in self.pairs:
            self.pair_weight[a][b] = self.pair_weight[b][a] = w
        staff_days = {
            (p, day_of(self.slot[i])) for ids in self.candidates.values() for i in ids for p in self.slot[i].staff
        }
        self.worst = sum(w for _, _, w in self.pairs) * GAP_CAP_MINUTES + max(0, weights.evening) * len(staff_days)


def _hard_constraints(model, problem: _Problem, x: dict) -> None:
    takers = defaultdict(list)  # slot id -> the variables of the needs that may take it
    for (_, i), var in x.items():
        takers[i].append(var)
    for k, ids in problem.candidates.items():
        model.add_at_most_one(x[k, i] for i in ids)
    seen: set[frozenset[int]] = set()

    def at_most_one(literals: list) -> None:
        ident = frozenset(v.index for v in literals)
        if len(ident) > 1 and ident not in seen:
            seen.add(ident)
            model.add_at_most_one(literals)

    # A slot holds one child, and nobody is in two overlapping conversations: per staff member...
    per_staff = defaultdict(list)
    for i in sorted(takers, key=lambda i: _order(problem.slot[i])):
        for person in sorted(set(problem.slot[i].staff)):
            per_staff[person].append(i)
        at_most_one(takers[i])
    for person in sorted(per_staff):
        for clique in _cliques([(problem.slot[i], i) for i in per_staff[person]]):
            at_most_one([v for i in clique for v in takers[i]])
    # ...and per guardian (siblings, or a child's main and support conversation).
    for family in _sharing_a_guardian(problem):
        items = [(problem.slot[i], (k, i)) for k in family for i in problem.candidates[k]]
        for clique in _cliques(items):
            at_most_one([x[ki] for ki in clique])


class _Secondary:
    """The weighted gaps and evenings: their variables and constraints, and the objective expression."""

    def __init__(self, model, problem: _Problem, x: dict) -> None:
        self.problem = problem
        slot = problem.slot
        terms = []
        # (a, b) -> both placed, [(day, same day, wait)], cost
        self.pairs: dict[tuple[Key, Key], tuple[Any, list[tuple[date, Any, Any]], Any]] = {}
        for a, b, weight in problem.pairs:
            on_day: dict[date, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
            for side, k in enumerate((a, b)):
                for i in problem.candidates[k]:
                    on_day[day_of(slot[i])][side].append(i)
            both = model.new_bool_var(f"both[{a}|{b}]")
            model.add(both >= sum(x[k, i] for k in (a, b) for i in problem.candidates[k]) - 1)
            days = []
            for day, (ids_a, ids_b) in sorted(on_day.items()):
                if not ids_a or not ids_b:
                    continue
                zero = min(slot[i].start for i in ids_a + ids_b)
                span = max(_minutes(slot[i].end, zero) for i in ids_a + ids_b)

                def offset(k: Key, ids: list[str], edge: str, zero: datetime = zero) -> Any:
                    return sum(_minutes(getattr(slot[i], edge), zero) * x[k, i] for i in ids)

                u = model.new_bool_var(f"same[{a}|{b}|{day}]")
                g = model.new_int_var(0, GAP_CAP_MINUTES, f"wait[{a}|{b}|{day}]")
                model.add(u <= sum(x[a, i] for i in ids_a))
                model.add(u <= sum(x[b, i] for i in ids_b))
                model.add(g >= offset(b, ids_b, "start") - offset(a, ids_a, "end") - span * (1 - u))
                model.add(g >= offset(a, ids_a, "start") - offset(b, ids_b, "end") - span * (1 - u))
                days.append((day, u, g))
            model.add(sum(u for _, u, _ in days) <= both)
            cost = model.new_int_var(0, GAP_CAP_MINUTES, f"cost[{a}|{b}]")
            model.add(cost == GAP_CAP_MINUTES * (both - sum(u for _, u, _ in days)) + sum(g for _, _, g in days))
            self.pairs[a, b] = (both, days, cost)
            terms.append(weight * cost)
        self.evenings: list[tuple[Any, list[str]]] = []  # per (staff member, day): its variable, candidate slots
        if problem.weights.evening > 0:
            per_day = defaultdict(list)
            for i in sorted({i for ids in problem.candidates.values() for i in ids}, key=lambda i: _order(slot[i])):
                for person in sorted(set(slot[i].staff)):
                    per_day[person, day_of(slot[i])].append(i)
            takers = defaultdict(list)
            for (_, i), var in x.items():
                takers[i].append(var)
            for (person, day), ids in sorted(per_day.items()):
                evening = model.new_bool_var(f"evening[{person}|{day}]")
                for i in ids:
                    model.add(sum(takers[i]) <= evening)
                most = len(_cliques([(slot[i], i) for i in ids]))  # >= the most conversations that fit that day
                model.add(sum(v for i in ids for v in takers[i]) <= most * evening)
                self.evenings.append((evening, ids))
                terms.append(problem.weights.evening * evening)
        self.expression = sum(terms)

    def hint(self, schedule: dict[Key, str]) -> list[tuple[Any, int]]:
        """The value of every variable here in `schedule`, so that a hint of it is complete."""
        slot = self.problem.slot
        out: list[tuple[Any, int]] = []
        for (a, b), (both, days, cost) in self.pairs.items():
            held = (slot[schedule[a]], slot[schedule[b]]) if a in schedule and b in schedule else None
            gap = gap_minutes(*held) if held else 0
            out += [(both, int(held is not None)), (cost, gap)]
            for day, u, g in days:
                same = held is not None and day_of(held[0]) == day_of(held[1]) == day and gap < GAP_CAP_MINUTES
                out += [(u, int(same)), (g, gap if same else 0)]
        used = set(schedule.values())
        out += [(evening, int(any(i in used for i in ids))) for evening, ids in self.evenings]
        return out


def _schedule_hint(x: dict, schedule: dict[Key, str]) -> list[tuple[Any, int]]:
    return [(var, int(schedule.get(k) == i)) for (k, i), var in x.items()]


def _cost(problem: _Problem, assigned: dict[Key, str]) -> int:
    """The weighted gaps and evenings of a schedule, as the model counts them."""
    slot = problem.slot
    gaps = sum(
        w * gap_minutes(slot[assigned[a]], slot[assigned[b]])
        for a, b, w in problem.pairs
        if a in assigned and b in assigned
    )
    evenings = {(p, day_of(slot[i])) for i in assigned.values() for p in slot[i].staff}
    return gaps + max(0, problem.weights.evening) * len(evenings)


def _read(solver, status, x: dict, fallback: dict[Key, str]) -> dict[Key, str]:
    """The schedule the solver found, or `fallback` (a valid schedule it was hinted) if none."""
    from ortools.sat.python import cp_model

    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status != cp_model.UNKNOWN:
            raise RuntimeError(f"CP-SAT answered {solver.status_name(status)}; an empty schedule is always feasible")
        return dict(fallback)
    return {k: i for (k, i), var in x.items() if solver.boolean_value(var)}


def _parameters(params, dtime: float, wall_s: float) -> None:
    """CP-SAT's parameters, chosen for a deterministic answer with more than one worker.

    By default parallel CP-SAT is not deterministic: its workers share solutions and bounds as soon
    as they find them, so thread timing steers the search. `interleave_search` runs the subsolvers'
    tasks in batches and shares only between batches (CP-SAT's `DeterministicLoop`), which makes the
    search a function of the model and the parameters alone; the batch size is fixed too (its
    default follows `num_workers`), and a fixed `random_seed` pins the randomised choices. What stops
    the search must not depend on the clock either, so the budget is `max_deterministic_time`
    (CP-SAT's count of work done). `max_time_in_seconds` stays as a safety net only: the budget is
    set to end well before it, and should a very slow or busy machine reach it first, the answer is
    still valid and honestly reported, but may differ between runs.

    Interleaved, every full-problem subsolver works in chunks of one unit and the LP ones take
    seconds to load, so each phase names the subsolver it needs (`filter_subsolvers`). Presolve is
    off: the model is built clean, and presolve alone used up two units of the budget on it.
    """
    params.num_workers = NUM_WORKERS
    params.interleave_search = True
    params.interleave_batch_size = BATCH_SIZE
    params.random_seed = RANDOM_SEED
    params.cp_model_presolve = False
    params.max_deterministic_time = dtime
    params.max_time_in_seconds = max(0.1, wall_s)


def _warm_start(problem: _Problem) -> dict[Key, str]:
    """A valid schedule, built greedily (see the module docstring)."""
    board = _Board(problem)
    families = _families(problem)
    in_family = {k for family in families for k in family}
    families.sort(key=lambda f: (min(len(problem.candidates[k]) for k in f), -len(f), f))
    singles = sorted(
        ((k,) for k in problem.need if k not in in_family), key=lambda f: (len(problem.candidates[f[0]]), f)
    )
    for family in families + singles:
        options: list[date | None] = [None]
        if len(family) > 1:  # every day the family could meet on, then anywhere
            options = [*sorted({day_of(problem.slot[i]) for k in family for i in problem.candidates[k]}), None]
        best: tuple[tuple[int, int], dict[Key, str]] | None = None
        for day in options:
            booked, cost = board.place(family, day)
            if best is None or (-len(booked), cost) < best[0]:
                best = ((-len(booked), cost), booked)
            board.release(booked)
        assert best is not None
        for k, i in best[1].items():
            board.book(k, i)
    return dict(board.assigned)


class _Board:
    """Who is where in the warm start: slots taken, and the conversations of each staff member and guardian."""

    def __init__(self, problem: _Problem) -> None:
        self.problem = problem
        self.assigned: dict[Key, str] = {}
        self.taken: set[str] = set()
        self.busy: dict[str, list[Slot]] = defaultdict(list)  # staff member or guardian -> conversations
        self.evenings: dict[tuple[str, date], int] = defaultdict(int)  # (staff member, day) -> conversations

    def _people(self, k: Key, s: Slot) -> list[str]:
        return [*(f"staff:{p}" for p in s.staff), *(f"guardian:{g}" for g in self.problem.need[k].guardians)]

    def fits(self, k: Key, i: str) -> bool:
        s = self.problem.slot[i]
        return i not in self.taken and not any(overlaps(s, o) for p in self._people(k, s) for o in self.busy[p])

    def book(self, k: Key, i: str) -> None:
        s = self.problem.slot[i]
        self.assigned[k] = i
        self.taken.add(i)
        for p in self._people(k, s):
            self.busy[p].append(s)
        for p in s.staff:
            self.evenings[p, day_of(s)] += 1

    def release(self, booked: dict[Key, str]) -> None:
        for k, i in booked.items():
            s = self.problem.slot[i]
            del self.assigned[k]
            self.taken.discard(i)
            for p in self._people(k, s):
                self.busy[p].remove(s)
            for p in s.staff:
                self.evenings[p, day_of(s)] -= 1

    def place(self, family: tuple[Key, ...], day: date | None) -> tuple[dict[Key, str], int]:
        """Book the family's needs (the most constrained first) on `day` where they can, each in the
        fitting slot that costs least next to the family's booked ones; what it booked, and its cost."""
        slot, candidates = self.problem.slot, self.problem.candidates
        booked: dict[Key, str] = {}
        total = 0
        for k in sorted(family, key=lambda k: (len(candidates[k]), k)):
            free = [i for i in candidates[k] if self.fits(k, i)]
            free = [i for i in free if day is None or day_of(slot[i]) == day] or free
            if not free:
                continue
            pairs = self.problem.pair_weight[k]

            def cost(i: str, pairs: dict[Key, int] = pairs) -> int:
                s = slot[i]
                gaps = sum(w * gap_minutes(s, slot[booked[o]]) for o, w in pairs.items() if o in booked)
                return gaps + self.problem.weights.evening * sum(not self.evenings[p, day_of(s)] for p in s.staff)

            chosen = min(free, key=lambda i: (cost(i), slot[i].start, i))
            total += cost(chosen)
            self.book(k, chosen)
            booked[k] = chosen
        return booked, total


def _sharing_a_guardian(problem: _Problem) -> list[tuple[Key, ...]]:
    """Per guardian of two or more needs, those needs, each set once, in a stable order."""
    by_guardian = defaultdict(set)
    for n in problem.ordered:
        for g in n.guardians:
            by_guardian[g].add(_key(n))
    return sorted({tuple(sorted(keys)) for keys in by_guardian.values() if len(keys) > 1})


def _families(problem: _Problem) -> list[tuple[Key, ...]]:
    """The needs connected through shared guardians, for every group of two or more, in a stable order."""
    root: dict[Key, Key] = {}

    def find(k: Key) -> Key:
        while root.setdefault(k, k) != k:
            k = root[k]
        return k

    by_guardian = defaultdict(list)
    for n in problem.ordered:
        for g in sorted(n.guardians):
            by_guardian[g].append(_key(n))
    for keys in by_guardian.values():
        for k in keys[1:]:
            root[find(k)] = find(keys[0])
    groups = defaultdict(list)
    for n in problem.ordered:
        groups[find(_key(n))].append(_key(n))
    return sorted(tuple(g) for g in groups.values() if len(g) > 1)


def _gap(optimal: bool, most_placed: bool, cost: int, lower: int, objective: int, bound: int) -> float:
    """The relative gap a person can read: once no schedule is proven to place more, that of the
    gaps and evenings alone (the placing term would make any gap look tiny); else of the whole."""
    if optimal:
        return 0.0
    if most_placed:
        return max(0.0, (cost - lower) / max(1, cost))
    return (objective - bound) / max(1, objective)


def _key(need: Need) -> Key:
    return (need.planner, need.child)


def _order(slot: Slot) -> tuple[datetime, datetime, str]:
    return (slot.start, slot.end, slot.id)


def _minutes(later: datetime, earlier: datetime) -> int:
    return int((later - earlier).total_seconds() // 60)


def _cliques(items: Iterable[tuple[Slot, T]]) -> list[list[T]]:
    """The maximal sets of mutually overlapping items of an interval graph (one sweep over start
    and end points; touching intervals do not overlap). Every set of pairwise overlapping items
    is inside one of them."""
    events = []
    for n, (slot, item) in enumerate(items):
        events.append((slot.start, 1, n, item))
        events.append((slot.end, 0, n, item))  # ends before starts at the same moment: touching is no overlap
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    active: dict[int, T] = {}
    out: list[list[T]] = []
    grew = False
    for _, is_start, n, item in events:
        if is_start:
            active[n] = item
            grew = True
        else:
            if grew:
                out.append(list(active.values()))
            grew = False
            del active[n]
    return out
