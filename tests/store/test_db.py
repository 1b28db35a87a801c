"""Engine factory: file permissions, pragmas, BEGIN IMMEDIATE, UTC instants."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError, StatementError
from sqlmodel import select

from connector.store import Store, make_engine, read_only, to_url, upgrade_to_head
from connector.store.models import Intent, School, SyncRun


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_file_and_its_directory_are_owner_only(db_path: Path) -> None:
    old_umask = os.umask(0o022)  # a typical, permissive umask
    try:
        upgrade_to_head(db_path)
    finally:
        os.umask(old_umask)
    assert mode(db_path) == 0o600
    assert mode(db_path.parent) == 0o700


def test_wal_and_shm_files_are_not_world_readable(store: Store, db_path: Path) -> None:
    with store.write() as session:
        session.add(School(brin="12AB00", name="De Regenboog"))
    with store.engine.connect():  # keep a connection open so -wal/-shm exist
        for suffix in ("-wal", "-shm"):
            side = db_path.with_name(db_path.name + suffix)
            assert side.exists()
            assert mode(side) & 0o077 == 0, f"{side.name} is {oct(mode(side))}"


def test_an_existing_world_readable_file_loses_its_world_bits(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch()
    os.chmod(path, 0o664)
    make_engine(path).dispose()
    assert mode(path) == 0o660


def test_a_plain_path_and_a_sqlalchemy_url_are_both_accepted(tmp_path: Path) -> None:
    assert to_url(tmp_path / "a.db").render_as_string() == f"sqlite:///{tmp_path / 'a.db'}"
    assert to_url("relative.db").database == str(Path("relative.db").resolve())
    pg = to_url("postgresql+psycopg://u:pw@db.example/connector")
    assert pg.get_backend_name() == "postgresql" and pg.password == "pw"


def test_pragmas_are_set_on_every_connection(store: Store) -> None:
    # Two connections at once, so they cannot be the same pooled connection;
    # read-only, since two write transactions would (rightly) wait for each other.
    engine = read_only(store.engine)
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_writes_begin_immediate_and_reads_begin_deferred(store: Store) -> None:
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            statements.append(statement)

    with store.write() as session:
        session.add(School(brin="12AB00"))
    with store.read() as session:
        session.exec(select(School)).all()
    assert statements == ["BEGIN IMMEDIATE", "BEGIN"]


def test_foreign_keys_are_enforced(store: Store) -> None:
    from connector.store.models import SyncWatermark

    with pytest.raises(Exception, match="FOREIGN KEY"), store.write() as session:
        session.add(SyncWatermark(school_id=999, resource="pas.pupils", value="x"))


def _read_then_write(engine, barrier: threading.Barrier, brin: str, errors: list) -> None:
    """The engine's usual pattern: look first, then write, in one transaction."""
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM schools")).scalar()
            with contextlib.suppress(threading.BrokenBarrierError):  # BEGIN IMMEDIATE: the other waits first
                barrier.wait(timeout=0.5)
            time.sleep(0.2)
            conn.execute(
                text("INSERT INTO schools (brin, name, created_at, updated_at) VALUES (:b, '', :t, :t)"),
                {"b": brin, "t": datetime.now(UTC).replace(tzinfo=None)},
            )
    except OperationalError as exc:
        errors.append(exc)


def _run_two_writers(db_path: Path, *, deferred: bool) -> list[Exception]:
    # Two engines: like two processes (CLI and daemon), nothing shared but the file.
    engines = [make_engine(db_path) for _ in range(2)]
    if deferred:
        engines = [read_only(e) for e in engines]
    barrier = threading.Barrier(2)
    errors: list[Exception] = []
    threads = [
        threading.Thread(target=_read_then_write, args=(e, barrier, f"0{i}AA00", errors)) for i, e in enumerate(engines)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for e in engines:
        e.dispose()
    return errors


def test_two_concurrent_writers_do_not_fail_with_database_is_locked(store: Store, db_path: Path) -> None:
    assert _run_two_writers(db_path, deferred=False) == []
    with store.read() as session:
        assert len(session.exec(select(School)).all()) == 2


def test_without_begin_immediate_the_same_pattern_fails_fast(store: Store, db_path: Path) -> None:
    """Control: shows what BEGIN IMMEDIATE protects against (pitfalls, SQLite)."""
    errors = _run_two_writers(db_path, deferred=True)
    assert len(errors) == 1
    assert "database is locked" in str(errors[0])


def test_a_reader_does_not_block_a_writer(store: Store) -> None:
    with store.read() as reader:
        reader.exec(select(School)).all()
        with store.write() as writer:
            writer.add(School(brin="12AB00"))
    with store.read() as session:
        assert session.exec(select(School.brin)).all() == ["12AB00"]


def test_instants_round_trip_as_aware_utc(store: Store) -> None:
    local = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with store.write() as session:
        run = SyncRun(trigger="manual", started_at=local)
        session.add(run)
    with store.read() as session:
        stored = session.get(SyncRun, run.id)
        assert stored is not None
        assert stored.started_at.tzinfo == UTC
        assert stored.started_at == local.astimezone(UTC)
        assert stored.started_at.hour == 1  # 02:30 CET = 01:30 UTC


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"), store.write() as session:
        session.add(SyncRun(trigger="manual", started_at=datetime(2026, 11, 23, 13, 0)))


def test_timestamps_default_to_now_in_utc(store: Store) -> None:
    before = datetime.now(UTC)
    with store.write() as session:
        intent = Intent(natural_key="k", kind="open_planner", payload_hash="h")
        session.add(intent)
    with store.read() as session:
        stored = session.get(Intent, intent.id)
        assert stored is not None
        assert before - timedelta(seconds=1) <= stored.created_at <= datetime.now(UTC)
        assert len(stored.idempotency_key) == 36


def test_foreign_keys_are_back_on_after_migrating(db_path: Path) -> None:
    engine = make_engine(db_path, pool_size=1)  # the migration's connection is reused
    upgrade_to_head(engine)
    with read_only(engine).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_updated_at_moves_on_update(store: Store) -> None:
    with store.write() as session:
        school = School(brin="12AB00", name="old")
        session.add(school)
    created = school.updated_at
    time.sleep(0.01)
    with store.write() as session:
        stored = session.get(School, school.id)
        assert stored is not None
        stored.name = "De Regenboog"
    with store.read() as session:
        again = session.get(School, school.id)
        assert again is not None and again.updated_at > created
