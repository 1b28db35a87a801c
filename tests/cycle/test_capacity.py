"""The capacity check: a window too small for a group's conversations, with the people they need,
is warned about before the round (issue W2-4). Pure: a year plan and roster facts, no store."""

from __future__ import annotations

import tomllib

from connector.cycle.capacity import (
    CapacityWarning,
    GroupFacts,
    PupilFacts,
    SchoolFacts,
    StaffFacts,
    capacity_warnings,
)
from connector.cycle.settings.models import Settings
from connector.cycle.yearplan import plan_school

# Tuesday 10 and Thursday 12 November 2026, 15:00-17:30 in slots of 10 minutes: 15 a day, 30 in all.
SCHOOL = """\
[pas]
base_url = "http://127.0.0.1:9"
client_id = "test"
client_secret = { env = "UNUSED" }

[planner]
base_url = "http://127.0.0.1:9"

[[schools]]
brin = "12AB00"
name = "De Test"
region = "midden"
school_year = { year = "2026-2027" }
planner_api_key = { env = "UNUSED" }
conversation_hours = { weekdays = ["di", "do"], hours = ["15:00-17:30"] }

[cycles.standaard]
"""
WINDOW = "{ start = 2026-11-09, end = 2026-11-13 }"


def round_toml(id: str = "start", *, groups: str = "[3, 4]", window: str = WINDOW, extra: str = "") -> str:
    return f"""
[[cycles.standaard.rounds]]
id = "{id}"
name = "Gesprekken"
kind = "start"
groups = {groups}
window = {window}
slot_minutes = 10
{extra}
"""


def warnings(facts: SchoolFacts, *rounds: str) -> list[CapacityWarning]:
    settings = Settings.model_validate(tomllib.loads(SCHOOL + "".join(rounds or (round_toml(),))))
    return capacity_warnings(plan_school(settings, settings.schools[0]), facts)


def group(name: str, leerjaar: int, pupils: int, *teachers: str, niveau3: int = 0, opp: int = 0) -> GroupFacts:
    kids = (
        [PupilFacts(leerjaar, opp=True)] * opp
        + [PupilFacts(leerjaar, ondersteuningsniveau=3)] * niveau3
        + [PupilFacts(leerjaar)] * (pupils - niveau3 - opp)
    )
    return GroupFacts(f"g{name}", f"Groep {name}", (leerjaar,), tuple(kids), teachers)


TEACHER = StaffFacts("3104", ("ma", "di", "do"), ("leerkracht",))
OTHER = StaffFacts("3105", (), ("leerkracht",))  # no working days known: every day
IB = StaffFacts("3112", ("di",), ("intern_begeleider",))
NO_MARGIN = "planner = { slot_margin = 0 }"


def test_a_group_that_fits_gives_no_warning():
    assert warnings(SchoolFacts((group("3", 3, 27, "3104"),), (TEACHER,))) == []  # 27 + 10 %: 30 slots


def test_one_slot_short_names_the_group_the_count_and_the_teachers_days():
    found = warnings(SchoolFacts((group("3", 3, 31, "3104"),), (TEACHER,)))
    assert found == [
        CapacityWarning(
            "school 12AB00, round start, Groep 3: 31 conversations need the teacher, the window offers 30 slots "
            "on the teacher's working days (di, do)"
        )
    ]


def test_a_duo_group_has_the_slots_of_both_teachers_days():
    tuesday, thursday = StaffFacts("3106", ("di",)), StaffFacts("3107", ("do",))
    assert warnings(SchoolFacts((group("3", 3, 27, "3106", "3107"),), (tuesday, thursday))) == []
    on_friday = StaffFacts("3107", ("vr",))  # no conversation day
    (found,) = warnings(SchoolFacts((group("3", 3, 20, "3106", "3107"),), (tuesday, on_friday)))
    assert found.message == (
        "school 12AB00, round start, Groep 3: 20 conversations need the teachers, the window offers 15 slots "
        "on the teachers' working days (di)"
    )


def test_a_teacher_of_two_groups_shares_their_slots_between_them():
    facts = SchoolFacts((group("3", 3, 20, "3104"), group("4", 4, 15, "3104")), (TEACHER,))
    assert warnings(facts, round_toml(extra=NO_MARGIN)) == [
        CapacityWarning(
            "school 12AB00, round start: 35 conversations (Groep 3: 20, Groep 4: 15) need staff 3104, the window "
            "offers 30 slots on their working days (di, do)"
        )
    ]


