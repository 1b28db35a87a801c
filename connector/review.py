"""Reviewing what happened (issue 6): the run log, each school's status, and the verslag report.

Everything here reads the store and the settings only; the commands in
`connector.commands.review` render it. Texts meant for a person are plain English with the
Dutch domain words (verslag, ronde, leerkracht); ids only, never names (domain.md, Privacy):
what is printed was stored redacted, and is passed through the redaction once more.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import select

from connector.engine.due import due_tasks
from connector.engine.planners import release_at
from connector.errors import UserError
from connector.logging_setup import redact_text
from connector.reporting import OUTCOMES, round_summaries
from connector.store import Store
from connector.store.models import (
    Conversation,
    Intent,
    IntentState,
    JobMark,
    Pupil,
    Round,
    School,
    SchoolYear,
    Staff,
    SyncEvent,
    SyncRun,
    VerslagCheck,
)
from connector.yearplan import plan_school

LEVELS = ("debug", "info", "warning", "error")
OUTCOME_LEVEL = {"failed": "error", "partial": "warning", "running": "info", "ok": "info"}
OVERDUE = ("missing", "not_visible")
ACTIVE_AFTER_DEADLINE = timedelta(days=14)  # a round stays on `status` this long after its verslag deadline
FAILED_RUNS_WINDOW = timedelta(days=7)
STUCK_AFTER = timedelta(hours=1)  # a run still "running" after this never finished
_BRIN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{2}$")
_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.I)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CHUNK = 500  # ids per IN (...): SQLite allows a limited number of bound parameters


# --- --since ----------------------------------------------------------------------------------


def parse_since(text: str, now: datetime, zone: ZoneInfo = ZoneInfo("Europe/Amsterdam")) -> datetime:
    """`30m`, `12h`, `2d`, `1w` before `now`, or an ISO date (local midnight) or moment.

    Raises ValueError with a message that names the accepted forms."""
    match = _SINCE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        if len(text.strip()) == 10:
            return datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=zone)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a period such as 30m, 12h, 2d or 1w, nor an ISO date such as 2026-11-20"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else LEVELS.index("info")


def chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the run log ------------------------------------------------------------------------------


@dataclass
class RunView:
    """One sync run as `connector logs` shows it; `brin` is None for board-wide runs."""

    id: str
    trigger: str
    brin: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    counts: dict
    levels: Counter = field(default_factory=Counter)
    events: list[SyncEvent] = field(default_factory=list)

    @property
    def level(self) -> str:
        """The run's most severe level: its worst event, or its outcome."""
        worst = max((level_rank(name) for name in self.levels), default=0)
        return LEVELS[max(worst, level_rank(OUTCOME_LEVEL.get(self.outcome, "info")))]

    def as_dict(self) -> dict:
        return {
            "type": "run",
            "run_id": self.id,
            "trigger": self.trigger,
            "school": self.brin,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "outcome": self.outcome,
            "level": self.level,
            "counts": self.counts,
            "events": sum(self.levels.values()),
        }


def event_dict(event: SyncEvent) -> dict:
    return {
        "type": "event",
        "run_id": event.run_id,
        "at": _iso(event.at),
        "level": event.level,
        "action": redact_text(event.action),
        "ids": [redact_text(str(i)) for i in event.vendor_ids or []],
        "message": redact_text(event.message or ""),
    }


def find_runs(
    store: Store,
    known_brins: Iterable[str],
    *,
    run_id: str | None = None,
    brin: str | None = None,
    level: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    with_events: bool = True,
) -> list[RunView]:
    """Runs newest first, filtered; with `level`, only runs (and events) at that level or worse."""
    with store.read() as session:
        query = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id)
        if run_id:
            exact = session.get(SyncRun, run_id)
            query = query.where(SyncRun.id == run_id) if exact else query.where(SyncRun.id.startswith(run_id))
        if since is not None:
            query = query.where(SyncRun.started_at >= since)
        runs = [
            RunView(r.id, r.trigger, None, r.started_at, r.ended_at, r.outcome, dict(r.counts or {}))
            for r in session.exec(query)
        ]
        if run_id and not runs:
            raise UserError(f"--run: no sync run {run_id!r} in this database; `connector logs` lists the runs")
        if run_id and len(runs) > 1:
            raise UserError(
                [f"--run: {run_id!r} matches {len(runs)} runs; give more of the id:", *(f"  {r.id}" for r in runs[:10])]
            )
        schools = _run_schools(session, [r.id for r in runs], set(known_brins))
        for run in runs:
            run.brin = schools.get(run.id)
        if brin:
            runs = [r for r in runs if r.brin == brin]
        _count_levels(session, runs)
        if level:
            runs = [r for r in runs if level_rank(r.level) >= level_rank(level)]
        if limit:
            runs = runs[:limit]
        if with_events:
            _load_events(session, runs, level)
    return runs


