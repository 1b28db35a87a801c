"""Render the year plan as a terminal table, JSON, or an RFC 5545 calendar."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from rich.console import Console
from rich.table import Table

from connector.cycle.capacity import CapacityWarning
from connector.cycle.yearplan import RoundPlan, SchoolPlan
from connector.review.times import local_time

# Per school (BRIN): its capacity warnings, or None when its roster has not been read yet.
Capacity = dict[str, list[CapacityWarning] | None]
NOT_CHECKED = "capacity not checked: no roster read yet"

PRODID = "-//gesprekken-connector//jaarplanning//NL"


def _ranges(numbers: tuple[int, ...]) -> str:
    """(1, 2, 3, 5) as "1-3, 5"."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _groups(plan: RoundPlan) -> str:
    groups = _ranges(plan.round.groups)
    if plan.round.participation.value == "optional":
        must = _ranges(plan.round.mandatory_groups)
        return f"{groups}\n[dim]optional{'; all of ' + must if must else ''}[/dim]"
    return groups


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment as people at the school read it."""
    return moment.astimezone(zone)


def render_table(plans: list[SchoolPlan], console: Console, capacity: Capacity) -> None:
    """One table per school: each round's window, the siblings' release, the planner's opening and
    closing, the verslag deadline; under it, the school's capacity warnings."""
    for school_plan in plans:
        school = school_plan.school
        zone = ZoneInfo(school.timezone)
        cal = school_plan.calendar
        table = Table(
            title=f"{school.name} ({school.brin}) {school.school_year.year}: "
            f"{cal.first_day:%Y-%m-%d} to {cal.last_day:%Y-%m-%d} (times {zone.key})",
            title_justify="left",
        )
        table.add_column("round", overflow="fold")
        table.add_column("groups")
        table.add_column("window (days)")
        table.add_column("planner", no_wrap=True)
        table.add_column("verslag by")
        for plan in school_plan.rounds:
            r = plan.round
            if plan.planner_release and plan.planner_opens and plan.planner_closes:
                planner = (
                    f"[dim]siblings[/dim] {local_time(plan.planner_release, zone)}\n"
                    f"[dim]open[/dim]     {local_time(plan.planner_opens, zone)}\n"
                    f"[dim]closed[/dim]   {local_time(plan.planner_closes, zone)}"
                )
            else:
                planner = "no planner"
            table.add_row(
                f"{r.id}\n[dim]{r.kind.value}, {r.slot_minutes} min[/dim]",
                _groups(plan),
                f"{plan.window_start:%Y-%m-%d} → {plan.window_end:%Y-%m-%d}\n"
                f"[dim]{len(plan.conversation_days)} days[/dim]",
                planner,
                f"{plan.verslag_deadline:%Y-%m-%d}\n[dim]{r.verslag_category}[/dim]",
            )
        console.print(table)
        found = capacity[school.brin]
        if found is None:
            console.print(NOT_CHECKED, style="dim", markup=False, highlight=False, soft_wrap=True)
        for warning in found or []:
            level, style = ("note", "yellow") if warning.margin else ("warning", "bold yellow")
            console.print(f"{level}: {warning.message}", style=style, markup=False, highlight=False, soft_wrap=True)


def render_json(plans: list[SchoolPlan], capacity: Capacity) -> str:
    """The year plan per school; `capacity_checked` false (and no warnings) before its roster was read."""
    return json.dumps(
        {
            "schools": [
                {
                    "brin": p.school.brin,
                    "name": p.school.name,
                    "school_year": p.school.school_year.year,
                    "first_day": p.calendar.first_day.isoformat(),
                    "last_day": p.calendar.last_day.isoformat(),
                    "vacations": {
                        v.name: [v.start.isoformat(), v.end.isoformat()] for v in p.calendar.vacations.values()
                    },
                    "rounds": [r.as_dict() for r in p.rounds],
                    "capacity_checked": capacity[p.school.brin] is not None,
                    "warnings": [
                        {"level": "note" if w.margin else "warning", "message": w.message}
                        for w in capacity[p.school.brin] or []
                    ],
                }
                for p in plans
            ]
        },
        indent=2,
        ensure_ascii=False,
    )


def render_ics(plans: list[SchoolPlan], now: datetime | None = None) -> bytes:
    """A calendar with, per school and round, the conversation window, the siblings' head start, the
    planner period and the verslag deadline."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Gesprekkencyclus")
    for school_plan in plans:
        school = school_plan.school
        zone = ZoneInfo(school.timezone)
        for plan in school_plan.rounds:
            uid = f"{school.brin}-{plan.school_year}-{plan.round.id}"
            details = [
                f"Groepen: {_groups(plan)}",
                f"Gespreksdagen: {', '.join(d.isoformat() for d in plan.conversation_days)}",
                f"Gesprek: {plan.round.slot_minutes} minuten",
                f"Verslag ({plan.round.verslag_category}) uiterlijk {plan.verslag_deadline.isoformat()}",
            ]
            release, opens, closes = plan.planner_release, plan.planner_opens, plan.planner_closes
            if release and opens and closes:
                release, opens, closes = _local(release, zone), _local(opens, zone), _local(closes, zone)
                details.insert(2, f"Planner open van {opens:%Y-%m-%d %H:%M} tot {closes:%Y-%m-%d %H:%M}")
                if release < opens:
                    details.insert(2, f"Broers en zussen kiezen eerst: vanaf {release:%Y-%m-%d %H:%M}")
            cal.add_component(
                _event(
                    f"{uid}-window",
                    stamp,
                    f"{plan.round.name} ({school.name})",
                    plan.window_start,
                    plan.window_end + timedelta(days=1),
                    "\n".join(details),
                )
            )
            if release and opens and closes:
                if release < opens:
                    cal.add_component(
                        _event(
                            f"{uid}-release",
                            stamp,
                            f"Gespreksplanner open voor broers en zussen: {plan.round.name} ({school.name})",
                            release,
                            opens,
                            "Ouders met meer kinderen op school kiezen eerst een tijd.",
                        )
                    )
                cal.add_component(
                    _event(
                        f"{uid}-planner",
                        stamp,
                        f"Gespreksplanner open: {plan.round.name} ({school.name})",
                        opens,
                        closes,
                        "Ouders kiezen een tijd.",
                    )
                )
            deadline = plan.verslag_deadline
            cal.add_component(
                _event(
                    f"{uid}-verslag",
                    stamp,
                    f"Verslagen {plan.round.name} uiterlijk ({school.name})",
                    deadline,
                    deadline + timedelta(days=1),
                    f"Categorie {plan.round.verslag_category}, zichtbaar in het ouderportaal.",
                )
            )
    cal.add_missing_timezones()
    return cal.to_ical()


def _event(uid: str, stamp: datetime, summary: str, start, end, description: str) -> Event:
    event = Event()
    event.add("uid", f"{uid}@gesprekken-connector")
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    return event
