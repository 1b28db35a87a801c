"""The simulated world: per-school PAS records and planner records, tokens, messages, counters.

Every mutation happens under `World.lock` (an RLock held by the server around each request);
a mutation of what a planner notification depends on also calls `World.changed` (see `tick`).
Records with a timeline (pupils, planner children) are filtered by the simulated clock, so
moving the clock makes enrolments, deregistrations and planner status changes appear.
"""

from __future__ import annotations

import heapq
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .common import SimClock, fmt_ts
from .config import SimConfig, SimSchool

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass
class PasPupil:
    """A pupil with its timeline: (effective_at, record without changed_at), oldest first."""

    id: str
    versions: list[tuple[datetime, dict[str, Any]]]

    def at(self, now: datetime) -> dict[str, Any] | None:
        """The record as PAS shows it at `now` (with changed_at), or None before enrolment."""
        current = None
        for effective, record in self.versions:
            if effective <= now:
                current = {**record, "changed_at": fmt_ts(effective)}
        return current

    def latest(self) -> dict[str, Any]:
        return self.versions[-1][1]


@dataclass
class PasNote:
    id: str
    pupil_id: str
    category: str
    title: str
    author_id: str
    created_at: datetime
    gespreksdatum: date | None
    zichtbaar_ouderportaal: bool
    changed_at: datetime
    body: str

    def to_json(self, include_body: bool) -> dict[str, Any]:
        out = {
            "id": self.id,
            "pupil_id": self.pupil_id,
            "category": self.category,
            "title": self.title,
            "author_id": self.author_id,
            "created_at": fmt_ts(self.created_at),
            "gespreksdatum": self.gespreksdatum.isoformat() if self.gespreksdatum else None,
            "zichtbaar_ouderportaal": self.zichtbaar_ouderportaal,
            "changed_at": fmt_ts(self.changed_at),
        }
        if include_body:  # contract: body only with include=body (data minimisation)
            out["body"] = self.body
        return out


@dataclass
class PChild:
    id: str
    first_name: str
    last_name: str
    external_id: str | None
    group_id: str
    guardian_ids: list[str]
    visible_from: datetime
    visible_until: datetime | None = None

    def visible(self, now: datetime) -> bool:
        return self.visible_from <= now and (self.visible_until is None or now < self.visible_until)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "external_id": self.external_id,
            "group_id": self.group_id,
            "guardian_ids": list(self.guardian_ids),
        }


@dataclass
class PGuardian:
    id: str
    name: str
    email: str | None
    app_active: bool
    external_id: str  # PAS guardian id; not exposed by the planner API


@dataclass
class Slot:
    id: str
    start: datetime
    end: datetime
    staff_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "start": fmt_ts(self.start), "end": fmt_ts(self.end), "staff_ids": list(self.staff_ids)}


@dataclass
class Planner:
    id: str
    external_ref: str
    group_id: str
    title: str
    description: str
    location: str | None
    kind: str
    mode: str
    sibling_head_start_hours: int
    opens_at: datetime
    closes_at: datetime
    invitee_child_ids: list[str]
    slots: list[Slot]
    created_at: datetime
    updated_at: datetime
    released_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None

    def status(self, now: datetime) -> str:
        """Lifecycle per contract; a draft stays draft (it just cannot be released late)."""
        if self.cancelled_at is not None:
            return "cancelled"
        if self.closed_at is not None:
            return "closed"
        if self.released_at is None:
            return "draft"
        if now >= self.closes_at:
            return "closed"
        return "open" if now >= self.opens_at else "scheduled"

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_ref": self.external_ref,
            "group_id": self.group_id,
            "title": self.title,
            "description": self.description,
            "location": self.location,
            "kind": self.kind,
            "mode": self.mode,
            "sibling_head_start_hours": self.sibling_head_start_hours,
            "opens_at": fmt_ts(self.opens_at),
            "closes_at": fmt_ts(self.closes_at),
            "invitee_child_ids": list(self.invitee_child_ids),
            "status": self.status(now),
            "slots": [s.to_json() for s in self.slots],
            "created_at": fmt_ts(self.created_at),
            "updated_at": fmt_ts(self.updated_at),
        }


@dataclass
class Booking:
    id: str
    planner_id: str
    slot_id: str
    child_id: str
    guardian_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slot_id": self.slot_id,
            "child_id": self.child_id,
            "guardian_id": self.guardian_id,
            "status": self.status,
            "created_at": fmt_ts(self.created_at),
            "updated_at": fmt_ts(self.updated_at),
        }


