"""Issue W2-4: who joins a round's conversations besides the group's teachers: the second colleague
named by staff id or found as last school year's teacher of the leerjaar below."""

from __future__ import annotations

from connector.engine.attendees import Colleagues, Person
from connector.store.models import Group, Staff


def staff(pas_id: str, planner_id: str | None = "stf_x", days: tuple[str, ...] = ("di",)) -> Staff:
    return Staff(school_id=1, pas_id=pas_id, planner_id=planner_id, werkdagen=list(days))


GROUP8 = Group(school_year_id=1, pas_id="71008", name="Groep 8", leerjaren=[8])
ROWS = {"3101": staff("3101", "stf_a", ("ma", "di")), "3107": staff("3107", "stf_seven"), "3110": staff("3110", None)}


def test_a_named_colleague_joins_when_linked_in_the_planner():
    assert Colleagues("3101", ROWS).for_group(GROUP8, [8], {"3108"}) == (
        Person("3101", "stf_a", ("ma", "di")),
        None,
    )
    colleague, problem = Colleagues("3110", ROWS).for_group(GROUP8, [8], {"3108"})
    assert colleague is None and problem and "not linked in the planner" in problem
    colleague, problem = Colleagues("9999", ROWS).for_group(GROUP8, [8], {"3108"})
    assert colleague is None and problem and "not staff of this school" in problem


def test_the_previous_teacher_is_last_years_teacher_of_the_leerjaar_below():
    found = Colleagues("previous_teacher", ROWS, {7: [("Groep 7", ["3107"])], 8: [("Groep 8", ["3108"])]})
    assert found.for_group(GROUP8, [8], {"3108"}) == (Person("3107", "stf_seven", ("di",)), None)


def test_no_previous_teacher_is_guessed_when_last_year_had_several_groups_or_the_same_teacher():
    several = Colleagues("previous_teacher", ROWS, {7: [("Groep 7", ["3107"]), ("Groep 6/7", ["3101"])]})
    colleague, problem = several.for_group(GROUP8, [8], {"3108"})
    assert colleague is None and problem and "Groep 6/7, Groep 7" in problem and "staff id" in problem
    same = Colleagues("previous_teacher", ROWS, {7: [("Groep 7", ["3108"])]})
    colleague, problem = same.for_group(GROUP8, [8], {"3108"})
    assert colleague is None and problem and "same teacher" in problem


def test_no_colleague_is_asked_for_when_the_round_has_none():
    assert Colleagues(None, ROWS).for_group(GROUP8, [8], {"3108"}) == (None, None)
