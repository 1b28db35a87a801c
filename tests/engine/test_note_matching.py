"""Issue W2-3: one note is the verslag of one conversation at most: by its `gespreksdatum` when it has
one, else the earliest unmatched note created after the conversation (pure rules, no I/O)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.engine.notematch import Held, NoteView, Rules, Unbooked, hand_planned, match, verdict

ZONE = ZoneInfo("Europe/Amsterdam")
DAY = date(2026, 9, 14)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def note(pas_id: str, created: datetime, *, dated: date | None = None, visible: bool = True, pupil: str = "p1"):
    return NoteView(pas_id, pupil, "Oudergesprek", created, visible, dated, "3101")


def held(key: str, when: datetime, *, pupil: str = "p1", first: date | None = None) -> Held:
    return Held(key, pupil, "Oudergesprek", first or when.date(), when.date(), when)


def test_the_startgesprek_and_the_opp_conversation_of_one_evening_each_get_their_own_note():
    main, extra = held("main", at(DAY, 19, 0)), held("extra", at(DAY, 19, 30))
    notes = [note("N-2", at(DAY + timedelta(days=2), 16), dated=DAY), note("N-1", at(DAY, 21), dated=DAY)]
    found = match([extra, main], notes, set())
    assert (found["main"].pas_id, found["extra"].pas_id) == ("N-1", "N-2")  # in the order they were held


def test_one_note_never_credits_two_conversations():
    main, extra = held("main", at(DAY, 19, 0)), held("extra", at(DAY, 19, 30))
    found = match([main, extra], [note("N-1", at(DAY, 21), dated=DAY)], set())
    assert set(found) == {"main"}  # the extra conversation's verslag is missing, not credited with the same note
    assert verdict(found.get("extra"), Rules(DAY + timedelta(days=7)), DAY + timedelta(days=8), ZONE) == "missing"


def test_a_note_without_gespreksdatum_is_the_earliest_unmatched_one_after_the_conversation():
    first, second = held("a", at(DAY, 19)), held("b", at(DAY + timedelta(days=3), 19))
    notes = [
        note("before", at(DAY, 10)),  # before the first conversation: nobody's
        note("N-1", at(DAY + timedelta(days=1), 16)),
        note("N-2", at(DAY + timedelta(days=4), 16)),
    ]
    found = match([second, first], notes, set())
    assert (found["a"].pas_id, found["b"].pas_id) == ("N-1", "N-2")


def test_a_dated_note_belongs_to_its_day_only_and_a_claimed_one_to_nobody_else():
    monday, thursday = held("mon", at(DAY, 19)), held("thu", at(DAY + timedelta(days=3), 19))
    notes = [note("N-1", at(DAY + timedelta(days=5), 16), dated=DAY + timedelta(days=3))]
    assert set(match([monday, thursday], notes, set())) == {"thu"}
    assert match([monday, thursday], notes, {"N-1"}) == {}


def test_a_kindgesprek_takes_a_note_dated_on_any_day_of_its_window():
    window = (date(2026, 10, 5), date(2026, 10, 16))
    kind = Held("k", "p1", "Kindgesprek", window[0], window[1], at(window[0], 0))
    dated = NoteView("N-1", "p1", "Kindgesprek", at(date(2026, 10, 12), 16), True, date(2026, 10, 12), "3101")
    assert match([kind], [dated], set())["k"].pas_id == "N-1"


def test_a_dated_note_for_a_family_without_a_booking_is_a_conversation_planned_by_hand():
    window = (DAY, DAY + timedelta(days=4 + 7))  # the window, and the verslag deadline after it
    invitations = [Unbooked("main", "p1", "Oudergesprek", *window), Unbooked("extra", "p1", "Oudergesprek", *window)]
    notes = [
        note("N-3", at(DAY + timedelta(days=20), 16), dated=DAY + timedelta(days=20)),  # after: another matter
        note("N-2", at(DAY + timedelta(days=6), 16), dated=DAY + timedelta(days=5)),
        note("N-1", at(DAY + timedelta(days=2), 16), dated=DAY + timedelta(days=2)),
        note("N-0", at(DAY + timedelta(days=2), 17)),  # undated: says nothing about which conversation
    ]
    claimed = {"N-1"}  # already another conversation's verslag
    found = hand_planned(invitations, notes, claimed)
    assert {k: n.pas_id for k, n in found.items()} == {"main": "N-2"}
    assert claimed == {"N-1", "N-2"}


def test_the_verdict_follows_the_rounds_visibility_rule():
    due = DAY + timedelta(days=7)
    hidden = note("N-1", at(DAY + timedelta(days=2), 16), visible=False)
    late = note("N-2", at(DAY + timedelta(days=9), 16))
    assert verdict(hidden, Rules(due), DAY + timedelta(days=3), ZONE) is None  # still pending
    assert verdict(hidden, Rules(due), DAY + timedelta(days=8), ZONE) == "not_visible"
    assert verdict(hidden, Rules(due, visible_required=False), DAY + timedelta(days=3), ZONE) == "on_time"
    assert verdict(late, Rules(due), DAY + timedelta(days=10), ZONE) == "late"
    assert (
        verdict(None, Rules(due), due, ZONE) is None
        and verdict(None, Rules(due), due + timedelta(1), ZONE) == "missing"
    )


conversation_times = st.lists(st.tuples(st.integers(0, 20), st.integers(17, 21)), min_size=1, max_size=8)
note_specs = st.lists(
    st.tuples(st.integers(0, 30), st.one_of(st.none(), st.integers(0, 20)), st.booleans()), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(conversation_times, note_specs)
def test_matching_gives_each_note_to_one_conversation_that_it_can_be_about(times, specs):
    conversations = [held(f"c{n}", at(DAY + timedelta(days=d), h)) for n, (d, h) in enumerate(times)]
    notes = [
        note(f"N-{n}", at(DAY + timedelta(days=c), 16), dated=None if g is None else DAY + timedelta(days=g), visible=v)
        for n, (c, g, v) in enumerate(specs)
    ]
    found = match(conversations, notes, set())
    assert len({n.pas_id for n in found.values()}) == len(found)  # never one note for two conversations
    by_key = {c.key: c for c in conversations}
    for key, n in found.items():
        c = by_key[key]
        if n.gespreksdatum is not None:
            assert n.gespreksdatum == c.first_day
        else:
            assert n.note_created_at >= c.held_at
    # A conversation left without a note had none it could take.
    used = {n.pas_id for n in found.values()}
    for c in conversations:
        if c.key not in found:
            free = [n for n in notes if n.pas_id not in used]
            assert not [n for n in free if n.gespreksdatum == c.first_day]
            assert not [n for n in free if n.gespreksdatum is None and n.note_created_at >= c.held_at]
