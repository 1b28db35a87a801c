"""`connector demo`: a whole school year on the built-in simulator, in accelerated time.

The simulator serves the settings' schools on a free loopback port; the engine runs `run-due`
at a few moments of every school day, exactly as the daemon would, on a fresh database. Between
those moments simulated parents book (most promptly, some late, some never, some cannot: no app)
and the simulated staff (`demo_staff.py`) cancel one planner, plan by hand with half of the
families who did not book, and write their verslagen (most on time, some late, some missing, one
not visible in the ouderportaal). The result is a summary per school and round, with the truth of
every conversation, the same for the same seed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from adapters.simulator import Simulator
from connector.cycle.settings import LoadedSettings
from connector.cycle.yearplan import plan_school
from connector.demo_staff import SchoolStaff
from connector.engine.run import run_due
from connector.engine.schedule import release_at
from connector.review.contact import contact_rows, reason_counts
from connector.review.rounds import round_summaries
from connector.review.verslagen import verslag_rows
from connector.runtime import Runtime, build_engine
from connector.simulation import simulator_config

#: The moments of a day at which the demo runs `run-due`. Three on a school day while a planner is
#: released or open (its opening, bookings, reminders and closing happen within the day), one on such
#: a weekend day (bookings); one on Monday, Wednesday and Friday during the rest of a round
#: (conversations, verslagen) and on the day after its verslag deadline; between rounds one a week,
#: on Monday.
#: A day without a moment is one the daemon was off: its catch-up does the missed roster and verslag
#: check once. Each run-due costs a roster read, so the fewer moments, the shorter the demo (issue
#: W2-7: one a day and three on 162 days ran 2 to 4.5 minutes).
STEPS_PLANNER = (time(7, 30), time(12, 30), time(17, 30))
STEPS_WEEKEND = (time(12, 30),)  # families book on a weekend too; nothing is sent to them then
STEPS_ROUND = (time(7, 30),)
STEPS_QUIET = (time(7, 30),)


def run_demo(
    loaded: LoadedSettings,
    *,
    seed: int = 1,
    pupils_per_school: int = 200,
    progress: Callable[[date, date, date], None] | None = None,
    database: Path | None = None,
    until: date | None = None,
) -> dict:
    """Walk the settings' school year on the simulator; returns the summary (JSON-ready).

    `database`: keep the demo's database at this path (created if missing) instead of a
    temporary file that is deleted at the end, e.g. to review it with `status` and `logs`.
    `until`: stop after this day instead of the end of the year. `progress(day, first, last)` is
    called after each day walked."""
    with demo_year(
        loaded, seed=seed, pupils_per_school=pupils_per_school, progress=progress, database=database, until=until
    ) as year:
        return year.summary


@dataclass(frozen=True)
class DemoYear:
    """A walked demo year whose simulator still runs: its summary, the simulator's address, and
    the settings the walk used (both vendors at that address)."""

    summary: dict
    base_url: str
    loaded: LoadedSettings


@contextmanager
def demo_year(
    loaded: LoadedSettings,
    *,
    seed: int = 1,
    pupils_per_school: int = 200,
    progress: Callable[[date, date, date], None] | None = None,
    database: Path | None = None,
    until: date | None = None,
) -> Iterator[DemoYear]:
    """`run_demo`, with the simulator left running until the block ends: a test can go on from the
    walked year against the same vendors (the web page's "sync now")."""
    zone = ZoneInfo("Europe/Amsterdam")
    plans = [plan_school(loaded.settings, school) for school in loaded.settings.schools]
    first = min(release_at(r) for p in plans for r in p.rounds if r.planner_opens) - timedelta(days=1)
    # Until every verslag was due and every round's pupils not seen were known (its window plus the deadline).
    last = max(
        max(r.verslag_deadline, r.window_end + timedelta(days=r.round.verslag.deadline_days))
        for p in plans
        for r in p.rounds
    ) + timedelta(days=2)
    if until is not None:
        last = min(last, until)
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
        staff = SchoolStaff(sim, plans, seed)
        control = requests.Session()
        day = first.date()
        steps = demo_steps(plans, day, last)
        while day <= last:
            for moment in steps.get(day, ()):
                now = datetime.combine(day, moment, tzinfo=zone)
                control.post(f"{sim.base_url}/_sim/clock", json={"now": now.isoformat()}, timeout=10).raise_for_status()
                control.post(f"{sim.base_url}/_sim/parents/behave", json={}, timeout=30).raise_for_status()
                staff.step(control, now)
                run_due(engine, now, trigger="demo")
            if progress:
                progress(day, first.date(), last)
            day += timedelta(days=1)
        counters = control.get(f"{sim.base_url}/_sim/counters", timeout=10).json()
        end = datetime.combine(last, STEPS_QUIET[0], tzinfo=zone)  # the service's last verslag check
        truth = staff.truth(end)
        reported = {
            (row["brin"], row["round"], item["pupil"], item["conversation"]): item["status"]
            for row in verslag_rows(engine.store, demo_settings)
            for item in row["items"]
        }
        contact = contact_rows(engine.store, demo_settings)
        rounds = round_summaries(engine.store, demo_settings)
        for r in rounds:  # invited = booked + not booked; to contact = its reasons' sum (see _print_summary)
            r["not_booked"] = r["invited"] - r["booked"]
            r["to_contact"] = reason_counts([c for c in contact if (c["brin"], c["round"]) == (r["brin"], r["round"])])
        summary = {
            "seed": seed,
            "from": first.date().isoformat(),
            "to": last.isoformat(),
            "school_years": [
                {
                    "brin": p.school.brin,
                    "year": p.school.school_year.year,
                    "first_day": p.calendar.first_day.isoformat(),
                    "last_day": p.calendar.last_day.isoformat(),
                }
                for p in plans
            ],
            "rounds": rounds,
            "messages_sent": counters["messages_sent"],
            "duplicate_messages": counters["duplicate_messages"],
            "report_agrees": sum(1 for key, (_, status, _) in truth.items() if reported.get(key) == status),
            "truth": [
                {
                    "brin": b,
                    "round": r,
                    "pupil": p,
                    "conversation": c,
                    "how": how,
                    "status": status,
                    "teachers": sorted(who),
                }
                for (b, r, p, c), (how, status, who) in sorted(truth.items())
            ],
        }
        engine.store.dispose()
        assert sim.base_url is not None  # started by the `with`
        yield DemoYear(summary, sim.base_url, demo_loaded)


def demo_steps(plans, first: date, last: date) -> dict[date, tuple[time, ...]]:
    """The demo's moments per day from `first` to `last` (a day not in it has none): see STEPS_PLANNER."""
    planner: set[date] = set()
    active: set[date] = set()
    ends: set[date] = set()  # the day after each round's verslag deadline: its last verdicts
    for plan in plans:
        for rnd in plan.rounds:
            begin = (release_at(rnd).date() if rnd.planner_opens else rnd.window_start) - timedelta(days=1)
            active |= _days(begin, rnd.verslag_deadline + timedelta(days=1))
            ends.add(rnd.verslag_deadline + timedelta(days=1))
            if rnd.planner_closes is not None:
                planner |= _days(begin, rnd.planner_closes.date() + timedelta(days=1))
    out: dict[date, tuple[time, ...]] = {}
    for day in _days(first, last):
        if day in planner:
            out[day] = STEPS_PLANNER if day.weekday() < 5 else STEPS_WEEKEND
        elif day in active and (day.weekday() in (0, 2, 4) or day in ends):
            out[day] = STEPS_ROUND
        elif day.weekday() == 0 or day in (first, last):
            out[day] = STEPS_QUIET
    return out


def _days(begin: date, end: date) -> set[date]:
    return {begin + timedelta(days=n) for n in range((end - begin).days + 1)}
