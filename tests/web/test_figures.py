"""The page's figures are the CLI's: after a demo year, every round on the school's page, the board,
every round's teachers and the overdue verslagen equal `connector status --json` and
`report verslagen --format json` at the same moment, and the CSV download is the CLI's file,
byte for byte. A person reads words and local times: no UTC, no job keys, no raw ids."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.web.app import create_app
from tests.review.conftest import cli

from .conftest import add_users, login
from .html import parse, visible_text

BRIN = "12AB00"
PLANNER_FIGURES = ("invited", "booked", "reminders_sent", "families_to_contact")
ALWAYS = ("conversations", "not_seen", "on_time", "late", "missing", "not_visible", "pending")


@pytest.fixture(scope="module")
def client(year):
    app = create_app(year.runtime(), clock=lambda: year.moment)
    add_users(app)
    with TestClient(app) as c:
        assert login(c, "ib").status_code == 303
        yield c
    app.state.web.store.dispose()


@pytest.fixture(scope="module")
def status_all(year) -> dict:
    code, out, err = cli(
        "status", "--settings", str(year.settings), "--json", "--all", "--now", year.moment.isoformat()
    )
    assert code == 0, err
    return json.loads(out)


def report(year, *args: str) -> list[dict]:
    code, out, err = cli("report", "verslagen", "--settings", str(year.settings), "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)["rows"]


def test_every_round_on_the_schools_page_has_the_figures_of_status_json(client, status_all):
    [school] = status_all["schools"]
    page = parse(client.get(f"/school/{BRIN}").text)
    shown = {e.attrs["data-round"]: e.figures() for e in page.all("data-round")}
    assert list(shown) == [r["round"] for r in school["rounds"]]  # every round, in the cycle's order
    for r in school["rounds"]:
        figures = shown[r["round"]]
        expected = {"conversations": r["conversations"], "not_seen": r["not_seen"], **r["verslagen"]}
        if r["uses_planner"]:
            expected.update({key: r[key] for key in PLANNER_FIGURES})
        assert set(ALWAYS) <= set(figures), r["round"]
        assert figures == {k: v for k, v in expected.items() if k in figures}, r["round"]
    assert sum(r["conversations"] for r in school["rounds"]) > 0 and sum(r["booked"] for r in school["rounds"]) > 0


def test_the_board_has_the_figures_of_status_json(client, year):
    code, out, err = cli("status", "--settings", str(year.settings), "--json", "--now", year.moment.isoformat())
    assert code == 0, err
    [school] = json.loads(out)["schools"]
    [row] = parse(client.get("/").text).all("data-school")
    attention = {a["kind"]: a["count"] for a in school["attention"]}
    assert row.figures() == {
        "verslagen_overdue": attention.get("verslagen_overdue", 0),
        "not_seen": attention.get("not_seen", 0),
        "families_to_contact": sum(r["families_to_contact"] for r in school["rounds"]),
        "attention": len(school["attention"]),
    }
    assert attention.get("verslagen_overdue", 0) > 0  # the demo's teachers leave some verslagen missing


def test_every_rounds_teachers_have_the_figures_of_report_verslagen_json(client, year, status_all):
    checked = 0
    for r in status_all["schools"][0]["rounds"]:
        rows = report(year, "--school", BRIN, "--round", r["round"])
        page = parse(client.get(f"/school/{BRIN}/ronde/{r['round']}").text)
        teachers = {e.attrs["data-teacher"]: e.figures() for e in page.all("data-teacher", tag="tr")}
        for row in rows:
            figures = teachers[row["teacher"] or ""]
            for key in ("conversations", "on_time", "late", "missing", "not_visible", "pending", "not_required"):
                assert figures[key] == row[key], (r["round"], row["teacher"], key)
            assert figures["not_seen"] == row["not_seen"]
            checked += 1
        listed = {(e.attrs["data-pupil"], e.attrs["data-status"]) for e in page.all("data-pupil")}
        assert listed == {(i["pupil"], i["status"]) for row in rows for i in row["items"]}, r["round"]
        if r["uses_planner"] and r["families_to_contact"]:
            total = sum(f["families_to_contact"] for f in teachers.values())
            assert total >= r["families_to_contact"], r["round"]  # a duo group's families are on both lists
        # Each teacher's count is the length of their list in `status --json` (`report contact`).
        lists = {t["teacher"]: t["count"] for t in r["to_contact"]}
        assert {k: f["families_to_contact"] for k, f in teachers.items() if f["families_to_contact"]} == lists
    assert checked > 5


def test_the_overdue_page_lists_per_teacher_what_report_verslagen_json_says_is_missing_or_not_visible(client, year):
    rows = report(year)
    expected: dict[str, Counter] = defaultdict(Counter)
    pupils: dict[str, set] = defaultdict(set)
    rounds: dict[str, set] = defaultdict(set)
    for row in rows:
        if row["missing"] + row["not_visible"]:
            rounds[row["teacher"] or ""].add(row["round"])
        expected[row["teacher"] or ""].update({"missing": row["missing"], "not_visible": row["not_visible"]})
        pupils[row["teacher"] or ""] |= {
            (i["pupil"], i["status"]) for i in row["items"] if i["status"] in ("missing", "not_visible")
        }
    page = parse(client.get("/verslagen").text)
    sections = {e.attrs["data-teacher"]: e for e in page.all("data-teacher", tag="section")}
    assert set(sections) == {t for t, c in expected.items() if c["missing"] + c["not_visible"]}
    for teacher, section in sections.items():
        figures = section.figures()
        assert (figures["missing"], figures["not_visible"]) == (
            expected[teacher]["missing"],
            expected[teacher]["not_visible"],
        )
        assert {(e.attrs["data-pupil"], e.attrs["data-status"]) for e in section.all("data-pupil")} == pupils[teacher]
        assert len(section.all(tag="table")) == len(rounds[teacher])  # one table per round, also of one name


@pytest.mark.parametrize("query", ["", f"?school={BRIN}"])
def test_the_csv_download_is_the_clis_file_byte_for_byte(client, year, tmp_path: Path, query):
    target = tmp_path / "cli.csv"
    args = ["--school", BRIN] if query else []
    code, _, err = cli(
        "report", "verslagen", "--settings", str(year.settings), *args, "--format", "csv", "--output", str(target)
    )
    assert code == 0, err
    response = client.get(f"/verslagen.csv{query}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content == target.read_bytes()
    assert response.content.startswith("\ufeff".encode()) and b"\r\n" in response.content


def all_pages(client) -> dict[str, str]:
    paths = ["/", f"/school/{BRIN}", "/verslagen", "/synchronisaties?periode=", "/gezondheid"]
    school = parse(client.get(f"/school/{BRIN}").text)
    paths += [e.attrs["href"] for e in school.all("href") if "/ronde/" in e.attrs["href"]]
    runs = parse(client.get("/synchronisaties?periode=").text)
    paths += [e.attrs["href"] for e in runs.all("href") if e.attrs["href"].startswith("/synchronisaties/")][:3]
    return {path: client.get(path).text for path in dict.fromkeys(paths)}


def test_a_person_reads_words_and_local_times_never_utc_job_keys_or_raw_ids(client):
    pages = all_pages(client)
    assert len(pages) > 8
    job_key = re.compile(r"\b(roster|open|bookings|remind|verslagen|close|overview|retention):[0-9]{2}[A-Z]{2}[0-9]{2}")
    for path, html in pages.items():
        text = visible_text(html)
        assert "UTC" not in text and not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:", text), path
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), path
        assert not job_key.search(text), path
        assert not re.search(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text), path  # no run ids
        assert not re.search(r"\bpln_|\bslt_", text), path


def test_no_page_has_inline_script_or_style(client):
    for path, html in all_pages(client).items():
        root = parse(html)
        assert all(e.attrs.get("src") for e in root.all(tag="script")), path
        assert not root.all(tag="style") and not root.all("style"), path
        assert not re.search(r"\son[a-z]+=", html), path
