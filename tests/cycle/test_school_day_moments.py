"""Nothing that parents or teachers receive is sent on a weekend, public holiday or vacation day
(issue W2-3): the planner's release, opening, closing and reminders are moved onto school days,
check-config warns when that changes a round much, and the weekly overview waits for a school day.

The school is the default settings' 12AB00 (region midden, 2026-2027): herfstvakantie 17-10 to
25-10, kerstvakantie 19-12 to 03-01, voorjaarsvakantie 20-02 to 28-02, a studiedag on 26-10, and
conversations on ma-do from 15:00."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from connector.cli import app
from connector.cycle.plan_warnings import plan_warnings
from connector.cycle.schooldays import SchoolCalendar
from connector.cycle.settings import load_settings
from connector.cycle.settings.models import PlannerTiming, Round, RoundKind, Window
from connector.cycle.yearplan import PlanProblem, RoundPlan, configured_moments, plan_round, plan_school
from connector.engine import schedule
from connector.errors import SettingsError
from tests.conftest import REPO, VALID_SETTINGS, private_dev_secrets

AMS = ZoneInfo("Europe/Amsterdam")
SETTINGS = load_settings(REPO / "settings.toml").settings
SCHOOL = SETTINGS.schools[0]
CALENDAR = SchoolCalendar(SCHOOL)
PLAN = plan_school(SETTINGS, SCHOOL)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def planned(start: date, end: date | None = None, **timing) -> RoundPlan:
    """A rapport round with a window of explicit dates and the given planner timing."""
    rnd = Round(
        id="proef",
        name="Proefgesprekken",
        kind=RoundKind.RAPPORT,
        window=Window(start=start, end=end or start + timedelta(days=3)),
        planner=PlannerTiming(**timing),
    )
    return plan_round(SETTINGS, SCHOOL, CALENDAR, rnd)


def by_id(round_id: str) -> RoundPlan:
    return next(rp for rp in PLAN.rounds if rp.round_id == round_id)


def test_a_sunday_opening_in_the_voorjaarsvakantie_moves_back_to_the_last_school_days_before_it():
    # Conversations from Monday 01-03; set to open on Sunday 21-02, released to siblings on Saturday 20-02.
    rp = planned(date(2027, 3, 1), opens_days_before=8)
    assert rp.configured is not None and rp.configured.opens == at("2027-02-21 08:00")
    assert rp.planner_opens == at("2027-02-19 08:00")  # Friday before the vacation, same clock time
    assert rp.planner_release == at("2027-02-18 08:00")  # Thursday: the head start is kept
    assert rp.planner_closes == at("2027-02-19 17:00")  # Sunday 28-02 moved to that Friday too
    assert rp.reminders == ()  # every one moved onto the closing, so none is left before it


def test_the_default_rapport_feb_round_is_moved_out_of_the_voorjaarsvakantie():
    rp = by_id("rapport-feb")
    assert (rp.planner_release, rp.planner_opens, rp.planner_closes, rp.reminders) == (
        at("2027-02-18 08:00"),
        at("2027-02-19 08:00"),
        at("2027-02-19 17:00"),
        (),
    )
    assert schedule.release_at(rp) == rp.planner_release  # the moment the planners job is due


def test_a_reminder_on_new_years_eve_moves_to_the_last_school_day_before_the_kerstvakantie():
    # Closing Wednesday 06-01 after the vacation; reminders set on Thursday 31-12 and Saturday 02-01.
    rp = planned(date(2027, 1, 7), opens_days_before=30, reminders_days_before_close=(6, 4))
    assert rp.configured is not None
    assert rp.configured.reminders == (at("2026-12-31 17:00"), at("2027-01-02 17:00"))
    assert rp.planner_closes == at("2027-01-06 17:00")  # a school day: not moved
    assert rp.reminders == (at("2026-12-18 17:00"),)  # both on Friday 18-12, sent once
    assert rp.planner_release is not None and rp.planner_release < rp.reminders[0] < rp.planner_closes


def test_a_closing_on_a_saturday_moves_to_friday_and_a_reminder_that_lands_on_it_is_dropped():
    rp = planned(date(2026, 11, 9), closes_days_before=2)  # conversations from Monday 09-11
    assert rp.configured is not None and rp.configured.closes == at("2026-11-07 17:00")
    assert rp.planner_closes == at("2026-11-06 17:00")
    # Set: Wednesday 04-11 and Friday 06-11 (on the closing itself, so not before it).
    assert rp.reminders == (at("2026-11-04 17:00"),)


def test_a_release_on_a_sunday_moves_the_opening_back_until_both_are_school_days():
    rp = planned(date(2026, 11, 16))  # opens Monday 09-11 08:00, released Sunday 08-11 08:00
    assert rp.planner_opens == at("2026-11-06 08:00") and rp.planner_release == at("2026-11-05 08:00")
    two_days = planned(date(2026, 11, 17), sibling_head_start_hours=48)  # opens Tuesday, released Sunday
    assert two_days.planner_opens == at("2026-11-06 08:00")  # Monday, Sunday, Saturday: released on a weekend
    assert two_days.planner_release == at("2026-11-04 08:00")


def test_moments_on_school_days_stay_where_the_settings_put_them():
    rp = planned(date(2026, 11, 11), reminders_days_before_close=(1,))  # conversations from Wednesday
    assert rp.configured is not None
    assert (rp.planner_opens, rp.planner_closes, rp.reminders) == (
        rp.configured.opens,
        rp.configured.closes,
        rp.configured.reminders,
    )
    assert rp.planner_release == at("2026-11-03 08:00")


def test_the_first_round_of_the_year_opens_forward_on_the_first_school_days():
    # Set to be released on Sunday 30-08, the summer holiday's last day: there is no school day before it.
    rp = by_id("start")
    assert rp.planner_release == at("2026-08-31 08:00") and rp.planner_opens == at("2026-09-01 08:00")
    assert rp.planner_closes == at("2026-09-04 17:00") and rp.reminders == (at("2026-09-03 17:00"),)


def test_a_planner_that_would_close_before_the_first_school_day_is_a_problem():
    with pytest.raises(PlanProblem) as problem:
        planned(CALENDAR.first_day)
    assert problem.value.field == "planner.closes_days_before"
    assert "2026-08-30" in problem.value.message


def test_the_json_plan_gives_the_release_and_the_moved_moments():
    result = CliRunner().invoke(app, ["plan", "--settings", str(REPO / "settings.toml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    rounds = {r["round"]: r for r in json.loads(result.stdout)["schools"][0]["rounds"]}
    feb = rounds["rapport-feb"]
    assert feb["planner_release"] == "2027-02-18T08:00:00+01:00"
    assert feb["planner_opens"] == "2027-02-19T08:00:00+01:00" and feb["planner_closes"] == "2027-02-19T17:00:00+01:00"
    assert rounds["kind-okt"]["planner_release"] is None  # no planner


def test_the_table_and_calendar_show_the_siblings_release():
    table = CliRunner().invoke(app, ["plan", "--settings", str(REPO / "settings.toml")])
    assert table.exit_code == 0 and "siblings 2027-02-18 08:00" in table.stdout
    ics = CliRunner().invoke(app, ["plan", "--settings", str(REPO / "settings.toml"), "--format", "ics"])
    assert ics.exit_code == 0
    assert "UID:12AB00-2026-2027-rapport-feb-release@gesprekken-connector" in ics.stdout
    assert "DTSTART;TZID=Europe/Amsterdam:20270218T080000" in ics.stdout


def test_check_config_warns_of_the_default_settings_vacation_rounds_and_still_exits_0(tmp_path):
    # A copy beside its own (absent) database: no roster has been read, so capacity is not checked yet.
    (tmp_path / "settings.toml").write_text((REPO / "settings.toml").read_text(encoding="utf-8"), encoding="utf-8")
    private_dev_secrets(tmp_path)  # the service's own, as they should be: no warning about them
    result = CliRunner().invoke(app, ["check-config", "--settings", str(tmp_path / "settings.toml")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines.pop().startswith("capacity not checked for 12AB00: no roster read yet")
    assert lines[0].endswith("settings.toml: valid (1 school(s), 1 cycle(s), 5 round(s) placed on the calendar)")
    assert lines[1:] == [
        "warning: school 12AB00, round advies-8: the verslag deadline donderdag 2026-12-24 falls in the "
        "kerstvakantie (zaterdag 2026-12-19 to zondag 2027-01-03); the deadline itself is not moved",
        "warning: school 12AB00, round rapport-feb: the booking period as set (zondag 2027-02-21 08:00 to zondag "
        "2027-02-28 17:00) lies wholly in the voorjaarsvakantie (zaterdag 2027-02-20 to zondag 2027-02-28), so it "
        "was moved onto school days: siblings' release moved from zondag 2027-02-21 to donderdag 2027-02-18; opening "
        "moved from maandag 2027-02-22 to vrijdag 2027-02-19; closing moved from zondag 2027-02-28 to vrijdag "
        "2027-02-19; reminders moved from donderdag 2027-02-25, zaterdag 2027-02-27 to none (no school day left for "
        "them)",
        "warning: school 12AB00, round rapport-jul: the verslag deadline donderdag 2027-07-22 falls in the "
        "zomervakantie (zaterdag 2027-07-17 to zondag 2027-08-29); the deadline itself is not moved",
    ]


@pytest.mark.parametrize(
    ("example", "rounds"),
    [("002", {"advies-8", "vervolg-1", "vervolg-2"}), ("004", {"rapport-feb"}), ("001", set())],
)
def test_the_examples_booking_periods_in_a_vacation_are_warned_about(example: str, rounds: set[str]):
    (path,) = (REPO / "examples").glob(f"{example}-*.toml")
    loaded = load_settings(path).settings
    warnings = [w for school in loaded.schools for w in plan_warnings(plan_school(loaded, school))]
    booking = {w.split(", round ")[1].split(":")[0] for w in warnings if "booking period" in w}
    assert booking == rounds


# --- the weekly overview --------------------------------------------------------------------


def agenda(done: frozenset[str] | set[str] = frozenset(), weekday: str = "ma") -> schedule.Agenda:
    sync = SETTINGS.sync.model_copy(update={"overview_weekday": weekday})
    return schedule.Agenda(SCHOOL, PLAN, sync, frozenset(done), True)


def key(week: str) -> str:
    return f"overview:12AB00:{week}"


def test_the_overview_of_a_week_whose_monday_is_tweede_paasdag_goes_out_on_tuesday():
    monday = at("2027-03-29 09:00")  # Tweede paasdag
    before = schedule.overview_due(agenda({key("2027-W12")}), monday)
    assert before.tasks == () and before.next_at == at("2027-03-30 08:00")
    due = schedule.overview_due(agenda({key("2027-W12")}), at("2027-03-30 08:30"))
    assert [(t.key, t.at) for t in due.tasks] == [(key("2027-W13"), at("2027-03-30 08:00"))]
    assert due.next_at == at("2027-04-05 08:00")  # the Monday after


def test_a_week_without_a_school_day_has_no_overview():
    done = {key("2026-W51")}
    in_vacation = schedule.overview_due(agenda(done), at("2026-12-23 10:00"))  # the kerstvakantie's first week
    assert in_vacation.tasks == () and in_vacation.next_at == at("2027-01-04 08:00")
    after_the_year = schedule.overview_due(agenda({key("2027-W28")}), at("2027-07-20 10:00"))
    assert after_the_year.tasks == () and after_the_year.next_at is None


def test_an_ordinary_week_keeps_its_weekday_and_key():
    due = schedule.overview_due(agenda(weekday="wo"), at("2026-11-11 08:00"))
    assert [(t.key, t.at) for t in due.tasks] == [(key("2026-W46"), at("2026-11-11 08:00"))]
    assert due.next_at == at("2026-11-18 08:00")


@given(st.dates(min_value=date(2026, 9, 7), max_value=date(2027, 7, 16)), st.sampled_from(("ma", "wo", "vr")))
@settings(max_examples=60, deadline=None)
def test_every_overview_goes_out_on_a_school_day_once_a_week(day: date, weekday: str):
    due = schedule.overview_due(agenda(weekday=weekday), datetime.combine(day, time(12, 0), tzinfo=AMS))
    for moment in [t.at for t in due.tasks] + ([due.next_at] if due.next_at else []):
        assert CALENDAR.is_school_day(moment.date()) and moment.time() == SETTINGS.sync.overview_at
        first = moment.date() - timedelta(days=moment.weekday())
        configured = first + timedelta(days=("ma", "di", "wo", "do", "vr").index(weekday))
        assert moment.date() >= configured  # never before the set weekday of its week
        assert not CALENDAR.school_days(configured, moment.date() - timedelta(days=1))  # the first school day from it


# --- every round, anywhere in the year ------------------------------------------------------


@st.composite
def timings(draw) -> dict:
    opens = draw(st.integers(min_value=1, max_value=30))
    closes = draw(st.integers(min_value=0, max_value=min(opens - 1, 5)))
    reminders = draw(st.lists(st.integers(min_value=0, max_value=opens - closes - 1), max_size=3))
    hour = st.integers(min_value=6, max_value=22)
    return {
        "opens_days_before": opens,
        "closes_days_before": closes,
        "opens_at": time(draw(hour)),
        "closes_at": time(draw(st.integers(min_value=6, max_value=14 if closes == 0 else 22))),
        "sibling_head_start_hours": draw(st.integers(min_value=0, max_value=168)),
        "reminders_days_before_close": tuple(reminders),
    }


@given(st.dates(min_value=CALENDAR.first_day, max_value=CALENDAR.last_day - timedelta(days=3)), timings())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_moment_that_reaches_people_is_on_a_school_day_in_order(start: date, timing: dict):
    try:
        rp = planned(start, **timing)
    except PlanProblem as problem:
        found: PlanProblem | None = problem
    else:
        found = None
    if found is not None:
        # A window without a conversation day, or a round so early that no school day comes before it.
        assert found.field in ("window", "planner.closes_days_before", "planner.opens_days_before"), found
        assert found.field == "window" or start - CALENDAR.first_day < timedelta(days=30 + 21)
        return
    assert rp.configured is not None
    release, opens, closes = rp.planner_release, rp.planner_opens, rp.planner_closes
    assert release is not None and opens is not None and closes is not None
    for moment in (release, opens, closes, *rp.reminders):
        assert CALENDAR.is_school_day(moment.date()), moment
    assert release <= opens < closes and release == schedule.release_at(rp)
    assert all(release < m < closes for m in rp.reminders) and list(rp.reminders) == sorted(set(rp.reminders))
    # Same clock times; never later than set, except an opening the year has no room for earlier.
    assert (opens.time(), closes.time()) == (timing["opens_at"], timing["closes_at"])
    assert closes <= rp.configured.closes and all(m.time() == timing["closes_at"] for m in rp.reminders)
    assert opens <= rp.configured.opens or rp.configured.release.date() < CALENDAR.first_day + timedelta(days=7)
    assert closes < datetime.combine(rp.first_conversation_day, rp.hours[0][0], tzinfo=AMS)
    assert configured_moments(rp.round.planner, rp.first_conversation_day, AMS) == rp.configured


def test_the_settings_refuse_a_planner_round_in_the_first_school_week(write_settings):
    path = write_settings(VALID_SETTINGS.replace("window = { school_week = 2 }", "window = { school_week = 1 }"))
    with pytest.raises(
        SettingsError, match=r"rounds\[0\]\.planner\.closes_days_before: the planner would close on 2026-08-30"
    ):
        load_settings(path)
