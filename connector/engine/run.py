"""Doing what is due: the one entry point of `run-due`, `sync` and the daemon, and of the dry run.

For each school, `jobs.due_tasks` says what is due; each task is planned (its job's `plan`) and
its plan executed right away, so the next task is planned on what this one stored. A task that
completed is marked done (its key, in the JobMark table), so a repeat at the same moment does
nothing. `plan_due` makes the same plans and executes none: that is `sync --dry-run`.

Schools are worked at once (`pool.py`), `sync.concurrency` requests in flight for the whole
board; each school keeps its own run log, tasks in order, and holds. One school's failure never
stops another's; a hold on the board's PAS client found by one is seen by the others at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from adapters.deadline import current as current_deadline
from adapters.deadline import overall as overall_deadline
from adapters.errors import AdapterError, LimitExceeded, RunDeadlineExceeded, TemporaryError
from connector.cycle.settings.models import School
from connector.engine import attention, pool, roster
from connector.engine.actions import Action, TaskPlan
from connector.engine.attention import NeedsPerson
from connector.engine.context import Engine, Step
from connector.engine.jobs import BY_NAME, due_tasks
from connector.engine.jobs import next_due as next_due_of
from connector.engine.runlog import Finding, Findings, RunLog, bound, close_interrupted
from connector.engine.schedule import Agenda, Task
from connector.instance_lock import HeldLock, Holder, run_lock
from connector.store import Store
from connector.store.models import Attention

log = structlog.get_logger("connector.engine")
DEADLINE_SETTING = "[sync] run_deadline_seconds"
VENDOR_OF = {"pas": "pas", "parro": "planner"}  # an adapter's vendor name -> the name in `Job.vendors`
MANUAL = frozenset({"roster", "bookings", "verslagen"})  # reads a manual sync repeats even when done today


@dataclass
class SchoolReport:
    """What one run did for one school: the tasks done (with their actions) and postponed."""

    brin: str
    run_id: str | None = None
    done: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)
    outcome: str = "nothing due"
    counts: dict[str, int] = field(default_factory=dict)
    actions: dict[str, list[Action]] = field(default_factory=dict)  # per task done: what it did
    reasons: dict[str, str] = field(default_factory=dict)  # per task postponed: why


@dataclass
class PlannedTask:
    """A task as a dry run plans it: its actions and findings, or why it could not be planned."""

    task: Task
    actions: list[Action] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    refused: str | None = None


@dataclass
class SchoolDryRun:
    brin: str
    tasks: list[PlannedTask] = field(default_factory=list)


def agenda(engine: Engine, school: School, force: frozenset[str] = frozenset()) -> Agenda:
    """What the due rules read for `school`: its year plan, the sync times, its done keys."""
    return Agenda(
        school,
        engine.school_plan(school),
        engine.settings.sync,
        engine.done_keys(school.brin),
        first_school=school is engine.settings.schools[0],
        force=force,
    )


def tasks_due(
    engine: Engine, school: School, now: datetime, *, only: str | None = None, force: frozenset[str] = frozenset()
) -> list[Task]:
    """The school's tasks due at `now` and not done (`only`: of that part of the sync)."""
    return [t for t in due_tasks(agenda(engine, school, force), now) if only is None or BY_NAME[t.job].part == only]


def next_due(engine: Engine, school: School, now: datetime) -> dict[str, datetime]:
    """When each job of `school` is next due (at or before `now`: due and not done): what `status`,
    `health` and the daemon show."""
    return next_due_of(agenda(engine, school), now)


def run_due(
    engine: Engine,
    now: datetime,
    *,
    trigger: str,
    schools: Iterable[School] | None = None,
    only: str | None = None,
    force: frozenset[str] = frozenset(),
) -> list[SchoolReport]:
    """Do everything due at `now` for each school (optionally one part only); returns what was done.

    Jobs in `force` (reads that are safe to repeat: roster, bookings, verslagen) are due even
    when done already: that is a manual `connector sync`. The whole run ends by
    `[sync] run_deadline_seconds`: every vendor read stops then, and what was not reached is
    postponed to the next run, so the run lock is never held longer."""
    seconds = engine.settings.sync.run_deadline_seconds
    board: dict[str, Attention] = {}  # a hold on the board's PAS client, seen by every school at once

    def one(school: School) -> SchoolReport:
        tasks = tasks_due(engine, school, now, only=only, force=force)
        report = SchoolReport(school.brin)
        if deadline.passed():
            _postpone(report, tasks, f"not tried: the run's deadline of {seconds} s ({DEADLINE_SETTING}) passed")
        elif tasks:
            _run_school(engine, school, now, trigger, tasks, report, board)
        return report

    chosen = list(schools or engine.settings.schools)
    with overall_deadline(seconds, setting=DEADLINE_SETTING) as deadline:
        # Board-wide work (retention) is done in the first school's turn, before the others start.
        first = [one(chosen[0])] if chosen and _board_wide(engine, chosen[0], now, only, force) else []
        # Schools at once, within `sync.concurrency` in all: each school's planner key and the board's
        # one PAS client keep their own rate limiters (`build_engine`), shared by all their work.
        return first + pool.results(pool.each(engine, one, chosen[len(first) :], name="school"))


