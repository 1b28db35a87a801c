"""The jobs, as a typed registry (`JOBS`): each job's name, its key, the `sync --only` part it
belongs to, its due rule (`schedule.py`) and its plan function (here).

A plan function reads (the store and the vendors) and returns the task's `TaskPlan`: the actions
it will take and the `execute` that takes exactly those. What planning finds (a record that failed
mapping, a group without a teacher) goes to `step.run`, which is a `Findings` while planning.

A new job: its due rule in `schedule.py`, its plan function here, one `Job` in `JOBS`, and its
work in the engine module it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, or_
from sqlmodel import col, select

from connector.cycle.yearplan import RoundPlan
from connector.engine import followup, oversight, planners, retention, roster, schedule, verslagen
from connector.engine.actions import Action, TaskPlan
from connector.engine.context import Step
from connector.engine.runlog import RunLog
from connector.engine.schedule import Task, release_at
from connector.store import Store
from connector.store.models import JobMark


def _ids(step: Step) -> tuple[int, int]:
    assert step.school_id is not None and step.year_id is not None, "an executing step has its store ids"
    return step.school_id, step.year_id


def _round(task: Task) -> RoundPlan:
    assert task.plan is not None, task.key
    return task.plan


def plan_roster(step: Step, task: Task) -> TaskPlan:
    """Store both rosters; then pupils who arrived (or were linked) in rounds whose planners are
    open get a planner of their own, planned on the roster just stored."""
    read = roster.read_roster(step)
    done = step.engine.done_keys(step.school.brin)
    year = step.school.school_year.year
    open_rounds = [
        rp
        for rp in step.engine.school_plan(step.school).rounds
        if rp.round.has_planner
        and f"open:{step.school.brin}:{year}:{rp.round_id}" in done
        and rp.planner_closes is not None
        and step.now < rp.planner_closes
    ]
    actions = [Action("store roster", task.key, read.summary())]
    actions += [Action("invite arrivals", rp.round_id, "pupils new in the round get a planner") for rp in open_rounds]

    def execute(step: Step) -> None:
        roster.store_roster(step, read)
        for rp in open_rounds:
            planners.open_round(step, planners.plan_opening(step, rp), *_ids(step))

    return TaskPlan(task, actions, execute)


def plan_planners(step: Step, task: Task) -> TaskPlan:
    """Create and release the round's planners, late but never skipped while it is open."""
    opening = planners.plan_opening(step, _round(task))

    def execute(step: Step) -> None:
        for name, number in planners.open_round(step, opening, *_ids(step)).items():
            step.run_log.counts[name] += number

    return TaskPlan(task, opening.actions(), execute)


def plan_bookings(step: Step, task: Task) -> TaskPlan:
    """Read the bookings of the round's planners; a planner found cancelled is not read (its
    teachers are told, once)."""
    polling = followup.plan_poll(step, _round(task), planners.find_round(step, _round(task)))

    def execute(step: Step) -> None:
        planners.ensure_round(step, _round(task), *_ids(step))
        step.run_log.counts["bookings seen"] += polling.execute(step)

    return TaskPlan(task, polling.actions(), execute)


def plan_reminders(step: Step, task: Task) -> TaskPlan:
    assert task.moment is not None, task.key
    reminding = followup.plan_reminders(step, _round(task), planners.find_round(step, _round(task)), task.moment)

    def execute(step: Step) -> None:
        planners.ensure_round(step, _round(task), *_ids(step))
        reminding.execute(step)

    return TaskPlan(task, reminding.actions(), execute)


def plan_close(step: Step, task: Task) -> TaskPlan:
    closing = followup.plan_close(step, _round(task), planners.find_round(step, _round(task)))

    def execute(step: Step) -> None:
        planners.ensure_round(step, _round(task), *_ids(step))
        step.run_log.counts["families to contact"] += closing.execute(step)

    return TaskPlan(task, closing.actions(), execute)


def plan_verslagen(step: Step, task: Task) -> TaskPlan:
    """Record the conversations held, judge every open verslag, remind the teachers."""
    zone = ZoneInfo(step.school.timezone)
    started = [
        rp
        for rp in step.engine.school_plan(step.school).rounds
        if datetime.combine(rp.window_start, time(0), tzinfo=zone) <= step.now
    ]
    checking = verslagen.plan_check(step, started, step.school_id)

    def execute(step: Step) -> None:
        for rp in started:
            planners.ensure_round(step, rp, *_ids(step))
        checking.execute(step, *_ids(step))

    return TaskPlan(task, checking.actions(), execute)


def plan_missed(step: Step, task: Task) -> TaskPlan:
    """The whole booking period passed while the service was off: said loudly, once."""
    rp = _round(task)
    step.run.event(
        "planners failed",
        f"{rp.round_id}: the planners were due on {release_at(rp):%Y-%m-%d %H:%M} and bookings "
        f"closed on {rp.planner_closes:%Y-%m-%d %H:%M} while the service was not running; they were not opened. "
        "Plan these conversations by hand.",
        level="error",
    )
    return TaskPlan(task, [Action("report a missed booking period", rp.round_id)])


