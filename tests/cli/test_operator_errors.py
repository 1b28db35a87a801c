"""Mistakes an operator makes are usage errors: exit 2, one line naming the path or the option and
the fix, never a traceback or `internal error` (issue W2-2, "Trustworthy under faults").

Every command runs as a real process (`python -m connector`), so the exit code is main()'s."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.store import upgrade_to_head
from tests.daemon.conftest import settings_copy

ROOT = os.geteuid() == 0
NOBODY = 65534


def connector(*args: str, cwd: Path, user: int | None = None) -> subprocess.CompletedProcess:
    """`python -m connector ARGS`; with `user`, as that user (through setpriv: root's own Python
    may live where only setpriv's exec reaches it)."""
    env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SETTINGS"}
    prefix = [] if user is None else ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "connector", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def assert_one_line(result: subprocess.CompletedProcess, code: int, *parts: str) -> str:
    """The command exited `code` with one line on stderr holding every part, and no traceback."""
    err = result.stderr.strip()
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr and "internal error" not in err, err
    assert len(err.splitlines()) == 1, err
    for part in parts:
        assert part in err, (part, err)
    return err


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    return settings_copy(tmp_path)


# --- the settings path --------------------------------------------------------------------------


def test_a_device_as_settings_is_refused_before_reading_it(tmp_path):
    result = connector("check-config", "--settings", "/dev/zero", cwd=tmp_path)
    assert_one_line(result, 2, "/dev/zero: not a settings file: a device, not a regular file")


def test_a_fifo_as_settings_is_refused_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)
    result = connector("check-config", "--settings", str(fifo), cwd=tmp_path)  # the timeout fails a hang
    assert_one_line(result, 2, f"{fifo}: not a settings file: a FIFO (named pipe)")


def test_a_folder_as_settings_is_refused(tmp_path):
    result = connector("status", "--settings", str(tmp_path), cwd=tmp_path)
    assert_one_line(result, 2, f"{tmp_path}: not a settings file: a folder")


def test_a_settings_file_over_a_megabyte_is_refused_with_the_limit(tmp_path):
    big = tmp_path / "settings.toml"
    big.write_bytes(b"# " + b"x" * 1_000_000 + b"\n")
    result = connector("check-config", "--settings", str(big), cwd=tmp_path)
    assert_one_line(result, 2, f"{big}: not a settings file: larger than 1,000,000 bytes")


def test_a_latin1_settings_file_names_the_line_of_the_first_byte_that_is_not_utf8(settings):
    text = settings.read_text(encoding="utf-8")
    text = text.replace('name = "Basisschool De Regenboog"', 'name = "Basisschool Één"')
    settings.write_bytes(text.encode("latin-1"))
    lines = text.splitlines()
    line = lines.index('name = "Basisschool Één"') + 1
    column = lines[line - 1].index("É") + 1
    result = connector("check-config", "--settings", str(settings), cwd=settings.parent)
    assert_one_line(result, 2, f"{settings}:{line}: byte 0xc9 at column {column} is not UTF-8", "must be UTF-8")


# --- moments and periods out of range -------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("status", "--now", "9999-12-31T23:59:59+00:00"),
        ("run-due", "--now", "9999-12-31T23:59:59+00:00"),
        ("sync", "--now", "0001-01-01T00:00:00+01:00"),
        ("purge", "--dry-run", "--now", "2101-01-01T00:00:00+00:00"),
        ("health", "--now", "1999-12-31T23:00:00+00:00"),
    ],
    ids=lambda a: a[0],
)
def test_a_now_outside_2000_to_2100_is_a_usage_error_naming_the_range(settings, args):
    result = connector(*args, "--settings", str(settings), cwd=settings.parent)
    assert_one_line(result, 2, "--now:", "is outside the years 2000 to 2100")
    if args[0] in ("run-due", "sync", "health"):  # refused before the database is touched
        assert not (settings.parent / "var" / "connector.db").exists()


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("99999999d", "reaches back more than 100 years; give a period of at most 5200w"),
        ("999999999999999999999w", "reaches back more than 100 years"),
        ("0001-01-01", "'0001-01-01' is outside the years 2000 to 2100"),
        ("9999-12-31T23:59:59+00:00", "is outside the years 2000 to 2100"),
    ],
)
def test_logs_since_refuses_periods_and_dates_that_would_overflow(settings, since, message):
    result = connector("logs", "--settings", str(settings), "--since", since, cwd=settings.parent)
    assert_one_line(result, 2, "--since:", message)


