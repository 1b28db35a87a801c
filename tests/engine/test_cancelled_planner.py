"""Issue W2-3: a planner that school staff cancelled in the planner (status `cancelled`) is left
alone from the first job that notices it: no booking poll, no reminder to its families, no
closing call and no "families to contact" notice for it; each teacher of its group is told once
which families it invited. The other planners of the round, the other planner of the same group
included (main or OPP extra), go on as before.

The default settings on the simulator over real HTTP: the start round of Groep 5 loses its main
planner and Groep 1/2A its OPP extra planner, an hour after the planners opened; the next day's
first booking poll reads the planners' statuses and notices.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connector.engine.run import plan_due, run_due
from connector.engine.schedule import release_at

from .conftest import BRIN, Env, local, new_env

START = "sync:12AB00:2026-2027:start"
CANCELLED = {f"{START}:71006": "71006", f"{START}:71001:opp": "71001"}  # ref -> the PAS group it is for
CANCELLED_SUBJECT = "Gespreksplanner geannuleerd"
EXTRA = "het extra gesprek over de ondersteuning van "


class Requests:
    """Every request the simulator gets, as (method, path), from when it is attached."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, method: str, path: str, phase: str) -> None:
        if phase == "before":
            with self._lock:
                self.seen.append((method, path))

    def take(self) -> list[tuple[str, str]]:
        with self._lock:
            seen, self.seen = self.seen, []
        return seen


def db_rows(env: Env, query: str, *args) -> list[tuple]:
    with sqlite3.connect(f"file:{env.db}?mode=ro", uri=True) as conn:
        rows = conn.execute(query, args).fetchall()
    conn.close()
    return rows


def planners(env: Env) -> dict[str, tuple[int, str, str]]:
    """external_ref -> (row id, vendor id, stored status) of the start round's planners."""
    rows = db_rows(
        env, "SELECT external_ref, id, vendor_id, status FROM planners WHERE external_ref LIKE ?", f"{START}%"
    )
    return {ref: (row_id, vendor_id, status) for ref, row_id, vendor_id, status in rows}


def invited(env: Env, ref: str) -> dict[str, str]:
    """planner child id -> PAS pupil id of the planner's invitees."""
    rows = db_rows(
        env,
        "SELECT i.child_planner_id, p.pas_id FROM planner_invitees i JOIN pupils p ON p.id = i.pupil_id "
        "JOIN planners r ON r.id = i.planner_id WHERE r.external_ref = ?",
        ref,
    )
    return dict(rows)


def teachers(env: Env, group_pas_id: str) -> dict[str, str]:
    """planner staff id -> PAS staff id of the group's teachers linked in the planner."""
    rows = db_rows(
        env,
        "SELECT s.planner_id, s.pas_id FROM staff s JOIN group_staff gs ON gs.staff_id = s.id "
        "JOIN school_groups g ON g.id = gs.group_id WHERE g.pas_id = ? AND s.planner_id IS NOT NULL",
        group_pas_id,
    )
    return dict(rows)


def messages(env: Env) -> list[dict]:
    return env.control("GET", f"/messages?brin={BRIN}&kind=message")["data"]


def cancelled_notices(env: Env) -> list[dict]:
    return [m for m in messages(env) if m["subject"].startswith(CANCELLED_SUBJECT)]


def reminders_since(env: Env, before: int) -> list[dict]:
    return [m for m in messages(env)[before:] if m["recipients"].get("child_ids")]


def pupil_name(env: Env, pas_id: str) -> str:
    with env.sim.world.lock:
        record = env.sim.world.schools[BRIN].pupils[pas_id].latest()
    return " ".join(p for p in (record["roepnaam"], record["tussenvoegsel"], record["achternaam"]) if p)


def first_names(env: Env) -> dict[str, str]:
    with env.sim.world.lock:
        return {c.id: c.first_name for c in env.sim.world.schools[BRIN].p_children.values()}


def round_parts(body: str) -> tuple[str, str]:
    """A reminder's (children still to book the startgesprek, children still to book the extra one)."""
    (line,) = [line for line in body.splitlines() if line.startswith("U heeft nog geen tijd gekozen voor ")]
    text = line.removeprefix("U heeft nog geen tijd gekozen voor ").removesuffix(".")
    main, _, extra = text.partition(", en " + EXTRA) if ", en " + EXTRA in text else (text, "", "")
    if main.startswith(EXTRA):
        main, extra = "", main.removeprefix(EXTRA)
    return main.removeprefix("de startgesprekken van "), extra


def touched(seen: list[tuple[str, str]], vendor_ids: set[str]) -> list[tuple[str, str]]:
    """The planner API requests about one of these planners."""
    return [(m, p) for m, p in seen if any(p.startswith(f"/v1/planners/{v}") for v in vendor_ids)]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = new_env(tmp_path / "env", start=local("2026-08-30 06:00"))
    yield env
    env.stop()


