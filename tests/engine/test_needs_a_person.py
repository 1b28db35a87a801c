"""Work that needs a person is held, not marked done and not asked again every tick (issue W2-2):
refused PAS credentials (`sync` exits 1 naming them, at most one token request an hour, `health`
unhealthy at once, a fixed secret tried at once), a weekly overview with nobody to send it to, and a
planner opening that found no groups because the roster had not been read."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlmodel import delete, select

from connector.engine.run import run_due
from connector.engine.schedule import release_at
from connector.review.held import held_rows
from connector.store.models import Attention, JobMark, Staff, SyncEvent

from .conftest import SECRETS, connector, local, new_env

START = local("2026-08-30 08:00")  # a Sunday before the school year's first week
OVERVIEW_MONDAY = local("2026-09-07 08:00")  # the weekly overview is due on Mondays at 08:00


def token_requests(env) -> int:
    return sum(n for name, n in env.counters()["requests"].items() if name.endswith("/oauth/token"))


def use_pas_secret(env, secret: str) -> None:
    """Point `[pas] client_secret` at a file holding `secret`."""
    path = env.folder / "pas-secret"
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    text = env.settings.read_text(encoding="utf-8")
    replacement = f"client_secret = {{ file = {json.dumps(str(path))} }}"
    text, n = re.subn(r'client_secret = \{ file = "[^"]*" \}', replacement, text)
    assert n == 1, "settings.toml changed shape: no [pas] client_secret file"
    env.settings.write_text(text, encoding="utf-8")


def holds(engine) -> dict[str, Attention]:
    return {row.scope: row for row in held_rows(engine.store)}


def test_refused_pas_credentials_stop_token_requests_for_an_hour_and_make_health_unhealthy(tmp_path):
    env = new_env(tmp_path / "secret", start=START)
    try:
        good = (SECRETS / "pas-client-secret").read_text(encoding="utf-8").strip()
        use_pas_secret(env, "not-the-secret")
        first = connector(env, "sync", "--now", START.isoformat())
        assert first.returncode == 1, first.stdout + first.stderr
        assert "PAS refused the client credentials" in first.stdout and "needs a person" in first.stdout
        assert "Traceback" not in first.stdout + first.stderr
        asked = token_requests(env)
        assert asked >= 1

        again = connector(env, "sync", "--now", (START + timedelta(minutes=10)).isoformat())
        assert again.returncode == 1 and "needs a person since" in again.stdout
        assert token_requests(env) == asked  # the hold, not PAS, answered

        health = connector(env, "health", "--json", "--now", (START + timedelta(minutes=11)).isoformat())
        assert health.returncode == 1
        problems = json.loads(health.stdout)["problems"]
        assert any(p.startswith("the PAS client needs a person") and "client_secret" in p for p in problems), problems

        later = connector(env, "sync", "--now", (START + timedelta(minutes=61)).isoformat())
        assert later.returncode == 1 and token_requests(env) == asked + 1  # an hour on: asked once more

        use_pas_secret(env, good)  # the settings change: tried at once, and the hold goes
        fixed = connector(env, "sync", "--now", (START + timedelta(minutes=62)).isoformat())
        assert "PAS refused" not in fixed.stdout, fixed.stdout
        assert token_requests(env) == asked + 2
        engine = env.engine()
        assert "pas" not in holds(engine)
        engine.store.dispose()
    finally:
        env.stop()


def test_an_overview_with_nobody_to_send_it_to_is_held_not_done_and_sent_after_the_roster_brings_them(tmp_path):
    env = new_env(tmp_path / "overview", start=OVERVIEW_MONDAY - timedelta(hours=3))
    try:
        engine = env.engine()
        monday_roster = OVERVIEW_MONDAY - timedelta(hours=2)
        env.set_clock(monday_roster)
        run_due(engine, monday_roster, trigger="schedule", only="roster")
        with engine.store.write() as session:  # nobody has the directeur or IB role any more
            for staff in session.exec(select(Staff)):
                staff.roles = [r for r in staff.roles if r not in ("directeur", "intern_begeleider")]
                session.add(staff)
        week = f"overview:12AB00:{OVERVIEW_MONDAY:%G-W%V}"
        env.set_clock(OVERVIEW_MONDAY)
        (report,) = run_due(engine, OVERVIEW_MONDAY, trigger="schedule", only="verslagen")
        assert week in report.postponed and week not in report.done
        assert "no staff member with the PAS role directeur or intern_begeleider" in report.reasons[week]
        assert "give the director and the IB that role in PAS (staff roles)" in report.reasons[week]
        assert f"task:{week}" in holds(engine)

        tick = OVERVIEW_MONDAY + timedelta(minutes=1)
        (held,) = run_due(engine, tick, trigger="schedule", only="verslagen")
        assert week in held.postponed and "needs a person since" in held.reasons[week]
        with engine.store.read() as session:
            told = session.exec(select(SyncEvent).where(SyncEvent.action == "overview needs a person")).all()
            assert len(told) == 1  # said once, not at every tick
            assert session.get(JobMark, week) is None

        env.set_clock(OVERVIEW_MONDAY + timedelta(hours=1))
        later = OVERVIEW_MONDAY + timedelta(minutes=30)
        (after,) = run_due(engine, later, trigger="manual", force=frozenset({"roster"}))  # the roles come back
        assert week in after.done, after.reasons  # found its readers (nothing to report yet in September)
        assert f"task:{week}" not in holds(engine)
        engine.store.dispose()
    finally:
        env.stop()


def test_a_planner_opening_that_finds_no_groups_is_not_done_and_opens_once_the_roster_is_read(tmp_path):
    env = new_env(tmp_path / "nogroups", start=START)
    try:
        engine = env.engine()
        school = engine.settings.schools[0]
        first = next(rp for rp in engine.school_plan(school).rounds if rp.round.has_planner)
        opens = release_at(first)
        env.set_clock(opens)
        key = f"open:12AB00:{school.school_year.year}:{first.round_id}"
        (report,) = run_due(engine, opens, trigger="schedule", only="planners")  # the roster was never read
        assert key in report.postponed and "before the school's roster has been read once" in report.reasons[key]
        with engine.store.read() as session:
            assert session.get(JobMark, key) is None
        with engine.store.write() as session:  # the next roster sync releases the hold; it runs first
            session.exec(delete(JobMark).where(JobMark.job == "roster"))
        (after,) = run_due(engine, opens + timedelta(minutes=5), trigger="schedule")
        assert key in after.done, after.reasons
        assert after.counts.get("planners opened", 0) > 0
        assert f"task:{key}" not in holds(engine)
        engine.store.dispose()
    finally:
        env.stop()
