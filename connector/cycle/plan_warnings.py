"""Warnings about a year plan that is valid but probably not what the school meant (issue W2-3).

`check-config` prints them after its result; they never make the settings invalid. A round is
warned about when its booking period, as the settings put it (from the siblings' release to the
closing), lies wholly inside one vacation, so that moving it onto school days changes it much;
or when its verslag deadline falls in a vacation. Pure: read from the plan and its calendar.
"""

from __future__ import annotations

from datetime import date, datetime

from connector.cycle.schooldays import Vacation
from connector.cycle.yearplan import PlannerMoments, RoundPlan, SchoolPlan

DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


def plan_warnings(plan: SchoolPlan) -> list[str]:
    """The warnings for every round of one school's year plan, in the plan's order."""
    found: list[str] = []
    for rp in plan.rounds:
        where = f"school {plan.school.brin}, round {rp.round_id}"
        configured = rp.configured
        if configured is not None:
            vacation = plan.calendar.vacation_on(configured.release.date())
            if vacation is not None and configured.closes.date() in vacation:
                found.append(
                    f"{where}: the booking period as set ({_moment(configured.release)} to "
                    f"{_moment(configured.closes)}) lies wholly in the {_vacation(vacation)}, so it was moved onto "
                    f"school days: {'; '.join(_moves(configured, _moved(rp)))}"
                )
        vacation = plan.calendar.vacation_on(rp.verslag_deadline)
        if vacation is not None:
            found.append(
                f"{where}: the verslag deadline {_day(rp.verslag_deadline)} falls in the {_vacation(vacation)}; "
                "the deadline itself is not moved"
            )
    return found


def _moved(rp: RoundPlan) -> PlannerMoments:
    assert rp.planner_release is not None and rp.planner_opens is not None and rp.planner_closes is not None
    return PlannerMoments(rp.planner_release, rp.planner_opens, rp.planner_closes, rp.reminders)


def _moves(configured: PlannerMoments, moved: PlannerMoments) -> list[str]:
    """What moved, in the order parents and teachers meet it."""
    out = []
    for what, before, after in (
        ("siblings' release", configured.release, moved.release),
        ("opening", configured.opens, moved.opens),
        ("closing", configured.closes, moved.closes),
    ):
        if before != after:
            out.append(f"{what} moved from {_day(before.date())} to {_day(after.date())}")
    if configured.reminders != moved.reminders:
        before_text = ", ".join(_day(m.date()) for m in configured.reminders)
        after_text = ", ".join(_day(m.date()) for m in moved.reminders) or "none (no school day left for them)"
        out.append(f"reminders moved from {before_text} to {after_text}")
    return out or ["nothing moved"]


def _vacation(vacation: Vacation) -> str:
    return f"{vacation.name} ({_day(vacation.start)} to {_day(vacation.end)})"


def _day(day: date) -> str:
    """`zondag 2027-02-15`: the weekday (what a school reads a calendar by) and the date as every command writes it."""
    return f"{DAYS[day.weekday()]} {day:%Y-%m-%d}"


def _moment(moment: datetime) -> str:
    return f"{_day(moment.date())} {moment:%H:%M}"
