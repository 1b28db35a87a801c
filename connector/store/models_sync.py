"""Sync bookkeeping: watermarks, the reviewable run log, and the intent log.

The intent log is the transactional outbox for every external side effect
(pitfalls, "Side effects"): the row is committed *before* the HTTP call, with
a unique natural key and a stable idempotency key; the outcome and vendor id
are stored after, in a new transaction. An intent left ``in_flight`` after a
crash is looked up at the vendor (by external_ref) before anything is re-sent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from connector.store.base import Timestamps, fk, utc_field


class IntentState(StrEnum):
    PENDING = "pending"  # recorded, not yet attempted (or due for retry)
    IN_FLIGHT = "in_flight"  # a call was made; outcome unknown until confirmed
    CONFIRMED = "confirmed"  # vendor accepted; vendor_id set where applicable
    FAILED_PERMANENT = "failed_permanent"  # a 4xx that retrying cannot fix


class RunOutcome(StrEnum):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # some items failed, the rest went on
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process ended (killed, cut off at a stop) before the run finished


def payload_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON of a request payload.

    Same payload, same hash: lets us see whether a retry would send the same
    body under the same Idempotency-Key (else the vendor answers 422).
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# The namespace of our Idempotency-Keys (a fixed, random UUID: it only has to be ours).
_KEY_NAMESPACE = uuid.UUID("3f0d6f0e-6a43-4c35-9d6b-52a0b1a2c7e4")


def idempotency_key_for(natural_key: str) -> str:
    """The Idempotency-Key of a side effect: a UUID5 of its natural key (`remind:12AB00:…`), so the
    same effect has the same key in any database. A fresh or restored database that repeats a
    message within the vendor's 24 h then gets a replay, not a second message (issue W2-2)."""
    return str(uuid.uuid5(_KEY_NAMESPACE, natural_key))


def new_idempotency_key() -> str:
    """A random key: only for rows made outside the engine (the engine uses `idempotency_key_for`)."""
    return str(uuid.uuid4())


def new_run_id() -> str:
    """A fresh sync run id (a dashed UUID4), usable in logs before the row exists.

    Dashed on purpose: the log redaction masks long undivided hex strings.
    """
    return str(uuid.uuid4())


