"""Issue "[P3] The sync engine end to end": `run-due` repeated at the same moment makes no write
call to either system.

The default settings (one school, 12AB00) walk the first rounds of the school year on the
simulator over real HTTP; at each interesting moment `run_due` runs twice at the very same
instant. The first run does the moment's work (checked, so the moment really is interesting);
the second reports nothing done and makes no write request at all: the simulator's write
counter, its count of messages sent, and its per-endpoint request counts of every non-GET
call stay the same.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from connector.engine.run import run_due

from .conftest import BRIN, Env, is_write, local, new_env

YEAR = "2026-2027"

# (label, local moment, parents act first, work the first run must do, the first run writes)
MOMENTS = [
    # The start round on school days: released on the first school day, open from Tuesday, one
    # reminder (Saturday's moved onto the closing, so dropped), closed on Friday.
    (
        "start round released",
        "2026-08-31 08:00",
        False,
        [f"roster:{BRIN}:2026-08-31", f"open:{BRIN}:{YEAR}:start"],
        True,
    ),
    (
        "start round open, first bookings",
        "2026-09-01 12:00",
        True,
        [f"roster:{BRIN}:2026-09-01", f"bookings:{BRIN}:{YEAR}:start:4"],
        False,
    ),
    (
        "reminder, 17:00, some families not booked",
        "2026-09-03 17:00",
        True,
        [f"remind:{BRIN}:{YEAR}:start:20260903T1700"],
        True,
    ),
    ("start round planners close", "2026-09-04 17:00", False, [f"close:{BRIN}:{YEAR}:start"], True),
    ("verslag check after the conversations", "2026-09-14 07:00", False, [f"verslagen:{BRIN}:2026-09-14"], None),
    (
        "advies-8 round released (after the arrival of a pupil), before the herfstvakantie",
        "2026-10-15 08:00",
        False,
        [f"open:{BRIN}:{YEAR}:advies-8"],
        True,
    ),
]


def write_requests(counters: dict) -> dict[str, int]:
    """Requests per endpoint that are writes to either vendor (non-GET; not the PAS token)."""
    return {name: n for name, n in counters["requests"].items() if is_write(*_method_path(name))}


def _method_path(name: str) -> tuple[str, str]:
    method, path = name.split(" ", 1)
    return method, path


@pytest.fixture
def env(tmp_path) -> Env:
    env = new_env(tmp_path / "env", start=local("2026-08-30 07:00"))
    yield env
    env.stop()


def test_run_due_twice_at_the_same_moment_writes_nothing_the_second_time(env):
    engine = env.engine()
    try:
        writes_before = 0
        for label, text, parents_act, expected, writes in MOMENTS:
            now: datetime = local(text)
            env.set_clock(now)
            if parents_act:
                env.behave()

            first = run_due(engine, now, trigger="run-due")
            after_first = env.counters()
            done = [key for report in first for key in report.done]
            assert [r.postponed for r in first] == [[]], f"{label}: postponed {first}"
            assert set(expected) <= set(done), f"{label}: the first run did {done}, expected at least {expected}"

            second = run_due(engine, now, trigger="run-due")
            after_second = env.counters()
            assert [(r.brin, r.done, r.postponed, r.outcome) for r in second] == [(BRIN, [], [], "nothing due")], label
            assert after_second["writes_total"] == after_first["writes_total"], label
            assert after_second["messages_sent"] == after_first["messages_sent"], label
            assert write_requests(after_second) == write_requests(after_first), (
                f"{label}: the repeat made a write request"
            )
            assert after_second["duplicate_messages"] == 0, label
            if writes is not None:
                assert (after_first["writes_total"] > writes_before) is writes, f"{label}: writes of the first run"
            writes_before = after_second["writes_total"]

        final = env.counters()
        # The walk did real work: planners of two rounds, reminders and teacher notices.
        assert final["writes"]["POST /v1/planners"] >= 2 * 8
        assert final["writes"]["POST /v1/planners/{planner_id}/open"] == final["writes"]["POST /v1/planners"]
        assert final["messages_sent"] > 0
        assert writes_before == final["writes_total"]
    finally:
        engine.store.dispose()
