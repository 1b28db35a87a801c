"""The school calendar follows the government's school holidays and the public holidays."""

from __future__ import annotations

import json
from datetime import date

import pytest

from connector.cycle.schooldays import SchoolCalendar
from connector.cycle.settings.models import School

REGIONS = ("noord", "midden", "zuid")


def school(region: str, year: str = "2025-2026", **extra) -> School:
    return School.model_validate(
        {
            "brin": "12AB00",
            "name": "Test",
            "region": region,
            "school_year": {"year": year},
            "planner_api_key": {"env": "X"},
            **extra,
        }
    )


def rijksoverheid_spans(shared, year: str) -> dict[tuple[str, str], tuple[date, date]]:
    """The open-data file's vacations of one school year, read as its README prescribes."""
    records = json.loads((shared / "data/schoolvakanties/rijksoverheid-schoolholidays-2019-2026.json").read_text())
    spans = {}
    for record in records:
        for content in record["content"]:
            if "".join(content["schoolyear"].split()) != year:
                continue
            for vacation in content["vacations"]:
                name = vacation["type"].strip().lower()
                for region in vacation["regions"]:
                    targets = REGIONS if region["region"] == "heel Nederland" else (region["region"],)
                    for target in targets:
                        spans[(target, name)] = (
                            date.fromisoformat(region["startdate"][:10]),
                            date.fromisoformat(region["enddate"][:10]),
                        )
    return spans


@pytest.mark.parametrize("region", REGIONS)
def test_vacations_match_the_government_open_data(shared, region):
    calendar = SchoolCalendar(school(region))
    expected = rijksoverheid_spans(shared, "2025-2026")
    for name in ("herfstvakantie", "kerstvakantie", "voorjaarsvakantie", "meivakantie"):
        vacation = calendar.vacation(name)
        start, end = expected[(region, name)]
        assert vacation.start == start, name
        assert vacation.end == end, name


@pytest.mark.parametrize("region", REGIONS)
def test_the_school_year_runs_from_summer_to_summer(region):
    calendar = SchoolCalendar(school(region, "2026-2027"))
    assert calendar.first_day.weekday() == 0 and calendar.last_day.weekday() == 4
    assert calendar.closed_reason(calendar.first_day) is None
    assert calendar.closed_reason(calendar.last_day) is None


def test_no_school_on_weekends_public_holidays_vacations_and_free_days():
    calendar = SchoolCalendar(school("midden", "2026-2027", free_days=[{"start": "2026-11-16", "end": "2026-11-17"}]))
    assert calendar.closed_reason(date(2026, 9, 5)) == "weekend"
    assert calendar.closed_reason(date(2027, 4, 27)) == "Koningsdag"
    assert calendar.closed_reason(date(2027, 5, 6)) == "Hemelvaartsdag"
    assert calendar.closed_reason(date(2026, 10, 21)) == "herfstvakantie"
    assert calendar.closed_reason(date(2026, 11, 17)) == "vrije dag"
    assert calendar.is_school_day(date(2026, 11, 18))


def test_a_school_may_move_its_advisory_autumn_holiday():
    moved = school("noord", "2026-2027", vacations={"herfstvakantie": {"start": "2026-10-17", "end": "2026-10-25"}})
    calendar = SchoolCalendar(moved)
    assert calendar.vacation("herfstvakantie").overridden
    assert calendar.is_school_day(date(2026, 10, 12))  # the region's own week (10-18 October) is school again
    assert not calendar.is_school_day(date(2026, 10, 19))


def test_school_days_can_be_limited_to_weekdays():
    calendar = SchoolCalendar(school("midden", "2026-2027"))
    days = calendar.school_days(date(2026, 11, 9), date(2026, 11, 20), ("di", "do"))
    assert days == [date(2026, 11, 10), date(2026, 11, 12), date(2026, 11, 17), date(2026, 11, 19)]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("first_year", [2025, 2026, 2027])
def test_the_netherlands_class_loaded_on_its_own_is_the_one_the_package_gives(region, first_year):
    import holidays

    from connector.cycle.schooldays import netherlands

    years = [first_year, first_year + 1]
    for options in ({"subdiv": region.capitalize(), "categories": "school"}, {}):
        ours = netherlands()(language="nl", years=years, **options)
        theirs = holidays.country_holidays("NL", language="nl", years=years, **options)
        assert sorted(ours.items()) == sorted(theirs.items()) and len(ours) > 5


def test_the_calendar_loads_none_of_the_other_countries_of_the_holidays_package():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; from connector.cycle.schooldays import _region_vacations, _public_holidays; "
        "_region_vacations('midden', 2026); _public_holidays(2026); "
        "print(sorted(m for m in sys.modules if m.startswith('holidays.countries')))"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['holidays.countries.netherlands']"
