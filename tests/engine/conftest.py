"""The engine end to end over real HTTP: the default settings against the in-process simulator.

`Env` is one simulator (free loopback port) plus one database and a copy of the repository's
settings.toml pointing at both, in its own folder. The engine runs either in-process
(`Env.engine()`, `build_engine(..., throttle=False)`) or as a real `connector run-due` process
(`Env.run_cli`). `Snapshot` freezes a prepared simulator world and database so that many
crash runs can each start from exactly the same state without repeating the preparation.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from adapters.simulator import Simulator
from adapters.simulator.server import RequestHook
from adapters.simulator.world import World
from connector.cycle.settings import load_settings
from connector.runtime import Runtime, build_engine, store_url
from connector.simulation import simulator_config
from connector.store import Store, upgrade_to_head

REPO = Path(__file__).resolve().parents[2]
SETTINGS = REPO / "settings.toml"
SECRETS = REPO / "dev-secrets"
BRIN = "12AB00"
SEED = 5  # fixed: the same world, parents and ids on every run
AMS = ZoneInfo("Europe/Amsterdam")
CLI_TIMEOUT = 120.0  # seconds for one `run-due` process; a normal one takes 1 to 2 s


@pytest.fixture
def store(tmp_path):
    """An empty store at the newest migration (the intent and outbox tests)."""
    database = tmp_path / "connector.db"
    upgrade_to_head(str(database))
    store = Store(database)
    yield store
    store.dispose()


def local(text: str) -> datetime:
    """`2026-08-30 08:00` as an Amsterdam instant."""
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _sub_once(pattern: str, replacement: str, text: str, count: int = 1) -> str:
    out, n = re.subn(pattern, lambda _m: replacement, text, flags=re.MULTILINE)
    assert n == count, f"settings.toml changed shape: {pattern!r} matched {n} times, expected {count}"
    return out


def connector(env: Env, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    """`python -m connector ARGS --settings <env's settings>` as a real process, in the env's folder."""
    return subprocess.run(
        [sys.executable, "-m", "connector", *args, "--settings", str(env.settings)],
        cwd=env.folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"},
    )


def write_settings(folder: Path, base_url: str) -> Path:
    """The repository's settings.toml, with both base URLs at `base_url`, the store and the log
    file in `folder`, and the secrets as absolute paths to the repository's dev-secrets."""
    text = SETTINGS.read_text(encoding="utf-8")
    text = _sub_once(r'^base_url = "[^"]*"', f"base_url = {_toml_string(base_url)}", text, count=2)
    text = _sub_once(r'^url = "[^"]*"', f"url = {_toml_string(str(folder / 'connector.db'))}", text)
    text = _sub_once(r'^file = "[^"]*"', f"file = {_toml_string(str(folder / 'connector.jsonl'))}", text)
    secrets = len(re.findall(r'\{ file = "dev-secrets/', text))
    assert secrets >= 2, "settings.toml changed shape: no dev-secrets references"
    text = text.replace('{ file = "dev-secrets/', "{ file = " + _toml_string(str(SECRETS) + "/")[:-1])
    path = folder / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def clone_world(world: World) -> World:
    """An independent deep copy of a simulator world (its locks are fresh ones)."""
    with world.lock:
        memo: dict[int, Any] = {id(world.lock): threading.RLock(), id(world.clock._lock): threading.Lock()}
        return copy.deepcopy(world, memo)


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database (the backup API, never `cp`: WAL)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def is_write(method: str, path: str) -> bool:
    """A write call to either vendor: anything but GET under the planner or PAS API
    (PAS's token request is authentication, not a change to the administration)."""
    return method != "GET" and (
        path.startswith("/v1/") or (path.startswith("/api/v1/") and not path.endswith("/oauth/token"))
    )


@dataclass
class CliRun:
    moment: datetime
    returncode: int
    output: str


