"""Issue W2-4: one agenda for the people a school shares. Two rounds at the same time for the same
groups (the startgesprek for everyone and an extra round for leerjaar 4, so the combination group
3/4's teacher and the IB are wanted by both) never put a staff member in two slots at once, and
the invitation names the IB only to the families whose conversation includes the IB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import col, select

from connector.cycle.settings import load_settings
from connector.demo import run_demo
from connector.logging_setup import configure_logging
from connector.review.status import short_attention
from connector.store import Store
from connector.store.models import Group, Intent, Planner

from .conftest import REPO
from .test_examples_year import double_booked

EXTRA_ROUND = """
[[cycles.standaard.rounds]]
id = "extra-4"
name = "Extra gesprekken groep 4"
kind = "overig"
groups = [4]
window = { school_week = 2 }
slot_minutes = 15
"""


def demo_until(tmp_path: Path, settings_text: str, until: date | None) -> Store:
    """The demo school (60 pupils) on these settings until `until` (None: the whole year); its store."""
    settings = tmp_path / "settings.toml"
    settings.write_text(settings_text, encoding="utf-8")
    (tmp_path / "dev-secrets").symlink_to(REPO / "dev-secrets")
    configure_logging(level="error")
    run_demo(load_settings(str(settings)), seed=2, pupils_per_school=60, database=tmp_path / "demo.db", until=until)
    return Store(tmp_path / "demo.db")


def test_two_rounds_at_once_for_a_combination_group_never_double_book_anyone(tmp_path: Path):
    text = (REPO / "settings.toml").read_text(encoding="utf-8")
    # the extra round goes right after the start round, so both fall in the second school week
    head, tail = text.split('[[cycles.standaard.rounds]]\nid = "kind-okt"', 1)
    extra = head + EXTRA_ROUND.lstrip() + '\n[[cycles.standaard.rounds]]\nid = "kind-okt"' + tail
    store = demo_until(tmp_path, extra, None)  # every planner of the year
    try:
        assert double_booked(store) == []
        with store.read() as session:
            planners = list(session.exec(select(Planner, Group).join(Group, col(Group.id) == Planner.group_id)))
            bodies = {
                i.natural_key.removeprefix("create_planner:"): i.payload
                for i in session.exec(select(Intent).where(Intent.kind == "create_planner"))
            }
    finally:
        store.dispose()
    combo = {p.external_ref.split(":")[3] for p, g in planners if g.leerjaren == [3, 4]}
    assert {"start", "extra-4"} <= combo  # the combination group is in both rounds of the second school week
    assert any(p.external_ref.split(":")[5:6] == ["ib"] for p, _ in planners)  # the IB's own conversations
    for ref, body in bodies.items():
        assert body is not None
        with_ib = ref.split(":")[5:6] in (["ib"], ["opp"])
        assert ("de intern begeleider bij dit gesprek" in body["description"]) == with_ib, ref


def test_a_planner_with_fewer_slots_than_invitees_is_listed_by_status(tmp_path: Path):
    text = (REPO / "settings.toml").read_text(encoding="utf-8")
    tight = 'slot_minutes = 10\nconversation_hours = { weekdays = ["di"], hours = ["19:00-20:00"] }\n'
    assert text.count("slot_minutes = 10\n") == 1
    store = demo_until(tmp_path, text.replace("slot_minutes = 10\n", tight), date(2026, 9, 2))
    try:
        with store.read() as session:
            live = select(Planner).where(col(Planner.short) > 0, col(Planner.status) != "cancelled")
            short = {p.external_ref: p.short for p in session.exec(live)}
        (item,) = short_attention(store, "12AB00", datetime(2026, 9, 2, 12, 0, tzinfo=UTC))
    finally:
        store.dispose()
    assert short and item["kind"] == "planners_short" and item["count"] == len(short)
    assert "fewer slots than invitees" in item["message"] and "check-config" in item["message"]
    assert all(f": {n}" in item["message"] for n in short.values())