def _count_levels(session, runs: list[RunView]) -> None:
    by_id = {r.id: r for r in runs}
    for part in chunks(list(by_id)):
        rows = session.exec(
            select(SyncEvent.run_id, SyncEvent.level, func.count())
            .where(SyncEvent.run_id.in_(part))
            .group_by(SyncEvent.run_id, SyncEvent.level)
        )
        for run_id, name, number in rows:
            by_id[run_id].levels[name] += number


def _load_events(session, runs: list[RunView], level: str | None) -> None:
    by_id = {r.id: r for r in runs}
    wanted = [name for name in LEVELS if level is None or level_rank(name) >= level_rank(level)]
    for part in chunks(list(by_id)):
        query = select(SyncEvent).where(SyncEvent.run_id.in_(part)).order_by(SyncEvent.id)
        if level is not None:
            query = query.where(SyncEvent.level.in_(wanted))
        for event in session.exec(query):
            by_id[event.run_id].events.append(event)


def _run_schools(session, run_ids: list[str], known: set[str]) -> dict[str, str]:
    """Which school each run was for: its school_id when set, else the BRIN in the job keys it
    marked done, else a BRIN named in its events (a run whose every task failed marks nothing)."""
    found: dict[str, str] = {}
    brins = dict(session.exec(select(School.id, School.brin)).all())
    known = known | set(brins.values())
    for part in chunks(run_ids):
        for rid, school_id in session.exec(
            select(SyncRun.id, SyncRun.school_id).where(SyncRun.id.in_(part), SyncRun.school_id.is_not(None))
        ):
            found[rid] = brins.get(school_id)
        for rid, key in session.exec(select(JobMark.run_id, JobMark.key).where(JobMark.run_id.in_(part))):
            brin = brin_of_key(key)
            if brin and rid not in found:
                found[rid] = brin
    rest = [rid for rid in run_ids if rid not in found]
    for brin in sorted(known):
        for part in chunks(rest):
            hits = session.exec(
                select(SyncEvent.run_id).where(SyncEvent.run_id.in_(part), SyncEvent.message.contains(brin)).distinct()
            )
            for rid in hits:
                found.setdefault(rid, brin)
    return {k: v for k, v in found.items() if v}


def brin_of_key(key: str) -> str | None:
    """The BRIN in a job key such as `roster:12AB00:2026-11-23`."""
    parts = key.split(":")
    return parts[1] if len(parts) > 1 and _BRIN.match(parts[1]) else None


# --- next due per job kind ------------------------------------------------------------------


