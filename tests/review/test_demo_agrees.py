"""After a demo school year, `status`, `logs` and `report verslagen` tell the same story as the
demo's own summary: booked, reminders, families to contact and verslagen per outcome."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from connector.cycle.settings import load_settings
from connector.demo import run_demo
from connector.logging_setup import configure_logging

from .conftest import cli, json_lines, settings_copy

OUTCOMES = ("on_time", "late", "missing", "not_visible", "pending", "not_required")
PUPILS = 40  # enough for every kind of family; the year takes ~20 s instead of ~60


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[dict, Path]:
    """The demo's summary, and settings whose store is the demo's (kept) database."""
    folder = tmp_path_factory.mktemp("demo")
    database = folder / "demo.db"
    settings = settings_copy(folder, database)
    configure_logging(level="error")
    summary = run_demo(load_settings(str(settings)), seed=3, pupils_per_school=PUPILS, database=database)
    assert database.exists()
    return summary, settings


def end_of(summary: dict) -> str:
    return f"{summary['to']}T23:00:00+02:00"


def totals(rows: list[dict], keys) -> Counter:
    out: Counter = Counter()
    for row in rows:
        for key in keys:
            out[key] += row[key]
    return out


def test_status_shows_the_demos_numbers_for_every_round(demo):
    summary, settings = demo
    code, out, err = cli("status", "--settings", str(settings), "--json", "--all", "--now", end_of(summary))
    assert code == 0, err
    [school] = json.loads(out)["schools"]
    shown = {r["round"]: r for r in school["rounds"]}
    assert set(shown) == {r["round"] for r in summary["rounds"]}
    for expected in summary["rounds"]:
        got = shown[expected["round"]]
        for key in ("planners_opened", "invited", "booked", "reminders_sent", "families_to_contact", "conversations"):
            assert got[key] == expected[key], (expected["round"], key)
        assert got["verslagen"] == expected["verslagen"], expected["round"]
        assert got["verslagen_overdue"] == expected["verslagen"]["missing"] + expected["verslagen"]["not_visible"]
    overdue = sum(r["verslagen"]["missing"] + r["verslagen"]["not_visible"] for r in summary["rounds"])
    attention = {a["kind"]: a for a in school["attention"]}
    assert overdue > 0 and attention["verslagen_overdue"]["count"] == overdue
    assert school["last_successful_run"]["trigger"] == "demo"
    assert {j["job"] for j in school["jobs"]} >= {"roster", "planners", "bookings", "reminders", "verslagen"}


def test_the_run_log_adds_up_to_the_demos_reminders_families_and_conversations(demo):
    summary, settings = demo
    code, out, err = cli("logs", "--settings", str(settings), "--json", "--limit", "0")
    assert code == 0, err
    lines = json_lines(out)
    runs = [line for line in lines if line["type"] == "run"]
    events = [line for line in lines if line["type"] == "event"]
    assert runs and all(r["trigger"] == "demo" and r["school"] == "12AB00" for r in runs)
    assert [r["started_at"] for r in runs] == sorted((r["started_at"] for r in runs), reverse=True)  # newest first
    assert sum(r["events"] for r in runs) == len(events)
    counted = Counter()
    for run in runs:
        counted.update(run["counts"])
    rounds = summary["rounds"]
    assert counted["reminders sent"] == sum(r["reminders_sent"] for r in rounds)
    assert sum(1 for e in events if e["action"] == "reminder sent") == sum(r["reminders_sent"] for r in rounds)
    assert counted["families to contact"] == sum(r["families_to_contact"] for r in rounds)
    assert counted["conversations held"] == sum(r["conversations"] for r in rounds)


def test_the_verslag_report_adds_up_to_the_demos_outcomes_in_json_and_csv(demo):
    summary, settings = demo
    code, out, err = cli("report", "verslagen", "--settings", str(settings), "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    by_round: dict[str, list[dict]] = {}
    for row in rows:
        by_round.setdefault(row["round"], []).append(row)
        for outcome in OUTCOMES:
            assert len(row["pupils"][outcome]) == row[outcome]
        assert row["teacher"] is None or row["teacher"].isdigit()  # PAS staff ids, no names
    for expected in summary["rounds"]:
        # A kindgesprek of duo teachers without a dated note is in both teachers' rows: counted once here.
        unique = {
            (i["pupil"], i["conversation"]): i["status"]
            for r in by_round.get(expected["round"], [])
            for i in r["items"]
        }
        got = Counter(unique.values())
        assert sum(got.values()) - got["not_seen"] == expected["conversations"], expected["round"]
        assert {k: got[k] for k in OUTCOMES} == expected["verslagen"], expected["round"]
        assert got["not_seen"] == expected["not_seen"], expected["round"]

    code, out, err = cli("report", "verslagen", "--settings", str(settings), "--format", "csv")
    assert code == 0, err
    data = out.encode("utf-8") if isinstance(out, str) else out
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(table) == len(rows)
    columns = (("on time", "on_time"), ("late", "late"), ("missing", "missing"), ("not visible", "not_visible"))
    columns += (("not seen", "not_seen"), ("no verslag needed", "not_required"), ("pending", "pending"))
    for line, row in zip(table, rows, strict=True):  # the same rows, in the same order
        assert (line["round"], line["teacher (PAS id)"]) == (row["round"], row["teacher"] or "")
        assert {key: int(line[name]) for name, key in columns} == {key: row[key] for _, key in columns}


def test_every_conversation_is_reported_as_it_really_went(demo):
    """OPP extra conversations, a cancelled planner, families who never book and teachers who plan
    them by hand: per conversation, the report says what the simulated school did."""
    summary, settings = demo
    code, out, err = cli("report", "verslagen", "--settings", str(settings), "--format", "json")
    assert code == 0, err
    reported: dict[tuple, tuple] = {}
    for row in json.loads(out)["rows"]:
        for item in row["items"]:
            key = (row["brin"], row["round"], item["pupil"], item["conversation"])
            how, status, teachers = reported.get(key, (item["how"], item["status"], frozenset()))
            assert (how, status) == (item["how"], item["status"]), key  # the same in every teacher's row
            reported[key] = (how, status, teachers | {row["teacher"]})
    truth = {
        (t["brin"], t["round"], t["pupil"], t["conversation"]): (t["how"], t["status"], frozenset(t["teachers"]))
        for t in summary["truth"]
    }
    wrong = {k: (reported.get(k), truth.get(k)) for k in set(reported) | set(truth) if reported.get(k) != truth.get(k)}
    assert not wrong, sorted(wrong.items())[:10]
    statuses = Counter(status for _, status, _ in truth.values())
    assert all(statuses[s] for s in ("on_time", "late", "missing", "not_visible", "not_seen")), statuses
    hows = Counter(how for how, _, _ in truth.values())
    assert all(hows[h] for h in ("booking", "hand", "kindgesprek", "not_seen")), hows
    assert any(conversation == "extra" for _, _, _, conversation in truth)
    assert summary["report_agrees"] == len(truth)  # what the demo prints


def test_while_verslagen_are_still_due_the_report_says_pending_where_the_truth_is(tmp_path):
    """Halfway the start round's verslag period: conversations held, some verslagen written, others
    still within the deadline."""
    database = tmp_path / "demo.db"
    settings = settings_copy(tmp_path, database)
    loaded = load_settings(str(settings))
    configure_logging(level="error")
    summary = run_demo(loaded, seed=3, pupils_per_school=PUPILS, database=database, until=date(2026, 9, 17))
    code, out, err = cli("report", "verslagen", "--settings", str(settings), "--format", "json")
    assert code == 0, err
    reported = {
        (row["brin"], row["round"], item["pupil"], item["conversation"]): item["status"]
        for row in json.loads(out)["rows"]
        for item in row["items"]
    }
    truth = {(t["brin"], t["round"], t["pupil"], t["conversation"]): t["status"] for t in summary["truth"]}
    assert reported == truth
    assert {"pending", "on_time"} <= set(truth.values())


def test_one_round_and_one_school_can_be_chosen_and_unknown_ones_are_refused(demo):
    summary, settings = demo
    code, out, _ = cli(
        "report",
        "verslagen",
        "--settings",
        str(settings),
        "--format",
        "json",
        "--round",
        "kind-okt",
        "--school",
        "12ab00",
    )
    assert code == 0
    rows = json.loads(out)["rows"]
    kind = next(r for r in summary["rounds"] if r["round"] == "kind-okt")
    held = {(i["pupil"], i["conversation"]) for r in rows for i in r["items"] if i["status"] != "not_seen"}
    assert {r["round"] for r in rows} == {"kind-okt"} and len(held) == kind["conversations"]
    code, _, err = cli("report", "verslagen", "--settings", str(settings), "--round", "nope")
    assert code != 0 and "no round 'nope'" in err and "kind-okt" in err
    code, _, err = cli("status", "--settings", str(settings), "--school", "99ZZ99")
    assert code != 0 and "no school 99ZZ99" in err


def test_the_tables_render_for_a_person(demo):
    summary, settings = demo
    code, out, _ = cli("status", "--settings", str(settings), "--now", end_of(summary), "--all")
    assert code == 0 and "12AB00" in out and "Needs attention" in out and "verslag(en) are overdue" in out
    code, out, _ = cli("report", "verslagen", "--settings", str(settings))
    assert code == 0 and "total" in out and "missing:" in out
    code, out, _ = cli("logs", "--settings", str(settings), "--limit", "2")
    assert code == 0 and "run (demo)" in out and "--limit 0 shows all" in out


# --- families to contact (issue W2-7) ------------------------------------------------------


def contact_lists(settings: Path, *args: str) -> list[dict]:
    code, out, err = cli("report", "contact", "--settings", str(settings), "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)["teachers"]


def test_report_contact_lists_every_family_the_summary_counts(demo):
    """One line per family and conversation on a teacher's list; a duo group's families on both
    teachers' lists, so counted once per round they are the summary's `families_to_contact`."""
    from sqlmodel import col, select

    from connector.review.contact import REASONS
    from connector.store import Store
    from connector.store.models import Booking, Pupil

    summary, settings = demo
    lists = contact_lists(settings)
    assert lists and all(f["reason"] in REASONS for r in lists for f in r["families"])
    for expected in summary["rounds"]:
        mine = [r for r in lists if r["round"] == expected["round"]]
        lines = {(f["pupil"], f["conversation"], f["reason"]) for r in mine for f in r["families"]}
        assert len(lines) == expected["families_to_contact"], expected["round"]
        assert sum(expected["to_contact"].values()) == expected["families_to_contact"], expected["round"]
    no_booking = {f["pupil"] for r in lists for f in r["families"] if f["reason"] == "no_booking"}
    database = Store(settings.parent / "demo.db")  # the fixture's
    try:
        with database.read() as session:
            known = set(session.exec(select(Pupil.pas_id)))
            booked_somewhere = set(
                session.exec(
                    select(Pupil.pas_id)
                    .join(Booking, col(Booking.pupil_id) == Pupil.id)
                    .where(Booking.status == "booked")
                )
            )
    finally:
        database.dispose()
    assert {f["pupil"] for r in lists for f in r["families"]} <= known  # PAS ids, never names
    assert no_booking and no_booking - booked_somewhere  # some never booked at all in the year


def test_status_json_lists_the_same_families_per_teacher(demo):
    summary, settings = demo
    code, out, err = cli("status", "--settings", str(settings), "--json", "--all", "--now", end_of(summary))
    assert code == 0, err
    [school] = json.loads(out)["schools"]
    for rnd in school["rounds"]:
        expected = [
            {k: r[k] for k in ("teacher", "teacher_name", "count", "families")}
            for r in contact_lists(settings, "--round", rnd["round"])
        ]
        assert rnd["to_contact"] == expected, rnd["round"]
        assert sum(t["count"] for t in rnd["to_contact"]) >= rnd["families_to_contact"]


def test_report_contact_csv_and_its_filters(demo, tmp_path):
    summary, settings = demo
    code, out, err = cli("report", "contact", "--settings", str(settings), "--format", "csv", "--round", "start")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out.removeprefix("\ufeff")), delimiter=";"))
    assert out.startswith("\ufeff") and rows[0][4] == "leerlingnummer"
    assert len(rows) - 1 == sum(r["count"] for r in contact_lists(settings, "--round", "start"))
    assert {row[1] for row in rows[1:]} == {"start"}
    code, _, err = cli("report", "contact", "--settings", str(settings), "--round", "nope")
    assert code != 0 and "--round: no round 'nope'" in err  # a UsageError: exit 2 under main()
    target = tmp_path / "contact.txt"
    assert cli("report", "contact", "--settings", str(settings), "--output", str(target))[0] == 0
    assert "Families to contact" in target.read_text(encoding="utf-8") and target.stat().st_mode & 0o077 == 0


def test_the_demo_summary_adds_up_and_says_what_each_column_means(demo, capsys):
    from connector.cli.sync import DEMO_COLUMNS, _print_summary
    from connector.cycle.yearplan import plan_school

    summary, settings = demo
    loaded = load_settings(str(settings))
    [plan] = [plan_school(loaded.settings, s) for s in loaded.settings.schools]
    for r in summary["rounds"]:
        assert r["invited"] == r["booked"] + r["not_booked"], r["round"]
        assert sum(r["to_contact"].values()) == r["families_to_contact"], r["round"]
    _print_summary(summary)
    out = capsys.readouterr().out
    # The same year boundaries as `connector plan`, and no developer words.
    assert f"12AB00: {plan.calendar.first_day.isoformat()} to {plan.calendar.last_day.isoformat()}" in out
    assert "duplicates" not in out and "none was sent twice" in out
    for name, _ in DEMO_COLUMNS:
        assert f"  {name}: " in out
    for r in summary["rounds"]:
        if r["families_to_contact"]:
            assert f"to contact in {r['brin']} {r['round']}: {r['families_to_contact']} = " in out
