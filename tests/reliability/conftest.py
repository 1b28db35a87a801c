"""Issue "[P6] Proof at school-board scale": helpers of the reliability suite.

Every test walks a realistic stretch of the school year on the in-process simulator over real
HTTP (tests/engine/conftest.py's `Env`), under some hostile condition, and compares what the
vendors hold at the end with a fault-free reference walk of the same seed:

* planners: by external_ref, once each, each released, same invitees and slots;
* messages: `/_sim/counters` duplicate_messages == 0, and the count per (recipients, subject)
  equal to the reference's;
* the sync log: every record that failed is named (by id) in a "record failed" SyncEvent.

The engine runs in-process, built here (not by `build_engine`) so that the vendor clients get a
`sleep` that only records what it was asked to wait (Retry-After is honoured without real
waiting) and, for the hostile-payload test, small page sizes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from adapters.parnassys import PasClient
from adapters.parro import ParroClient
from connector.cycle.settings import load_settings
from connector.cycle.yearplan import plan_school
from connector.engine.context import Engine
from connector.engine.run import SchoolReport, run_due
from connector.engine.schedule import release_at
from connector.runtime import store_url
from connector.store import Store, upgrade_to_head
from tests.engine.conftest import BRIN, Env, local

UNLIMITED = 1_000_000
YEAR = "2026-2027"
DRAIN = 8  # at most this many repeats of one moment until nothing is postponed


_MIGRATE_LOCK = threading.Lock()


class SleepRecorder:
    """The vendor clients' `sleep`: records every wait, waits nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)


def make_engine(
    env: Env, *, sleep: SleepRecorder | None = None, pas_page: int = 250, planner_page: int = 200, planner_policy=None
) -> Engine:
    """The engine of `env`'s settings with clients whose sleep is `sleep` (a recorder)."""
    loaded = load_settings(str(env.settings))
    s = loaded.settings
    sleep = sleep or SleepRecorder()
    in_flight = threading.BoundedSemaphore(s.sync.concurrency)  # as `build_engine` shares one
    pas = PasClient(
        s.pas.base_url,
        s.pas.client_id,
        loaded.read_secret(s.pas.client_secret),
        requests_per_minute=UNLIMITED,
        page_size=pas_page,
        sleep=sleep,
        in_flight=in_flight,
    )
    planners: dict[str, ParroClient] = {}
    lock = threading.Lock()

    def planner_for(brin: str) -> ParroClient:
        with lock:
            if brin not in planners:
                planners[brin] = ParroClient(
                    s.planner.base_url,
                    loaded.read_secret(s.school(brin).planner_api_key),
                    requests_per_minute=UNLIMITED,
                    page_size=planner_page,
                    sleep=sleep,
                    policy=planner_policy,
                    in_flight=in_flight,
                )
            return planners[brin]

    url = store_url(loaded)
    with _MIGRATE_LOCK:  # alembic's `context` is process-global: two threads migrating at once fail (KeyError 'script')
        upgrade_to_head(url)
    return Engine(loaded, Store(url), pas, planner_for)


@dataclass(frozen=True)
class Moment:
    at: datetime
    behave: bool  # parents act (book, prefer) just before the tick
    label: str


def start_round_moments(env: Env) -> list[Moment]:
    """The default settings' "start" round from release to the verslag check after its deadline:
    release, opening (first bookings), each reminder, closing (teacher notices), the Monday
    overviews, the verslag reminder before the deadline and the check the day after it."""
    loaded = load_settings(str(env.settings))
    settings = loaded.settings
    rp = next(r for r in plan_school(settings, settings.schools[0]).rounds if r.round_id == "start")
    zone = rp.planner_opens.tzinfo
    before = settings.sync.verslag_reminder_days_before
    deadline = rp.verslag_deadline
    moments = [
        Moment(release_at(rp), False, "release"),
        Moment(rp.planner_opens + timedelta(hours=4), True, "open, first bookings"),
        *(Moment(m, True, f"reminder {m:%m-%d %H:%M}") for m in rp.reminders),
        Moment(rp.planner_closes, False, "close, teacher notices"),
    ]
    monday = rp.planner_closes.date() + timedelta(days=(7 - rp.planner_closes.weekday()) % 7 or 7)
    moments.append(Moment(datetime.combine(monday, time(8, 0), tzinfo=zone), False, "first monday, conversation week"))
    monday += timedelta(days=7)
    moments.append(
        Moment(datetime.combine(monday, time(7, 0), tzinfo=zone), False, "verslag check after the conversation week")
    )
    moments.append(Moment(datetime.combine(monday, time(8, 0), tzinfo=zone), False, "weekly overview"))
    for day, label in (
        (deadline - timedelta(days=before), "verslag reminder before the deadline"),
        (deadline + timedelta(days=1), "verslag check after the deadline"),
    ):
        moments.append(Moment(datetime.combine(day, time(7, 30), tzinfo=zone), False, label))
    moments.sort(key=lambda m: m.at)
    return moments