def plan_retention(step: Step, task: Task) -> TaskPlan:
    settings = step.engine.settings
    purge = retention.plan_purge(step.store, settings, step.now)
    counts = retention.purge_counts(step.store, purge)

    def execute(step: Step) -> None:
        assert isinstance(step.run, RunLog), "an executing step has the run's log"
        retention.purge(step.store, settings, step.now, run=step.run, plan=purge)

    return TaskPlan(task, [Action("purge", task.key, retention.describe(counts, purge))], execute)


def plan_overview(step: Step, task: Task) -> TaskPlan:
    message = oversight.plan_overview(step, step.school_id, task.key.rsplit(":", 1)[-1])
    if message is None:
        return TaskPlan(task)

    def execute(step: Step) -> None:
        message.send(step)

    return TaskPlan(task, [message.action()], execute)


Plan = Callable[[Step, Task], TaskPlan]


@dataclass(frozen=True)
class Job:
    """One job: `name` is what `JobMark.job`, `status` and `health` call it; `key` the shape of its
    task keys; `part` what `sync --only` names; `due` when it is due; `plan` what it does;
    `vendors` whom it calls ("pas", "planner"): a hold on one of them holds the job (`attention.py`)."""

    name: str
    key: str
    part: str
    due: schedule.Rule
    plan: Plan
    vendors: frozenset[str]


# In the order a run does what fell due at the same moment (`due_tasks` sorts by due time first).
PAS, PLANNER = frozenset({"pas"}), frozenset({"planner"})
BOTH, NONE = PAS | PLANNER, frozenset[str]()
JOBS: tuple[Job, ...] = (
    Job("roster", "roster:BRIN:DATE", "roster", schedule.roster_due, plan_roster, BOTH),
    Job("planners", "open:BRIN:YEAR:ROUND", "planners", schedule.planners_due, plan_planners, PLANNER),
    Job("bookings", "bookings:BRIN:YEAR:ROUND:POLL", "bookings", schedule.bookings_due, plan_bookings, PLANNER),
    Job("reminders", "remind:BRIN:YEAR:ROUND:MOMENT", "reminders", schedule.reminders_due, plan_reminders, PLANNER),
    Job("verslagen", "verslagen:BRIN:DATE", "verslagen", schedule.verslagen_due, plan_verslagen, BOTH),
    Job("close", "close:BRIN:YEAR:ROUND", "reminders", schedule.close_due, plan_close, PLANNER),
    Job("missed", "missed:BRIN:YEAR:ROUND", "planners", schedule.missed_due, plan_missed, NONE),
    Job("retention", "retention:BRIN:WEEK", "roster", schedule.retention_due, plan_retention, NONE),
    Job("overview", "overview:BRIN:WEEK", "verslagen", schedule.overview_due, plan_overview, PLANNER),
)
BY_NAME = {job.name: job for job in JOBS}
_KEY_PREFIXES = sorted({job.key.partition(":")[0] for job in JOBS})


def done_keys(store: Store, brin: str) -> frozenset[str]:
    """The keys of the school's work marked done. Every key starts `job:BRIN:`, so each job's keys of
    the school are one range of the primary key: the daemon asks at every tick for every school, and a
    year of marks of a whole board (some 2,000 per school) is never scanned for one school's."""
    with store.read() as session:
        return frozenset(session.exec(DONE_KEYS, params=done_key_bounds(brin)))


# Built once (its bounds are parameters): the daemon runs it for every school at every tick.
DONE_KEYS = select(JobMark.key).where(
    or_(
        *(
            and_(col(JobMark.key) >= bindparam(f"from_{p}"), col(JobMark.key) < bindparam(f"to_{p}"))
            for p in _KEY_PREFIXES
        )
    )
)


def done_key_bounds(brin: str) -> dict[str, str]:
    """`DONE_KEYS`'s parameters for one school: each job's keys from `job:BRIN:` to `job:BRIN;`."""
    bounds = {}
    for prefix in _KEY_PREFIXES:
        bounds[f"from_{prefix}"], bounds[f"to_{prefix}"] = f"{prefix}:{brin}:", f"{prefix}:{brin};"
    return bounds


PARTS = ("roster", "planners", "bookings", "reminders", "verslagen")
_ORDER = {name: n for n, name in enumerate(PARTS)}


def due_tasks(agenda: schedule.Agenda, now: datetime) -> list[Task]:
    """Every task of the school that is due at `now` and not done yet, in the order to do them.

    The roster first: everything else works on what it brings; then in the order things fell due;
    the weekly overview last, so that in a catch-up it reports on the verslag check done just before."""
    tasks = [task for job in JOBS for task in job.due(agenda, now).tasks]
    tasks.sort(key=lambda t: (t.job != "roster", t.job == "overview", t.at, _ORDER.get(t.job, len(_ORDER))))
    return tasks


def next_due(agenda: schedule.Agenda, now: datetime) -> dict[str, datetime]:
    """Per job: when it is next due. Work due and not done keeps the moment it became due (at or
    before `now`: overdue); a job with nothing left this school year is absent. The one answer the
    daemon, `status` and `health` give."""
    found: dict[str, datetime] = {}
    for job in JOBS:
        due = job.due(agenda, now)
        at = min((t.at for t in due.tasks), default=None) or due.next_at
        if at is not None:
            found[job.name] = at
    return dict(sorted(found.items(), key=lambda item: item[1]))
