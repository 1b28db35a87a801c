"""The five example schools express their own cycle as their policy documents describe it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from connector.cycle.settings import load_settings
from connector.cycle.settings.models import Participation, RoundKind
from connector.cycle.yearplan import SchoolPlan, plan_school
from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def plan_of(name: str) -> SchoolPlan:
    (path,) = [p for p in EXAMPLES if p.name.startswith(name)]
    loaded = load_settings(path)
    (school,) = loaded.settings.schools
    return plan_school(loaded.settings, school)


def rounds_of(plan: SchoolPlan, kind: RoundKind):
    return [r for r in plan.rounds if r.round.kind is kind]


def test_there_is_one_example_per_seed_school():
    assert [p.name[:3] for p in EXAMPLES] == ["000", "001", "002", "003", "004"]


@pytest.mark.parametrize("path", EXAMPLES + [REPO / "settings.toml"], ids=lambda p: p.name)
def test_every_example_is_valid_and_every_round_lands_on_school_days(path: Path):
    loaded = load_settings(path)
    for school in loaded.settings.schools:
        plan = plan_school(loaded.settings, school)
        for rnd in plan.rounds:
            assert rnd.conversation_days, rnd.round.id
            assert all(plan.calendar.is_school_day(d) for d in rnd.conversation_days)
            if rnd.planner_opens:
                first_slot = datetime.combine(
                    rnd.first_conversation_day, rnd.hours[0][0], tzinfo=rnd.planner_closes.tzinfo
                )
                assert rnd.planner_opens < rnd.planner_closes <= first_slot


def test_school_000_startgesprek_in_week_two_for_everyone_with_child_and_opp_extra():
    plan = plan_of("000")
    (start,) = rounds_of(plan, RoundKind.START)
    assert start.window_start == date(2026, 9, 7)  # the school year starts 31 August (midden)
    assert start.round.slot_minutes == 10 and start.round.participation is Participation.MANDATORY
    assert start.round.attendance.child_from_leerjaar == 1 and start.round.opp_extra_conversation
    assert start.configured is not None
    assert (start.first_conversation_day - start.configured.opens.date()).days == 7  # set: the week before
    # The summer holiday comes before that week: released to siblings on the first school day instead.
    assert start.planner_release is not None and start.planner_release.date() == plan.calendar.first_day


def test_school_000_july_rapport_optional_with_children_from_groep_5():
    plan = plan_of("000")
    feb, jul = rounds_of(plan, RoundKind.RAPPORT)
    assert feb.round.participation is Participation.MANDATORY and feb.window_start.month == 2
    assert jul.round.participation is Participation.OPTIONAL and jul.window_start.month == 7
    assert not any(jul.round.is_mandatory_for(g) for g in range(1, 9))
    assert feb.round.attendance.child_from_leerjaar == jul.round.attendance.child_from_leerjaar == 5
    assert feb.round.slot_minutes == jul.round.slot_minutes == 15


def test_school_000_kindgesprekken_in_october_and_march_without_planner():
    plan = plan_of("000")
    kind = rounds_of(plan, RoundKind.KIND)
    assert [r.window_start.month for r in kind] == [10, 3]
    assert all(not r.round.has_planner and r.planner_opens is None for r in kind)
    assert all(r.round.verslag_category == "Kindgesprek" for r in kind)
    assert all(r.verslag_deadline == r.window_end + timedelta(days=7) for r in kind)


def test_school_000_verwijzing_groep_8_in_february_and_groep_7_in_july():
    plan = plan_of("000")
    by_group = {r.round.groups: r for r in rounds_of(plan, RoundKind.VERWIJZING)}
    assert by_group[(8,)].window_start.month == 2 and by_group[(7,)].window_start.month == 7
    assert all(r.round.participation is Participation.MANDATORY for r in by_group.values())


def test_school_001_contact_evenings_tuesday_and_thursday_in_november_and_february_groups_1_to_7():
    plan = plan_of("001")
    assert [r.window_start.month for r in plan.rounds] == [11, 2]
    for rnd in plan.rounds:
        assert rnd.round.groups == (1, 2, 3, 4, 5, 6, 7)
        assert [d.strftime("%a") for d in rnd.conversation_days] == ["Tue", "Thu"]
        assert all(start >= time(18, 0) for start, _ in rnd.hours)


def test_school_002_cycle_start_two_vervolg_and_afronding_with_groep_8_deviating():
    plan = plan_of("002")
    kinds = [r.round.kind for r in plan.rounds]
    assert (
        kinds.count(RoundKind.START) == 1
        and kinds.count(RoundKind.VERVOLG) == 2
        and kinds.count(RoundKind.AFRONDING) == 1
    )
    (afronding,) = rounds_of(plan, RoundKind.AFRONDING)
    assert 8 not in afronding.round.groups
    (advies,) = rounds_of(plan, RoundKind.ADVIES)
    assert advies.round.groups == (8,)


def test_school_003_second_ontwikkelingsgesprek_optional_and_second_colleague_at_advice():
    plan = plan_of("003")
    first, second = rounds_of(plan, RoundKind.ONTWIKKELING)
    assert first.round.participation is Participation.MANDATORY and second.round.participation is Participation.OPTIONAL
    assert all(r.round.attendance.child_from_leerjaar == 4 for r in (first, second))
    assert all(r.round.attendance.second_colleague for r in rounds_of(plan, RoundKind.ADVIES))
    assert all((r.first_conversation_day - r.planner_opens.date()).days >= 7 for r in plan.rounds)


def test_school_004_june_july_optional_except_groep_7_and_advice_between_autumn_and_christmas():
    plan = plan_of("004")
    jun = next(r for r in plan.rounds if r.round.id == "rapport-jun")
    assert [g for g in jun.round.groups if jun.round.is_mandatory_for(g)] == [7]
    assert jun.window_start.month == 6 and jun.window_end.month == 7
    (advies,) = rounds_of(plan, RoundKind.ADVIES)
    autumn, christmas = plan.calendar.vacation("herfstvakantie"), plan.calendar.vacation("kerstvakantie")
    assert autumn.end < advies.first_conversation_day and advies.last_conversation_day < christmas.start
    (luister,) = rounds_of(plan, RoundKind.LUISTER)
    assert luister.window_start.month == 9 and luister.round.participation is Participation.MANDATORY
