"""`connector demo`: a whole school year on the built-in simulator, in accelerated time.

The simulator serves the settings' schools on a free loopback port; the engine runs `run-due`
at a few moments of every school day, exactly as the daemon would, on a fresh database. Between
those moments simulated parents book (most promptly, some late, some never, some cannot: no app)
and simulated teachers write their verslagen (most on time, some late, some missing, one not
visible in the ouderportaal). The result is a summary per school and round, the same for the
same seed.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from adapters.simulator import Simulator
from connector.cycle.settings import LoadedSettings
from connector.cycle.yearplan import plan_school
from connector.engine.run import run_due
from connector.engine.schedule import release_at
from connector.review.rounds import round_summaries
from connector.runtime import Runtime, build_engine
from connector.simulation import simulator_config

STEPS_ACTIVE = (time(7, 30), time(12, 30), time(17, 30))  # while planners are open or verslagen are due
STEPS_QUIET = (time(7, 30),)


@dataclass(frozen=True)
class PlannedNote:
    brin: str
    pupil_id: str
    category: str
    held_on: date
    created_at: datetime
    visible: bool


def run_demo(
    loaded: LoadedSettings,
    *,
    seed: int = 1,
    pupils_per_school: int = 200,
    progress: Callable[[date], None] | None = None,
    database: Path | None = None,
) -> dict:
    """Walk the settings' school year on the simulator; returns the summary (JSON-ready).

    `database`: keep the demo's database at this path (created if missing) instead of a
    temporary file that is deleted at the end, e.g. to review it with `status` and `logs`."""
    zone = ZoneInfo("Europe/Amsterdam")
    plans = [plan_school(loaded.settings, school) for school in loaded.settings.schools]
    first = min(release_at(r) for p in plans for r in p.rounds if r.planner_opens) - timedelta(days=1)
    last = max(r.verslag_deadline for p in plans for r in p.rounds) + timedelta(days=2)
    start = datetime.combine(first.date(), time(6, 0), tzinfo=zone)
    with (
        tempfile.TemporaryDirectory(prefix="connector-demo-") as folder,
        Simulator(simulator_config(loaded, seed=seed, start=start, pupils_per_school=pupils_per_school)) as sim,
    ):
        store = Path(database) if database is not None else Path(folder) / "demo.db"
        demo_settings = loaded.settings.model_copy(
            update={
                "pas": loaded.settings.pas.model_copy(update={"base_url": sim.base_url}),
                "planner": loaded.settings.planner.model_copy(update={"base_url": sim.base_url}),
                # The whole year's sync log stays, so that `connector logs` can be read against the summary.
                "retention": loaded.settings.retention.model_copy(update={"sync_events_days": 400}),
                # One planner at a time: the simulator hands out its ids, and its parents choose, in the
                # order requests arrive, so only then is the summary the same for the same seed.
                "sync": loaded.settings.sync.model_copy(update={"concurrency": 1}),
            }
        )
        demo_loaded = LoadedSettings(demo_settings, loaded.path)
        engine = build_engine(Runtime(demo_loaded, str(store)), throttle=False)
        teachers = Teachers(sim, plans, seed)
        control = requests.Session()
        active = _active_days(plans)
        day = first.date()
        while day <= last:
            for moment in STEPS_ACTIVE if day in active else STEPS_QUIET:
                now = datetime.combine(day, moment, tzinfo=zone)
                control.post(f"{sim.base_url}/_sim/clock", json={"now": now.isoformat()}, timeout=10).raise_for_status()
                control.post(f"{sim.base_url}/_sim/parents/behave", json={}, timeout=30).raise_for_status()
                teachers.write_due_notes(control, now)
                run_due(engine, now, trigger="demo")
            if progress:
                progress(day)
            day += timedelta(days=1)
        counters = control.get(f"{sim.base_url}/_sim/counters", timeout=10).json()
        summary = {
            "seed": seed,
            "from": first.date().isoformat(),
            "to": last.isoformat(),
            "rounds": round_summaries(engine.store, demo_settings),
            "messages_sent": counters["messages_sent"],
            "duplicate_messages": counters["duplicate_messages"],
        }
        engine.store.dispose()
        return summary


def _active_days(plans) -> set[date]:
    days: set[date] = set()
    for plan in plans:
        for rnd in plan.rounds:
            begin = (release_at(rnd).date() if rnd.planner_opens else rnd.window_start) - timedelta(days=1)
            end = rnd.verslag_deadline + timedelta(days=1)
            days |= {begin + timedelta(days=n) for n in range((end - begin).days + 1)}
    return days


class Teachers:
    """Teachers who write a verslag after each conversation: on time, late, never, or not visible."""

    def __init__(self, sim: Simulator, plans, seed: int) -> None:
        self.sim = sim
        self.plans = plans
        self.seed = seed
        self.planned: dict[tuple, PlannedNote] = {}
        self.written: set[tuple] = set()
        self.hidden_one: set[str] = set()  # schools that already have their one invisible verslag

    def write_due_notes(self, http: requests.Session, now: datetime) -> None:
        self._plan_new(now)
        for key, note in sorted(self.planned.items(), key=lambda item: item[1].created_at):
            if key in self.written or note.created_at > now:
                continue
            body = {
                "pupil_id": note.pupil_id,
                "category": note.category,
                "gespreksdatum": note.held_on.isoformat(),
                "created_at": note.created_at.isoformat(),
                "zichtbaar_ouderportaal": note.visible,
            }
            http.post(f"{self.sim.base_url}/_sim/schools/{note.brin}/notes", json=body, timeout=10).raise_for_status()
            self.written.add(key)

    def _plan_new(self, now: datetime) -> None:
        world = self.sim.world
        with world.lock:
            for plan in self.plans:
                school = world.schools[plan.school.brin]
                for rnd in plan.rounds:
                    category = rnd.round.verslag_category
                    if rnd.round.has_planner:
                        for booking in school.bookings:
                            planner = school.planners.get(booking.planner_id)
                            if (
                                booking.status != "booked"
                                or planner is None
                                or not planner.external_ref.startswith(
                                    f"sync:{plan.school.brin}:{rnd.school_year}:{rnd.round_id}:"
                                )
                            ):
                                continue
                            slot = next((s for s in planner.slots if s.id == booking.slot_id), None)
                            child = school.p_children.get(booking.child_id)
                            if slot and child and child.external_id and slot.start <= now:
                                self._decide(
                                    plan.school.brin,
                                    child.external_id,
                                    category,
                                    slot.start,
                                    rnd.round.verslag.deadline_days,
                                )
                    elif now.date() > rnd.window_end:
                        held = datetime.combine(rnd.window_end, time(12, 0), tzinfo=now.tzinfo)
                        for pupil in school.pupils.values():
                            record = pupil.at(held)
                            if record and record["status"] == "ingeschreven" and record["leerjaar"] in rnd.round.groups:
                                self._decide(
                                    plan.school.brin, pupil.id, category, held, rnd.round.verslag.deadline_days
                                )

    def _decide(self, brin: str, pupil_id: str, category: str, held: datetime, deadline_days: int) -> None:
        key = (brin, pupil_id, category, held.date())
        if key in self.planned:
            return
        rng = random.Random(f"{self.seed}:{brin}:{pupil_id}:{category}:{held.date()}")
        draw = rng.random()
        if draw < 0.08:
            return  # this verslag is never written
        late = draw < 0.18
        days = rng.randint(deadline_days + 2, deadline_days + 6) if late else rng.randint(0, max(0, deadline_days - 2))
        created = (held + timedelta(days=days)).replace(hour=16, minute=rng.randrange(0, 60, 5))
        visible = True
        if brin not in self.hidden_one and not late:
            self.hidden_one.add(brin)
            visible = False
        self.planned[key] = PlannedNote(
            brin, pupil_id, category, held.date(), max(created, held + timedelta(minutes=30)), visible
        )
