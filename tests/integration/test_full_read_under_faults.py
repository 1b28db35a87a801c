"""A full read of every resource of both APIs, with 20% injected 429/502/503 faults and small
pages, yields exactly the records the simulator holds: none missing, none twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from adapters.simulator import FaultConfig, Simulator
from adapters.simulator.config import AMS

from .conftest import (
    KEYS,
    PAS_PAGE,
    PLANNER_PAGE,
    FakeClock,
    as_json,
    by_id,
    control,
    counters,
    faults_seen,
    linked_groups,
    make_config,
    parro_client,
    pas_client,
    planner_body,
    running,
    set_clock,
    world_bookings,
    world_pas,
    world_planner,
)

FAULTS = FaultConfig(rate=0.2, kinds=(429, 502, 503), retry_after=1, latency_ms=(0, 0))
BOOKABLE = datetime(2026, 10, 12, 9, 0, tzinfo=AMS)
TALKS = ("Oudergesprek", "Kindgesprek")


@pytest.fixture(scope="module")
def board() -> Iterator[tuple[Simulator, dict[str, str]]]:
    """A faulty board of two schools, each with a released planner that parents booked in
    (one booking cancelled again). The set-up itself runs through the faults."""
    with running(make_config(faults=FAULTS)) as sim:
        clock = FakeClock()
        planners: dict[str, str] = {}
        for brin in KEYS:
            with parro_client(sim, clock, brin) as parro:
                body = planner_body(parro, brin, linked_groups(parro)[0], opens_at=BOOKABLE - timedelta(hours=1))
                planners[brin] = parro.create_planner(body, idempotency_key=f"it:{body.external_ref}").id
                parro.open_planner(planners[brin])
        set_clock(sim, BOOKABLE)
        for planner_id in planners.values():
            booked = control(sim, "POST", "/parents/behave", {"planner_id": planner_id})["booked"]
            assert len(booked) >= 2, booked
            control(sim, "POST", f"/planners/{planner_id}/cancel-booking", {"child_id": booked[0]})
        yield sim, planners


@pytest.mark.parametrize("brin", list(KEYS))
def test_it_reads_every_pas_resource_exactly_as_the_simulator_holds_it_despite_faults(board, brin):
    sim, _ = board
    control(sim, "POST", "/counters/reset")
    clock = FakeClock()
    with pas_client(sim, clock) as pas:
        sweeps = {
            "groups": pas.groups(brin),
            "staff": pas.staff(brin),
            "pupils": pas.pupils(brin),
            "notes": pas.notes(brin),
        }
        read = {resource: list(sweep) for resource, sweep in sweeps.items()}
        years = list(pas.schoolyears(brin, limit=1))
        last_years_groups = list(pas.groups(brin, schoolyear="2025-2026"))
        talks = list(pas.notes(brin, categories=TALKS))
        school = pas.get_school(brin)

    expected = world_pas(sim, brin)
    for resource, records in read.items():
        assert by_id(records) == expected[resource], resource
        assert sweeps[resource].complete and sweeps[resource].duplicates == 0
    assert len(expected["pupils"]) >= 75 and sweeps["pupils"].pages >= 75 // PAS_PAGE
    assert by_id(talks) == {i: n for i, n in expected["notes"].items() if n["category"] in TALKS}
    assert 0 < len(talks) < len(read["notes"]) and all("body" not in n for n in talks)
    assert [(y["id"], y["current"]) for y in years] == [("2025-2026", False), ("2026-2027", True)]
    with sim.world.lock:
        previous = as_json({g["id"]: g for g in sim.world.schools[brin].prev_groups})
    assert by_id(last_years_groups) == previous and previous.keys() != expected["groups"].keys()
    assert (school["brin"], school["name"]) == (brin, sim.world.schools[brin].cfg.name)
    assert faults_seen(sim, "/api/v1/") > 0 and sum(counters(sim)["faults"].values()) > 0
    assert clock.sleeps and 1.0 in clock.sleeps  # the Retry-After waits, on the fake clock


@pytest.mark.parametrize("brin", list(KEYS))
def test_it_reads_every_planner_resource_exactly_as_the_simulator_holds_it_despite_faults(board, brin):
    sim, planners = board
    control(sim, "POST", "/counters/reset")
    clock = FakeClock()
    with parro_client(sim, clock, brin) as parro:
        pagers = {
            "groups": parro.groups(),
            "children": parro.children(),
            "guardians": parro.guardians(),
            "staff": parro.staff(),
            "planners": parro.planners(),
        }
        read = {resource: list(pager) for resource, pager in pagers.items()}
        bookings_pager = parro.bookings(planners[brin], limit=3)
        bookings = list(bookings_pager)
        singles = [parro.get_planner(p["id"]) for p in read["planners"]]

    expected = world_planner(sim, brin)
    for resource, records in read.items():
        assert by_id(records) == expected[resource], resource
        assert pagers[resource].complete and pagers[resource].duplicates == 0
    assert pagers["children"].pages >= len(expected["children"]) // PLANNER_PAGE >= 10
    assert by_id(singles) == expected["planners"] and planners[brin] in expected["planners"]
    assert by_id(bookings) == world_bookings(sim, brin, planners[brin])
    assert {b["status"] for b in bookings} == {"booked", "cancelled"} and bookings_pager.pages > 1
    assert faults_seen(sim, "/v1/") > 0
    assert clock.sleeps


def test_it_reads_only_the_pupils_changed_since_the_watermark_of_the_previous_sweep():
    with running(make_config(faults=FAULTS, seed=5)) as sim:
        clock = FakeClock()
        with pas_client(sim, clock) as pas:
            full = pas.pupils("12AB00")
            full_ids = {p["id"] for p in full}
            watermark = full.watermark
            assert watermark == datetime(2026, 10, 1, 9, 0, tzinfo=AMS)

            # Time passes: the scheduled arrival, leaver and guardian updates of the autumn,
            # plus one enrolment and one deregistration made now.
            set_clock(sim, datetime(2026, 11, 10, 9, 0, tzinfo=AMS))
            enrolled = control(sim, "POST", "/schools/12AB00/pupils", {})["pupil"]["id"]
            leaving = sorted(full_ids)[5]
            control(sim, "POST", f"/schools/12AB00/pupils/{leaving}/deregister", {})

            changed = pas.pupils("12AB00", changed_since=watermark, limit=2)
            records = list(changed)

        everything = world_pas(sim, "12AB00")["pupils"]
        expected = {i: p for i, p in everything.items() if datetime.fromisoformat(p["changed_at"]) >= watermark}
        assert by_id(records) == expected
        assert {enrolled, leaving} <= expected.keys() and len(expected) < len(everything)
        assert everything[leaving]["status"] == "uitgeschreven"
        assert changed.pages > 1 and changed.watermark == datetime(2026, 11, 10, 9, 0, tzinfo=AMS)
        assert faults_seen(sim, "/api/v1/") > 0
