"""`connector sync --dry-run` changes nothing anywhere; a pupil who arrives while a round's
planners are open is invited in a planner of their own."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlmodel import select

from connector.engine.run import run_due
from connector.store import Store
from connector.store.models import JobMark, Planner

from .conftest import BRIN, local, new_env, planners_at_vendor


def test_a_dry_run_sync_says_what_it_would_do_and_changes_nothing(tmp_path):
    env = new_env(tmp_path / "dry", start=local("2026-08-31 08:00"))  # the start round's release
    try:
        before = env.counters()["writes_total"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "connector",
                "sync",
                "--dry-run",
                "--now",
                local("2026-08-31 08:00").isoformat(),
                "--settings",
                str(env.settings),
            ],
            cwd=env.folder,
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "dry run: would do planners opened, Startgesprekken (start)" in result.stdout
        assert env.counters()["writes_total"] == before and planners_at_vendor(env.sim) == []
        store = Store(str(env.db))
        with store.read() as session:
            assert list(session.exec(select(JobMark.key))) == [] and list(session.exec(select(Planner.id))) == []
        store.dispose()
    finally:
        env.stop()


def test_a_pupil_who_arrives_while_planners_are_open_gets_a_planner_of_their_own(tmp_path):
    env = new_env(tmp_path / "arrival", start=local("2026-08-31 08:00"))
    try:
        engine = env.engine()
        run_due(engine, local("2026-08-31 08:00"), trigger="test")  # the start round's release
        opened = {p["external_ref"] for p in planners_at_vendor(env.sim)}
        group = next(g for g in env.sim.world.schools[BRIN].groups if g["leerjaren"] == [5])
        arrived = env.control("POST", f"/schools/{BRIN}/pupils", {"group_id": group["id"], "planner_delay_hours": 0})
        env.set_clock(local("2026-09-01 07:00"))
        run_due(engine, local("2026-09-01 07:00"), trigger="test")  # the nightly roster sees the new pupil
        late = [p for p in planners_at_vendor(env.sim) if p["external_ref"] not in opened]
        assert [p["external_ref"] for p in late] == [
            f"sync:{BRIN}:2026-2027:start:{group['id']}:{arrived['pupil']['id']}"
        ]
        assert late[0]["invitees"] == [arrived["child_id"]] and late[0]["released"]
        run_due(engine, local("2026-09-02 07:00"), trigger="test")
        assert len(planners_at_vendor(env.sim)) == len(opened) + 1  # once, not again the next night
        engine.store.dispose()
    finally:
        env.stop()
