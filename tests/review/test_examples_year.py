"""Issue W2-3: each of the five example schools runs a school year on the simulator with its own
verslag rules, and the report says per conversation what really happened under those rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import col, select

from connector.cycle.settings import load_settings
from connector.demo import run_demo
from connector.logging_setup import configure_logging
from connector.review.verslagen import verslag_rows
from connector.store import Store
from connector.store.models import Planner, Slot

from .conftest import REPO

PUPILS = 25  # every kind of family, and a year in well under a minute


def double_booked(store: Store) -> list[tuple]:
    """Every pair of overlapping slots of one staff member, over all planners not cancelled."""
    per_person: dict[str, list[tuple]] = {}
    with store.read() as session:
        rows = list(
            session.exec(
                select(Slot, Planner.external_ref)
                .join(Planner, col(Planner.id) == Slot.planner_id)
                .where(col(Planner.status) != "cancelled")
            )
        )
    assert rows, "no slots at all"
    for slot, ref in rows:
        for person in slot.staff_ids:
            per_person.setdefault(person, []).append((slot.starts_at, slot.ends_at, ref))
    clashes = []
    for person, slots in per_person.items():
        slots.sort()
        latest = slots[0]
        for current in slots[1:]:
            if current[0] < latest[1]:
                clashes.append((person, latest, current))
            latest = max(latest, current, key=lambda s: s[1])
    return clashes


def thin_evenings(store: Store, settings) -> list[str]:
    """Planners of rounds with `slots.concentrate` whose slots are spread over more evenings than
    their number needs (all evenings but the last full)."""
    concentrated = {
        (s.brin, r.id): (r, r.conversation_hours or s.conversation_hours)
        for s in settings.schools
        for r in settings.cycle_for(s).rounds
        if r.slots.concentrate
    }
    found = []
    with store.read() as session:
        for planner in session.exec(select(Planner).where(col(Planner.status) != "cancelled")):
            _, brin, _, round_id = planner.external_ref.split(":")[:4]
            if (brin, round_id) not in concentrated:
                continue
            rnd, hours = concentrated[(brin, round_id)]
            days = Counter(s.starts_at.date() for s in session.exec(select(Slot).where(Slot.planner_id == planner.id)))
            per_evening = sum(
                ((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)) // rnd.slot_minutes
                for start, end in hours.spans()
            )
            if days and len(days) > -(-sum(days.values()) // per_evening):
                found.append(f"{planner.external_ref}: {sorted(days.values())} on {len(days)} evenings")
    return found


def reported(rows: list[dict]) -> dict[tuple, tuple]:
    out: dict[tuple, tuple] = {}
    for row in rows:
        for item in row["items"]:
            key = (row["brin"], row["round"], item["pupil"], item["conversation"])
            _, _, teachers = out.get(key, (None, None, frozenset()))
            out[key] = (item["how"], item["status"], teachers | {row["teacher"]})
    return out


@pytest.mark.parametrize("example", sorted(p.name for p in (REPO / "examples").glob("*.toml")))
def test_an_example_school_year_is_reported_as_it_went_under_its_own_verslag_rules(tmp_path: Path, example: str):
    loaded = load_settings(str(REPO / "examples" / example))
    configure_logging(level="error")
    database = tmp_path / "demo.db"
    summary = run_demo(loaded, seed=4, pupils_per_school=PUPILS, database=database)
    store = Store(database)
    try:
        rows = verslag_rows(store, loaded.settings)
        assert double_booked(store) == []  # one agenda: nobody in two slots at once, across the year
        assert thin_evenings(store, loaded.settings) == []
    finally:
        store.dispose()
    truth = {
        (t["brin"], t["round"], t["pupil"], t["conversation"]): (t["how"], t["status"], frozenset(t["teachers"]))
        for t in summary["truth"]
    }
    got = reported(rows)
    wrong = {k: (got.get(k), truth.get(k)) for k in set(got) | set(truth) if got.get(k) != truth.get(k)}
    assert not wrong, sorted(wrong.items())[:10]
    rules = {r.id: r.verslag for s in loaded.settings.schools for r in loaded.settings.cycle_for(s).rounds}
    by_round: dict[str, Counter] = {}
    for (_, round_id, _, _), (_, status, _) in got.items():
        by_round.setdefault(round_id, Counter())[status] += 1
    assert set(by_round) == set(rules)  # every round ran and was judged
    for round_id, statuses in by_round.items():
        verslag = rules[round_id]
        held = sum(n for s, n in statuses.items() if s != "not_seen")
        assert held, round_id
        if not verslag.required:  # 003's ontwikkelingsgesprekken: the rapport/portfolio is the verslag
            assert set(statuses) <= {"not_required", "not_seen"}, (round_id, statuses)
        else:
            assert "not_required" not in statuses, (round_id, statuses)
            assert any(statuses[s] for s in ("on_time", "late", "missing", "not_visible")), (round_id, statuses)
        if not verslag.visible_in_ouderportaal:  # 001: a note the parents cannot see is a verslag all the same
            assert "not_visible" not in statuses, (round_id, statuses)
    all_statuses = Counter(status for _, status, _ in got.values())
    required = [r for r in rules.values() if r.required]
    if all(r.visible_in_ouderportaal for r in required):
        assert all_statuses["not_visible"] == 1  # the simulated school's one verslag its parents cannot see
