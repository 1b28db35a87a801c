"""When each job is due: one rule per job that says, at a moment, which of its tasks are due and
not done, and when the job is next due after that moment. Pure: the rules read an `Agenda` (the
year plan, the sync times, the done keys) and nothing else.

A rule jumps to its job's next moment (the next daily time, the next booking poll, the next
reminder); nothing steps through time. `jobs.JOBS` pairs each rule with its job's plan; what a
run does (`jobs.due_tasks`) and "next due" (`jobs.next_due`, for the daemon, `status` and
`health`) both ask these rules, so they cannot drift apart.

Every task has a key (`roster:12AB00:2026-11-23`, `remind:…:20261110T1700`) that is marked done
in the store when it completed, so a repeat at the same moment does nothing and a catch-up after
downtime does each missed item once, in order (issue 5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connector.cycle.settings.models import School, Sync
from connector.cycle.yearplan import RoundPlan, SchoolPlan

WEEKDAYS = ("ma", "di", "wo", "do", "vr")


@dataclass(frozen=True)
class Task:
    """One piece of due work for one school."""

    key: str
    job: str
    at: datetime  # when it became due
    plan: RoundPlan | None = None
    moment: datetime | None = None  # a reminder's moment


@dataclass(frozen=True)
class Due:
    """What one job has at a moment: its tasks due and not done, and its next moment after it."""

    tasks: tuple[Task, ...] = ()
    next_at: datetime | None = None


@dataclass(frozen=True)
class Agenda:
    """What the rules read: the school, its year plan, the sync times, and the done keys."""

    school: School
    plan: SchoolPlan
    sync: Sync
    done: frozenset[str]
    first_school: bool  # board-wide work (retention) is done in the first school's turn
    force: frozenset[str] = frozenset()  # jobs a manual sync repeats even when done
    zone: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.school.timezone))

    def base(self, rp: RoundPlan) -> str:
        return f"{self.school.brin}:{self.school.school_year.year}:{rp.round_id}"

    def is_done(self, key: str, job: str) -> bool:
        return key in self.done and job not in self.force

    def planner_rounds(self) -> list[RoundPlan]:
        return [rp for rp in self.plan.rounds if rp.round.has_planner]

    def opened(self, rp: RoundPlan, now: datetime) -> bool:
        """Its planners are open, or are opened in this very run (the `planners` rule holds)."""
        return f"open:{self.base(rp)}" in self.done or release_at(rp) <= now < closes(rp)

    def first_start(self) -> datetime | None:
        """When the first round's window begins: from then on verslagen are checked."""
        starts = [datetime.combine(rp.window_start, time(0), tzinfo=self.zone) for rp in self.plan.rounds]
        return min(starts, default=None)


def release_at(rp: RoundPlan) -> datetime:
    """When a round's planners are created and released: before opening, by the siblings' head start."""
    assert rp.planner_opens is not None, rp.round_id
    return rp.planner_opens - timedelta(hours=rp.round.planner.sibling_head_start_hours)


def closes(rp: RoundPlan) -> datetime:
    assert rp.planner_closes is not None, rp.round_id
    return rp.planner_closes


# --- moments ------------------------------------------------------------------------------------


