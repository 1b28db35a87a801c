"""The Alembic baseline and the models must describe the same schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from connector.store import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    models,
    schema_diff,
    upgrade_to_head,
)
from connector.store.migrate import HEAD_REVISION, SchemaTooNewError

from .conftest import downgrade_to_base

REPO = Path(__file__).resolve().parents[2]
EXPECTED_TABLES = {
    "attention",
    "schools",
    "school_years",
    "school_groups",
    "staff",
    "group_staff",
    "pupils",
    "guardians",
    "pupil_guardians",
    "identity_map",
    "rounds",
    "planners",
    "slots",
    "bookings",
    "reminders_sent",
    "teacher_notices",
    "conversations",
    "verslag_checks",
    "sync_watermarks",
    "sync_runs",
    "sync_events",
    "intents",
    "planner_invitees",
    "notes",
    "job_marks",
    "pending_records",
    "unlinked_records",
    "web_users",
    "web_sessions",
}


def table_names(url: str | Path) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_revisions_form_one_line_from_the_baseline() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())  # newest first
    assert revisions[0].revision == head_revision() and revisions[-1].revision == "0001"
    assert revisions[-1].down_revision is None
    assert all(newer.down_revision == older.revision for newer, older in zip(revisions, revisions[1:], strict=False))


def test_the_head_revision_the_code_knows_is_alembics_head() -> None:
    """`upgrade_to_head` recognises a current database without Alembic, by this constant."""
    assert HEAD_REVISION == head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_current_database_opens_without_importing_alembic(db_path: Path) -> None:
    upgrade_to_head(db_path)
    code = (
        "import sys; from connector.store import upgrade_to_head; "
        f"revision = upgrade_to_head({str(db_path)!r}); "
        "print(revision, sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [HEAD_REVISION, "[]"]


def test_a_database_behind_the_code_is_still_upgraded(db_path: Path) -> None:
    _upgrade_to(db_path, "0007")
    assert "web_users" not in table_names(db_path)
    assert upgrade_to_head(db_path) == HEAD_REVISION == current_revision(db_path)
    assert schema_diff(db_path) == []


def test_the_models_declare_every_table_of_the_job() -> None:
    assert set(models.metadata.tables) == EXPECTED_TABLES


def test_upgrade_creates_all_tables_on_a_fresh_file(db_path: Path) -> None:
    assert not db_path.exists()
    assert upgrade_to_head(db_path) == head_revision()
    assert table_names(db_path) == EXPECTED_TABLES | {"alembic_version"}


def test_upgrade_is_idempotent_and_reports_the_revision(db_path: Path) -> None:
    assert current_revision(db_path) is None
    upgrade_to_head(db_path)
    upgrade_to_head(db_path)
    assert current_revision(db_path) == head_revision() is not None


def test_upgrade_does_not_depend_on_the_working_directory(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    upgrade_to_head(f"sqlite:///{db_path}")
    assert current_revision(db_path) == head_revision()


def test_migrated_database_matches_the_models(any_db_url: str) -> None:
    """The `alembic check` of CI: models and migrations never drift apart."""
    upgrade_to_head(any_db_url)
    assert table_names(any_db_url) >= EXPECTED_TABLES
    assert schema_diff(any_db_url) == []


def test_downgrade_to_base_and_upgrade_again(any_db_url: str) -> None:
    upgrade_to_head(any_db_url)
    downgrade_to_base(any_db_url)
    assert table_names(any_db_url) - {"alembic_version"} == set()
    upgrade_to_head(any_db_url)
    assert schema_diff(any_db_url) == []


def test_schema_diff_notices_drift(db_path: Path) -> None:
    upgrade_to_head(db_path)
    engine = make_engine(db_path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
        conn.execute(text("DROP INDEX ix_intents_kind"))
    engine.dispose()
    diff = schema_diff(db_path)
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in diff}
    assert {"remove_table", "add_index"} <= kinds


def test_a_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    upgrade_to_head(db_path)
    engine = make_engine(db_path)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match="ffff_future"):
        upgrade_to_head(db_path)


def test_migration_scripts_import_sqlmodel_for_autostring() -> None:
    """alembic#1647: autogenerated scripts use sqlmodel.sql.sqltypes.AutoString."""
    migrations = Path(alembic_config().get_main_option("script_location"))
    assert "import sqlmodel" in (migrations / "script.py.mako").read_text()
    for script in (migrations / "versions").glob("*.py"):
        if "sqlmodel." in script.read_text():
            assert "import sqlmodel" in script.read_text(), script.name