@dataclass
class Walk:
    """What one walk did: the reports of every run_due, per moment."""

    reports: list[tuple[str, list[SchoolReport]]] = field(default_factory=list)

    def done(self) -> list[str]:
        return [key for _, reports in self.reports for r in reports for key in r.done]

    def postponed(self) -> list[str]:
        return [key for _, reports in self.reports for r in reports for key in r.postponed]


def tick(
    env: Env, engine: Engine, moment: datetime, walk: Walk, label: str, *, drain: bool = True
) -> list[SchoolReport]:
    """run_due at `moment`; with `drain`, repeated at the same moment while anything was
    postponed (a fault outlasting the retries leaves an intent in flight, looked up next time),
    at most DRAIN times. Returns the last run's reports."""
    for attempt in range(DRAIN if drain else 1):
        reports = run_due(engine, moment, trigger="run-due")
        walk.reports.append((f"{label} #{attempt + 1}", reports))
        if not any(r.postponed for r in reports):
            break
    return reports


def behave(env: Env) -> dict[str, int]:
    """The parents act, going through the planners in external_ref order (the simulator goes in
    creation order, which concurrent creation makes arbitrary, and a sibling's booking in one
    planner steers the slot picked in the next)."""
    world = env.sim.world
    with world.lock:
        for school in world.schools.values():
            school.planners = dict(sorted(school.planners.items(), key=lambda item: item[1].external_ref))
    return env.behave()


def walk_year(env: Env, engine: Engine, moments: list[Moment], *, drain: bool = True, before_tick=None) -> Walk:
    walk = Walk()
    for m in moments:
        env.set_clock(m.at)
        if m.behave:
            behave(env)
        if before_tick is not None:
            before_tick(m)
        tick(env, engine, m.at, walk, m.label, drain=drain)
    return walk


# --- what the vendors and the database hold --------------------------------------------------


def planner_facts(env: Env, brins: tuple[str, ...] = (BRIN,)) -> dict[str, Any]:
    """external_ref -> facts, and external_ref -> vendor ids (to find doubles)."""
    world = env.sim.world
    with world.lock:
        now = world.now()
        ids: dict[str, list[str]] = {}
        facts: dict[str, dict[str, Any]] = {}
        for brin in brins:
            for p in world.schools[brin].planners.values():
                ids.setdefault(p.external_ref, []).append(p.id)
                facts[p.external_ref] = {
                    "status": p.status(now),
                    "released": p.released_at is not None,
                    "invitees": sorted(p.invitee_child_ids),
                    "slots": sorted((s.start.isoformat(), s.end.isoformat(), tuple(s.staff_ids)) for s in p.slots),
                }
    return {"facts": facts, "ids": ids}


def message_counts(env: Env) -> Counter:
    """(recipients, subject) -> number of messages sent (kind "message")."""
    world = env.sim.world
    with world.lock:
        return Counter(
            (json.dumps(m.recipients, sort_keys=True), m.subject) for m in world.messages if m.kind == "message"
        )


@dataclass
class Outcome:
    planners: dict[str, Any]
    messages: Counter
    counters: dict[str, Any]
    intents: dict[str, str]
    failed_ids: set[str]  # ids named by "record failed" events

    @property
    def subjects(self) -> Counter:
        return Counter(subject for (_r, subject), n in self.messages.items() for _ in range(n))


def outcome(env: Env, brins: tuple[str, ...] = (BRIN,)) -> Outcome:
    with sqlite3.connect(f"file:{env.db}?mode=ro", uri=True) as conn:
        intents = dict(conn.execute("SELECT natural_key, state FROM intents").fetchall())
        failed = {
            i
            for (ids,) in conn.execute("SELECT vendor_ids FROM sync_events WHERE action = 'record failed'")
            for i in json.loads(ids or "[]")
        }
    conn.close()
    return Outcome(planner_facts(env, brins), message_counts(env), env.counters(), intents, failed)


def problems(result: Outcome, reference: Outcome) -> list[str]:
    """Everything duplicated, lost or different at either vendor, compared with the reference."""
    out = []
    twice = {ref: ids for ref, ids in result.planners["ids"].items() if len(ids) > 1}
    if twice:
        out.append(f"planners created twice: {twice}")
    facts, expected = result.planners["facts"], reference.planners["facts"]
    if missing := sorted(set(expected) - set(facts)):
        out.append(f"planners lost: {missing}")
    if extra := sorted(set(facts) - set(expected)):
        out.append(f"planners not in the reference: {extra}")
    if unreleased := sorted(ref for ref, f in facts.items() if not f["released"]):
        out.append(f"planners never released: {unreleased}")
    for ref in sorted(set(facts) & set(expected)):
        if facts[ref] != expected[ref]:
            out.append(f"planner {ref} differs: {[k for k in facts[ref] if facts[ref][k] != expected[ref][k]]}")
    writes = result.counters["writes"]
    if writes.get("POST /v1/planners/{planner_id}/open", 0) > len(facts):
        out.append(f"{writes['POST /v1/planners/{planner_id}/open']} releases for {len(facts)} planners")
    if result.counters["duplicate_messages"]:
        out.append(f"duplicate_messages = {result.counters['duplicate_messages']}")
    if result.messages != reference.messages:
        lost = reference.messages - result.messages
        more = result.messages - reference.messages
        out.append(
            f"messages differ from the reference: {sum(lost.values())} lost "
            f"(subjects {sorted(Counter(s for r, s in lost.elements()).items())}), "
            f"{sum(more.values())} extra (subjects {sorted(Counter(s for r, s in more.elements()).items())})"
        )
    unsettled = {k: v for k, v in result.intents.items() if v != "confirmed"}
    expected_unsettled = {k: v for k, v in reference.intents.items() if v != "confirmed"}
    if unsettled != expected_unsettled:
        out.append(f"intents not settled as in the reference: {unsettled} (reference {expected_unsettled})")
    if result.failed_ids != reference.failed_ids:
        out.append(f"records failed: {sorted(result.failed_ids)}, reference {sorted(reference.failed_ids)}")
    return out


