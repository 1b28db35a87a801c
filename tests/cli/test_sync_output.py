"""`sync` and `run-due` say what they did in words (issue W2-7): each task as what it is and of
which round, never its internal key (a booking poll's number reads as a count), and only the
counts that are not zero; times in the school's local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.cli.sync import _print_reports, task_words
from connector.cycle.settings import load_settings
from connector.engine.actions import Action
from connector.engine.run import SchoolReport
from connector.review.times import due_time, local_time
from tests.conftest import REPO


@pytest.fixture(scope="module")
def settings():
    return load_settings(str(REPO / "settings.toml")).settings


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("bookings:12AB00:2026-2027:rapport-feb:81", "booking poll, Rapportgesprekken (rapport-feb)"),
        ("open:12AB00:2026-2027:start", "planners opened, Startgesprekken (start)"),
        (
            "remind:12AB00:2026-2027:advies-8:20261020T0800",
            "reminders to families who did not book, Adviesgesprekken (advies-8)",
        ),
        ("close:12AB00:2026-2027:start", "planners closed, teachers told whom to contact, Startgesprekken (start)"),
        ("roster:12AB00:2026-11-23", "roster read (2026-11-23)"),
        ("verslagen:12AB00:2026-11-23", "verslag check (2026-11-23)"),
        ("overview:12AB00:2026-W48", "weekly overview to the director and the IB (week 2026-W48)"),
        ("retention:12AB00:2026-W48", "purge of old data (week 2026-W48)"),
    ],
)
def test_a_task_in_words(settings, key: str, words: str) -> None:
    assert task_words(key, settings) == words


def test_the_report_has_words_and_only_the_counts_that_are_not_zero(settings, capsys) -> None:
    key = "bookings:12AB00:2026-2027:rapport-feb:81"
    report = SchoolReport(
        "12AB00",
        run_id="r1",
        done=[key],
        outcome="ok",
        counts={"bookings seen": 3, "pupils changed": 0, "planners opened": 9},
        actions={key: [Action("store bookings", "sync:12AB00:2026-2027:rapport-feb:71003", "3 read")]},
    )
    _print_reports([report], datetime(2027, 2, 22, 7, 0, tzinfo=UTC), settings)
    out = capsys.readouterr().out
    assert "done: booking poll, Rapportgesprekken (rapport-feb)" in out
    assert f"done {key}" not in out and ":81" not in out
    assert "  bookings seen: 3" in out and "  planners opened: 9" in out and "pupils changed" not in out


def test_nothing_due_in_local_time(settings, capsys) -> None:
    _print_reports([SchoolReport("12AB00")], datetime(2027, 2, 22, 7, 0, tzinfo=UTC), settings)
    assert capsys.readouterr().out.startswith(
        f"12AB00: nothing due at {local_time('2027-02-22T07:00+00:00', 'Europe/Amsterdam')}"
    )


def test_local_time_names_the_zone_only_where_the_machine_differs(monkeypatch) -> None:
    import time

    moment = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert local_time(moment, "Europe/Amsterdam") == "2026-11-23 08:00 CET"
        assert local_time("2026-07-01T06:00:00+00:00", "Europe/Amsterdam") == "2026-07-01 08:00 CEST"
        monkeypatch.setenv("TZ", "Europe/Amsterdam")
        time.tzset()
        assert local_time(moment, "Europe/Amsterdam") == "2026-11-23 08:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_past_next_due_is_overdue() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert due_time("2026-11-23T07:00:00+00:00", "UTC", now).startswith("overdue since 2026-11-23 07:00")
    assert due_time("2026-11-23T10:00:00+00:00", "UTC", now).startswith("2026-11-23 10:00")