class PlanSource:
    """What `due_tasks` needs of an engine (settings and year plans) without vendor clients."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._plans: dict[str, object] = {}

    def school_plan(self, school):
        if school.brin not in self._plans:
            self._plans[school.brin] = plan_school(self.settings, school)
        return self._plans[school.brin]


def next_due(source, school, now: datetime, done: set[str], *, days_ahead: int = 8) -> dict[str, datetime]:
    """When each kind of job of `school` is next due, by asking `due_tasks` at the instants the
    year plan and the daily/weekly times make interesting. Work due already (not done) keeps the
    moment it became due, which is at or before `now`. A job with nothing left this school year
    is absent. Pure: reads nothing but its arguments."""
    found: dict[str, datetime] = {}
    assumed = set(done)
    for task in due_tasks(source, school, now, assumed):
        found.setdefault(task.job, task.at)
        assumed.add(task.key)
    for moment in _candidates(source, school, now, days_ahead):
        for task in due_tasks(source, school, moment, assumed):
            found.setdefault(task.job, task.at if task.at > now else moment)
            assumed.add(task.key)  # as if done then, so that what follows from it is seen
    return found


def _candidates(source, school, now: datetime, days_ahead: int) -> list[datetime]:
    zone = ZoneInfo(school.timezone)
    sync = source.settings.sync
    moments: set[datetime] = set()
    times = {value for value in (getattr(sync, name) for name in type(sync).model_fields) if isinstance(value, time)}
    today = now.astimezone(zone).date()
    for offset in range(days_ahead + 1):
        for at in times:
            moments.add(datetime.combine(today + timedelta(days=offset), at, tzinfo=zone))
    interval = timedelta(minutes=sync.booking_poll_minutes)
    for rp in source.school_plan(school).rounds:
        moments.add(datetime.combine(rp.window_start, time(0), tzinfo=zone))
        if rp.planner_opens is None:
            continue
        moments |= {release_at(rp), rp.planner_opens, rp.planner_closes, *rp.reminders}
        if rp.planner_opens <= now < rp.planner_closes:
            moments.add(rp.planner_opens + (int((now - rp.planner_opens) / interval) + 1) * interval)
    return sorted(m for m in moments if m > now)


def job_marks(store: Store, brin: str, until: datetime | None = None) -> tuple[set[str], dict[str, JobMark]]:
    """The school's done job keys, and the latest mark of each job kind (done by `until`)."""
    latest: dict[str, JobMark] = {}
    with store.read() as session:
        query = select(JobMark).where(JobMark.key.contains(f"{brin}:"))
        if until is not None:
            query = query.where(JobMark.done_at <= until)
        marks = [m for m in session.exec(query) if brin_of_key(m.key) == brin]
    for mark in marks:
        if mark.job not in latest or mark.done_at > latest[mark.job].done_at:
            latest[mark.job] = mark
    return {m.key for m in marks}, latest


# --- verslagen per teacher and round --------------------------------------------------------


def verslag_rows(store: Store, settings, *, brin: str | None = None, round_key: str | None = None) -> list[dict]:
    """Per school, round and teacher (PAS staff id): conversations and verslag outcomes, with the
    PAS pupil ids of each outcome. Rounds of the settings' school year, in the cycle's order."""
    out = []
    with store.read() as session:
        for school in settings.schools:
            if brin and school.brin != brin:
                continue
            order = {r.id: n for n, r in enumerate(settings.cycle_for(school).rounds)}
            query = (
                select(Round.round_key, Round.kind, Staff.pas_id, Pupil.pas_id, VerslagCheck.outcome)
                .select_from(Conversation)
                .join(Round, Round.id == Conversation.round_id)
                .join(SchoolYear, SchoolYear.id == Round.school_year_id)
                .join(School, School.id == Conversation.school_id)
                .join(Pupil, Pupil.id == Conversation.pupil_id)
                .outerjoin(Staff, Staff.id == Conversation.staff_id)
                .outerjoin(VerslagCheck, VerslagCheck.conversation_id == Conversation.id)
                .where(School.brin == school.brin, SchoolYear.pas_id == school.school_year.year)
            )
            if round_key:
                query = query.where(Round.round_key == round_key)
            groups: dict[tuple, dict] = {}
            for key, kind, teacher, pupil, outcome in session.exec(query):
                row = groups.setdefault(
                    (key, teacher), _empty_row(school.brin, school.school_year.year, key, kind, teacher)
                )
                name = outcome or "pending"
                row[name] += 1
                row["conversations"] += 1
                row["pupils"][name].append(pupil)
            for row in groups.values():
                for ids in row["pupils"].values():
                    ids.sort()
            out += sorted(
                groups.values(), key=lambda r: (order.get(r["round"], len(order)), r["round"], r["teacher"] or "~")
            )
    return out


