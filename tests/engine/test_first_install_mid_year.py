"""Issue W2-3: installed on 1 December, the first runs judge no round that ended before the service
began. October's kindgesprekken and the startgesprekken ran before it: PAS holds their notes, and
the service records no conversation of them and says so in `status`; a round that runs after the
install is judged as usual."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from connector.engine.run import run_due
from connector.store.models import Conversation, Round
from tests.engine.conftest import BRIN, connector, local, new_env


def test_a_first_install_on_1_december_judges_no_round_that_ended_before_it(tmp_path):
    install = local("2026-12-01 07:00")
    env = new_env(tmp_path / "env", start=install)
    try:
        october = local("2026-10-20 12:00")  # a day of the kindgesprek window (kind-okt)
        for pupil in list(env.sim.world.schools[BRIN].pupils)[:30]:  # verslagen the teachers wrote in October
            body = {"pupil_id": pupil, "category": "Kindgesprek", "created_at": october.isoformat()}
            env.control("POST", f"/schools/{BRIN}/notes", {**body, "gespreksdatum": "2026-10-20"})
        engine = env.engine()
        moment = install
        for _ in range(3):  # the install, and two ordinary days after it
            env.set_clock(moment)
            run_due(engine, moment, trigger="schedule")
            moment += timedelta(days=1)
        with engine.store.read() as session:
            judged = session.exec(select(Round.round_key).join(Conversation, Conversation.round_id == Round.id))
            assert set(judged) == set()  # kind-okt and start ended before 1 December
        engine.store.dispose()
        result = connector(env, "status", "--json", "--all", "--now", moment.isoformat())
        assert result.returncode in (0, 1), result.stderr
        [school] = json.loads(result.stdout)["schools"]
        phases = {r["round"]: r["phase"] for r in school["rounds"]}
        assert phases["kind-okt"].startswith("before the service") and phases["start"].startswith("before the service")
        assert not phases["rapport-feb"].startswith("before the service")
        assert {r["round"]: r["verslagen"]["missing"] for r in school["rounds"]}["kind-okt"] == 0
        kinds = {a["kind"] for a in school["attention"]}
        assert "verslagen_overdue" not in kinds and "not_seen" not in kinds
    finally:
        env.stop()
