"""The run log as people review it (`connector logs`, the web page): runs newest first, their
events, levels and filters. Reads the store only; ids only, never names (domain.md, Privacy):
what is shown was stored redacted, escaped and bounded, and is passed through `safe_text` once
more (rows stored before issue W2-2 may hold raw vendor text: ANSI escapes, CR LF, 100 kB).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from connector.errors import UsageError
from connector.logging_setup import safe_id, safe_text
from connector.review.times import local_time
from connector.store import Store
from connector.store.models import JobMark, School, SyncEvent, SyncRun

LEVELS = ("debug", "info", "warning", "error")
OUTCOME_LEVEL = {"failed": "error", "interrupted": "warning", "partial": "warning", "running": "info", "ok": "info"}
_BRIN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{2}$")
_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.I)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CHUNK = 500  # ids per IN (...): SQLite allows a limited number of bound parameters
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the default zone of --since and of shown moments
SINCE_YEARS = (2000, 2100)  # the years an ISO --since may name (as --now's)
MAX_PERIOD = timedelta(days=36_525)  # the longest --since period: a century


# --- --since ----------------------------------------------------------------------------------


def parse_since(text: str, now: datetime, zone: ZoneInfo = _AMSTERDAM) -> datetime:
    """`30m`, `12h`, `2d`, `1w` before `now`, or an ISO date (local midnight) or moment.

    Raises ValueError with a message that names the accepted forms, also for a period longer than
    a century or a date outside SINCE_YEARS (`99999999d` would overflow the date arithmetic)."""
    first, last = SINCE_YEARS
    match = _SINCE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        try:
            period = timedelta(**{_UNITS[unit]: amount})
        except OverflowError:  # beyond timedelta's own limit (a billion days)
            period = MAX_PERIOD + MAX_PERIOD
        if period > MAX_PERIOD:
            raise ValueError(
                f"{text!r} reaches back more than 100 years; give a period of at most 5200w (36500d), "
                f"or an ISO date from {first} to {last}"
            )
        return now - period
    try:
        if len(text.strip()) == 10:
            moment = datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=zone)
        else:
            moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a period such as 30m, 12h, 2d or 1w, nor an ISO date such as 2026-11-20"
        ) from None
    if not first <= moment.year <= last:  # 0001-01-01 in Amsterdam is before datetime's first UTC moment
        raise ValueError(f"{text!r} is outside the years {first} to {last}")
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
        "action": safe_id(event.action),
        "ids": [safe_id(i) for i in event.vendor_ids or []],
        "message": safe_text(event.message or ""),
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
        query = select(SyncRun).order_by(col(SyncRun.started_at).desc(), SyncRun.id)
        if run_id:
            exact = session.get(SyncRun, run_id)
            query = query.where(SyncRun.id == run_id) if exact else query.where(col(SyncRun.id).startswith(run_id))
        if since is not None:
            query = query.where(SyncRun.started_at >= since)
        runs = [
            RunView(r.id, r.trigger, None, r.started_at, r.ended_at, r.outcome, dict(r.counts or {}))
            for r in session.exec(query)
        ]
        if run_id and not runs:
            raise UsageError(f"--run: no sync run {run_id!r} in this database; `connector logs` lists the runs")
        if run_id and len(runs) > 1:
            raise UsageError(
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
            .where(col(SyncEvent.run_id).in_(part))
            .group_by(SyncEvent.run_id, SyncEvent.level)
        )
        for run_id, name, number in rows:
            by_id[run_id].levels[name] += number


def _load_events(session, runs: list[RunView], level: str | None) -> None:
    by_id = {r.id: r for r in runs}
    wanted = [name for name in LEVELS if level is None or level_rank(name) >= level_rank(level)]
    for part in chunks(list(by_id)):
        query = select(SyncEvent).where(col(SyncEvent.run_id).in_(part)).order_by(col(SyncEvent.id))
        if level is not None:
            query = query.where(col(SyncEvent.level).in_(wanted))
        for event in session.exec(query):
            by_id[event.run_id].events.append(event)


def _run_schools(session, run_ids: list[str], known: set[str]) -> dict[str, str]:
    """Which school each run was for: its school_id when set, else the BRIN in the job keys it
    marked done, else a BRIN named in its events (a run whose every task failed marks nothing)."""
    found: dict[str, str | None] = {}
    brins = dict(session.exec(select(School.id, School.brin)).all())
    known = known | set(brins.values())
    for part in chunks(run_ids):
        for rid, school_id in session.exec(
            select(SyncRun.id, SyncRun.school_id).where(col(SyncRun.id).in_(part), col(SyncRun.school_id).is_not(None))
        ):
            found[rid] = brins.get(school_id)
        for rid, key in session.exec(select(JobMark.run_id, JobMark.key).where(col(JobMark.run_id).in_(part))):
            brin = brin_of_key(key)
            if brin and rid not in found:
                found[rid] = brin
    rest = [rid for rid in run_ids if rid not in found]
    for brin in sorted(known):
        for part in chunks(rest):
            hits = session.exec(
                select(SyncEvent.run_id)
                .where(col(SyncEvent.run_id).in_(part), col(SyncEvent.message).contains(brin))
                .distinct()
            )
            for rid in hits:
                found.setdefault(rid, brin)
    return {k: v for k, v in found.items() if v}


def brin_of_key(key: str) -> str | None:
    """The BRIN in a job key such as `roster:12AB00:2026-11-23`."""
    parts = key.split(":")
    return parts[1] if len(parts) > 1 and _BRIN.match(parts[1]) else None


def job_marks(store: Store, brin: str, until: datetime | None = None) -> tuple[set[str], dict[str, JobMark]]:
    """The school's done job keys, and the latest mark of each job kind (done by `until`)."""
    latest: dict[str, JobMark] = {}
    with store.read() as session:
        query = select(JobMark).where(col(JobMark.key).contains(f"{brin}:"))
        if until is not None:
            query = query.where(JobMark.done_at <= until)
        marks = [m for m in session.exec(query) if brin_of_key(m.key) == brin]
    for mark in marks:
        if mark.job not in latest or mark.done_at > latest[mark.job].done_at:
            latest[mark.job] = mark
    return {m.key for m in marks}, latest


# --- helpers --------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _local(moment: datetime, zone: ZoneInfo = _AMSTERDAM) -> str:
    return local_time(moment, zone)  # one way to write a moment for people (`times.py`)