class PendingRecord(SQLModel, table=True):
    """A vendor record the roster could not use yet (it failed mapping, or names a group we do
    not know). It is read again at every roster sync, from `reread_from` (None: a full read),
    until it maps or it is no longer returned; `status` lists it (issue W2-2)."""

    __tablename__ = "pending_records"
    __table_args__ = (UniqueConstraint("school_id", "resource", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id", index=False)
    resource: str  # "PAS pupil"
    record_id: str
    reason: str
    reread_from: datetime | None = utc_field(nullable=True)
    first_seen_at: datetime = utc_field()
    last_seen_at: datetime = utc_field()


class SyncWatermark(SQLModel, table=True):
    """Bookmark of an incremental read, e.g. resource "pas.pupils".

    ``value`` is kept verbatim as the vendor gave it (e.g. PAS ``server_time``
    ``2026-11-20T09:00:00+01:00``); commit it together with the rows it covers.
    """

    __tablename__ = "sync_watermarks"
    __table_args__ = (UniqueConstraint("school_id", "resource"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id", index=False)
    resource: str
    value: str
    updated_at: datetime = utc_field()


class SyncRun(SQLModel, table=True):
    """One sync run: what started it, for which school/round, and how it ended."""

    __tablename__ = "sync_runs"

    id: str = Field(default_factory=new_run_id, primary_key=True)
    trigger: str  # "schedule", "manual", "startup"
    school_id: int | None = fk("schools.id", ondelete="SET NULL", nullable=True)
    round_id: int | None = fk("rounds.id", ondelete="SET NULL", nullable=True)
    started_at: datetime = utc_field(index=True)
    ended_at: datetime | None = utc_field(nullable=True)
    # The real time it started (`started_at` is the moment it worked at, which `--now` may set):
    # what `health` measures a run still `running` against its deadline with.
    wall_started_at: datetime | None = utc_field(nullable=True)
    outcome: str = RunOutcome.RUNNING.value
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class SyncEvent(SQLModel, table=True):
    """One reviewable line of a run's log. Ids only: no names, no bodies."""

    __tablename__ = "sync_events"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = fk("sync_runs.id")
    at: datetime = utc_field()
    level: str = "info"
    action: str
    vendor_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    message: str = Field(default="", sa_type=Text)


class Attention(SQLModel, table=True):
    """Work held because it needs a person (issue W2-2): credentials a vendor refused (`scope`
    "pas", "pas:BRIN", "planner:BRIN") or a task that cannot be done as things are ("task:KEY":
    nobody to send the overview to, no groups for a round). Held work is not asked again until
    `retry_at` passes or the settings (`fingerprint`) change, and for a task also after a roster
    sync that may have brought what was missing; the row goes when the work succeeds. `health`
    is unhealthy while a row exists. Times are the engine's moments, like `JobMark.done_at`."""

    __tablename__ = "attention"

    scope: str = Field(primary_key=True)
    brin: str | None = Field(default=None, index=True)
    job: str
    reason: str
    fingerprint: str
    since: datetime = utc_field()
    tried_at: datetime = utc_field()
    retry_at: datetime = utc_field()


class JobMark(SQLModel, table=True):
    """A scheduled piece of work that is done, e.g. ``roster:12AB00:2026-11-23``.

    ``run-due`` and the daemon skip what is marked, so a repeat at the same moment does nothing;
    a downtime catch-up does each missed item once.
    """

    __tablename__ = "job_marks"

    key: str = Field(primary_key=True)
    job: str = Field(index=True)
    done_at: datetime = utc_field()
    run_id: str | None = fk("sync_runs.id", ondelete="SET NULL", nullable=True)


class Intent(Timestamps, table=True):
    """An external side effect, recorded before it is attempted.

    ``natural_key`` is unique per effect, e.g. ``open_planner:{brin}:{round}:{group}``
    or ``remind:{planner_ref}:{huishouden}:{moment}``: inserting it twice fails,
    which is what keeps two runs from doing the same thing. Claim work with a
    compare-and-set UPDATE (``WHERE state = 'pending' AND next_attempt_at <= now``)
    and check the row count. ``error`` must hold no personal data.
    """

    __tablename__ = "intents"
    __table_args__ = (
        Index("ix_intents_state_next_attempt_at", "state", "next_attempt_at"),
        CheckConstraint(
            "state IN ('pending', 'in_flight', 'confirmed', 'failed_permanent')",
            name="state",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    natural_key: str = Field(unique=True)
    idempotency_key: str = Field(default_factory=new_idempotency_key, unique=True)
    kind: str = Field(index=True)  # "open_planner", "send_message", ...
    payload_hash: str
    # The exact request, kept only where it holds no personal data (a planner: ids, times and
    # the invitation text), so an interrupted creation is resumed with the very same body.
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    state: str = IntentState.PENDING.value
    attempts: int = 0
    next_attempt_at: datetime | None = utc_field(nullable=True)
    last_attempt_at: datetime | None = utc_field(nullable=True)
    confirmed_at: datetime | None = utc_field(nullable=True)
    vendor_id: str | None = None
    error: str | None = Field(default=None, sa_type=Text)
    run_id: str | None = fk("sync_runs.id", ondelete="SET NULL", nullable=True)


__all__ = [
    "Attention",
    "Intent",
    "JobMark",
    "IntentState",
    "RunOutcome",
    "SyncEvent",
    "SyncRun",
    "PendingRecord",
    "SyncWatermark",
    "idempotency_key_for",
    "new_idempotency_key",
    "new_run_id",
    "payload_hash",
]