def test_the_ib_on_every_support_conversation_is_over_capacity_across_groups():
    facts = SchoolFacts(
        (group("3", 3, 20, "3104", niveau3=10), group("4", 4, 15, "3105", niveau3=8, opp=2)),
        (TEACHER, OTHER, IB),
    )
    rnd = round_toml(extra=f"{NO_MARGIN}\nattendance = {{ ib_from_ondersteuningsniveau = 3 }}")
    assert warnings(facts, rnd) == [
        CapacityWarning(
            "school 12AB00, round start: 18 conversations (Groep 3: 10, Groep 4: 8) need the IB (staff 3112), the "
            "window offers 15 slots on their working days (di)"
        )
    ]
    # Without the IB on them, the OPP pupils' extra conversation needs only their teacher.
    assert warnings(facts, round_toml(extra=f"{NO_MARGIN}\nopp_extra_conversation = true")) == []


def test_support_conversations_need_a_day_the_teacher_and_the_ib_both_work():
    thursday = StaffFacts("3104", ("do",))
    rnd = round_toml(extra=f"{NO_MARGIN}\nattendance = {{ ib_from_ondersteuningsniveau = 3 }}")
    assert warnings(SchoolFacts((group("3", 3, 10, "3104", niveau3=2),), (thursday, IB)), rnd) == [
        CapacityWarning(
            "school 12AB00, round start, Groep 3: 2 support conversations need the teacher and the IB (staff 3112), "
            "the window offers 0 slots on the days they work together (none in the window)"
        )
    ]


def test_two_overlapping_rounds_share_a_teacher():
    facts = SchoolFacts((group("3", 3, 20, "3104"), group("4", 4, 20, "3104")), (TEACHER,))
    rounds = (
        round_toml(groups="[3]", extra=NO_MARGIN),
        round_toml("extra", groups="[4]", window="{ start = 2026-11-10, end = 2026-11-12 }", extra=NO_MARGIN),
    )
    assert warnings(facts, *rounds) == [
        CapacityWarning(
            "school 12AB00, rounds start and extra (their conversation days overlap): 40 conversations (start "
            "Groep 3: 20, extra Groep 4: 20) need staff 3104 for 400 min, these windows offer 300 min on their "
            "working days (di, do)"
        )
    ]
    apart = round_toml("extra", groups="[4]", window="{ start = 2026-11-16, end = 2026-11-20 }", extra=NO_MARGIN)
    assert warnings(facts, rounds[0], apart) == []


def test_room_for_the_conversations_but_not_the_margin_is_the_weaker_warning():
    assert warnings(SchoolFacts((group("3", 3, 29, "3104"),), (TEACHER,))) == [
        CapacityWarning(
            "school 12AB00, round start, Groep 3: the window holds the 29 conversations that need the teacher, but "
            "has no room for the 10 % margin: 30 of 32 wanted slots on the teacher's working days (di, do)",
            margin=True,
        )
    ]


def test_a_round_without_a_planner_is_not_checked():
    kind = round_toml(extra='kind = "kind"').replace('kind = "start"\n', "")
    assert warnings(SchoolFacts((group("3", 3, 90, "3104"),), (TEACHER,)), kind) == []


def test_a_duo_teacher_of_another_group_counts_for_what_the_other_teachers_days_cannot_take():
    tuesday, thursday = StaffFacts("3106", ("di",)), StaffFacts("3107", ("do",))
    facts = SchoolFacts((group("3", 3, 10, "3106"), group("4", 4, 25, "3106", "3107")), (tuesday, thursday))
    assert warnings(facts, round_toml(extra=NO_MARGIN)) == [
        CapacityWarning(
            "school 12AB00, round start: at least 20 conversations (Groep 3: 10, Groep 4: 10) need staff 3106, the "
            "window offers 15 slots on their working days (di)"
        )
    ]


def test_the_second_colleague_on_every_main_conversation_shares_their_slots_across_groups():
    colleague = StaffFacts("3120", ("di",), ("leerkracht",))
    facts = SchoolFacts((group("3", 3, 10, "3104"), group("4", 4, 10, "3105")), (TEACHER, OTHER, colleague))
    named = round_toml(extra=f'{NO_MARGIN}\nattendance = {{ second_colleague = "3120" }}')
    assert warnings(facts, named) == [
        CapacityWarning(
            "school 12AB00, round start: 20 conversations (Groep 3: 10, Groep 4: 10) need staff 3120, the window "
            "offers 15 slots on their working days (di)"
        )
    ]
    away = SchoolFacts(facts.groups, (TEACHER, OTHER, StaffFacts("3120", ("wo",))))
    assert warnings(away, named) == [
        CapacityWarning(
            "school 12AB00, round start: 20 main conversations need staff 3120, who works on none of the window's "
            "days (di, do)"
        )
    ]
    unknown = SchoolFacts(facts.groups, (TEACHER, OTHER))
    assert warnings(unknown, named) == [
        CapacityWarning(
            "school 12AB00, round start: the second colleague (staff 3120) is not staff of this school in PAS; "
            "20 conversations need them"
        )
    ]
    # The previous teacher differs per group and is found in PAS by the engine: not counted here.
    previous = round_toml(extra=f'{NO_MARGIN}\nattendance = {{ second_colleague = "previous_teacher" }}')
    assert warnings(facts, previous) == []
