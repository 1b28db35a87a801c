"""A school's calendar: which days are school days, and where its vacations fall.

Vacations come from the government's school holidays per region, as the `holidays` package
(>= 0.109, `categories="school"`) carries them; a school may move the advisory herfst- and
voorjaarsvakantie and add its own free days. Public holidays come from the same package (NL).
No conversation is ever placed on a weekend, public holiday, vacation day or free day.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from connector.cycle.settings.models import School

_HOLIDAY_NAMES = {
    "Herfstvakantie": "herfstvakantie",
    "Kerstvakantie": "kerstvakantie",
    "Voorjaarsvakantie": "voorjaarsvakantie",
    "Meivakantie": "meivakantie",
    "Zomervakantie": "zomervakantie",
}
WEEKDAY_CODES = ("ma", "di", "wo", "do", "vr", "za", "zo")


@dataclass(frozen=True)
class Vacation:
    name: str  # lower-case Dutch name, e.g. "herfstvakantie"
    start: date
    end: date  # inclusive
    overridden: bool = False

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


@cache
def netherlands() -> Any:
    """The `holidays` package's Netherlands class: the one `holidays.country_holidays("NL", ...)`
    makes, with the same defaults. Its module is loaded from its file: importing it by name would
    run `holidays/countries/__init__.py`, which imports all of the package's 250 countries (some
    8 MB that the daemon would keep for good, issue W2-6)."""
    name = "holidays.countries.netherlands"
    if name not in sys.modules:
        package = importlib.util.find_spec("holidays")
        assert package is not None and package.submodule_search_locations, "holidays is a dependency"
        path = Path(next(iter(package.submodule_search_locations))) / "countries" / "netherlands.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # a later `import holidays.countries` uses this one
        spec.loader.exec_module(module)
    return sys.modules[name].Netherlands


@cache
def _region_vacations(region: str, first_year: int) -> tuple[Vacation, ...]:
    """Vacations of a region from the summer before a school year to the summer after it."""
    subdiv = region.capitalize()
    table = netherlands()(subdiv=subdiv, categories="school", language="nl", years=[first_year, first_year + 1])
    runs: list[list] = []
    for day, label in sorted(table.items()):
        name = _HOLIDAY_NAMES.get(label)
        if name is None:
            continue
        if runs and runs[-1][0] == name and (day - runs[-1][2]).days == 1:
            runs[-1][2] = day
        else:
            runs.append([name, day, day])
    return tuple(Vacation(name, start, end) for name, start, end in runs)


@cache
def _public_holidays(first_year: int) -> dict[date, str]:
    table = netherlands()(language="nl", years=[first_year, first_year + 1])
    return dict(table.items())


class SchoolCalendar:
    """The days of one school year of one school."""

    def __init__(self, school: School) -> None:
        self.school = school
        year = school.school_year.first_calendar_year
        self._public = _public_holidays(year)
        region = list(_region_vacations(school.region, year))
        # Summer holidays bound the year; the one in the first calendar year precedes it.
        summers = [v for v in region if v.name == "zomervakantie"]
        self.summer_before = next((v for v in summers if v.start.year == year), None)
        self.summer_after = next((v for v in summers if v.start.year == year + 1), None)
        self.first_day = school.school_year.first_day or self._default_first_day(year)
        self.last_day = school.school_year.last_day or self._default_last_day(year)
        self.vacations = self._vacations_in_year(region)
        self._free = [(r.start, r.end) for r in school.free_days]

    def _default_first_day(self, year: int) -> date:
        if self.summer_before is None:
            raise LookupError(
                f"no summer holiday known for region {self.school.region} in {year}; set school_year.first_day"
            )
        return self.summer_before.end + timedelta(days=1)

    def _default_last_day(self, year: int) -> date:
        if self.summer_after is None:
            raise LookupError(
                f"no summer holiday known for region {self.school.region} in {year + 1}; set school_year.last_day"
            )
        return self.summer_after.start - timedelta(days=1)

    def _vacations_in_year(self, region: list[Vacation]) -> dict[str, Vacation]:
        """Vacations between the first and last day, keyed by name, with the school's own dates."""
        found: dict[str, Vacation] = {}
        for vacation in region:
            if vacation.name == "zomervakantie":
                continue
            if vacation.end >= self.first_day and vacation.start <= self.last_day:
                found.setdefault(vacation.name, vacation)
        for name, own in self.school.vacations.items():
            found[name] = Vacation(name, own.start, own.end, overridden=True)
        end = self.summer_after
        found["zomervakantie"] = (
            end
            if end
            else Vacation("zomervakantie", self.last_day + timedelta(days=1), self.last_day + timedelta(days=42))
        )
        return found

    def closed_reason(self, day: date) -> str | None:
        """Why there is no school on `day` (weekend, a holiday's or vacation's name), or None."""
        if day.weekday() >= 5:
            return "weekend"
        if day in self._public:
            return self._public[day]
        for vacation in self.vacations.values():
            if day in vacation:
                return vacation.name
        for start, end in self._free:
            if start <= day <= end:
                return "vrije dag"
        if not self.first_day <= day <= self.last_day:
            return "buiten het schooljaar"
        return None

    def is_school_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def previous_school_day(self, day: date) -> date | None:
        """`day` if it is a school day, else the last school day before it; None when the school
        year has no school day that early."""
        while day >= self.first_day:
            if self.is_school_day(day):
                return day
            day -= timedelta(days=1)
        return None

    def vacation_on(self, day: date) -> Vacation | None:
        """The vacation `day` falls in, if any (not a weekend, public holiday or free day)."""
        return next((v for v in self.vacations.values() if day in v), None)

    def school_days(self, start: date, end: date, weekdays: tuple[str, ...] | None = None) -> list[date]:
        """School days from start to end inclusive, optionally only on the given weekdays."""
        days = []
        day = start
        while day <= end:
            if self.is_school_day(day) and (weekdays is None or WEEKDAY_CODES[day.weekday()] in weekdays):
                days.append(day)
            day += timedelta(days=1)
        return days

    def vacation(self, name: str) -> Vacation:
        """The school's vacation of that name in this school year; KeyError when there is none."""
        return self.vacations[name]