def run(env: Env, engine, moment: datetime, *, parents_act: bool = False):
    env.set_clock(moment)
    if parents_act:
        env.behave()
    (report,) = run_due(engine, moment, trigger="run-due")
    assert report.postponed == [], report.reasons
    return report


def test_a_cancelled_planner_gets_one_notice_per_teacher_and_nothing_else(env, capfd):
    requests = Requests()
    engine = env.engine()
    try:
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        assert rp.round_id == "start" and rp.round.opp_extra_conversation
        run(env, engine, release_at(rp) - timedelta(hours=2))  # the day's roster
        run(env, engine, release_at(rp))  # the planners, created and released
        opened = run(env, engine, rp.planner_opens + timedelta(hours=1), parents_act=True)
        assert any(key.startswith(f"bookings:{BRIN}:") for key in opened.done)
        stored = planners(env)
        assert set(CANCELLED) <= set(stored) and {f"{START}:71006:opp", f"{START}:71001"} <= set(stored)
        gone = {stored[ref][1] for ref in CANCELLED}
        going_on = {vendor_id for ref, (_, vendor_id, _) in stored.items() if ref not in CANCELLED}

        # School staff cancel two planners in the planner: Groep 5's own, Groep 1/2A's extra one.
        for ref in CANCELLED:
            assert env.control("POST", f"/planners/{stored[ref][1]}/cancel")["status"] == "cancelled"
        env.sim.on_request = requests

        # The day's later polls read bookings only (one request per planner, no status): none notices.
        later = run(env, engine, rp.planner_opens + timedelta(hours=2))
        assert any(key.startswith(f"bookings:{BRIN}:") for key in later.done)
        statuses = [(m, p) for m, p in requests.take() if p.startswith("/v1/planners/") and p.count("/") == 3]
        assert statuses == [], "a planner's status is read once a day"
        assert cancelled_notices(env) == [] and planners(env) == stored

        # The next day's first booking poll notices: the dry run says so, and writes nothing.
        poll = rp.planner_opens + timedelta(days=1)
        env.set_clock(poll)
        (dry,) = plan_due(engine, poll)
        verbs = [(a.verb, a.key) for t in dry.tasks for a in t.actions]
        assert {("record cancelled planner", ref) for ref in CANCELLED} <= set(verbs)
        assert sum(verb == "send cancelled notice" for verb, _ in verbs) == 4
        assert ("read bookings", f"{START}:71006") not in verbs and ("read bookings", f"{START}:71006:opp") in verbs
        assert cancelled_notices(env) == [] and planners(env) == stored
        requests.take()

        noticed = run(env, engine, poll, parents_act=True)
        seen = requests.take()
        assert sorted(touched(seen, gone)) == sorted(("GET", f"/v1/planners/{v}") for v in gone)  # no bookings
        assert all(("GET", f"/v1/planners/{v}/bookings") in seen for v in going_on)
        assert noticed.counts["planners cancelled"] == 2 and noticed.counts["cancelled notices sent"] == 4
        assert {ref: planners(env)[ref][2] for ref in CANCELLED} == dict.fromkeys(CANCELLED, "cancelled")
        assert {status for ref, (_, _, status) in planners(env).items() if ref not in CANCELLED} == {"scheduled"}

        # One notice per teacher of the group, listing every pupil the planner invited, by name.
        notices = cancelled_notices(env)
        for ref, group in CANCELLED.items():
            staff = teachers(env, group)
            assert len(staff) == 2, staff  # both groups have a duo
            mine = [m for m in notices if m["recipients"]["staff_ids"][0] in staff]
            assert sorted(m["recipients"]["staff_ids"] for m in mine) == sorted([s] for s in staff)
            names = [pupil_name(env, pas_id) for pas_id in invited(env, ref).values()]
            for message in mine:
                assert all(f"- {name}\n" in message["body"] for name in names), message["body"]
                assert f"Deze {len(set(names))} leerling(en) waren uitgenodigd" in message["body"]
                assert ("extra gesprek over de ondersteuning" in message["body"]) is ref.endswith(":opp")
                assert "is in de planner geannuleerd" in message["body"]
            keys = db_rows(
                env,
                "SELECT natural_key FROM teacher_notices WHERE kind = 'cancelled' AND planner_id = ?",
                planners(env)[ref][0],
            )
            assert sorted(k for (k,) in keys) == sorted(f"cancelled:{ref}:{pas_id}" for pas_id in staff.values())
        assert len(notices) == 4
        printed = "".join(capfd.readouterr())  # the run's log lines
        events = " ".join(m for (m,) in db_rows(env, "SELECT message FROM sync_events"))
        for ref in CANCELLED:
            for pas_id in invited(env, ref).values():
                assert pupil_name(env, pas_id) not in printed and pupil_name(env, pas_id) not in events
        payloads = db_rows(env, "SELECT payload FROM intents WHERE natural_key LIKE 'cancelled:%'")
        assert len(payloads) == 4 and {p for (p,) in payloads} <= {None, "null"}  # the bodies are not kept

        # From now on the cancelled planners are left alone: not even their status is read again.
        run(env, engine, poll + timedelta(hours=1))
        assert touched(requests.take(), gone) == []

        # The first reminder moment: none to a family for a cancelled planner, the others as before.
        before = len(messages(env))
        reminded = run(env, engine, rp.reminders[0], parents_act=True)
        assert touched(requests.take(), gone) == []
        reminders = reminders_since(env, before)
        assert reminded.counts["reminders sent"] == len(reminders) > 0
        only_cancelled = set(invited(env, f"{START}:71006")) - set(invited(env, f"{START}:71006:opp"))
        only_cancelled |= set(invited(env, f"{START}:71001:opp")) - set(invited(env, f"{START}:71001"))
        names = first_names(env)
        for message in reminders:
            children = set(message["recipients"]["child_ids"])
            assert not children & only_cancelled, message
            main, extra = round_parts(message["body"])
            for child in children & set(invited(env, f"{START}:71006")):  # booked the extra one only, if at all
                assert names[child] not in main.split(", ") and names[child] in extra, message["body"]
            for child in children & set(invited(env, f"{START}:71001:opp")):
                assert names[child] not in extra, message["body"]
        own = set(invited(env, f"{START}:71001"))
        assert any(own & set(m["recipients"]["child_ids"]) for m in reminders), "Groep 1/2A's own planner goes on"

        # The closing: no close call and no "families to contact" for a cancelled planner.
        notices_before = len(db_rows(env, "SELECT id FROM teacher_notices WHERE kind = 'not_booked'"))
        assert notices_before == 0
        closing = run(env, engine, rp.planner_closes)
        seen = requests.take()
        assert touched(seen, gone) == []
        assert f"close:{BRIN}:2026-2027:start" in closing.done
        with env.sim.world.lock:
            now = env.sim.world.now()
            at_vendor = {p.id: p.status(now) for p in env.sim.world.schools[BRIN].planners.values()}
        assert {v: at_vendor[v] for v in gone} == dict.fromkeys(gone, "cancelled")
        assert {at_vendor[v] for v in going_on} == {"closed"}
        not_booked = db_rows(
            env,
            "SELECT r.external_ref FROM teacher_notices n JOIN planners r ON r.id = n.planner_id "
            "WHERE n.kind = 'not_booked'",
        )
        assert not {ref for (ref,) in not_booked} & set(CANCELLED)
        for message in messages(env):
            if message["subject"].startswith("Nog te plannen") and message["subject"].endswith("Groep 5"):
                families = [line for line in message["body"].splitlines() if line.startswith("- ")]
                assert families and all("(extra gesprek over de ondersteuning)" in line for line in families)
            if message["subject"].startswith("Nog te plannen") and message["subject"].endswith("Groep 1/2A"):
                assert "(extra gesprek over de ondersteuning)" not in message["body"]

        # Run again, and later again: still exactly one cancelled notice per teacher.
        run(env, engine, rp.planner_closes)
        run(env, engine, rp.planner_closes + timedelta(days=1))
        assert touched(requests.take(), gone) == []
        assert (
            len(cancelled_notices(env))
            == 4
            == len(db_rows(env, "SELECT id FROM teacher_notices WHERE kind = 'cancelled'"))
        )
        assert env.counters()["duplicate_messages"] == 0
    finally:
        env.sim.on_request = None
        engine.store.dispose()


