"""Whole school years on the simulator: the demo, and each example school's own cycle."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from connector.cycle.settings import load_settings
from connector.demo import run_demo
from connector.store import Store
from connector.store.models import (
    Booking,
    Group,
    Planner,
    PlannerInvitee,
    ReminderSent,
    Round,
    Slot,
    SyncEvent,
    SyncRun,
    TeacherNotice,
)
from tests.conftest import REPO

PUPILS = 40  # per school: small enough for CI, large enough for every kind of family
EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def test_two_demo_runs_on_fresh_databases_give_the_same_summary():
    loaded = load_settings(REPO / "settings.toml")
    first = run_demo(loaded, seed=5, pupils_per_school=PUPILS)
    second = run_demo(loaded, seed=5, pupils_per_school=PUPILS)
    assert first == second
    assert first["duplicate_messages"] == 0
    assert {r["round"] for r in first["rounds"]} == {"start", "kind-okt", "advies-8", "rapport-feb", "rapport-jul"}


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.name[:3])
def school_year(request, tmp_path_factory):
    database = tmp_path_factory.mktemp("year") / "year.db"
    loaded = load_settings(request.param)
    summary = run_demo(loaded, seed=2, pupils_per_school=PUPILS, database=database)
    store = Store(str(database))
    yield request.param.name[:3], summary, store
    store.dispose()


def rounds(summary: dict) -> dict[str, dict]:
    return {r["round"]: r for r in summary["rounds"]}


def planners_of(store: Store, round_key: str) -> list[tuple[Planner, Group]]:
    with store.read() as session:
        return list(
            session.exec(
                select(Planner, Group)
                .join(Group, Group.id == Planner.group_id)
                .join(Round, Round.id == Planner.round_id)
                .where(Round.round_key == round_key)
            )
        )


def test_the_year_runs_without_an_error(school_year):
    _, summary, store = school_year
    with store.read() as session:
        failed = list(session.exec(select(SyncRun.id).where(SyncRun.outcome == "failed")))
        errors = [e.message for e in session.exec(select(SyncEvent).where(SyncEvent.level == "error"))]
    assert failed == [] and errors == []
    assert summary["duplicate_messages"] == 0


def test_every_round_took_place_and_every_verslag_was_judged(school_year):
    _, summary, _ = school_year
    for r in summary["rounds"]:
        assert r["conversations"] > 0, r["round"]
        assert r["verslagen"]["pending"] == 0, r["round"]
        if r["uses_planner"]:
            assert r["planners_opened"] > 0 and r["booked"] <= r["invited"], r["round"]
        else:  # kindgesprekken: no planner, but a verslag for every child
            assert r["planners_opened"] == 0 and r["reminders_sent"] == 0


def test_optional_rounds_remind_only_the_groups_that_must_come(school_year):
    name, summary, store = school_year
    optional = {"000": {"rapport-jul": set()}, "003": {"ontwikkeling-2": set()}, "004": {"rapport-jun": {7}}}.get(
        name, {}
    )
    for round_key, must in optional.items():
        r = rounds(summary)[round_key]
        if not must:
            assert r["reminders_sent"] == 0 and r["families_to_contact"] == 0
            continue
        with store.read() as session:
            waiting = [
                leerjaren
                for leerjaren, booked in session.exec(
                    select(Group.leerjaren, Booking.id)
                    .join(Planner, Planner.group_id == Group.id)
                    .join(Round, Round.id == Planner.round_id)
                    .join(PlannerInvitee, PlannerInvitee.planner_id == Planner.id)
                    .outerjoin(
                        Booking,
                        (Booking.planner_id == Planner.id)
                        & (Booking.pupil_id == PlannerInvitee.pupil_id)
                        & (Booking.status == "booked"),
                    )
                    .where(Round.round_key == round_key, PlannerInvitee.child_planner_id != "")
                )
                if booked is None
            ]
            assert any(
                not must & set(leerjaren) for leerjaren in waiting
            )  # others did not book either, and were not reminded:
            reminded = session.exec(
                select(Group.leerjaren)
                .join(Planner, Planner.group_id == Group.id)
                .join(ReminderSent, ReminderSent.planner_id == Planner.id)
                .join(Round, Round.id == Planner.round_id)
                .where(Round.round_key == round_key)
            )
            noticed = session.exec(
                select(Group.leerjaren)
                .join(Planner, Planner.group_id == Group.id)
                .join(TeacherNotice, TeacherNotice.planner_id == Planner.id)
                .join(Round, Round.id == Planner.round_id)
                .where(Round.round_key == round_key)
            )
            assert all(must & set(leerjaren) for leerjaren in [*reminded, *noticed])


def test_each_school_follows_its_own_rules(school_year):
    name, summary, store = school_year
    by_round = rounds(summary)
    if name == "000":
        assert not by_round["kind-okt"]["uses_planner"] and not by_round["kind-mrt"]["uses_planner"]
        assert all(set(g.leerjaren) == {8} for _, g in planners_of(store, "verwijzing-8"))
        assert all(7 in g.leerjaren for _, g in planners_of(store, "verwijzing-7"))
        assert any(
            p.external_ref.endswith(":opp") for p, _ in planners_of(store, "start")
        )  # OPP pupils' extra conversation
    if name == "001":
        for round_key in ("contact-nov", "contact-feb"):
            assert all(set(g.leerjaren) & set(range(1, 8)) for _, g in planners_of(store, round_key))
            with store.read() as session:
                slots = session.exec(
                    select(Slot.starts_at)
                    .join(Planner, Planner.id == Slot.planner_id)
                    .join(Round, Round.id == Planner.round_id)
                    .where(Round.round_key == round_key)
                )
                local = [s.astimezone(ZoneInfo("Europe/Amsterdam")) for s in slots]
            # contact evenings, filled one after the other (`slots.concentrate`): the first ones only
            assert local and {s.strftime("%a") for s in local} <= {"Tue", "Thu"} and min(s.hour for s in local) >= 18
    if name == "002":
        assert all(8 not in g.leerjaren or set(g.leerjaren) != {8} for _, g in planners_of(store, "afronding"))
    if name in ("002", "003", "004"):
        advice = [k for k in by_round if k.startswith("advies")]
        assert advice and all(by_round[k]["planners_opened"] >= 1 for k in advice)
