"""The year plan: each round of each school placed on the school's calendar.

Business dates ("the week before the round") are computed here on local dates; instants carry
the school's time zone (pitfalls.md, APScheduler: compute dates in our own code).

Nothing that parents or teachers receive is sent on a weekend, public holiday, vacation day or
free day (issue W2-3): the planner's moments as the settings put them (`PlannerMoments`,
`configured_moments`) are moved onto school days (`on_school_days`), keeping their clock time.
The closing and each reminder move back to the previous school day; the opening moves back one
day at a time until it and the siblings' release before it are both school days, and before the
closing. Only when the school year has no such day that early (a round in its first week) does
the opening move forward instead. The moved moments are the plan's: every due rule, message and
plan output uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connector.cycle.schooldays import SchoolCalendar
from connector.cycle.settings.models import (
    HoursWindow,
    Participation,
    PlannerTiming,
    Round,
    RoundKind,
    School,
    Settings,
    Window,
)


class PlanProblem(ValueError):
    """A round that cannot be placed on a school's calendar; `field` is the key below the round."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PlannerMoments:
    """The moments of a round's planners, in the school's time zone."""

    release: datetime  # created and released to families with several children (siblings' head start)
    opens: datetime  # open to every family
    closes: datetime  # bookings close; each teacher gets the families to contact
    reminders: tuple[datetime, ...]  # to families still to book


@dataclass(frozen=True)
class RoundPlan:
    """One round of one school, placed on the calendar."""

    brin: str
    school_year: str
    round: Round
    window_start: date
    window_end: date
    conversation_days: tuple[date, ...]
    hours: tuple[tuple[time, time], ...]
    planner_opens: datetime | None
    planner_closes: datetime | None
    reminders: tuple[datetime, ...]
    verslag_deadline: date  # for the last conversation day of the round
    # The planner's moments as the settings put them, before they were moved onto school days.
    configured: PlannerMoments | None = None

    @property
    def round_id(self) -> str:
        return self.round.id

    @property
    def planner_release(self) -> datetime | None:
        """When the planners are created and released to siblings: before opening, by the head start
        (the moment `schedule.release_at` makes the planners due)."""
        if self.planner_opens is None:
            return None
        return release_before(self.planner_opens, self.round.planner)

    @property
    def first_conversation_day(self) -> date:
        return self.conversation_days[0]

    @property
    def last_conversation_day(self) -> date:
        return self.conversation_days[-1]

    def as_dict(self) -> dict:
        """A JSON-ready description of the round's plan."""
        r = self.round
        return {
            "brin": self.brin,
            "school_year": self.school_year,
            "round": r.id,
            "name": r.name,
            "kind": r.kind.value,
            "groups": list(r.groups),
            "participation": r.participation.value,
            "mandatory_groups": list(r.mandatory_groups)
            if r.participation is Participation.OPTIONAL
            else list(r.groups),
            "slot_minutes": r.slot_minutes,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "conversation_days": [d.isoformat() for d in self.conversation_days],
            "hours": [f"{s:%H:%M}-{e:%H:%M}" for s, e in self.hours],
            "uses_planner": r.has_planner,
            "planner_release": self.planner_release.isoformat() if self.planner_release else None,
            "planner_opens": self.planner_opens.isoformat() if self.planner_opens else None,
            "planner_closes": self.planner_closes.isoformat() if self.planner_closes else None,
            "reminders": [m.isoformat() for m in self.reminders],
            "verslag_category": r.verslag_category,
            "verslag_deadline": self.verslag_deadline.isoformat(),
        }


@dataclass(frozen=True)
class SchoolPlan:
    school: School
    calendar: SchoolCalendar
    rounds: tuple[RoundPlan, ...]


def resolve_window(calendar: SchoolCalendar, window: Window) -> tuple[date, date]:
    """The first and last calendar day of a window; raises PlanProblem when it cannot be placed."""
    if window.start is not None and window.end is not None:
        return window.start, window.end
    return _trim_weekends(*_rule_window(calendar, window))


def _trim_weekends(start: date, end: date) -> tuple[date, date]:
    """A rule's window starts and ends on weekdays (a window of only a weekend stays as it is)."""
    first, last = start, end
    while first <= last and first.weekday() >= 5:
        first += timedelta(days=1)
    while last >= first and last.weekday() >= 5:
        last -= timedelta(days=1)
    return (first, last) if first <= last else (start, end)


