"""The built-in simulator, set up to serve exactly the schools and credentials of a settings file."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.simulator import FaultConfig, SimConfig, SimSchool
from connector.cycle.settings import LoadedSettings


def simulator_config(
    loaded: LoadedSettings,
    *,
    seed: int = 1,
    faults: FaultConfig | None = None,
    start: datetime | None = None,
    pupils_per_school: int = 200,
) -> SimConfig:
    """A simulator whose schools are the settings' schools, accepting the settings' secrets."""
    s = loaded.settings
    schools = tuple(
        SimSchool(school.brin, school.name, school.region, loaded.read_secret(school.planner_api_key))
        for school in s.schools
    )
    year = s.schools[0].school_year.year
    first = int(year[:4])
    return SimConfig(
        schools=schools,
        pas_client_id=s.pas.client_id,
        pas_client_secret=loaded.read_secret(s.pas.client_secret),
        seed=seed,
        faults=faults or FaultConfig(),
        start_time=start or datetime(first, 8, 1, 8, 0, tzinfo=ZoneInfo("Europe/Amsterdam")),
        school_year=year,
        pupils_per_school=pupils_per_school,
    )