# --- a board of several schools ----------------------------------------------------------------

BOARD = ("12AB00", "21KJ00", "04XY00")


def new_board_env(folder: Path, brins: tuple[str, ...], *, start: datetime) -> Env:
    """Like tests/engine's `new_env`, but the settings hold one [[schools]] per BRIN (the
    default school's block repeated with the BRIN, name and planner key changed)."""
    import re

    from adapters.simulator import Simulator
    from connector.simulation import simulator_config
    from tests.engine.conftest import SEED, write_settings

    def board_settings(base_url: str) -> Path:
        path = write_settings(folder, base_url)
        text = path.read_text(encoding="utf-8")
        block = re.search(r"^\[\[schools\]\]\n.*?(?=^\[cycles)", text, flags=re.MULTILINE | re.DOTALL).group(0)
        extra = "".join(
            block.replace(brins[0], brin).replace("De Regenboog", f"De Regenboog {n}")
            for n, brin in enumerate(brins[1:], 2)
        )
        path.write_text(text.replace(block, block + extra), encoding="utf-8")
        return path

    folder.mkdir(parents=True, exist_ok=True)
    settings = board_settings("http://127.0.0.1:9")
    sim = Simulator(simulator_config(load_settings(str(settings)), seed=SEED, start=start))
    sim.start(port=0)
    env = Env(folder, sim, board_settings(sim.base_url))
    upgrade_to_head(str(env.db))
    stable_planner_ids(env)
    return env


# --- fixtures ------------------------------------------------------------------------------------

import pytest  # noqa: E402

START = "2026-08-29 07:00"


def fresh_env(folder: Path, *, stable: bool = True) -> Env:
    from tests.engine.conftest import new_env

    env = new_env(folder, start=local(START))
    if stable:
        stable_planner_ids(env)
    return env


def stable_planner_ids(env: Env) -> None:
    """Give each planner a vendor id derived from its external_ref instead of the world's shared
    id stream.

    The simulated parents pick slots seeded by the planner's id, and that id comes from one random
    stream shared with tokens, slots and messages, drawn in whatever order the concurrent planner
    creation reaches the vendor. A re-authentication or a retried write would change which slots
    parents book, hence the conversation dates, hence which verslag reminder a teacher gets
    (subject "Verslagen te laat: <date>"), and a fault run could not be compared with the
    reference message by message (`behave` fixes the other half: the order of the planners).
    Should a planner ever be created twice, the second gets an ordinary id (never the same one),
    so doubles stay visible."""
    import hashlib

    world, handle, current = env.sim.world, env.sim.app.handle, threading.local()
    new_id = world.new_id

    def serve(req):
        current.ref = None
        if req.method == "POST" and req.path == "/v1/planners":
            with contextlib.suppress(ValueError, AttributeError):
                current.ref = json.loads(req.body).get("external_ref")
        try:
            return handle(req)
        finally:
            current.ref = None

    def planner_id(prefix: str, length: int = 12) -> str:
        ref = getattr(current, "ref", None)
        if prefix == "pln_" and isinstance(ref, str):
            candidate = prefix + hashlib.sha256(ref.encode()).hexdigest()[:length]
            if world.find_planner(candidate) is None:
                return candidate
        return new_id(prefix, length)

    env.sim.app.handle = serve
    world.new_id = planner_id


@pytest.fixture(scope="session")
def school_reference(tmp_path_factory) -> Outcome:
    """The default school's "start" round, fault-free (seed SEED)."""
    env = fresh_env(tmp_path_factory.mktemp("reference-school"))
    try:
        engine = make_engine(env)
        walk = walk_year(env, engine, start_round_moments(env), drain=False)
        engine.store.dispose()
        assert not walk.postponed(), walk.reports
        return outcome(env)
    finally:
        env.stop()


@pytest.fixture(scope="session")
def board_reference(tmp_path_factory) -> Outcome:
    """A board of three schools through the "start" round, fault-free."""
    env = new_board_env(tmp_path_factory.mktemp("reference-board"), BOARD, start=local(START))
    try:
        engine = make_engine(env)
        walk = walk_year(env, engine, start_round_moments(env), drain=False)
        engine.store.dispose()
        assert not walk.postponed(), walk.reports
        return outcome(env, BOARD)
    finally:
        env.stop()