def _rule_window(calendar: SchoolCalendar, window: Window) -> tuple[date, date]:
    if window.school_week is not None:
        return _school_weeks(calendar, window.school_week, window.weeks or 1)
    if window.month is not None:
        month = window.month_number()
        year = calendar.first_day.year if month >= 8 else calendar.first_day.year + 1
        first = date(year, month, 1)
        last = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
        return first, last
    after = _vacation(calendar, window.after, "after") if window.after else None
    before = _vacation(calendar, window.before, "before") if window.before else None
    if after and before:
        start, end = after.end + timedelta(days=1), before.start - timedelta(days=1)
        if end < start:
            raise PlanProblem(
                "before", f"{before.name} ({before.start}) does not come after {after.name} ({after.end})"
            )
        return start, end
    span = timedelta(days=7 * (window.weeks or 1))
    if after:
        start = after.end + timedelta(days=1)
        return start, start + span - timedelta(days=1)
    assert before is not None
    end = before.start - timedelta(days=1)
    return end - span + timedelta(days=1), end


def _vacation(calendar: SchoolCalendar, name: str, field: str):
    try:
        return calendar.vacation(name)
    except KeyError:
        raise PlanProblem(field, f"{name} does not fall in school year {calendar.school.school_year.year}") from None


def _school_weeks(calendar: SchoolCalendar, number: int, weeks: int) -> tuple[date, date]:
    """Week `number` (and the following ones) of the school year, counting weeks with school days."""
    monday = calendar.first_day - timedelta(days=calendar.first_day.weekday())
    counted: list[date] = []
    while monday <= calendar.last_day and len(counted) < number + weeks - 1:
        if calendar.school_days(monday, monday + timedelta(days=4)):
            counted.append(monday)
        monday += timedelta(days=7)
    if len(counted) < number + weeks - 1:
        raise PlanProblem(
            "school_week", f"school year {calendar.school.school_year.year} has only {len(counted)} school weeks"
        )
    start = max(counted[number - 1], calendar.first_day)
    return start, counted[number + weeks - 2] + timedelta(days=4)


def release_before(opens: datetime, timing: PlannerTiming) -> datetime:
    """The siblings' release for an opening: the head start earlier, on the wall clock."""
    return opens - timedelta(hours=timing.sibling_head_start_hours)


def configured_moments(timing: PlannerTiming, first_day: date, zone: ZoneInfo) -> PlannerMoments:
    """The planner's moments as the settings put them, relative to the first conversation day."""
    opens = datetime.combine(first_day - timedelta(days=timing.opens_days_before), timing.opens_at, tzinfo=zone)
    closes = datetime.combine(first_day - timedelta(days=timing.closes_days_before), timing.closes_at, tzinfo=zone)
    reminders = tuple(
        sorted(
            datetime.combine(closes.date() - timedelta(days=d), timing.closes_at, tzinfo=zone)
            for d in set(timing.reminders_days_before_close)
        )
    )
    return PlannerMoments(release_before(opens, timing), opens, closes, reminders)


def on_school_days(calendar: SchoolCalendar, timing: PlannerTiming, moments: PlannerMoments) -> PlannerMoments:
    """The moments moved onto school days, each at its own clock time (see the module's docstring);
    raises PlanProblem when the school year has no school day to move one to."""
    year = calendar.school.school_year.year
    closes = _back_to_school_day(calendar, moments.closes)
    if closes is None:
        raise PlanProblem(
            "planner.closes_days_before",
            f"the planner would close on {moments.closes:%Y-%m-%d}, before the first school day of school year "
            f"{year} ({calendar.first_day}): there is no school day to close it on",
        )
    opens = _open_on_school_days(calendar, timing, moments.opens, closes)
    if opens is None:
        raise PlanProblem(
            "planner.opens_days_before",
            f"no school day on which to open the planner at {moments.opens:%H:%M} and release it "
            f"{timing.sibling_head_start_hours} hour(s) earlier to siblings, before it closes on "
            f"{closes:%Y-%m-%d %H:%M}",
        )
    release = release_before(opens, timing)
    reminders = set()
    for moment in moments.reminders:
        moved = _back_to_school_day(calendar, moment)
        if moved is not None and release < moved < closes:
            reminders.add(moved)
    return PlannerMoments(release, opens, closes, tuple(sorted(reminders)))