def _empty_row(brin: str, year: str, round_key: str, kind: str, teacher: str | None) -> dict:
    names = (*OUTCOMES, "pending")
    return {
        "brin": brin,
        "school_year": year,
        "round": round_key,
        "kind": kind,
        "teacher": teacher,
        "conversations": 0,
        **dict.fromkeys(names, 0),
        "pupils": {name: [] for name in names},
    }


# --- status ---------------------------------------------------------------------------------


def school_status(store: Store, source: PlanSource, school, now: datetime, *, all_rounds: bool = False) -> dict:
    """One school's status: its active rounds, its jobs (last done, next due), and what needs a
    person's attention, each as a plain sentence."""
    plan = source.school_plan(school)
    zone = ZoneInfo(school.timezone)
    summaries = {s["round"]: s for s in round_summaries(store, _one_school(source.settings, school))}
    rounds = []
    for rp in plan.rounds:
        summary = dict(summaries.get(rp.round_id) or {})
        phase, active = round_phase(rp, now, zone)
        if not (active or all_rounds):
            continue
        summary.update(
            phase=phase, active=active, verslagen_overdue=sum(summary.get("verslagen", {}).get(k, 0) for k in OVERDUE)
        )
        rounds.append(summary)
    upcoming = min(
        (rp for rp in plan.rounds if _start_of(rp, zone) > now), key=lambda rp: _start_of(rp, zone), default=None
    )
    done, latest = job_marks(store, school.brin, until=now)
    due = next_due(source, school, now, done)
    jobs = []
    for job in sorted(
        set(due) | set(latest), key=lambda j: (_JOB_ORDER.index(j) if j in _JOB_ORDER else len(_JOB_ORDER), j)
    ):
        mark = latest.get(job)
        at = due.get(job)
        jobs.append(
            {
                "job": job,
                "last_done_at": _iso(mark.done_at) if mark else None,
                "last_run_id": mark.run_id if mark else None,
                "next_due_at": _iso(at),
                "overdue": bool(at and at <= now),
            }
        )
    runs = [
        r
        for r in find_runs(store, [s.brin for s in source.settings.schools], brin=school.brin, with_events=False)
        if r.started_at <= now
    ]
    last_ok = next((r for r in runs if r.outcome == "ok"), None)
    return {
        "brin": school.brin,
        "name": school.name,
        "school_year": school.school_year.year,
        "now": _iso(now),
        "rounds": rounds,
        "next_round": {"round": upcoming.round_id, "starts_at": _iso(_start_of(upcoming, zone))} if upcoming else None,
        "jobs": jobs,
        "last_run": runs[0].as_dict() if runs else None,
        "last_successful_run": last_ok.as_dict() if last_ok else None,
        "attention": attention(store, source.settings, school, now, runs, latest.get("roster")),
    }


_JOB_ORDER = ("roster", "planners", "bookings", "reminders", "close", "verslagen")


def _one_school(settings, school):
    return settings.model_copy(update={"schools": (school,)})


def _start_of(rp, zone: ZoneInfo) -> datetime:
    """When a round begins for the connector: its planner's release, or its window's first day."""
    return release_at(rp) if rp.planner_opens is not None else datetime.combine(rp.window_start, time(0), tzinfo=zone)


def round_phase(rp, now: datetime, zone: ZoneInfo) -> tuple[str, bool]:
    """Where a round stands at `now` in plain words, and whether `status` shows it (active)."""
    start = _start_of(rp, zone)
    deadline_end = datetime.combine(rp.verslag_deadline + timedelta(days=1), time(0), tzinfo=zone)
    if now < start:
        return (
            f"not started; {'its planner is released' if rp.planner_opens else 'its window starts'} {_local(start, zone)}",
            False,
        )
    if rp.planner_opens is not None and now < rp.planner_closes:
        when = "open" if now >= rp.planner_opens else "released to families with several children first"
        return f"planner {when} until {_local(rp.planner_closes, zone)}", True
    if now.astimezone(zone).date() <= rp.window_end:
        return f"conversations until {rp.window_end.isoformat()}", True
    if now < deadline_end:
        return f"verslagen due by {rp.verslag_deadline.isoformat()}", True
    return (
        f"finished (verslagen were due by {rp.verslag_deadline.isoformat()})",
        now < deadline_end + ACTIVE_AFTER_DEADLINE,
    )