@dataclass
class Preference:
    planner_id: str
    child_id: str
    guardian_id: str
    available_slot_ids: list[str]
    submitted_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "child_id": self.child_id,
            "guardian_id": self.guardian_id,
            "available_slot_ids": list(self.available_slot_ids),
            "submitted_at": fmt_ts(self.submitted_at),
        }


@dataclass
class Message:
    """A message accepted by POST /messages, or a planner notification (kind)."""

    id: str
    brin: str
    kind: str  # "message" | "notification"
    recipients: dict[str, list[str]]
    subject: str
    body: str
    delivered_guardian_ids: list[str]
    delivered_staff_ids: list[str]
    created_at: datetime
    planner_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "brin": self.brin,
            "kind": self.kind,
            "recipients": self.recipients,
            "subject": self.subject,
            "body": self.body,
            "delivered_guardian_ids": self.delivered_guardian_ids,
            "delivered_staff_ids": self.delivered_staff_ids,
            "created_at": fmt_ts(self.created_at),
            "planner_id": self.planner_id,
        }


@dataclass
class IdemRecord:
    method: str
    path: str
    body: Any
    created_at: datetime
    result: dict[str, Any]  # e.g. {"planner_id": ...} or {"status": 202, "payload": ...}


@dataclass
class School:
    """One school: its PAS data and its planner organisation."""

    cfg: SimSchool
    groups: list[dict[str, Any]] = field(default_factory=list)
    prev_groups: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)
    pupils: dict[str, PasPupil] = field(default_factory=dict)
    notes: dict[str, PasNote] = field(default_factory=dict)
    p_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    p_staff: dict[str, dict[str, Any]] = field(default_factory=dict)
    p_children: dict[str, PChild] = field(default_factory=dict)
    p_guardians: dict[str, PGuardian] = field(default_factory=dict)
    planners: dict[str, Planner] = field(default_factory=dict)
    bookings: list[Booking] = field(default_factory=list)
    preferences: dict[tuple[str, str, str], Preference] = field(default_factory=dict)
    idempotency: dict[str, IdemRecord] = field(default_factory=dict)
    notified: set[tuple[str, str]] = field(default_factory=set)
    facts: dict[str, Any] = field(default_factory=dict)  # notable ids for tests and the demo

    @property
    def brin(self) -> str:
        return self.cfg.brin

    def children_now(self, now: datetime) -> list[PChild]:
        return [c for c in self.p_children.values() if c.visible(now)]

    def guardian_child_ids(self, guardian_id: str, now: datetime) -> list[str]:
        return sorted(c.id for c in self.children_now(now) if guardian_id in c.guardian_ids)

    def planner_bookings(self, planner_id: str) -> list[Booking]:
        return [b for b in self.bookings if b.planner_id == planner_id]


class Counters:
    """Request, write, fault and message counters for tests ("no write call", duplicates)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start every counter again from zero."""
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.events: Counter[str] = Counter()

    def to_json(self, messages: list[Message]) -> dict[str, Any]:
        sent = [m for m in messages if m.kind == "message"]
        seen: set[str] = set()
        duplicates = 0
        for m in sent:
            key = repr((m.brin, sorted(m.recipients.items()), m.subject, m.body))
            duplicates += key in seen
            seen.add(key)
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "writes": dict(self.writes),
            "writes_total": sum(self.writes.values()),
            "faults": dict(self.faults),
            "events": dict(self.events),
            "messages_sent": len(sent),
            "duplicate_messages": duplicates,
            "notifications_sent": sum(1 for m in messages if m.kind == "notification"),
        }


