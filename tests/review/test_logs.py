"""`connector logs`: runs and their events newest first, filtered by run, school, level and age;
a table for people, JSON lines for programs; bad filters get a clear message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.review.runs import parse_since
from connector.store import Store, upgrade_to_head
from connector.store.models import JobMark, SyncEvent, SyncRun

from .conftest import cli, json_lines, settings_copy


@pytest.fixture
def logged(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Four runs: an old ok roster run, a partial one with a warning, a failed one whose school
    is known only from its events, and a board-wide retention run."""
    now = datetime.now(UTC)  # when the fixture runs, not when the module was imported (a loaded suite is slow)
    database = tmp_path / "connector.db"
    upgrade_to_head(str(database))
    store = Store(database)
    ids = {}
    with store.write() as s:

        def run(name: str, age: timedelta, outcome: str, trigger: str = "schedule", events=()):
            row = SyncRun(
                trigger=trigger,
                started_at=now - age,
                ended_at=now - age,
                outcome=outcome,
                counts={"not linked": 1} if name == "partial" else {},
            )
            s.add(row)
            s.flush()
            ids[name] = row.id
            for level, action, message, vendor_ids in events:
                s.add(
                    SyncEvent(
                        run_id=row.id,
                        at=row.started_at,
                        level=level,
                        action=action,
                        message=message,
                        vendor_ids=vendor_ids,
                    )
                )
            return row

        old = run(
            "old",
            timedelta(days=5),
            "ok",
            events=[("info", "planner opened", "sync:12AB00:2026-2027:start:71001", ["pln_1"])],
        )
        s.add(JobMark(key="roster:12AB00:2026-11-18", job="roster", done_at=old.started_at, run_id=old.id))
        partial = run(
            "partial",
            timedelta(hours=20),
            "partial",
            events=[
                ("warning", "not linked", "child chd_x (planner): [not linked]", ["chd_x"]),
                ("info", "roster", "3 groups", []),
            ],
        )
        s.add(JobMark(key="roster:12AB00:2026-11-22", job="roster", done_at=partial.started_at, run_id=partial.id))
        run(
            "failed",
            timedelta(hours=2),
            "failed",
            events=[("error", "roster failed", "roster:12AB00:2026-11-23: RuntimeError", [])],
        )
        run(
            "retention",
            timedelta(minutes=10),
            "ok",
            trigger="retention",
            events=[("info", "retention", "purged: 0 pupils", [])],
        )
    store.dispose()
    return str(settings_copy(tmp_path, database)), ids


def runs_of(out: str) -> list[dict]:
    return [line for line in json_lines(out) if line["type"] == "run"]


def test_runs_come_newest_first_each_followed_by_its_events(logged):
    settings, ids = logged
    code, out, err = cli("logs", "--settings", settings, "--json")
    assert code == 0, err
    lines = json_lines(out)
    assert [r["run_id"] for r in runs_of(out)] == [ids["retention"], ids["failed"], ids["partial"], ids["old"]]
    partial_at = next(n for n, line in enumerate(lines) if line.get("run_id") == ids["partial"])
    assert [line["action"] for line in lines[partial_at + 1 : partial_at + 3]] == ["not linked", "roster"]
    assert {r["run_id"]: r["school"] for r in runs_of(out)} == {
        ids["retention"]: None,
        ids["failed"]: "12AB00",
        ids["partial"]: "12AB00",
        ids["old"]: "12AB00",
    }
    first = runs_of(out)[0]
    assert set(first) == {
        "type",
        "run_id",
        "trigger",
        "school",
        "started_at",
        "ended_at",
        "outcome",
        "level",
        "counts",
        "events",
    }