def _upgrade_to(url: Path, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def test_0006_keeps_every_conversation_with_its_planner_and_teacher(db_path: Path) -> None:
    """A database of the previous version: each conversation gets its occasion (its planner's
    external_ref, or kindgesprek) and its one teacher as a list; the school's first roster is known."""
    _upgrade_to(db_path, "0005")
    engine = make_engine(db_path)
    now = "2026-09-01 08:00:00.000000"
    with engine.begin() as conn:
        for statement in (
            f"INSERT INTO schools (id, brin, name, created_at, updated_at) VALUES (1, '12AB00', 'S', '{now}', '{now}')",
            'INSERT INTO school_years (id, school_id, pas_id, start_date, end_date, "current", created_at, updated_at) '
            f"VALUES (1, 1, '2026-2027', '2026-08-31', '2027-07-16', 1, '{now}', '{now}')",
            "INSERT INTO school_groups (id, school_id, school_year_id, pas_id, name, leerjaren, created_at, "
            f"updated_at) VALUES (1, 1, 1, '71001', 'Groep 1', '[1]', '{now}', '{now}')",
            "INSERT INTO staff (id, school_id, pas_id, roles, werkdagen, created_at, updated_at) "
            f"VALUES (7, 1, '3101', '[\"leerkracht\"]', '[\"ma\"]', '{now}', '{now}')",
            "INSERT INTO pupils (id, school_id, pas_id, leerjaar, status, ondersteuningsniveau, handelingsplan, opp, "
            f"created_at, updated_at) VALUES (1, 1, '580001', 1, 'ingeschreven', 1, 0, 0, '{now}', '{now}')",
            "INSERT INTO rounds (id, school_id, school_year_id, round_key, kind, window_start, window_end, created_at, "
            f"updated_at) VALUES (1, 1, 1, 'start', 'start', '2026-09-07', '2026-09-11', '{now}', '{now}')",
            "INSERT INTO planners (id, external_ref, school_id, round_id, group_id, kind, status, opens_at, closes_at, "
            "created_at, updated_at) VALUES (1, 'sync:12AB00:2026-2027:start:71001', 1, 1, 1, 'parent_meeting', "
            f"'closed', '{now}', '{now}', '{now}', '{now}')",
            "INSERT INTO bookings (id, vendor_id, planner_id, slot_vendor_id, child_planner_id, pupil_id, status, "
            f"created_at, updated_at) VALUES (1, 'bkg_1', 1, 'slt_1', 'chd_1', 1, 'booked', '{now}', '{now}')",
            "INSERT INTO conversations (id, school_id, round_id, pupil_id, booking_id, staff_id, category, source, "
            "held_on, verslag_due_on, created_at, updated_at) VALUES (1, 1, 1, 1, 1, 7, 'Oudergesprek', 'booking', "
            f"'2026-09-08', '2026-09-15', '{now}', '{now}')",
            "INSERT INTO job_marks (key, job, done_at) "
            "VALUES ('roster:12AB00:2026-08-30', 'roster', '2026-08-30 04:00:00.000000')",
        ):
            conn.execute(text(statement))
    engine.dispose()
    upgrade_to_head(db_path)
    engine = make_engine(db_path)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT occasion, staff_ids FROM conversations WHERE id = 1")).one()
            served = conn.execute(text("SELECT served_since FROM schools WHERE id = 1")).scalar_one()
    finally:
        engine.dispose()
    assert row == ("sync:12AB00:2026-2027:start:71001", "[7]")
    assert str(served).startswith("2026-08-30 04:00")
    assert schema_diff(db_path) == []


def test_0009_drops_the_personal_fields_no_feature_uses_and_keeps_the_rest(db_path: Path) -> None:
    """A database of the previous version keeps its pupils and family links, without the handelingsplan,
    the uitschrijfdatum, gezag and ontvangt_informatie; the ondersteuningsniveau and OPP stay (IB and OPP
    planners use them)."""
    _upgrade_to(db_path, "0008")
    engine = make_engine(db_path)
    now = "2026-09-01 08:00:00.000000"
    with engine.begin() as conn:
        for statement in (
            f"INSERT INTO schools (id, brin, name, created_at, updated_at) VALUES (1, '12AB00', 'S', '{now}', '{now}')",
            "INSERT INTO pupils (id, school_id, pas_id, leerjaar, status, uitschrijfdatum, ondersteuningsniveau, "
            "handelingsplan, opp, created_at, updated_at) "
            f"VALUES (1, 1, '580001', 4, 'uitgeschreven', '2026-11-06', 3, 1, 1, '{now}', '{now}')",
            "INSERT INTO guardians (id, school_id, pas_id, huishouden_id, created_at, updated_at) "
            f"VALUES (1, 1, '900311', 'HH-1', '{now}', '{now}')",
            "INSERT INTO pupil_guardians (pupil_id, guardian_id, gezag, ontvangt_informatie) VALUES (1, 1, 1, 0)",
        ):
            conn.execute(text(statement))
    engine.dispose()
    upgrade_to_head(db_path)
    engine = make_engine(db_path)
    try:
        columns = {t: {c["name"] for c in inspect(engine).get_columns(t)} for t in ("pupils", "pupil_guardians")}
        with engine.connect() as conn:
            pupil = conn.execute(text("SELECT pas_id, ondersteuningsniveau, opp FROM pupils")).one()
            link = conn.execute(text("SELECT pupil_id, guardian_id FROM pupil_guardians")).one()
    finally:
        engine.dispose()
    assert not {"handelingsplan", "uitschrijfdatum"} & columns["pupils"]
    assert not {"gezag", "ontvangt_informatie"} & columns["pupil_guardians"]
    assert tuple(pupil) == ("580001", 3, 1) and tuple(link) == (1, 1)
    assert schema_diff(db_path) == []