def _back_to_school_day(calendar: SchoolCalendar, moment: datetime) -> datetime | None:
    """The moment, or the same clock time on the previous school day; None when there is none."""
    day = calendar.previous_school_day(moment.date())
    return None if day is None else datetime.combine(day, moment.time(), tzinfo=moment.tzinfo)


def _open_on_school_days(
    calendar: SchoolCalendar, timing: PlannerTiming, opens: datetime, closes: datetime
) -> datetime | None:
    """The opening, moved back a day at a time (or, when the school year has no school day that
    early, forward) until it and the siblings' release are on school days, before the closing."""

    def on(day: date) -> datetime:
        return datetime.combine(day, opens.time(), tzinfo=opens.tzinfo)

    def fits(candidate: datetime) -> bool:
        release = release_before(candidate, timing)
        return (
            calendar.is_school_day(release.date()) and calendar.is_school_day(candidate.date()) and candidate < closes
        )

    day = opens.date()
    while release_before(on(day), timing).date() >= calendar.first_day:
        if fits(on(day)):
            return on(day)
        day -= timedelta(days=1)
    day = opens.date() + timedelta(days=1)
    while on(day) < closes:
        if fits(on(day)):
            return on(day)
        day += timedelta(days=1)
    return None


def plan_round(settings: Settings, school: School, calendar: SchoolCalendar, rnd: Round) -> RoundPlan:
    """Place one round on one school's calendar; raises PlanProblem naming the field at fault."""
    try:
        start, end = resolve_window(calendar, rnd.window)
    except PlanProblem as problem:
        raise PlanProblem(f"window.{problem.field}", problem.message) from None
    year = school.school_year.year
    if start < calendar.first_day or end > calendar.last_day:
        raise PlanProblem(
            "window",
            f"{start} to {end} is not within school year {year} ({calendar.first_day} to {calendar.last_day}) "
            f"of school {school.brin}",
        )
    hours = rnd.conversation_hours or school.conversation_hours
    if rnd.conversation_hours is None and not rnd.has_planner:
        # Held in class (kindgesprek): every school day counts, not only the parents' evenings.
        hours = HoursWindow(weekdays=("ma", "di", "wo", "do", "vr"), hours=school.conversation_hours.hours)
    days = tuple(calendar.school_days(start, end, hours.weekdays))
    if not days:
        raise PlanProblem(
            "window",
            f"no conversation day from {start} to {end} for school {school.brin}: every day is a weekend, holiday, "
            f"vacation or free day, or not one of the weekdays {', '.join(hours.weekdays)}",
        )
    zone = ZoneInfo(school.timezone)
    spans = tuple(hours.spans())
    configured = moved = None
    if rnd.has_planner:
        configured = configured_moments(rnd.planner, days[0], zone)
        first_slot = datetime.combine(days[0], spans[0][0], tzinfo=zone)
        if configured.closes > first_slot:
            raise PlanProblem(
                "planner.closes_at",
                f"the planner would close at {configured.closes:%Y-%m-%d %H:%M}, "
                f"after the first conversation at {first_slot:%Y-%m-%d %H:%M}",
            )
        moved = on_school_days(calendar, rnd.planner, configured)  # closes earlier, if at all: the check holds
    # Kindgesprekken are held during the window without a planner; their verslag is due after it.
    last = end if rnd.kind is RoundKind.KIND else days[-1]
    deadline = last + timedelta(days=rnd.verslag.deadline_days)
    return RoundPlan(
        school.brin,
        year,
        rnd,
        start,
        end,
        days,
        spans,
        moved.opens if moved else None,
        moved.closes if moved else None,
        moved.reminders if moved else (),
        deadline,
        configured,
    )


def plan_school(settings: Settings, school: School) -> SchoolPlan:
    """The whole year plan of a school, rounds in date order; raises PlanProblem on the first bad round."""
    calendar = SchoolCalendar(school)
    rounds = [plan_round(settings, school, calendar, rnd) for rnd in settings.cycle_for(school).rounds]
    rounds.sort(key=lambda p: (p.window_start, p.round.id))
    return SchoolPlan(school, calendar, tuple(rounds))


def day_slots(
    day: date, spans: tuple[tuple[time, time], ...], minutes: int, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Every whole slot of `minutes` that fits in the day's time spans."""
    out = []
    step = timedelta(minutes=minutes)
    for span_start, span_end in spans:
        start = datetime.combine(day, span_start, tzinfo=zone)
        end = datetime.combine(day, span_end, tzinfo=zone)
        while start + step <= end:
            out.append((start, start + step))
            start += step
    return out
