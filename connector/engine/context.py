"""Everything one engine run works with: settings, store, vendor clients, the moment, the run log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from connector.cycle.settings import LoadedSettings
from connector.cycle.settings.models import School
from connector.engine.ports import Administration, PlannerApi
from connector.engine.runlog import Findings, RunLog
from connector.store import Store


@dataclass
class Engine:
    """The engine's collaborators; `planner_for(brin)` gives the school's planner client."""

    loaded: LoadedSettings
    store: Store
    pas: Administration
    planner_for: Callable[[str], PlannerApi]
    allow_removals: bool = False
    plans: dict = field(default_factory=dict)

    @classmethod
    def offline(cls, loaded: LoadedSettings, store: Store) -> Engine:
        """An engine without vendor clients: what the query layer and `health` need (the year
        plans, the done keys), and nothing that could call a vendor."""

        def no_planner(brin: str) -> PlannerApi:
            raise RuntimeError(f"an offline engine has no planner client (school {brin})")

        return cls(loaded, store, cast(Administration, None), no_planner)

    @property
    def settings(self):
        return self.loaded.settings

    def done_keys(self, brin: str) -> frozenset[str]:
        """The keys of the school's work marked done (`schedule.py`)."""
        from connector.engine.jobs import done_keys

        return done_keys(self.store, brin)

    def school_plan(self, school: School):
        """The school's year plan, computed once per engine."""
        from connector.cycle.yearplan import plan_school

        if school.brin not in self.plans:
            self.plans[school.brin] = plan_school(self.settings, school)
        return self.plans[school.brin]


@dataclass
class Step:
    """One step of work for one school at one moment, with its run log: the run's `RunLog` when
    executing, `Findings` when planning (planning writes nothing, not even events)."""

    engine: Engine
    school: School
    now: datetime
    run: RunLog | Findings
    school_id: int | None = None  # the school's and its year's store ids; None: not stored yet
    year_id: int | None = None

    @property
    def run_log(self) -> RunLog:
        """The run's `RunLog`: what only executing does (side effects, counts) needs it."""
        assert isinstance(self.run, RunLog), "a planning step records findings only"
        return self.run

    @property
    def store(self) -> Store:
        return self.engine.store

    def local_date(self, moment: datetime | None = None) -> date:
        """The school's calendar day of `moment` (default: the step's now)."""
        return (self.now if moment is None else moment).astimezone(ZoneInfo(self.school.timezone)).date()

    @property
    def planner(self) -> PlannerApi:
        return self.engine.planner_for(self.school.brin)
