"""Everything one engine run works with: settings, store, vendor clients, the moment, the run log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connector.engine.ports import Administration, PlannerApi
from connector.engine.runlog import RunLog
from connector.settings import LoadedSettings
from connector.settings.models import School
from connector.store import Store


@dataclass
class Engine:
    """The engine's collaborators; `planner_for(brin)` gives the school's planner client."""

    loaded: LoadedSettings
    store: Store
    pas: Administration
    planner_for: Callable[[str], PlannerApi]
    dry_run: bool = False
    allow_removals: bool = False
    plans: dict = field(default_factory=dict)

    @property
    def settings(self):
        return self.loaded.settings

    def school_plan(self, school: School):
        """The school's year plan, computed once per engine."""
        from connector.yearplan import plan_school

        if school.brin not in self.plans:
            self.plans[school.brin] = plan_school(self.settings, school)
        return self.plans[school.brin]


@dataclass
class Step:
    """One step of work for one school at one moment, with its run log."""

    engine: Engine
    school: School
    now: datetime
    run: RunLog

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def planner(self) -> PlannerApi:
        return self.engine.planner_for(self.school.brin)
