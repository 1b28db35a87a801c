"""A run whose process died is closed as `interrupted` (`runlog.close_interrupted`), and `logs`,
`status` and `health` show it as a run that needs a look (issue W2-2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from connector.engine.runlog import close_interrupted
from connector.review.times import local_time
from connector.store import Store, upgrade_to_head
from connector.store.models import School, SyncEvent, SyncRun

from .conftest import cli, json_lines, settings_copy

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    database = tmp_path / "connector.db"
    upgrade_to_head(str(database))
    s = Store(database)
    with s.write() as session:
        session.add(School(id=1, brin="12AB00", name="De Regenboog"))
        session.add(SyncRun(id="ok-1", trigger="daemon", school_id=1, started_at=NOW - timedelta(hours=3)))
        session.add(SyncRun(id="dead-1", trigger="daemon", school_id=1, started_at=NOW - timedelta(hours=2)))
        session.add(SyncRun(id="dead-2", trigger="manual", school_id=1, started_at=NOW - timedelta(hours=1)))
    with s.write() as session:  # ok-1 finished; the other two were left `running`
        done = session.get(SyncRun, "ok-1")
        done.outcome, done.ended_at = "ok", done.started_at
    yield s
    s.dispose()


def runs(store: Store) -> dict[str, SyncRun]:
    with store.read() as session:
        return {r.id: r for r in session.exec(select(SyncRun))}


def test_close_interrupted_closes_only_the_runs_still_running_with_an_end_and_a_warning(store):
    assert sorted(close_interrupted(store, NOW)) == ["dead-1", "dead-2"]
    got = runs(store)
    assert {k: r.outcome for k, r in got.items()} == {"ok-1": "ok", "dead-1": "interrupted", "dead-2": "interrupted"}
    assert got["dead-1"].ended_at == NOW and got["ok-1"].ended_at == NOW - timedelta(hours=3)
    with store.read() as session:
        events = list(session.exec(select(SyncEvent).order_by(SyncEvent.run_id)))
    assert [(e.run_id, e.level, e.action) for e in events] == [
        ("dead-1", "warning", "run interrupted"),
        ("dead-2", "warning", "run interrupted"),
    ]
    assert close_interrupted(store, NOW) == []  # nothing left to close, nothing written


def test_close_interrupted_by_trigger_and_never_ending_before_the_start(store):
    early = NOW - timedelta(days=1)  # a --now before the run's own start
    assert close_interrupted(store, early, trigger="manual") == ["dead-2"]
    got = runs(store)
    assert got["dead-1"].outcome == "running"
    assert got["dead-2"].ended_at == got["dead-2"].started_at


def test_logs_and_status_show_an_interrupted_run_as_one_to_look_at(store, tmp_path):
    close_interrupted(store, NOW)
    settings = str(settings_copy(tmp_path, tmp_path / "connector.db"))

    code, out, err = cli("logs", "--settings", settings, "--json", "--level", "warning")
    assert code == 0, err
    shown = {line["run_id"]: line for line in json_lines(out) if line["type"] == "run"}
    assert set(shown) == {"dead-1", "dead-2"}
    assert {(r["outcome"], r["level"]) for r in shown.values()} == {("interrupted", "warning")}
    code, out, err = cli("logs", "--settings", settings)
    assert code == 0 and "interrupted" in out

    code, out, err = cli("status", "--settings", settings, "--json", "--now", NOW.isoformat())
    assert code == 0, err
    attention = {a["kind"]: a for a in json.loads(out)["schools"][0]["attention"]}
    failed = attention["failed_runs"]
    assert failed["ids"] == ["dead-2", "dead-1"]
    when = local_time(
        datetime(2026, 11, 23, 12, 0, tzinfo=UTC), "Europe/Amsterdam"
    )  # "… 13:00", with CET on a UTC machine
    words = f"run dead-1 (daemon, {when}) was interrupted (its process ended before it finished)"
    assert words in failed["message"]
