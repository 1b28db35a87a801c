"""Work that needs a person (issue W2-2): failures that repeating will not mend.

Failures are classified once, here and in `run.py`:

* **temporary** (`adapters.errors.TemporaryError`: a vendor down, slow, rate limited, a bound hit):
  the transport already retried with backoff; the task stays due and the next run tries again;
* **needs a person**: credentials or access a vendor refused, a vendor that keeps refusing a
  request or a record (any other `PermanentError`), or a task that cannot be done as things are
  (`NeedsPerson`: nobody linked to send the overview to, no groups stored for a round). The task
  is not marked done; it is *held*: not tried again (no token asked, no event, no run written for
  it alone) until an hour has passed or the settings it depends on change, and a held task also
  after a roster sync, which may bring what was missing. `health` is unhealthy while anything is
  held; `status` names it;
* **a bug** (anything else): logged with its traceback, the task stays due.

A hold is one `Attention` row per scope: "pas" (the board's PAS client), "pas:BRIN" (PAS access to
one school), "planner:BRIN" (a school's planner key), "task:KEY" (one task). A task is blocked by
its own scope and by those of the vendors its job uses. The row goes when such work succeeds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from sqlmodel import col, delete, func, or_, select

from adapters.errors import AuthError, Forbidden, PermanentError
from connector.cycle.settings.models import School
from connector.engine.context import Engine
from connector.logging_setup import safe_text
from connector.store.models import Attention, JobMark

RETRY_AFTER = timedelta(hours=1)
REASON_CHARS = 500


class NeedsPerson(Exception):
    """A task cannot be done as things are, and doing it again will not help until someone acts
    (links a directeur in the planner, fixes the roster). `reason` says what, and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def scope_of(exc: BaseException, brin: str, task_key: str) -> str | None:
    """The scope a failure holds, or None when it does not need a person (temporary, or a bug)."""
    if isinstance(exc, NeedsPerson):
        return f"task:{task_key}"
    if isinstance(exc, AuthError | Forbidden):
        if exc.vendor == "pas":
            return "pas" if isinstance(exc, AuthError) else f"pas:{brin}"
        return f"planner:{brin}"
    if isinstance(exc, PermanentError):
        return f"task:{task_key}"
    return None


def scopes(brin: str, task_key: str, vendors: Iterable[str]) -> list[str]:
    """Every scope whose hold blocks the task: its own, and its job's vendors' (`Job.vendors`)."""
    found = [f"task:{task_key}"]
    for vendor in vendors:
        found += ["pas", f"pas:{brin}"] if vendor == "pas" else [f"planner:{brin}"]
    return found


def fingerprint(engine: Engine, scope: str) -> str:
    """A digest of the settings a hold depends on: when it changes, the work is tried at once."""
    settings, loaded = engine.settings, engine.loaded
    if scope == "pas" or scope.startswith("pas:"):
        parts = [settings.pas.base_url, settings.pas.client_id, loaded.read_secret(settings.pas.client_secret)]
    elif scope.startswith("planner:"):
        school = settings.school(scope.split(":", 1)[1])
        parts = [settings.planner.base_url, loaded.read_secret(school.planner_api_key)]
    else:
        parts = [settings.model_dump_json()]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def rows_for(engine: Engine, school: School) -> dict[str, Attention]:
    """The holds that may block the school's work (its own and the board's PAS client), by scope."""
    with engine.store.read() as session:
        query = select(Attention).where(or_(col(Attention.brin) == school.brin, col(Attention.scope) == "pas"))
        return {row.scope: row for row in session.exec(query)}


def last_roster(engine: Engine, brin: str) -> datetime | None:
    """When the school's roster was last stored: a held task may find there what it missed."""
    with engine.store.read() as session:
        query = select(func.max(JobMark.done_at)).where(
            JobMark.job == "roster", col(JobMark.key).startswith(f"roster:{brin}:")
        )
        return session.exec(query).one()


def active(engine: Engine, row: Attention, now: datetime, roster_at: datetime | None) -> bool:
    """Whether the hold still stands at `now`."""
    if now >= row.retry_at or row.fingerprint != fingerprint(engine, row.scope):
        return False
    return not (row.scope.startswith("task:") and roster_at is not None and roster_at > row.tried_at)


def blocking(
    engine: Engine, rows: dict[str, Attention], task_scopes: list[str], now: datetime, roster_at: datetime | None
) -> Attention | None:
    """The hold that blocks a task with these scopes at `now`, if any."""
    for scope in task_scopes:
        row = rows.get(scope)
        if row is not None and active(engine, row, now, roster_at):
            return row
    return None


def hold(engine: Engine, scope: str, *, brin: str, job: str, exc: BaseException, now: datetime) -> Attention:
    """Record that `scope` needs a person since `now` (or since its first failure, when it had
    failed before and was tried again); returns the row."""
    reason = safe_text(exc.reason if isinstance(exc, NeedsPerson) else str(exc), REASON_CHARS)
    with engine.store.write() as session:
        row = session.get(Attention, scope)
        digest = fingerprint(engine, scope)
        if row is None:
            brin_of = None if scope == "pas" else brin
            row = Attention(
                scope=scope,
                brin=brin_of,
                job=job,
                reason=reason,
                fingerprint=digest,
                since=now,
                tried_at=now,
                retry_at=now,
            )
        row.job, row.reason, row.fingerprint = job, reason, digest
        row.tried_at, row.retry_at = now, now + RETRY_AFTER
        session.add(row)
        session.flush()
        session.expunge(row)
    return row


def release(engine: Engine, rows: dict[str, Attention], task_scopes: list[str]) -> None:
    """The task succeeded: what held it (or could have) needs nobody any more."""
    gone = [scope for scope in task_scopes if rows.pop(scope, None) is not None]
    if gone:
        with engine.store.write() as session:
            session.exec(delete(Attention).where(col(Attention.scope).in_(gone)))


def describe(row: Attention, zone: tzinfo) -> str:
    """Why a task is held, for the run's report and `sync`'s output; times in the school's zone."""
    since, retry = row.since.astimezone(zone), row.retry_at.astimezone(zone)
    again = f"tried again from {retry:%Y-%m-%d %H:%M} or at once when the settings change"
    if row.scope.startswith("task:"):
        again += ", and after the next roster sync"
    return f"needs a person since {since:%Y-%m-%d %H:%M}: {row.reason} ({again})"
