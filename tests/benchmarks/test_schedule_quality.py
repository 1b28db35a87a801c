"""The schedule-quality benchmark (benchmarks/schedule_quality.py) on a small school: its generator and
all three schedulers run, their schedules keep the hard constraints each promises, and the report
has every metric."""

from __future__ import annotations

from itertools import combinations

from benchmarks.schedule_quality import (
    ROWS,
    generate,
    run,
    schedule_greedy,
    schedule_self_select,
    schedule_solver,
    table,
    violations,
)
from connector.engine.scheduling import overlaps

SMALL = {"pupils": 40, "groups": 4, "siblings": 5, "support": 3}


def test_the_generator_makes_sibling_families_and_ib_slots_of_different_planners_that_overlap():
    school = generate(seed=3, **SMALL)
    assert generate(seed=3, **SMALL) == school
    assert len({n.child for n in school.needs if n.main}) == 40 and sum(not n.main for n in school.needs) == 3
    slot = {s.id: s for s in school.slots}
    need_of = {(n.planner, n.child): n for n in school.needs}
    families = [keys for keys in school.families.values() if len({c for _, c in keys}) > 1]
    assert len(families) == 5
    for keys in families:
        mains = [k for k in keys if need_of[k].main]
        assert len({p for p, _ in mains}) == len(mains)  # each child in another group
        assert len({need_of[k].guardians for k in keys}) == 1
        assert len({frozenset(slot[i].start.date() for i in need_of[k].available) for k in mains}) == 1  # same evenings
    ib = [s for s in generate(seed=1).slots if "ib" in s.staff]
    assert any(a.planner != b.planner and overlaps(a, b) for a, b in combinations(ib, 2))


def test_every_scheduler_keeps_its_hard_constraints_and_the_report_has_every_metric():
    school = generate(seed=1, **SMALL)
    solver, info = schedule_solver(school, 2)
    greedy, _ = schedule_greedy(school)
    self_select, _ = schedule_self_select(school, 1)
    assert violations(school, solver) == [] and violations(school, greedy) == []
    assert violations(school, self_select, staff=False) == []  # families cannot see other planners' staff
    assert len(solver) >= len(greedy) and info["seconds"] < 10

    report = run(seed=1, time_limit_s=2, **SMALL)
    assert set(report["results"]) == {"solver", "greedy", "self-select"}
    for metrics in report["results"].values():
        assert {field for _, field in ROWS} <= set(metrics)
    assert report["results"]["solver"]["ib_double_bookings"] == 0
    assert {"optimal", "gap", "objective", "bound", "weighted_cost_bound"} <= set(report["results"]["solver"])
    assert table(report).count("\n") == len(ROWS) + 2
