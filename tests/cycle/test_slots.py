"""Slots follow the round's days and hours and each teacher's own working days."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from connector.engine.agenda import Agenda
from connector.engine.slots import slot_pool, take_slots, wanted

ZONE = ZoneInfo("Europe/Amsterdam")
DAYS = (date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 12))  # Monday, Tuesday, Thursday
SPANS = ((time(15, 0), time(16, 0)), (time(19, 0), time(20, 0)))


def test_duo_teachers_each_get_slots_on_their_own_days():
    pool, missing = slot_pool(
        days=DAYS, spans=SPANS, minutes=15, zone=ZONE, teachers={"stf_a": ("ma", "di"), "stf_b": ("wo", "do")}
    )
    assert missing == ()
    by_day = {(s.start.date(), s.staff_ids) for s in pool}
    assert by_day == {
        (date(2026, 11, 9), ("stf_a",)),
        (date(2026, 11, 10), ("stf_a",)),
        (date(2026, 11, 12), ("stf_b",)),
    }
    assert len(pool) == 3 * 8  # two one-hour spans of four 15-minute slots a day


def test_a_day_on_which_no_teacher_works_is_reported():
    pool, missing = slot_pool(days=DAYS, spans=SPANS, minutes=15, zone=ZONE, teachers={"stf_a": ("ma",)})
    assert missing == (date(2026, 11, 10), date(2026, 11, 12))
    assert {s.start.date() for s in pool} == {date(2026, 11, 9)}


def test_slots_are_spread_over_the_days_and_cover_invitees_plus_margin():
    pool, _ = slot_pool(days=DAYS, spans=SPANS, minutes=15, zone=ZONE, teachers={"stf_a": ()})
    taken = take_slots(pool, Agenda(), wanted(5, 0.2))
    assert len(taken) == 6
    assert {s.start.date() for s in taken} == set(DAYS)


def test_slots_in_the_agenda_are_not_handed_out_twice():
    pool, _ = slot_pool(days=DAYS[:1], spans=SPANS[:1], minutes=20, zone=ZONE, teachers={"stf_a": ()})
    agenda = Agenda()
    first = take_slots(pool, agenda, 2)
    second = take_slots(pool, agenda, 2)
    assert not {s.start for s in first} & {s.start for s in second}
    assert len(second) == 1


@given(st.integers(min_value=5, max_value=60), st.integers(min_value=0, max_value=80))
def test_slots_never_overlap_and_fit_the_spans(minutes, invitees):
    pool, _ = slot_pool(days=DAYS, spans=SPANS, minutes=minutes, zone=ZONE, teachers={"stf_a": ()})
    taken = sorted(take_slots(pool, Agenda(), wanted(invitees, 0.1)), key=lambda s: s.start)
    for a, b in zip(taken, taken[1:], strict=False):  # each with the next
        assert a.end <= b.start
    for slot in taken:
        assert (slot.end - slot.start).total_seconds() == minutes * 60
        assert any(
            datetime.combine(slot.start.date(), s, tzinfo=ZONE) <= slot.start
            and slot.end <= datetime.combine(slot.start.date(), e, tzinfo=ZONE)
            for s, e in SPANS
        )


def test_a_slot_overlapping_another_of_the_same_person_is_skipped_whatever_its_length():
    agenda = Agenda()
    ten, _ = slot_pool(days=DAYS[:1], spans=SPANS[:1], minutes=10, zone=ZONE, teachers={"stf_a": ()})
    take_slots(ten, agenda, 1)  # 15:00-15:10
    fifteen, _ = slot_pool(days=DAYS[:1], spans=SPANS[:1], minutes=15, zone=ZONE, teachers={"stf_a": ()})
    other, _ = slot_pool(days=DAYS[:1], spans=SPANS[:1], minutes=15, zone=ZONE, teachers={"stf_b": ()})
    assert take_slots(fifteen, agenda, 1)[0].start.time() == time(15, 15)
    assert take_slots(other, agenda, 1)[0].start.time() == time(15, 0)


def test_joining_staff_are_on_every_slot_and_only_on_their_own_days():
    pool, missing = slot_pool(
        days=DAYS, spans=SPANS, minutes=15, zone=ZONE, teachers={"stf_a": ()}, joining={"stf_ib": ("di", "do")}
    )
    assert missing == ()
    assert {s.start.date() for s in pool} == {date(2026, 11, 10), date(2026, 11, 12)}
    assert {s.staff_ids for s in pool} == {("stf_a", "stf_ib")}


def test_concentrated_slots_fill_one_evening_before_the_next():
    pool, _ = slot_pool(days=DAYS, spans=SPANS, minutes=15, zone=ZONE, teachers={"stf_a": ()}, concentrate=True)
    taken = take_slots(pool, Agenda(), 8)
    assert {s.start.date() for s in taken} == {DAYS[0]}
    spread = take_slots(
        slot_pool(days=DAYS, spans=SPANS, minutes=15, zone=ZONE, teachers={"stf_a": ()})[0], Agenda(), 8
    )
    assert {s.start.date() for s in spread} == set(DAYS)