class World:
    """All schools of the board plus shared state (clock, tokens, messages, counters)."""

    def __init__(self, config: SimConfig, schools: list[School]) -> None:
        self.config = config
        self.clock = SimClock(config.start_time, config.clock_rate)
        self.lock = threading.RLock()
        self.schools = {s.brin: s for s in schools}
        self.by_key = {s.cfg.api_key: s for s in schools}
        self.tokens: dict[str, datetime] = {}  # token -> expiry (simulated)
        self.pas_auth_requests = 0
        self.revocation_done = False
        self.messages: list[Message] = []
        self.counters = Counters()
        self._ids = random.Random(f"{config.seed}:ids")
        self.warnings: list[str] = []  # tolerated oddities in client requests
        # Notification events (see `tick`): schools to rescan, and when each must be rescanned anyway.
        self._stale: set[str] = set(self.schools)
        self._wake_at: dict[str, datetime] = {}
        self._wakes: list[tuple[datetime, str]] = []  # heap of (moment, brin); entries not in _wake_at are stale

    def now(self) -> datetime:
        return self.clock.now()

    def new_id(self, prefix: str, length: int = 12) -> str:
        """A deterministic opaque id such as `pln_3f8s0k2m9xqa`."""
        return prefix + "".join(self._ids.choice(_ALPHABET) for _ in range(length))

    def new_token(self) -> str:
        token = "".join(self._ids.choice("0123456789abcdef") for _ in range(32))
        self.tokens[token] = self.now() + timedelta(seconds=self.config.token_lifetime_s)
        return token

    def revoke_tokens(self) -> int:
        count = len(self.tokens)
        self.tokens.clear()
        return count

    def find_planner(self, planner_id: str) -> tuple[School, Planner] | None:
        for school in self.schools.values():
            if planner_id in school.planners:
                return school, school.planners[planner_id]
        return None

    def is_sibling_guardian(self, school: School, guardian_id: str, now: datetime) -> bool:
        """Contract: guardians with several children at the school get the head start."""
        return len(school.guardian_child_ids(guardian_id, now)) >= 2

    def bookable_from(self, school: School, planner: Planner, guardian_id: str) -> datetime:
        head = timedelta(hours=planner.sibling_head_start_hours)
        sibling = self.is_sibling_guardian(school, guardian_id, self.now())
        return planner.opens_at - head if sibling else planner.opens_at

    def changed(self, school: School) -> None:
        """An input of the school's notifications changed (a planner released, updated, closed or
        cancelled; a child enrolled or leaving; a guardian's app flag): rescan it at the next tick."""
        self._stale.add(school.brin)

    def tick(self) -> None:
        """Send each invited guardian with the app one notification when a planner becomes
        bookable for them (contract: Planner lifecycle, "once").

        Runs before and after every API request, so it must not cost O(board): only the schools
        that `changed` since, or whose next moment (`_next_moment`) the clock has passed, are
        rescanned, in board order. Between those events a rescan would send nothing new."""
        now = self.now()
        while self._wakes and self._wakes[0][0] <= now:
            at, brin = heapq.heappop(self._wakes)
            if self._wake_at.get(brin) == at:  # an older entry of a rescanned school is stale
                del self._wake_at[brin]
                self._stale.add(brin)
        if not self._stale:
            return
        due, self._stale = self._stale, set()
        for school in self.schools.values():
            if school.brin in due:
                self._notify(school, now)
                self._wake(school, self._next_moment(school, now))

    def _notify(self, school: School, now: datetime) -> None:
        live = [p for p in school.planners.values() if p.released_at is not None and p.cancelled_at is None]
        if not live:
            return
        children = {c.id: c for c in school.children_now(now)}
        family = Counter(g for c in children.values() for g in c.guardian_ids)
        for planner in live:
            ended = planner.closed_at or planner.closes_at
            for child_id in planner.invitee_child_ids:
                child = children.get(child_id)
                for gid in child.guardian_ids if child else ():
                    if (planner.id, gid) in school.notified or not school.p_guardians[gid].app_active:
                        continue
                    head = planner.sibling_head_start_hours if family[gid] >= 2 else 0
                    start = planner.opens_at - timedelta(hours=head)
                    if start <= now and start < ended:
                        school.notified.add((planner.id, gid))
                        self.messages.append(
                            Message(
                                self.new_id("ntf_"),
                                school.brin,
                                "notification",
                                {"guardian_ids": [gid]},
                                f"Gesprekken: {planner.title}",
                                "U kunt nu een gesprek inplannen.",
                                [gid],
                                [],
                                now,
                                planner.id,
                            )
                        )

    @staticmethod
    def _next_moment(school: School, now: datetime) -> datetime | None:
        """The first moment after `now` at which `_notify` could send more without any change: a
        live planner's opening (with or without the head start) or a child appearing or leaving
        (which changes who is invited and who counts as a sibling)."""
        moments = [
            at
            for p in school.planners.values()
            if p.released_at is not None and p.cancelled_at is None
            for at in (p.opens_at, p.opens_at - timedelta(hours=p.sibling_head_start_hours))
        ]
        for c in school.p_children.values():
            moments.append(c.visible_from)
            if c.visible_until is not None:
                moments.append(c.visible_until)
        return min((at for at in moments if at > now), default=None)

    def _wake(self, school: School, at: datetime | None) -> None:
        if at is None:
            self._wake_at.pop(school.brin, None)
            return
        self._wake_at[school.brin] = at
        heapq.heappush(self._wakes, (at, school.brin))

    def expire_idempotency(self, school: School) -> None:
        """Keys are kept 24 h (simulated) after first use."""
        limit = self.now() - timedelta(hours=24)
        for key in [k for k, r in school.idempotency.items() if r.created_at < limit]:
            del school.idempotency[key]