def test_a_planner_cancelled_before_the_closing_is_noticed_there(env):
    """No poll or reminder came in between: the closing itself tells the teachers, once."""
    engine = env.engine()
    try:
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        run(env, engine, release_at(rp) - timedelta(hours=2))
        run(env, engine, release_at(rp))
        run(env, engine, rp.reminders[-1], parents_act=True)  # the polls and reminders caught up to here
        ref = f"{START}:71008"
        vendor_id = planners(env)[ref][1]
        env.control("POST", f"/planners/{vendor_id}/cancel")
        requests = Requests()
        env.sim.on_request = requests

        closing = run(env, engine, rp.planner_closes)
        seen = requests.take()
        assert touched(seen, {vendor_id}) == [("GET", f"/v1/planners/{vendor_id}")]
        assert closing.counts["cancelled notices sent"] == len(teachers(env, "71008")) == 2
        assert planners(env)[ref][2] == "cancelled"
        subjects = [m["subject"] for m in messages(env) if m["recipients"].get("staff_ids")]
        assert subjects.count("Gespreksplanner geannuleerd: startgesprekken Groep 7") == 2
        # Groep 7's extra planner goes on: its bookings are read for its families to contact.
        assert ("GET", f"/v1/planners/{planners(env)[f'{START}:71008:opp'][1]}/bookings") in seen

        run(env, engine, rp.planner_closes + timedelta(hours=1))
        assert touched(requests.take(), {vendor_id}) == []
        assert len(cancelled_notices(env)) == 2
    finally:
        env.sim.on_request = None
        engine.store.dispose()
