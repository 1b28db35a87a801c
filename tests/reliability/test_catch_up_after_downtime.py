"""Issue "[P6] Proof at school-board scale": the connector is down over a Monday and catches up.

Found while building this suite: the weekly overview for the director and IB (due Monday
08:00) is computed from the conversations the daily verslag check (07:00) records. When the
connector was down over that Monday, the catch-up tick does the overview *before* that day's
verslag check (due_tasks orders the catch-up by due time, and only the latest verslag check is
due: the missed Monday's one is never run on its own), finds no conversation recorded yet, and
`oversight.send_overview` returns without sending, without an event and without an intent; the
overview key is then marked done. The overview of that week is lost for good, and the sync log
does not say so.
"""

from __future__ import annotations

from .conftest import fresh_env, make_engine, message_counts, start_round_moments, walk_year

SUBJECT = "Overzicht gesprekkencyclus week 38"


def overviews(walk_moments, env) -> int:
    engine = make_engine(env)
    walk = walk_year(env, engine, walk_moments, drain=False)
    engine.store.dispose()
    assert not walk.postponed()
    return sum(n for (_recipients, subject), n in message_counts(env).items() if subject == SUBJECT), walk.done()


def test_with_the_connector_up_on_monday_the_weekly_overview_is_sent_once(tmp_path):
    env = fresh_env(tmp_path / "env")
    try:
        sent, done = overviews(start_round_moments(env), env)
    finally:
        env.stop()
    assert sent == 1


def test_after_downtime_over_monday_the_catch_up_still_sends_that_weeks_overview(tmp_path):
    env = fresh_env(tmp_path / "env")
    try:
        moments = [
            m for m in start_round_moments(env) if m.at.strftime("%m-%d") != "09-14"
        ]  # down Mon 09-14 .. Wed 09-16 07:30
        sent, done = overviews(moments, env)
    finally:
        env.stop()
    assert "overview:12AB00:2026-W38" in done  # the catch-up did "do" it
    assert sent == 1
