"""The pieces of `status` and the helpers around the review commands: when each job is next
due (`jobs.next_due`, the rule of each job over the year plan), the CSV a director opens,
and the progress bar."""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connector.cli.progress import progress_bar
from connector.cycle.settings import load_settings
from connector.cycle.yearplan import plan_school
from connector.engine import jobs, schedule
from connector.engine.schedule import release_at
from connector.review.verslagen import verslagen_csv

from .conftest import REPO

AMS = ZoneInfo("Europe/Amsterdam")


class Source:
    """The default settings and the first school's year plan: what the due rules read."""

    def __init__(self) -> None:
        self.settings = load_settings(str(REPO / "settings.toml")).settings
        self.plan = plan_school(self.settings, self.settings.schools[0])

    def agenda(self, done: set[str]) -> schedule.Agenda:
        return schedule.Agenda(self.settings.schools[0], self.plan, self.settings.sync, frozenset(done), True)


@pytest.fixture(scope="module")
def source() -> Source:
    return Source()


def rounds(source: Source) -> dict:
    return {rp.round_id: rp for rp in source.plan.rounds}


def next_due(source: Source, school, now: datetime, done: set[str]) -> dict[str, datetime]:
    return jobs.next_due(source.agenda(done), now)


def due_tasks(source: Source, school, now: datetime, done: set[str]) -> list[schedule.Task]:
    return jobs.due_tasks(source.agenda(done), now)


def test_before_a_round_its_planner_is_next_due_at_release_and_its_reminders_after(source):
    school = source.settings.schools[0]
    start = rounds(source)["start"]
    now = release_at(start) - timedelta(days=2)
    due = next_due(source, school, now, done={f"roster:12AB00:{now.astimezone(AMS).date()}"})
    assert due["planners"] == release_at(start)
    assert due["reminders"] == start.reminders[0]
    assert due["close"] == start.planner_closes
    assert due["roster"] == datetime.combine(
        now.astimezone(AMS).date() + timedelta(days=1), source.settings.sync.roster_at, tzinfo=AMS
    )


def test_work_that_is_due_and_not_done_keeps_the_moment_it_became_due(source):
    school = source.settings.schools[0]
    start = rounds(source)["start"]
    now = start.planner_opens + timedelta(hours=5, minutes=30)
    done = {"open:12AB00:2026-2027:start"}
    due = next_due(source, school, now, done)
    assert due["roster"] <= now and due["bookings"] <= now
    assert due["planners"] == release_at(rounds(source)["advies-8"])


def test_next_due_agrees_with_due_tasks_at_that_moment(source):
    school = source.settings.schools[0]
    feb = rounds(source)["rapport-feb"]
    now = feb.planner_opens + timedelta(hours=1, minutes=7)  # open for a day: moved out of the voorjaarsvakantie
    done = {
        "open:12AB00:2026-2027:rapport-feb",
        f"roster:12AB00:{now.astimezone(AMS).date()}",
        f"verslagen:12AB00:{now.astimezone(AMS).date()}",
    }
    done |= {t.key for t in due_tasks(source, school, now, done)}  # all that is due now is done
    due = next_due(source, school, now, done)
    for job, moment in due.items():
        assert moment > now, job
        assert job in {t.job for t in due_tasks(source, school, moment, done)}, job
        earlier = moment - timedelta(minutes=1)
        if earlier > now:
            assert job not in {t.job for t in due_tasks(source, school, earlier, done)}, job


def test_after_the_last_round_no_planner_work_is_left(source):
    school = source.settings.schools[0]
    now = datetime(2027, 7, 30, 12, 0, tzinfo=AMS)
    done = {f"open:12AB00:2026-2027:{r}" for r in rounds(source)} | {
        f"close:12AB00:2026-2027:{r}" for r in rounds(source)
    }
    due = next_due(source, school, now, done)
    assert "planners" not in due and "reminders" not in due and "close" not in due and "roster" in due


def test_the_csv_opens_in_a_dutch_excel_and_cannot_run_a_formula():
    row = {
        "brin": "12AB00",
        "school_year": "2026-2027",
        "round": "start",
        "kind": "start",
        "teacher": '=HYPERLINK("x")',
        "teacher_name": "@SUM(A1)",  # a name is vendor text too
        "conversations": 4,
        "on_time": 1,
        "late": 0,
        "missing": 2,
        "not_visible": 0,
        "pending": 0,
        "not_required": 0,
        "not_seen": 1,
        "items": [
            {"pupil": "580001", "conversation": "main", "status": "on_time"},
            {"pupil": "580002", "conversation": "main", "status": "missing"},
            {"pupil": "580002", "conversation": "extra", "status": "missing"},
            {"pupil": "580003", "conversation": "main", "status": "not_seen"},
        ],
    }
    data = verslagen_csv([row])
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    [header, line] = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert header[:5] == ["school", "school year", "round", "teacher", "teacher (PAS id)"]
    record = dict(zip(header, line, strict=True))
    assert record["teacher (PAS id)"] == '\'=HYPERLINK("x")' and record["teacher"] == "'@SUM(A1)"
    assert (
        record["missing"] == "2"
        and record["pupils missing"] == "580002, 580002 (extra)"  # the startgesprek and the OPP conversation
        and record["pupils on time"] == "580001"
        and (record["not seen"], record["pupils not seen"]) == ("1", "580003")
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_silent_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    with progress_bar("sync", total=2, stream=stream) as bar:
        bar.working_on("12AB00")
        bar.advance()
        assert not bar.shown
    assert stream.getvalue() == ""


def test_the_progress_bar_draws_on_a_terminal_and_log_lines_pass_above_it():
    stream = Terminal()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with progress_bar("sync", total=2, stream=stream) as bar:
            assert bar.shown
            bar.working_on("12AB00")
            bar.advance()
            assert handler.stream is not stream  # pointed at Rich's proxy meanwhile
        assert handler.stream is stream
    finally:
        root.removeHandler(handler)
    assert "sync" in stream.getvalue()