def test_level_keeps_runs_and_events_at_that_level_or_worse(logged):
    settings, ids = logged
    _, out, _ = cli("logs", "--settings", settings, "--json", "--level", "warning")
    assert [r["run_id"] for r in runs_of(out)] == [ids["failed"], ids["partial"]]
    assert [line["action"] for line in json_lines(out) if line["type"] == "event"] == ["roster failed", "not linked"]
    _, out, _ = cli("logs", "--settings", settings, "--json", "--level", "error")
    assert [r["run_id"] for r in runs_of(out)] == [ids["failed"]]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("30m", ["retention"]),
        ("12h", ["retention", "failed"]),
        ("2d", ["retention", "failed", "partial"]),
        ("1w", ["retention", "failed", "partial", "old"]),
    ],
)
def test_since_takes_minutes_hours_days_and_weeks(logged, since, expected):
    settings, ids = logged
    _, out, _ = cli("logs", "--settings", settings, "--json", "--since", since)
    assert [r["run_id"] for r in runs_of(out)] == [ids[name] for name in expected]


def test_one_run_by_its_id_or_the_start_of_it_and_one_school(logged):
    settings, ids = logged
    for given in (ids["partial"], ids["partial"][:8]):
        _, out, _ = cli("logs", "--settings", settings, "--json", "--run", given)
        assert [r["run_id"] for r in runs_of(out)] == [ids["partial"]]
    _, out, _ = cli("logs", "--settings", settings, "--json", "--school", "12ab00", "--limit", "2")
    assert [r["run_id"] for r in runs_of(out)] == [ids["failed"], ids["partial"]]


def test_the_table_shows_vendor_text_as_text_not_markup(logged):
    settings, ids = logged
    code, out, _ = cli("logs", "--settings", settings)
    assert code == 0
    assert "[not linked]" in out and ids["partial"][:8] in out and "run (retention)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "--since: 'yesterday' is not a period such as 30m, 12h, 2d or 1w"),
        (("--since", "2d3h"), "--since: '2d3h' is not a period"),
        (("--run", "ffffffff"), "--run: no sync run 'ffffffff'"),
        (("--school", "99ZZ99"), "--school: no school 99ZZ99"),
    ],
)
def test_bad_filters_get_a_clear_message(logged, args, message):
    settings, _ = logged
    code, out, err = cli("logs", "--settings", settings, *args)
    assert code != 0 and message in err, err


def test_since_also_takes_an_iso_date_or_moment():
    zone = ZoneInfo("Europe/Amsterdam")
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert parse_since("2026-11-20", now, zone) == datetime(2026, 11, 20, tzinfo=zone)
    assert parse_since("2026-11-20T08:00:00+00:00", now, zone) == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert parse_since("90M", now, zone) == now - timedelta(minutes=90)
    with pytest.raises(ValueError, match="is not a period such as 30m"):
        parse_since("-2d", now, zone)


def test_a_runs_end_is_its_moment_plus_the_time_it_took(tmp_path: Path):
    """Issue W2-7: a run is stamped with its moment (a rehearsal's --now), so its end adds the wall
    clock's share; `logs` then shows how long it took."""
    import time_machine

    from connector.engine.runlog import RunLog

    database = tmp_path / "connector.db"
    upgrade_to_head(str(database))
    store = Store(database)
    moment = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # a rehearsal's moment, far from the wall clock
    try:
        with time_machine.travel(datetime(2026, 12, 1, 12, 0, tzinfo=UTC), tick=False) as clock:
            run = RunLog(store, trigger="manual", school_id=None, now=moment)
            clock.shift(timedelta(seconds=42))
            assert run.finish(moment) == "ok"
        with store.read() as s:
            row = s.get(SyncRun, run.id)
            assert row is not None and (row.started_at, row.ended_at) == (moment, moment + timedelta(seconds=42))
    finally:
        store.dispose()
    settings = settings_copy(tmp_path, database)
    code, out, err = cli("logs", "--settings", str(settings), "--run", run.id)
    assert code == 0, err
    assert "run (manual), 42 s" in out and "2026-11-23 08:00" in out  # the school's local time