# --- what needs a person ------------------------------------------------------------------

_KIND_WORDS = {
    "open_planner": "opening a planner",
    "close_planner": "closing a planner",
    "send_message": "sending a message",
}


def attention(
    store: Store, settings, school, now: datetime, runs: list[RunView], roster_mark: JobMark | None
) -> list[dict]:
    """What needs a person: failed actions, unlinked records, failed runs, verslagen overdue."""
    items: list[dict] = []
    brin = school.brin
    zone = ZoneInfo(school.timezone)
    with store.read() as session:
        failed = list(
            session.exec(
                select(Intent)
                .where(Intent.state == IntentState.FAILED_PERMANENT.value, Intent.natural_key.contains(f"{brin}:"))
                .order_by(Intent.updated_at.desc())
            )
        )
        unlinked = []
        if roster_mark is not None and roster_mark.run_id:
            unlinked = list(
                session.exec(
                    select(SyncEvent)
                    .where(SyncEvent.run_id == roster_mark.run_id, SyncEvent.action == "not linked")
                    .order_by(SyncEvent.id)
                )
            )
    if failed:
        lines = [
            f"{_KIND_WORDS.get(i.kind, i.kind)} ({i.natural_key}): {redact_text(i.error or 'refused')}"
            for i in failed[:5]
        ]
        more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        items.append(
            {
                "kind": "failed_actions",
                "count": len(failed),
                "ids": [i.natural_key for i in failed],
                "message": f"{len(failed)} action(s) at the planner failed for good and will not be retried: "
                + "; ".join(lines)
                + more,
            }
        )
    if unlinked:
        ids = [redact_text(str(e.vendor_ids[0])) for e in unlinked if e.vendor_ids]
        shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
        items.append(
            {
                "kind": "not_linked",
                "count": len(unlinked),
                "ids": ids,
                "run_id": roster_mark.run_id,
                "message": f"{len(unlinked)} record(s) are not linked between PAS and the planner in the latest roster sync "
                f"({_local(roster_mark.done_at, zone)}): {shown}. Pupils who are not linked cannot be invited; link them in the "
                f"planner's administration (see `connector logs --run {roster_mark.run_id}`).",
            }
        )
    bad = [
        r
        for r in runs
        if (r.outcome in ("failed", "partial") and r.started_at >= now - FAILED_RUNS_WINDOW and r.started_at <= now)
        or (r.outcome == "running" and r.started_at < now - STUCK_AFTER)
    ]
    if bad:
        words = {"failed": "failed", "partial": "partly failed", "running": "never finished"}
        lines = [f"run {r.id} ({r.trigger}, {_local(r.started_at, zone)}) {words[r.outcome]}" for r in bad[:5]]
        items.append(
            {
                "kind": "failed_runs",
                "count": len(bad),
                "ids": [r.id for r in bad],
                "message": f"{len(bad)} run(s) in the last {FAILED_RUNS_WINDOW.days} days failed or did not finish: "
                + "; ".join(lines)
                + f". `connector logs --school {brin} --level warning` shows why.",
            }
        )
    rows = verslag_rows(store, settings, brin=brin)
    overdue = Counter()
    per_teacher = Counter()
    for row in rows:
        for name in OVERDUE:
            overdue[name] += row[name]
            per_teacher[row["teacher"] or "no teacher"] += row[name]
    total = sum(overdue.values())
    if total:
        teachers = ", ".join(f"{t}: {n}" for t, n in sorted(per_teacher.items(), key=lambda x: (-x[1], x[0])) if n)
        items.append(
            {
                "kind": "verslagen_overdue",
                "count": total,
                "ids": sorted(t for t, n in per_teacher.items() if n),
                "message": f"{total} verslag(en) are overdue ({overdue['missing']} missing, {overdue['not_visible']} not visible in the "
                f"ouderportaal); per leerkracht (PAS id): {teachers}. `connector report verslagen --school {brin}` lists the pupils.",
            }
        )
    return items


# --- helpers --------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _local(moment: datetime, zone: ZoneInfo = ZoneInfo("Europe/Amsterdam")) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