def _board_wide(engine: Engine, school: School, now: datetime, only: str | None, force: frozenset[str]) -> bool:
    return school is engine.settings.schools[0] and any(
        t.job == "retention" for t in tasks_due(engine, school, now, only=only, force=force)
    )


def sync_school(engine: Engine, now: datetime, school: School, *, only: str | None = None) -> list[SchoolReport]:
    """A sync by hand of one school (`connector sync --school`, "sync now" on the web page): what
    is due, and the reads in `MANUAL` even when done already. Call it under `locked_run`."""
    return run_due(engine, now, trigger="manual", schools=[school], only=only, force=MANUAL)


@contextmanager
def locked_run(
    store_url: str,
    store: Store,
    *,
    holder: str,
    wait: float,
    moment: datetime,
    on_wait: Callable[[Holder], None] | None = None,
    tidy: bool = True,
) -> Iterator[HeldLock]:
    """The run lock of an engine run by hand (`sync`, `run-due`, `purge`, the web page's "sync now"),
    waiting up to `wait` s while the daemon runs (`on_wait` is told once who holds it); LockHeld
    when it stays held. Once it is held, no other run can be at work: runs still `running` were
    left by a process that died, and are closed as interrupted; so is a run of this process that
    an error or Ctrl-C leaves unfinished, before the lock is let go. `tidy=False` (a dry run,
    which changes nothing) leaves them to the next run."""
    with run_lock(store_url, holder=holder, wait=wait, on_wait=on_wait) as held:
        if tidy:
            close_interrupted(store, moment)
        try:
            yield held
        except BaseException:
            if tidy:
                with suppress(Exception):  # the first error is the one to show; the next lock holder closes it
                    close_interrupted(store, moment)
            raise


def plan_due(
    engine: Engine,
    now: datetime,
    *,
    schools: Iterable[School] | None = None,
    only: str | None = None,
    force: frozenset[str] = frozenset(),
) -> list[SchoolDryRun]:
    """The dry run: plan each due task on the store as it is now, execute nothing, write nothing."""
    out = []
    for school in schools or engine.settings.schools:
        school_id, year_id = roster.find_school_ids(engine, school)
        dry = SchoolDryRun(school.brin)
        holds = attention.rows_for(engine, school)
        for task in tasks_due(engine, school, now, only=only, force=force):
            findings = Findings()
            planned = PlannedTask(task, findings=findings.items)
            held = _held(engine, school, holds, task, now)
            if held is not None:
                planned.refused = f"would be postponed: {attention.describe(held, ZoneInfo(school.timezone))}"
                dry.tasks.append(planned)
                continue
            try:
                planned.actions = (
                    BY_NAME[task.job].plan(Step(engine, school, now, findings, school_id, year_id), task).actions
                )
            except roster.RemovalGuardError as exc:
                planned.refused = str(exc)
            except (TemporaryError, AdapterError, NeedsPerson) as exc:
                planned.refused = f"would be postponed: {exc}"
            dry.tasks.append(planned)
        out.append(dry)
    return out


def _plan(step: Step, task: Task, run: RunLog) -> TaskPlan:
    """Plan one task; what planning found goes into the run, also when planning failed."""
    findings = Findings()
    try:
        return BY_NAME[task.job].plan(replace(step, run=findings), task)
    finally:
        findings.replay(run)


def _unavailable(exc: TemporaryError) -> str:
    """Why the work after a temporary failure is not tried in this run."""
    if isinstance(exc, RunDeadlineExceeded):
        return f"the run's deadline ({exc.bound}) passed"
    who = {"pas": "PAS", "parro": "the planner"}.get(exc.vendor or "", "a vendor")
    if isinstance(exc, LimitExceeded):
        return f"{who} answered beyond a bound ({exc.bound})"
    return f"{who} is unavailable"


def _never_read(engine: Engine, school: School) -> bool:
    return attention.last_roster(engine, school.brin) is None


def _postpone(report: SchoolReport, tasks: list[Task], reason: str) -> None:
    for task in tasks:
        report.postponed.append(task.key)
        report.reasons[task.key] = reason


