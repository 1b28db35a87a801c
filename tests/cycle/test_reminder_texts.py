"""Issue W2-3: a reminder says which conversation each child still has to book. A family that
booked its startgesprek and not yet the extra conversation about the support of its child (the
OPP extra planner) is reminded of the extra conversation, not told it has not booked the
startgesprekken; one message for both says which child still has to book which.

The texts from the templates, then the reminders the engine sends on the simulator (real HTTP).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from connector.cycle.settings.models import Round
from connector.cycle.settings.templates import check_template
from connector.engine import messages
from connector.engine.run import run_due
from connector.engine.schedule import release_at
from tests.engine.conftest import BRIN, local, new_env, planner_rows

ZONE = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 9, 3, 17, 0, tzinfo=ZONE)
CLOSES = datetime(2026, 9, 6, 17, 0, tzinfo=ZONE)
START = "sync:12AB00:2026-2027:start"


def rnd(**extra) -> Round:
    return Round.model_validate(
        {"id": "start", "name": "Startgesprekken", "kind": "start", "window": {"school_week": 2}, **extra}
    )


def remind(round_: Round | None = None, base: Path = Path("."), **kw) -> str:
    return messages.reminder(round_ or rnd(), base, now=NOW, closes=CLOSES, school="De Regenboog", **kw)


def sentence(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("U heeft nog geen tijd gekozen")]
    return line


def who_books_what(text: str) -> tuple[list[str], list[str]]:
    """The names a reminder gives as still to book the startgesprek, and the extra conversation."""
    what = sentence(text).removeprefix("U heeft nog geen tijd gekozen voor ").removesuffix(".")
    main, _, extra = what.partition("het extra gesprek over de ondersteuning van ")
    main = main.removesuffix(", en ").removeprefix("de startgesprekken van ")

    def names(part: str) -> list[str]:
        return [n for chunk in part.split(", ") for n in chunk.split(" en ") if n]

    return names(main), names(extra)


def test_a_reminder_of_the_round_alone_reads_as_before():
    assert sentence(remind(children=["Noor", "Daan"])) == (
        "U heeft nog geen tijd gekozen voor de startgesprekken van Noor en Daan."
    )


def test_a_reminder_of_the_extra_conversation_alone_names_it_and_not_the_round():
    text = remind(children=[], extra=["Noor"])
    assert sentence(text) == "U heeft nog geen tijd gekozen voor het extra gesprek over de ondersteuning van Noor."
    assert "startgesprekken" not in text
    assert "De gespreksplanner sluit over 3 dagen, op zondag 6 september om 17:00." in text


def test_one_message_for_both_says_which_child_still_has_to_book_which():
    assert sentence(remind(children=["Daan", "Noor"], extra=["Noor"])) == (
        "U heeft nog geen tijd gekozen voor de startgesprekken van Daan en Noor, "
        "en het extra gesprek over de ondersteuning van Noor."
    )
    assert sentence(remind(children=["Daan"], extra=["Noor", "Sem"])) == (
        "U heeft nog geen tijd gekozen voor de startgesprekken van Daan, "
        "en het extra gesprek over de ondersteuning van Noor en Sem."
    )


def test_a_school_writes_its_own_reminder_with_gesprekken(tmp_path):
    (tmp_path / "herinnering.txt").write_text("Nog te kiezen: ${gesprekken} (${kinderen}).", encoding="utf-8")
    own = rnd(templates={"reminder": {"file": "herinnering.txt"}})
    assert check_template("reminder", own.templates.reminder, tmp_path) == []
    assert remind(own, tmp_path, children=["Daan"], extra=["Noor"]) == (
        "Nog te kiezen: de startgesprekken van Daan, en het extra gesprek over de ondersteuning van Noor"
        " (Daan en Noor)."
    )
    assert messages.names_conversations(own, tmp_path)


def test_a_school_reminder_without_gesprekken_is_not_used_for_the_extra_conversation(tmp_path):
    """It would tell a family that booked its startgesprek that it has not booked the startgesprekken."""
    (tmp_path / "herinnering.txt").write_text("Nog even: ${kinderen}, ${ronde}.", encoding="utf-8")
    own = rnd(templates={"reminder": {"file": "herinnering.txt"}})
    assert not messages.names_conversations(own, tmp_path)
    assert remind(own, tmp_path, children=["Zoë"]) == "Nog even: Zoë, startgesprekken."
    text = remind(own, tmp_path, children=[], extra=["Zoë"])
    assert sentence(text) == "U heeft nog geen tijd gekozen voor het extra gesprek over de ondersteuning van Zoë."


def test_the_teachers_are_told_which_planner_was_cancelled():
    days = (datetime(2026, 9, 7).date(), datetime(2026, 9, 11).date())
    kw = {"group_name": "Groep 5", "days": days, "families": ["Daan de Vries", "Noor Bakker"], "school": "X"}
    main = messages.cancelled_notice(rnd(), Path("."), extra=False, **kw)
    assert "De gespreksplanner voor de startgesprekken van Groep 5 (maandag 7 september tot en met" in main
    assert "is in de planner geannuleerd" in main and "- Daan de Vries\n- Noor Bakker" in main
    assert "Deze 2 leerling(en) waren uitgenodigd" in main and "extra gesprek" not in main
    extra = messages.cancelled_notice(rnd(), Path("."), extra=True, **kw)
    assert "het extra gesprek over de ondersteuning bij de startgesprekken van Groep 5" in extra
    assert "is in de planner geannuleerd" in extra and "- Daan de Vries\n- Noor Bakker" in extra


# --- the engine on the simulator ------------------------------------------------------------


def db_invitees(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT r.external_ref, i.child_planner_id FROM planner_invitees i JOIN planners r ON r.id = i.planner_id"
        ).fetchall()
    conn.close()
    out: dict[str, list[str]] = {}
    for ref, child in rows:
        out.setdefault(ref, []).append(child)
    return out


def test_the_engine_reminds_a_family_that_booked_its_startgesprek_of_the_extra_conversation(tmp_path):
    env = new_env(tmp_path / "env", start=local("2026-08-30 06:00"))
    engine = env.engine()
    try:
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        for moment in (release_at(rp) - timedelta(hours=2), release_at(rp)):
            env.set_clock(moment)
            run_due(engine, moment, trigger="run-due")
        env.set_clock(rp.planner_opens + timedelta(hours=1))
        vendor = planner_rows(env.db)
        invited = db_invitees(env.db)
        # In every group with an extra planner, its first child who can book books the startgesprek.
        booked, waiting = set(), set()
        for ref in sorted(r for r in invited if r.endswith(":opp")):
            for child in sorted(invited[ref]):
                answer = requests.post(
                    f"{env.url}/_sim/planners/{vendor[ref.removesuffix(':opp')]}/book",
                    json={"child_id": child},
                    timeout=30,
                )
                if answer.status_code in (200, 201):
                    booked.add(child)
                    waiting |= set(invited[ref]) - {child}
                    break
        assert len(booked) >= 3
        before = len(env.control("GET", f"/messages?brin={BRIN}&kind=message")["data"])

        env.set_clock(rp.reminders[0])
        (report,) = run_due(engine, rp.reminders[0], trigger="run-due")
        assert report.postponed == [] and report.counts["reminders sent"] > 0
        sent = env.control("GET", f"/messages?brin={BRIN}&kind=message")["data"][before:]
        with env.sim.world.lock:
            names = {c.id: c.first_name for c in env.sim.world.schools[BRIN].p_children.values()}
        seen_booked = seen_both = 0
        for message in sent:
            children = set(message["recipients"]["child_ids"])
            main, extra = who_books_what(message["body"])
            for child in children & booked:  # booked its startgesprek: reminded of the extra conversation only
                seen_booked += 1
                assert names[child] in extra and names[child] not in main, message["body"]
            for child in children & waiting:  # booked neither: reminded of both, by name
                seen_both += 1
                assert names[child] in extra and names[child] in main, message["body"]
        assert seen_booked == len(booked) and seen_both > 0
    finally:
        engine.store.dispose()
        env.stop()
