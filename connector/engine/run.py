"""Doing what is due: the one entry point of `run-due`, `sync` and the daemon, and of the dry run.

For each school, `jobs.due_tasks` says what is due; each task is planned (its job's `plan`) and
its plan executed right away, so the next task is planned on what this one stored. A task that
completed is marked done (its key, in the JobMark table), so a repeat at the same moment does
nothing. `plan_due` makes the same plans and executes none: that is `sync --dry-run`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from adapters.errors import AdapterError, TemporaryError
from connector.cycle.settings.models import School
from connector.engine import roster
from connector.engine.actions import Action, TaskPlan
from connector.engine.context import Engine, Step
from connector.engine.jobs import BY_NAME, due_tasks
from connector.engine.jobs import next_due as next_due_of
from connector.engine.runlog import Finding, Findings, RunLog, bound
from connector.engine.schedule import Agenda, Task
from connector.store.models import JobMark

log = structlog.get_logger("connector.engine")


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
    when done already: that is a manual `connector sync`."""
    reports = []
    for school in schools or engine.settings.schools:
        tasks = tasks_due(engine, school, now, only=only, force=force)
        report = SchoolReport(school.brin)
        if tasks:
            _run_school(engine, school, now, trigger, tasks, report)
        reports.append(report)
    return reports


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
        for task in tasks_due(engine, school, now, only=only, force=force):
            findings = Findings()
            planned = PlannedTask(task, findings=findings.items)
            try:
                planned.actions = (
                    BY_NAME[task.job].plan(Step(engine, school, now, findings, school_id, year_id), task).actions
                )
            except roster.RemovalGuardError as exc:
                planned.refused = str(exc)
            except (TemporaryError, AdapterError) as exc:
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


def _run_school(
    engine: Engine, school: School, now: datetime, trigger: str, tasks: list[Task], report: SchoolReport
) -> None:
    school_id, year_id = roster.school_ids(engine, school)
    run = RunLog(engine.store, trigger=trigger, school_id=school_id, now=now)
    report.run_id = run.id
    step = Step(engine, school, now, run, school_id, year_id)
    failed = False
    with bound(run), structlog.contextvars.bound_contextvars(brin=school.brin):
        for task in tasks:
            try:
                plan = _plan(step, task, run)
                plan.execute(step)
            except roster.RemovalGuardError as exc:
                report.postponed.append(task.key)
                report.reasons[task.key] = str(exc)
                failed = True
                if trigger == "manual":
                    run.finish(now, failed=True)
                    raise
                break
            except (TemporaryError, AdapterError) as exc:
                run.event(f"{task.job} postponed", f"{task.key}: {exc}", level="warning", count="postponed")
                report.postponed.append(task.key)
                report.reasons[task.key] = str(exc)
                if isinstance(exc, TemporaryError):  # the vendor is down: leave the rest for the next tick
                    for rest in tasks[tasks.index(task) + 1 :]:
                        report.postponed.append(rest.key)
                        report.reasons[rest.key] = f"not tried: {exc.vendor or 'a vendor'} is unavailable"
                    break
                continue
            except Exception as exc:  # one school's bug must not stop the others
                log.exception("task crashed", task=task.key)
                run.event(f"{task.job} failed", f"{task.key}: {exc.__class__.__name__}", level="error")
                report.postponed.append(task.key)
                report.reasons[task.key] = f"internal error ({exc.__class__.__name__}); the log file has the details"
                failed = True
                continue
            report.done.append(task.key)
            report.actions[task.key] = plan.actions
            with engine.store.write() as session:
                session.merge(JobMark(key=task.key, job=task.job, done_at=now, run_id=run.id))
        if report.postponed:
            run.failures += 1  # recorded as partial: some of what was due is left for the next tick
        report.outcome = run.finish(now, failed=failed and not report.done)
        report.counts = dict(run.counts)
