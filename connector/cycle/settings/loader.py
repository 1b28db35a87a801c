"""Read, validate and check a settings file, collecting every problem at once.

Three passes, each adding to one list of problems: TOML syntax, the typed models, and the
checks across keys (references, secrets, templates, and every round placed on every school's
calendar). A problem names the file, the key path and, where the text shows it, the line.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from connector.cycle.settings.files import SECRET_LIMIT, SETTINGS_LIMIT, NotReadable, read_small_file, utf8_problem
from connector.cycle.settings.locate import LineIndex
from connector.cycle.settings.models import SecretRef, Settings
from connector.cycle.settings.templates import check_template
from connector.errors import SettingsError
from connector.private_files import readable_by_others

DEFAULT_PATH = "settings.toml"
ENV_VAR = "CONNECTOR_SETTINGS"


@dataclass(frozen=True)
class Problem:
    path: tuple
    message: str
    line: int | None = None

    def render(self, file: Path) -> str:
        where = f"{file}:{self.line}" if self.line else str(file)
        return f"{where}: {format_path(self.path)}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings with the file they came from; relative paths resolve against its folder."""

    settings: Settings
    path: Path

    def resolve_path(self, value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.path.parent / candidate)

    def secret_warnings(self) -> list[str]:
        """A warning per secret file that others than its owner may read, naming the fix."""
        s = self.settings
        refs = [s.pas.client_secret, *(school.planner_api_key for school in s.schools)]
        if isinstance(s.store.url, SecretRef):
            refs.append(s.store.url)
        out = []
        for path in dict.fromkeys(_secret_path(ref, self.path.parent) for ref in refs if ref.file is not None):
            who = readable_by_others(path)
            if who is not None:
                # The name apart from its folder: a log line masks a long mixed-case path as a token.
                out.append(f"secret file {path.name} in {path.parent} can be read by {who}: chmod 600 it")
        return out

    def read_secret(self, ref: SecretRef) -> str:
        """The secret's value; raises SettingsError when it cannot be read (never shows the value)."""
        value = _secret_value(ref, self.path.parent)
        if isinstance(value, Problem):
            raise SettingsError([value.render(self.path)])
        return value


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def settings_path(explicit: str | os.PathLike | None) -> Path:
    """The settings file to read: --settings, else $CONNECTOR_SETTINGS, else ./settings.toml."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load_settings(explicit: str | os.PathLike | None = None) -> LoadedSettings:
    """Read and validate the settings; raises SettingsError listing every problem."""
    path = settings_path(explicit)
    text = _read_settings_text(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"{path}: not valid TOML: {exc}"]) from None
    index = LineIndex(text)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = [_from_pydantic(error) for error in exc.errors(include_url=False)]
        raise SettingsError(_render(problems, index, path)) from None
    problems = check_semantics(settings, path.parent)
    if problems:
        raise SettingsError(_render(problems, index, path))
    return LoadedSettings(settings, path.resolve())


def _read_settings_text(path: Path) -> str:
    """The settings file's text; a SettingsError naming the file (and the line, for a byte that is
    not UTF-8) when it is missing, not a regular file, too large or not UTF-8."""
    try:
        data = read_small_file(path, SETTINGS_LIMIT)
    except FileNotFoundError:
        raise SettingsError([f"{path}: no such settings file (give --settings PATH or set {ENV_VAR})"]) from None
    except NotReadable as exc:
        raise SettingsError([f"{path}: not a settings file: {exc.strerror}; give the path of the .toml file"]) from None
    except OSError as exc:
        raise SettingsError([f"{path}: cannot be read: {exc.strerror or exc.__class__.__name__}"]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, message = utf8_problem(data, exc)
        raise SettingsError([f"{path}:{line}: {message}"]) from None


def _render(problems: list[Problem], index: LineIndex, path: Path) -> list[str]:
    """The problems in the order of their lines (those without a line last), as the file reads."""
    placed = [Problem(p.path, p.message, p.line or index.line_of(p.path)) for p in problems]
    placed.sort(key=lambda p: p.line or sys.maxsize)
    return [p.render(path) for p in placed]


def _from_pydantic(error: ErrorDetails) -> Problem:
    loc = tuple(
        part
        for part in error["loc"]
        if part not in ("str", "TemplateRef", "SecretRef", "int") and not str(part).startswith("function-")
    )
    kind, message = error["type"], error["msg"]
    value = error.get("input")
    if kind == "extra_forbidden":
        message = "unknown key (a typo?)"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "literal_error":
        allowed = message.removeprefix("Input should be ").replace("'", '"')
        message = f"{value!r} is not one of {allowed}"
    elif kind == "enum":
        allowed = error.get("ctx", {}).get("expected", "").replace("'", '"')
        message = f"{value!r} is not one of {allowed}"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "string_pattern_mismatch" and loc and loc[-1] == "id":
        message = f"{value!r} is not a round id: lower-case letters, digits and hyphens"
    elif kind == "string_pattern_mismatch" and loc and loc[-1] == "base_url":
        message = f"{value!r} is not an http(s) URL"
    elif kind in ("int_type", "float_type", "bool_type") and isinstance(value, str):
        message = _quoted_value(kind, loc[-1] if loc and isinstance(loc[-1], str) else None, value)
    elif kind == "int_type" and isinstance(value, float):
        message = f"{value!r} is not a whole number" + (f": write {int(value)}" if value.is_integer() else "")
    elif kind in ("int_type", "float_type") and isinstance(value, bool):
        message = f"{str(value).lower()} is not a number"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than") or kind.endswith(
        ("_type", "_parsing")
    ):
        message = f"{value!r}: {message[0].lower()}{message[1:]}"
    if loc and loc[-1] in ("client_secret", "planner_api_key") and isinstance(value, str):
        message = 'a secret is never written in the settings file: give { env = "VARIABLE" } or { file = "path" }'
    if loc == ("store", "url") and kind == "string_type":
        message = (
            f'{value!r}: give a file path, an SQLAlchemy URL, or where the URL is kept: {{ env = "VARIABLE" }} '
            'or { file = "path" }'
        )
    return Problem(loc, _with_form(loc, kind, value, message))


def _quoted_value(kind: str, key: str | None, value: str) -> str:
    """A number or true/false written in quotes is text; say how to write it (`key`: None in a list)."""
    if kind == "bool_type":
        return f"{value!r} is text: write true or false without quotes"
    wanted = "a whole number" if kind == "int_type" else "a number"
    try:
        float(value)
    except ValueError:
        return f"{value!r} is not {wanted}"
    example = f"{key} = {value.strip()}" if key else value.strip()
    return f"{value!r} is text: write {wanted} without quotes, {example}"


_DATE_RANGE = "{ start = 2026-10-17, end = 2026-10-25 }"
# The form of a key whose wrong guesses pydantic answers in its own words ("a valid dictionary ...").
_FORMS = {
    "vacations": f"vacations = {{ herfstvakantie = {_DATE_RANGE} }} (TOML dates, without quotes)",
    "free_days": 'free_days = [{ start = 2026-10-26, end = 2026-10-26, reason = "studiedag" }] (TOML dates)',
}


def _with_form(loc: tuple, kind: str, value: object, message: str) -> str:
    """The message about a value under `vacations` or `free_days`, showing the form those keys take."""
    key = next((part for part in loc if part in _FORMS), None)
    if key is None or kind == "value_error":  # our own checks say what is wrong in full
        return message
    if kind in ("model_type", "dict_type", "list_type", "tuple_type"):
        return f"{value!r} is not in the form {_FORMS[key]}"
    return f"{message}; the form is {_FORMS[key]}"


def check_semantics(settings: Settings, base: Path) -> list[Problem]:
    """Checks across keys; each problem names the key path it is about."""
    # Imported here: the year plan needs the holidays data, which plain model checks do not.
    from connector.cycle.schooldays import SchoolCalendar
    from connector.cycle.yearplan import PlanProblem, plan_round

    problems: list[Problem] = []
    problems += _secret_problems(("pas", "client_secret"), settings.pas.client_secret, base)
    if isinstance(settings.store.url, SecretRef):
        problems += _secret_problems(("store", "url"), settings.store.url, base)
    for cycle_name, cycle in settings.cycles.items():
        first: dict[str, int] = {}
        for k, rnd in enumerate(cycle.rounds):
            path = ("cycles", cycle_name, "rounds", k)
            problems += [Problem(path + (key,), message) for key, message in rnd.problems()]
            if rnd.id in first:
                problems.append(
                    Problem(path + ("id",), f"round id {rnd.id!r} is already used by rounds[{first[rnd.id]}]")
                )
            first.setdefault(rnd.id, k)
    seen: dict[str, int] = {}
    for i, school in enumerate(settings.schools):
        where = ("schools", i)
        if school.brin in seen:
            problems.append(
                Problem(where + ("brin",), f"{school.brin} is already used by schools[{seen[school.brin]}]")
            )
        seen.setdefault(school.brin, i)
        problems += _secret_problems(where + ("planner_api_key",), school.planner_api_key, base)
        if school.cycle is None and len(settings.cycles) > 1:
            problems.append(
                Problem(
                    where,
                    f'several cycles are defined ({", ".join(settings.cycles)}): say which one with cycle = "..."',
                )
            )
            continue
        if school.cycle is not None and school.cycle not in settings.cycles:
            problems.append(
                Problem(
                    where + ("cycle",),
                    f"no cycle named {school.cycle!r}; defined: {', '.join(settings.cycles) or 'none'}",
                )
            )
            continue
        try:
            calendar = SchoolCalendar(school)
        except LookupError as exc:
            problems.append(Problem(where + ("school_year",), str(exc)))
            continue
        for j, free in enumerate(school.free_days):
            if free.end < calendar.first_day or free.start > calendar.last_day:
                problems.append(
                    Problem(
                        where + ("free_days", j),
                        f"{free.start} to {free.end} is outside school year {school.school_year.year}",
                    )
                )
        cycle_name = school.cycle or next(iter(settings.cycles))
        for k, rnd in enumerate(settings.cycle_for(school).rounds):
            round_path = ("cycles", cycle_name, "rounds", k)
            try:
                plan_round(settings, school, calendar, rnd)
            except PlanProblem as problem:
                field = tuple(problem.field.split("."))
                problems.append(Problem(round_path + field, problem.message))
            for name in ("invitation", "reminder", "teacher_notice"):
                template = getattr(rnd.templates, name)
                for message in check_template(name, template, base):
                    problems.append(Problem(round_path + ("templates", name), message))
    return _unique(problems)


def _unique(problems: list[Problem]) -> list[Problem]:
    """A cycle shared by several schools reports a template problem once, not per school."""
    out: list[Problem] = []
    for problem in problems:
        if problem not in out:
            out.append(problem)
    return out


def _secret_value(ref: SecretRef, base: Path) -> str | Problem:
    if ref.env is not None:
        value = os.environ.get(ref.env, "")
        if not value.strip():
            return Problem((), f"environment variable {ref.env} is not set or empty")
        return value.strip()
    path = _secret_path(ref, base)
    try:
        value = read_small_file(path, SECRET_LIMIT).decode("utf-8").strip()
    except OSError as exc:
        return Problem((), f"secret file {path} cannot be read ({exc.strerror or exc.__class__.__name__})")
    except UnicodeDecodeError:
        return Problem((), f"secret file {path} is not UTF-8 text")
    if not value:
        return Problem((), f"secret file {path} is empty")
    return value


def _secret_path(ref: SecretRef, base: Path) -> Path:
    path = Path(ref.file).expanduser()  # type: ignore[arg-type]
    return path if path.is_absolute() else base / path


def _secret_problems(path: tuple, ref: SecretRef, base: Path) -> list[Problem]:
    value = _secret_value(ref, base)
    return [Problem(path, value.message)] if isinstance(value, Problem) else []