# --- report files -------------------------------------------------------------------------------


def test_a_report_into_a_missing_folder_names_the_folder_and_makes_none(settings):
    folder = settings.parent
    result = connector(
        "report", "verslagen", "--settings", str(settings), "--format", "csv", "--output", "out/r.csv", cwd=folder
    )
    assert_one_line(result, 2, "--output: the folder out does not exist; create it first (mkdir -p out)")
    assert not (folder / "out").exists()


@pytest.mark.parametrize("format", ["csv", "json", "table"])
def test_a_report_file_is_readable_by_its_owner_only(settings, format):
    folder = settings.parent
    old = folder / "old.txt"
    old.write_text("an older report\n")
    old.chmod(0o644)  # an existing file keeps no wider mode either
    for name in ("new.out", "old.txt"):
        result = connector(
            "report", "verslagen", "--settings", str(settings), "--format", format, "--output", name, cwd=folder
        )
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert "an older report" not in old.read_text(encoding="utf-8-sig")


# --- a database folder or lock file the service may not write -------------------------------------


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user may read (pytest's tmp_path is private to its owner), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="connector-readonly-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)  # our own read-only folders, for rmtree
        shutil.rmtree(folder)


class Service:
    """The connector run by a user who does not own what the test made read-only for it: as root
    (who may write anything) the user nobody; otherwise this user, after a chmod."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings = settings_copy(folder)
        self.settings.chmod(0o644)
        self.var = folder / "var"
        self.database = self.var / "connector.db"
        upgrade_to_head(str(self.database))
        self.var.chmod(0o755)  # created owner-only; the cases below take write access, not sight
        (self.var / "log").mkdir()
        self.give(self.var / "log")
        for secret in (folder / "dev-secrets", *(folder / "dev-secrets").iterdir()):
            self.give(secret)
        if ROOT and (shutil.which("setpriv") is None or connector("--help", cwd=folder, user=NOBODY).returncode != 0):
            pytest.skip("running as root, and the connector cannot be run as the user nobody here")

    def give(self, path: Path) -> None:
        """Make `path` the service user's own."""
        if ROOT:
            os.chown(path, NOBODY, NOBODY)

    def take(self, path: Path) -> None:
        """Make `path` read-only for the service user (as root: leave it root's, mode 0755 or 0600)."""
        if not ROOT:
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return connector(*args, "--settings", str(self.settings), cwd=self.folder, user=NOBODY if ROOT else None)


def fix_of(path: Path) -> str:
    user = "nobody" if ROOT else __import__("pwd").getpwuid(os.geteuid()).pw_name
    return f"give {user} write access (e.g. chown {user} {path}), or set [store] url to a writable place"


@pytest.mark.parametrize(
    "args", [("status",), ("logs",), ("run-due", "--wait", "0"), ("init-db",), ("daemon",)], ids=lambda a: a[0]
)
def test_a_read_only_database_folder_is_a_usage_error_naming_the_folder_and_the_fix(shared_folder, args):
    service = Service(shared_folder)
    service.give(service.database)  # the database is the service's; its folder is not
    service.take(service.var)
    result = service.run(*args)
    assert_one_line(result, 2, f"cannot write {service.var} (the database folder", fix_of(service.var))


def test_a_database_file_of_another_user_is_named_with_the_fix(shared_folder):
    service = Service(shared_folder)
    service.give(service.var)
    service.take(service.database)
    result = service.run("status")
    assert_one_line(result, 2, f"cannot write {service.database} (the store", fix_of(service.database))


@pytest.mark.parametrize(("args", "lock"), [(("run-due", "--wait", "0"), "run"), (("daemon",), "daemon")])
def test_a_read_only_lock_file_is_named_with_the_fix(shared_folder, args, lock):
    service = Service(shared_folder)
    service.give(service.var)
    service.give(service.database)
    lock_file = service.var / f"connector.db.{lock}.lock"
    lock_file.touch(mode=0o600)
    service.take(lock_file)
    result = service.run(*args)
    assert_one_line(result, 2, f"cannot write {lock_file} (the database's lock file)", fix_of(lock_file))


def test_health_reports_a_read_only_database_folder_as_unhealthy(shared_folder):
    service = Service(shared_folder)
    service.give(service.database)
    service.take(service.var)
    result = service.run("health")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert f"problem: cannot write {service.var} (the database folder" in result.stdout
