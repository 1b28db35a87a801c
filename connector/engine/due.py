"""What is due at a moment, and doing it: the one entry point of `run-due`, `sync` and the daemon.

Every scheduled piece of work has a key (`roster:12AB00:2026-11-23`, `remind:…:20261110T1700`)
and is marked done in the store when it completed, so a repeat at the same moment does nothing
and a catch-up after downtime does each missed item once, in order (issue 5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlmodel import select

from adapters.errors import AdapterError, TemporaryError
from connector.engine import followup, oversight, planners, roster, verslagen
from connector.engine.context import Engine, Step
from connector.engine.runlog import RunLog, bound
from connector.settings.models import School
from connector.store.models import JobMark
from connector.yearplan import RoundPlan

log = structlog.get_logger("connector.engine")
JOBS = ("roster", "planners", "bookings", "reminders", "verslagen")
WEEKDAYS = ("ma", "di", "wo", "do", "vr")


@dataclass(frozen=True)
class Task:
    """One piece of due work for one school."""

    key: str
    job: str  # one of JOBS, or "close"
    at: datetime  # when it became due
    plan: RoundPlan | None = None
    moment: datetime | None = None


@dataclass
class SchoolReport:
    brin: str
    run_id: str | None = None
    done: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)
    outcome: str = "nothing due"
    counts: dict[str, int] = field(default_factory=dict)


def daily(now: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The latest local `at` o'clock at or before `now` (a wall-clock time, correct across DST)."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    return today if today <= now else datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)


def weekly(now: datetime, zone: ZoneInfo, weekday: str, at: time) -> datetime:
    """The latest local weekday-at-time at or before `now`."""
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    moment = datetime.combine(local.date() - timedelta(days=back), at, tzinfo=zone)
    return moment if moment <= now else datetime.combine(moment.date() - timedelta(days=7), at, tzinfo=zone)


def due_tasks(
    engine: Engine, school: School, now: datetime, done: set[str], force: frozenset[str] = frozenset()
) -> list[Task]:
    """Every task of the school that is due at `now` and not done yet, in the order to do them.

    Jobs in `force` (reads that are safe to repeat: roster, bookings, verslagen) are due even
    when done already: that is a manual `connector sync`."""
    zone = ZoneInfo(school.timezone)
    plan = engine.school_plan(school)
    year = school.school_year.year
    sync = engine.settings.sync
    tasks: list[Task] = []
    roster_at = daily(now, zone, sync.roster_at)
    if f"roster:{school.brin}:{roster_at.date()}" not in done or "roster" in force:
        tasks.append(Task(f"roster:{school.brin}:{roster_at.date()}", "roster", roster_at))
    for rp in plan.rounds:
        if not rp.round.has_planner:
            continue
        base = f"{school.brin}:{year}:{rp.round_id}"
        release = planners.release_at(rp)
        if release <= now < rp.planner_closes and f"open:{base}" not in done:
            tasks.append(Task(f"open:{base}", "planners", release, rp))
        if rp.planner_opens <= now and f"open:{base}" in done | {t.key for t in tasks}:
            interval = timedelta(minutes=sync.booking_poll_minutes)
            last = min(now, rp.planner_closes)
            bucket = int((last - rp.planner_opens) / interval)
            key = f"bookings:{base}:{bucket}"
            if (key not in done or "bookings" in force) and now < rp.planner_closes:
                tasks.append(Task(key, "bookings", rp.planner_opens + bucket * interval, rp))
            for moment in rp.reminders:
                if moment <= now < rp.planner_closes and f"remind:{base}:{moment:%Y%m%dT%H%M}" not in done:
                    tasks.append(Task(f"remind:{base}:{moment:%Y%m%dT%H%M}", "reminders", moment, rp, moment))
        if now >= rp.planner_closes and f"open:{base}" in done and f"close:{base}" not in done:
            tasks.append(Task(f"close:{base}", "close", rp.planner_closes, rp))
        if (
            now >= rp.planner_closes
            and not {f"open:{base}", f"missed:{base}"} & done
            and _was_running(done, school.brin, release)
        ):
            tasks.append(Task(f"missed:{base}", "missed", rp.planner_closes, rp))
    check_at = daily(now, zone, sync.verslag_check_at)
    started = [rp for rp in plan.rounds if datetime.combine(rp.window_start, time(0), tzinfo=zone) <= now]
    if started and (f"verslagen:{school.brin}:{check_at.date()}" not in done or "verslagen" in force):
        tasks.append(Task(f"verslagen:{school.brin}:{check_at.date()}", "verslagen", check_at))
    # Retention (issue 6): board-wide, so the first school's turn does it and the others find nothing.
    purge_at = weekly(now, zone, sync.overview_weekday, sync.roster_at)
    purge_week = "{}-W{:02d}".format(*purge_at.isocalendar()[:2])
    if school is engine.settings.schools[0] and f"retention:{school.brin}:{purge_week}" not in done:
        tasks.append(Task(f"retention:{school.brin}:{purge_week}", "retention", purge_at))
    overview_at = weekly(now, zone, sync.overview_weekday, sync.overview_at)
    week = "{}-W{:02d}".format(*overview_at.isocalendar()[:2])
    if started and f"overview:{school.brin}:{week}" not in done:
        tasks.append(Task(f"overview:{school.brin}:{week}", "overview", overview_at))
    # The roster first: everything else works on what it brings; then in the order things fell due;
    # the weekly overview last, so that in a catch-up it reports on the verslag check done just before.
    tasks.sort(
        key=lambda t: (t.job != "roster", t.job == "overview", t.at, JOBS.index(t.job) if t.job in JOBS else len(JOBS))
    )
    return tasks


def _was_running(done: set[str], brin: str, due: datetime) -> bool:
    """Whether the service already worked for this school before `due` (so a miss is its own)."""
    prefix = f"roster:{brin}:"
    return any(key.startswith(prefix) and key[len(prefix) :] <= due.date().isoformat() for key in done)


def done_keys(engine: Engine, brin: str) -> set[str]:
    with engine.store.read() as session:
        return set(session.exec(select(JobMark.key).where(JobMark.key.contains(f"{brin}:"))))


def run_due(
    engine: Engine,
    now: datetime,
    *,
    trigger: str,
    schools: Iterable[School] | None = None,
    only: str | None = None,
    force: frozenset[str] = frozenset(),
) -> list[SchoolReport]:
    """Do everything due at `now` for each school (optionally one job only); returns what was done."""
    reports = []
    for school in schools or engine.settings.schools:
        tasks = [
            t
            for t in due_tasks(engine, school, now, done_keys(engine, school.brin), force)
            if only is None or _job_of(t) == only
        ]
        report = SchoolReport(school.brin)
        if tasks:
            _run_school(engine, school, now, trigger, tasks, report)
        reports.append(report)
    return reports


def _job_of(task: Task) -> str:
    return {"close": "reminders", "missed": "planners", "overview": "verslagen", "retention": "roster"}.get(
        task.job, task.job
    )


def _run_school(
    engine: Engine, school: School, now: datetime, trigger: str, tasks: list[Task], report: SchoolReport
) -> None:
    school_id, year_id = roster.school_ids(engine, school)
    run = RunLog(engine.store, trigger=trigger, school_id=school_id, now=now, dry_run=engine.dry_run)
    report.run_id = run.id
    step = Step(engine, school, now, run)
    failed = False
    with bound(run), structlog.contextvars.bound_contextvars(brin=school.brin):
        for task in tasks:
            try:
                _perform(step, task, school_id, year_id)
            except roster.RemovalGuardError:
                report.postponed.append(task.key)
                failed = True
                if trigger == "manual":
                    run.finish(now, failed=True)
                    raise
                break
            except (TemporaryError, AdapterError) as exc:
                run.event(f"{task.job} postponed", f"{task.key}: {exc}", level="warning", count="postponed")
                report.postponed.append(task.key)
                if isinstance(exc, TemporaryError):  # the vendor is down: leave the rest for the next tick
                    report.postponed += [t.key for t in tasks[tasks.index(task) + 1 :]]
                    break
                continue
            except Exception as exc:  # one school's bug must not stop the others
                log.exception("task crashed", task=task.key)
                run.event(f"{task.job} failed", f"{task.key}: {exc.__class__.__name__}", level="error")
                report.postponed.append(task.key)
                failed = True
                continue
            report.done.append(task.key)
            if not engine.dry_run:
                with engine.store.write() as session:
                    session.merge(JobMark(key=task.key, job=task.job, done_at=now, run_id=run.id))
        if report.postponed:
            run.failures += 1  # recorded as partial: some of what was due is left for the next tick
        report.outcome = run.finish(now, failed=failed and not report.done)
        report.counts = dict(run.counts)


def _perform(step: Step, task: Task, school_id: int, year_id: int) -> None:
    plan = task.plan
    if task.job == "roster":
        roster.sync_roster(step)
        for rp in _open_rounds(step):  # pupils who arrived (or were linked) meanwhile are invited too
            planners.open_round(step, rp, school_id, year_id)
    elif task.job == "planners":
        counts = planners.open_round(step, plan, school_id, year_id)
        for name, number in counts.items():
            step.run.counts[name] += number
    elif task.job == "bookings":
        round_id = planners.ensure_round(step, plan, school_id, year_id)
        booked = sum(followup.pull_bookings(step, p) for p in followup.round_planners(step, round_id))
        step.run.counts["bookings seen"] += booked
    elif task.job == "reminders":
        round_id = planners.ensure_round(step, plan, school_id, year_id)
        followup.send_reminders(step, plan, round_id, task.moment)
    elif task.job == "close":
        round_id = planners.ensure_round(step, plan, school_id, year_id)
        contact = followup.close_round(step, plan, round_id, followup.pupil_names(step))
        step.run.counts["families to contact"] += contact
    elif task.job == "verslagen":
        categories = set()
        for rp in step.engine.school_plan(step.school).rounds:
            if datetime.combine(rp.window_start, time(0), tzinfo=ZoneInfo(step.school.timezone)) <= step.now:
                round_id = planners.ensure_round(step, rp, school_id, year_id)
                verslagen.record_conversations(step, rp, round_id)
                categories.add(rp.round.verslag_category)
        verslagen.check(step, sorted(categories))
        oversight.remind_teachers(step, school_id)
    elif task.job == "missed":
        # The whole booking period passed while the service was off: say so loudly, once.
        step.run.event(
            "planners failed",
            f"{plan.round_id}: the planners were due on {planners.release_at(plan):%Y-%m-%d %H:%M} and bookings "
            f"closed on {plan.planner_closes:%Y-%m-%d %H:%M} while the service was not running; they were not opened. "
            "Plan these conversations by hand.",
            level="error",
        )
    elif task.job == "retention":
        from connector.retention import purge

        purge(step.engine, step.engine.settings, step.now, dry_run=step.engine.dry_run, run=step.run)
    elif task.job == "overview":
        oversight.send_overview(step, school_id, task.key.rsplit(":", 1)[-1])


def _open_rounds(step: Step) -> list[RoundPlan]:
    done = done_keys(step.engine, step.school.brin)
    year = step.school.school_year.year
    return [
        rp
        for rp in step.engine.school_plan(step.school).rounds
        if rp.round.has_planner
        and f"open:{step.school.brin}:{year}:{rp.round_id}" in done
        and step.now < rp.planner_closes
    ]