@dataclass
class Env:
    """One simulator, one database, one settings file, in `folder`."""

    folder: Path
    sim: Simulator
    settings: Path
    runs: list[CliRun] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.folder / "connector.db"

    @property
    def url(self) -> str:
        assert self.sim.base_url
        return self.sim.base_url

    # --- the simulator's control endpoints ---------------------------------------------------

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.url}/_sim{path}", json=body, timeout=30)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def set_clock(self, moment: datetime) -> None:
        self.control("POST", "/clock", {"now": moment.isoformat()})

    def behave(self) -> dict[str, int]:
        return self.control("POST", "/parents/behave", {})["counts"]

    def counters(self) -> dict[str, Any]:
        return self.control("GET", "/counters")

    # --- the engine ---------------------------------------------------------------------------

    def engine(self):
        loaded = load_settings(str(self.settings))
        return build_engine(Runtime(loaded, store_url(loaded)), throttle=False)

    def run_cli(self, moment: datetime, *, started: Any = None) -> CliRun:
        """`connector run-due --now moment` as a real process; `started(proc)` is called as soon
        as it runs (a crash test arms its request hook with it)."""
        number = len(self.runs) + 1
        log = self.folder / f"run-{number}.out"
        env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"}
        with log.open("w", encoding="utf-8") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "connector",
                    "run-due",
                    "--now",
                    moment.isoformat(),
                    "--settings",
                    str(self.settings),
                ],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                if started is not None:
                    started(proc)
                returncode = proc.wait(timeout=CLI_TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        run = CliRun(moment, returncode, log.read_text(encoding="utf-8", errors="replace"))
        self.runs.append(run)
        return run

    def stop(self) -> None:
        self.sim.stop()


def new_env(
    folder: Path,
    *,
    start: datetime,
    on_request: RequestHook | None = None,
    world: World | None = None,
    database: Path | None = None,
) -> Env:
    """A simulator for the default settings (seed SEED), serving on a free port, and its settings.

    `world`/`database`: start from a copy of these (a Snapshot) instead of a fresh world and an
    empty database."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = write_settings(folder, "http://127.0.0.1:9")  # the port is known once it serves
    sim = Simulator(simulator_config(load_settings(str(settings)), seed=SEED, start=start), on_request=on_request)
    if world is not None:
        sim.app.world = clone_world(world)
    sim.start(port=0)
    env = Env(folder, sim, write_settings(folder, sim.base_url))
    if database is not None:
        copy_database(database, env.db)
    else:
        upgrade_to_head(str(env.db))
    return env


@dataclass(frozen=True)
class Snapshot:
    """A prepared state: the simulator's world and the connector's database at one moment."""

    world: World
    database: Path
    now: datetime

    def env(self, folder: Path, on_request: RequestHook | None = None) -> Env:
        return new_env(folder, start=self.now, on_request=on_request, world=self.world, database=self.database)


def take_snapshot(env: Env, folder: Path) -> Snapshot:
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "snapshot.db"
    copy_database(env.db, database)
    return Snapshot(clone_world(env.sim.world), database, env.sim.world.now())


# --- what the vendors and the database hold -------------------------------------------------


def planners_at_vendor(sim: Simulator) -> list[dict[str, Any]]:
    """Every planner of the school, as comparable facts (no vendor ids: those differ per run)."""
    world = sim.world
    with world.lock:
        now = world.now()
        return sorted(
            (
                {
                    "external_ref": p.external_ref,
                    "status": p.status(now),
                    "released": p.released_at is not None,
                    "invitees": sorted(p.invitee_child_ids),
                    "slots": [(s.start.isoformat(), s.end.isoformat(), tuple(s.staff_ids)) for s in p.slots],
                }
                for p in world.schools[BRIN].planners.values()
            ),
            key=lambda p: p["external_ref"],
        )


def messages_at_vendor(sim: Simulator) -> list[tuple[str, str, str, str]]:
    """Every message sent (kind "message"; not the planner's own notifications), as
    (recipients, subject, body, simulated send time)."""
    world = sim.world
    with world.lock:
        return sorted(
            (json.dumps(m.recipients, sort_keys=True), m.subject, m.body, m.created_at.isoformat())
            for m in world.messages
            if m.kind == "message"
        )


def intent_states(db: Path) -> dict[str, str]:
    """natural_key -> state of every intent in the connector's database."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT natural_key, state FROM intents").fetchall()
    conn.close()
    return dict(rows)


def planner_rows(db: Path) -> dict[str, str | None]:
    """external_ref -> vendor_id of every Planner row in the connector's database."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT external_ref, vendor_id FROM planners").fetchall()
    conn.close()
    return dict(rows)


def vendor_ids_by_ref(sim: Simulator) -> dict[str, list[str]]:
    with sim.world.lock:
        out: dict[str, list[str]] = {}
        for p in sim.world.schools[BRIN].planners.values():
            out.setdefault(p.external_ref, []).append(p.id)
        return out


def repeated(items: list) -> dict:
    """The items that occur more than once, with their counts."""
    return {item: n for item, n in Counter(items).items() if n > 1}