def daily(now: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The latest local `at` o'clock at or before `now` (a wall-clock time, correct across DST)."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    return today if today <= now else datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)


def next_daily(now: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The first local `at` o'clock after `now`."""
    return datetime.combine(daily(now, zone, at).date() + timedelta(days=1), at, tzinfo=zone)


def weekly(now: datetime, zone: ZoneInfo, weekday: str, at: time) -> datetime:
    """The latest local weekday-at-time at or before `now`."""
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    moment = datetime.combine(local.date() - timedelta(days=back), at, tzinfo=zone)
    return moment if moment <= now else datetime.combine(moment.date() - timedelta(days=7), at, tzinfo=zone)


def next_weekly(now: datetime, zone: ZoneInfo, weekday: str, at: time) -> datetime:
    return datetime.combine(weekly(now, zone, weekday, at).date() + timedelta(days=7), at, tzinfo=zone)


def iso_week(moment: datetime) -> str:
    return "{}-W{:02d}".format(*moment.isocalendar()[:2])


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


# --- the rules, one per job --------------------------------------------------------------------


def roster_due(a: Agenda, now: datetime) -> Due:
    at = daily(now, a.zone, a.sync.roster_at)
    key = f"roster:{a.school.brin}:{at.date()}"
    tasks = () if a.is_done(key, "roster") else (Task(key, "roster", at),)
    return Due(tasks, next_daily(now, a.zone, a.sync.roster_at))


def planners_due(a: Agenda, now: datetime) -> Due:
    """A round's planners are opened from their release until bookings close; late, never skipped."""
    tasks = []
    upcoming = []
    for rp in a.planner_rounds():
        key = f"open:{a.base(rp)}"
        if key in a.done:
            continue
        if release_at(rp) <= now < closes(rp):
            tasks.append(Task(key, "planners", release_at(rp), rp))
        elif release_at(rp) > now:
            upcoming.append(release_at(rp))
    return Due(tuple(tasks), _earliest(*upcoming))


def bookings_due(a: Agenda, now: datetime) -> Due:
    """One poll per `booking_poll_minutes` while a planner is open: missed polls collapse into one."""
    interval = timedelta(minutes=a.sync.booking_poll_minutes)
    tasks = []
    upcoming = []
    for rp in a.planner_rounds():
        opens = rp.planner_opens
        assert opens is not None
        if now < opens:
            upcoming.append(opens)
            continue
        if now >= closes(rp) or not a.opened(rp, now):
            continue
        bucket = int((now - opens) / interval)
        key = f"bookings:{a.base(rp)}:{bucket}"
        if not a.is_done(key, "bookings"):
            tasks.append(Task(key, "bookings", opens + bucket * interval, rp))
        following = opens + (bucket + 1) * interval
        if following < closes(rp):
            upcoming.append(following)
    return Due(tuple(tasks), _earliest(*upcoming))


def reminders_due(a: Agenda, now: datetime) -> Due:
    """Each reminder moment that passed while its planner is still open is sent once, in order."""
    tasks = []
    upcoming = []
    for rp in a.planner_rounds():
        if now >= closes(rp):
            continue
        opens = rp.planner_opens
        assert opens is not None
        for moment in rp.reminders:
            key = f"remind:{a.base(rp)}:{moment:%Y%m%dT%H%M}"
            if max(moment, opens) > now:
                upcoming.append(max(moment, opens))  # a moment before opening waits for it
            elif key not in a.done and a.opened(rp, now):
                tasks.append(Task(key, "reminders", moment, rp, moment))
    return Due(tuple(tasks), _earliest(*upcoming))


def close_due(a: Agenda, now: datetime) -> Due:
    """A round whose planners were opened is closed once, after its bookings closed."""
    tasks = []
    upcoming = []
    for rp in a.planner_rounds():
        key = f"close:{a.base(rp)}"
        if key in a.done:
            continue
        if now < closes(rp):
            upcoming.append(closes(rp))
        elif f"open:{a.base(rp)}" in a.done:
            tasks.append(Task(key, "close", closes(rp), rp))
    return Due(tuple(tasks), _earliest(*upcoming))


def missed_due(a: Agenda, now: datetime) -> Due:
    """A booking period that passed wholly while the service was off is reported once. Never
    scheduled ahead: a running service opens the planners instead."""
    tasks = []
    for rp in a.planner_rounds():
        base = a.base(rp)
        if now >= closes(rp) and not {f"open:{base}", f"missed:{base}"} & a.done and _was_running(a, release_at(rp)):
            tasks.append(Task(f"missed:{base}", "missed", closes(rp), rp))
    return Due(tuple(tasks))


def _was_running(a: Agenda, due: datetime) -> bool:
    """Whether the service already worked for this school before `due` (so a miss is its own)."""
    prefix = f"roster:{a.school.brin}:"
    return any(key.startswith(prefix) and key[len(prefix) :] <= due.date().isoformat() for key in a.done)


def verslagen_due(a: Agenda, now: datetime) -> Due:
    """Daily, once the first round's window has begun."""
    first = a.first_start()
    if first is None:
        return Due()
    at = daily(now, a.zone, a.sync.verslag_check_at)
    key = f"verslagen:{a.school.brin}:{at.date()}"
    tasks = (Task(key, "verslagen", at),) if first <= now and not a.is_done(key, "verslagen") else ()
    return Due(tasks, next_daily(max(now, first - timedelta(microseconds=1)), a.zone, a.sync.verslag_check_at))


def retention_due(a: Agenda, now: datetime) -> Due:
    """Weekly and board-wide (issue 6): the first school's turn does it, the others find nothing."""
    if not a.first_school:
        return Due()
    at = weekly(now, a.zone, a.sync.overview_weekday, a.sync.roster_at)
    key = f"retention:{a.school.brin}:{iso_week(at)}"
    tasks = () if key in a.done else (Task(key, "retention", at),)
    return Due(tasks, next_weekly(now, a.zone, a.sync.overview_weekday, a.sync.roster_at))


def overview_due(a: Agenda, now: datetime) -> Due:
    """The weekly overview for the director and IB, once the first round's window has begun. It goes
    out on a school day only: on the configured weekday, or when that is no school day, on the next
    school day of the same ISO week; a week without one has no overview."""
    first = a.first_start()
    if first is None:
        return Due()
    at = _last_overview(a, now)
    tasks: tuple[Task, ...] = ()
    if at is not None:
        key = f"overview:{a.school.brin}:{iso_week(at)}"
        tasks = (Task(key, "overview", at),) if first <= now and key not in a.done else ()
    return Due(tasks, _next_overview(a, max(now, first - timedelta(microseconds=1))))


def _overview_in_week(a: Agenda, monday: date) -> datetime | None:
    """The overview moment of the ISO week that begins on `monday`, or None when it has none."""
    calendar = a.plan.calendar
    for offset in range(WEEKDAYS.index(a.sync.overview_weekday), 5):  # weekends are never school days
        day = monday + timedelta(days=offset)
        if calendar.is_school_day(day):
            return datetime.combine(day, a.sync.overview_at, tzinfo=a.zone)
    return None


def _last_overview(a: Agenda, now: datetime) -> datetime | None:
    """The latest overview moment at or before `now` within the school year, if any."""
    local = now.astimezone(a.zone).date()
    monday = local - timedelta(days=local.weekday())
    while monday + timedelta(days=6) >= a.plan.calendar.first_day:
        moment = _overview_in_week(a, monday)
        if moment is not None and moment <= now:
            return moment
        monday -= timedelta(days=7)
    return None


def _next_overview(a: Agenda, after: datetime) -> datetime | None:
    """The first overview moment after `after`; None after the school year's last school week."""
    local = after.astimezone(a.zone).date()
    monday = local - timedelta(days=local.weekday())
    while monday <= a.plan.calendar.last_day:
        moment = _overview_in_week(a, monday)
        if moment is not None and moment > after:
            return moment
        monday += timedelta(days=7)
    return None


Rule = Callable[[Agenda, datetime], Due]