def _held(
    engine: Engine,
    school: School,
    holds: dict[str, Attention],
    task: Task,
    now: datetime,
    board: dict[str, Attention] | None = None,
) -> Attention | None:
    """The hold that keeps `task` from being tried now (`attention.py`), or None; `board`: the holds
    on the board's PAS client that another school of this run found meanwhile."""
    holds = {**(board or {}), **holds}
    if not holds:
        return None
    scopes = attention.scopes(school.brin, task.key, BY_NAME[task.job].vendors)
    return attention.blocking(engine, holds, scopes, now, attention.last_roster(engine, school.brin))


def _run_school(
    engine: Engine,
    school: School,
    now: datetime,
    trigger: str,
    tasks: list[Task],
    report: SchoolReport,
    board: dict[str, Attention],
) -> None:
    zone = ZoneInfo(school.timezone)
    holds = attention.rows_for(engine, school)
    blocked = [_held(engine, school, holds, task, now) for task in tasks]
    if holds and all(blocked):
        # Everything due waits for a person: no run is written, so a daemon's ticks add nothing to the log.
        for task, row in zip(tasks, blocked, strict=True):
            _postpone(report, [task], attention.describe(row, zone) if row else "")
        report.outcome = "held"
        return
    school_id, year_id = roster.school_ids(engine, school)
    run = RunLog(engine.store, trigger=trigger, school_id=school_id, now=now)
    report.run_id = run.id
    step = Step(engine, school, now, run, school_id, year_id)
    failed = False
    down: dict[str, str] = {}  # vendor -> why it is unavailable in this run
    deadline = current_deadline()
    with bound(run), structlog.contextvars.bound_contextvars(brin=school.brin):
        for n, task in enumerate(tasks):
            if n and tasks[0].job == "roster" and tasks[0].key in report.postponed and _never_read(engine, school):
                # Everything else works on a roster: before the first one there is nothing to work on,
                # and what it would say (no groups, nobody linked) would only mislead.
                _postpone(report, tasks[n:], "not tried: waits for the school's first roster sync")
                break
            if deadline is not None and deadline.passed():
                _postpone(
                    report,
                    tasks[n:],
                    f"not tried: the run's deadline of {deadline.seconds:g} s ({deadline.setting}) passed",
                )
                break
            held = _held(engine, school, holds, task, now, board)
            if held is not None:
                _postpone(report, [task], attention.describe(held, zone))
                continue
            waits = [down[v] for v in sorted(BY_NAME[task.job].vendors) if v in down]
            if waits:
                _postpone(report, [task], f"not tried: {waits[0]}")
                continue
            try:
                plan = _plan(step, task, run)
                plan.execute(step)
            except roster.RemovalGuardError as exc:
                _postpone(report, [task], str(exc))
                failed = True
                if trigger == "manual":
                    run.finish(now, failed=True)
                    raise
                break
            except TemporaryError as exc:  # the vendor is down or slow: its other work waits for the next tick
                run.event(f"{task.job} postponed", f"{task.key}: {exc}", level="warning", count="postponed")
                _postpone(report, [task], str(exc))
                vendor = VENDOR_OF.get(exc.vendor or "")
                if vendor is None or isinstance(exc, RunDeadlineExceeded):
                    _postpone(report, tasks[n + 1 :], f"not tried: {_unavailable(exc)}")
                    break
                down[vendor] = _unavailable(exc)
                continue
            except (AdapterError, NeedsPerson) as exc:
                scope = attention.scope_of(exc, school.brin, task.key)
                assert scope is not None, "a permanent failure or NeedsPerson always has a scope"
                row = attention.hold(engine, scope, brin=school.brin, job=task.job, exc=exc, now=now)
                holds[scope] = row
                if row.brin is None:  # the board's PAS client: the schools at work now need not try it
                    board[scope] = row
                run.event(
                    f"{task.job} needs a person", f"{task.key}: {row.reason}", level="error", count="needs a person"
                )
                _postpone(report, [task], attention.describe(row, zone))
                continue
            except Exception as exc:  # a bug: one school's must not stop the others
                log.exception("task crashed", task=task.key)
                run.event(f"{task.job} failed", f"{task.key}: {exc.__class__.__name__}", level="error")
                _postpone(report, [task], f"internal error ({exc.__class__.__name__}); the log file has the details")
                failed = True
                continue
            report.done.append(task.key)
            report.actions[task.key] = plan.actions
            run.done(task.key, task.job)
            done_scopes = attention.scopes(school.brin, task.key, BY_NAME[task.job].vendors)
            attention.release(engine, holds, done_scopes)
            for scope in done_scopes:
                board.pop(scope, None)
        if report.postponed:
            run.failures += 1  # recorded as partial: some of what was due is left for the next tick
        report.outcome = run.finish(now, failed=failed and not report.done)
        report.counts = dict(run.counts)
