"""The README's "Upgrade" and "Back up and restore" sections, run as written on a copy of a
database the engine filled on the simulator: the upgrade migrates it (from the schema before the
newest migration), the backup is taken while the database is open, the database is then lost, and
the restore brings back every run and planner.

The commands are the README's own fenced `sh` blocks under those headings. Only the block that
fetches and installs the new code (`git pull`, `pip install`) is not run here (no network, and this
checkout is the new code); the test holds it to that shape. The PostgreSQL commands run on a copy
of the same data when a server is given (`CONNECTOR_TEST_POSTGRES_URL`, which `.ci/postgres.sh`
sets), else they skip.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select

from connector.engine.run import run_due
from connector.engine.schedule import release_at
from connector.store import alembic_config, head_revision, make_engine, upgrade_to_head
from connector.store.models import metadata
from tests.engine.conftest import copy_database, local, new_env
from tests.store.conftest import POSTGRES_ENV, downgrade_to_base

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^ *```sh\n(.*?)^ *```", re.S | re.M)


def section(heading: str) -> str:
    """The README's text under `heading` (a `##` or `###` line), up to the next heading of its level or above."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", text[start + 1 :], re.M)]
    return text[start : start + 1 + ends[1]] if len(ends) > 1 else text[start:]


def blocks(heading: str) -> list[str]:
    """The shell blocks of a section, dedented (a block in a numbered step is indented)."""
    out = []
    for found in BLOCK.finditer(section(heading)):
        lines = found.group(1).splitlines()
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        out.append("\n".join(line[indent:] for line in lines) + "\n")
    return out


def sh(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`script` as bash runs it, stopping at the first command that fails, with `connector` and
    `python3` of this installation first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environment = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"} | {"PATH": path} | env
    result = subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (script, result.stdout, result.stderr)
    return result


def runs_and_planners(database: Path) -> tuple[set, set]:
    with sqlite3.connect(database) as db:
        runs = set(db.execute("SELECT id, trigger, outcome FROM sync_runs"))
        planners = set(db.execute("SELECT external_ref, vendor_id, status FROM planners"))
    db.close()
    return runs, planners


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[Path, Path]:
    """A database with the runs and planners of a short stretch on the simulator (a roster sync
    and the opening of the first round's planners), and the settings it was made with."""
    folder = tmp_path_factory.mktemp("simulated")
    env = new_env(folder / "env", start=local("2026-08-30 06:00"))
    try:
        engine = env.engine()
        rp = engine.school_plan(engine.settings.schools[0]).rounds[0]
        for moment in (release_at(rp) - timedelta(hours=2), release_at(rp)):
            env.set_clock(moment)
            run_due(engine, moment, trigger="run-due")
        engine.store.dispose()
        return env.db, env.settings
    finally:
        env.stop()


def a_school_server(folder: Path, filled: tuple[Path, Path]) -> Path:
    """`folder` as the service's folder: its settings.toml (store `var/connector.db`, relative) and a
    copy of the filled database at the schema before the newest migration (the version before)."""
    database, settings = filled
    text = re.sub(r'(?m)^url = "[^"]*"', 'url = "var/connector.db"', settings.read_text(encoding="utf-8"))
    text = re.sub(r'(?m)^file = "[^"]*"', 'file = "var/log/connector.jsonl"', text)
    (folder / "settings.toml").write_text(text, encoding="utf-8")
    (folder / "var").mkdir(mode=0o700)
    copy_database(database, folder / "var" / "connector.db")
    engine = make_engine(folder / "var" / "connector.db")
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "-1")
    finally:
        engine.dispose()
    return folder / "var" / "connector.db"


def test_the_readme_upgrades_backs_up_and_restores_every_run_and_planner(tmp_path, filled):
    live = a_school_server(tmp_path, filled)
    runs, planners = runs_and_planners(live)
    assert runs and planners, "the simulated stretch made no runs or planners"

    fetch, migrate = blocks("## Upgrade")
    assert "git pull" in fetch and "pip install" in fetch  # the new code: this checkout (see the docstring)
    upgraded = sh(migrate, tmp_path)
    assert f"schema revision {head_revision()}" in upgraded.stdout, upgraded.stdout
    assert runs_and_planners(live) == (runs, planners)

    backup, restore = blocks("### SQLite")
    sh(backup, tmp_path)
    [copy] = (tmp_path / "backups").glob("connector-*.db")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    # The database is lost: a disk error, a bad edit. What the daemon had open beside it goes too.
    live.write_bytes(b"not a database any more")
    restored = sh(restore, tmp_path)
    assert runs_and_planners(live) == (runs, planners)
    assert stat.S_IMODE(live.stat().st_mode) == 0o600
    assert any(run_id[:8] in restored.stdout for run_id, _, _ in runs), restored.stdout  # `logs` shows them
    assert (tmp_path / "var" / "before-restore" / "connector.db").read_bytes() == b"not a database any more"


def runs_and_planners_at(url: str) -> tuple[set, set]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            runs = {tuple(r) for r in conn.exec_driver_sql("SELECT id, trigger, outcome FROM sync_runs")}
            planners = {tuple(r) for r in conn.exec_driver_sql("SELECT external_ref, vendor_id, status FROM planners")}
    finally:
        engine.dispose()
    return runs, planners


def copy_into(source: Path, url: str) -> None:
    """Every row of the SQLite database at `source` into the (migrated, empty) database at `url`."""
    upgrade_to_head(url)
    reading, writing = make_engine(source), make_engine(url)
    try:
        with reading.connect() as src, writing.begin() as dst:
            for table in metadata.sorted_tables:  # parents first: the foreign keys hold at every insert
                rows = [dict(row._mapping) for row in src.execute(select(table))]
                if rows:
                    dst.execute(insert(table), rows)
    finally:
        reading.dispose()
        writing.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set: the README's PostgreSQL commands are not run")
    downgrade_to_base(url)  # the test database is shared: start clean, leave it clean
    yield url
    downgrade_to_base(url)


def test_the_readme_backs_up_and_restores_postgresql(tmp_path, filled, postgres_url):
    copy = tmp_path / "copy.db"
    copy_database(filled[0], copy)
    copy_into(copy, postgres_url)
    before = runs_and_planners_at(postgres_url)
    assert before[0] and before[1]
    settings = re.sub(r'(?m)^url = "[^"]*"', f'url = "{postgres_url}"', filled[1].read_text(encoding="utf-8"))
    (tmp_path / "settings.toml").write_text(settings, encoding="utf-8")
    libpq = postgres_url.replace("+psycopg", "", 1)  # as the README says: the store's URL without +psycopg

    backup, restore = blocks("### PostgreSQL")
    sh(backup, tmp_path, DATABASE_URL=libpq)
    [dump] = (tmp_path / "backups").glob("connector-*.dump")
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600

    downgrade_to_base(postgres_url)  # the database is lost: every table gone
    restored = sh(restore, tmp_path, DATABASE_URL=libpq)
    assert runs_and_planners_at(postgres_url) == before
    assert any(run_id[:8] in restored.stdout for run_id, _, _ in before[0]), restored.stdout
