"""Logging for the connector: structlog in front, stdlib logging underneath.

* One chain for everything: structlog events and stdlib records (apscheduler,
  alembic, sqlalchemy, urllib3, ...) all go through ``ProcessorFormatter``,
  so both are redacted and rendered alike (pitfalls, structlog section).
* One place for the lines, never two: the rotating JSON log file when one is
  set (``[logging] file``), else stdout (docker logs, the journal): readable
  lines when stdout is a terminal, JSON lines otherwise. Never stderr: that is
  the command's own messages (usage errors, "waiting up to ...", progress).
* Tracebacks never show local variables: they would dump credentials and
  pupil records (hynek/structlog#715). On the console the traceback is plain
  text (Rich's pretty traceback writes straight to the output, past redaction).
* Redaction is ours (structlog#782): by key, by value pattern, and exact
  secret values registered at runtime (:func:`register_secret`).

Bind run ids with ``structlog.contextvars.bound_contextvars(run_id=...)`` inside
each job: pool threads do not inherit contextvars (pitfalls, APScheduler).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from adapters._redact import ID_LIMIT, TEXT_LIMIT, clean
from connector.private_files import make_private_dirs

REDACTED = "[redacted]"

#: Keys whose values are always masked (compared lower-case, "-" read as "_").
SENSITIVE_KEYS = frozenset(
    {
        # names and contact details of pupils, parents and staff (domain.md, Privacy)
        "name",
        "naam",
        "roepnaam",
        "voornaam",
        "achternaam",
        "tussenvoegsel",
        "first_name",
        "last_name",
        "full_name",
        "display_name",
        "geboortedatum",
        "birth_date",
        "date_of_birth",
        "email",
        "e_mail",
        "telefoon",
        "phone",
        "mobile",
        "mobiel",
        "address",
        "adres",
        # credentials
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "password",
        "passwd",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "credentials",
        # free text that may hold any of the above: verslag and message bodies
        "body",
        "text",
        "note",
        "description",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key")

#: Keys whose values are known-safe identifiers; exempt from value patterns
#: (a SHA-256 payload hash would otherwise look like a hex secret).
SAFE_KEYS = frozenset({"payload_hash", "idempotency_key", "run_id", "external_ref"})

#: Stdlib loggers we route, and the level each is held at (None: inherit).
STDLIB_LEVELS: dict[str, int | None] = {
    # INFO is its own chatter ("Adding job tentatively", "Scheduler started"); misses and
    # crashes come through the daemon's listener (scheduler.py) as our own lines.
    "apscheduler": logging.WARNING,
    # DEBUG prints full URLs with query strings (pitfalls, structlog section).
    "urllib3": logging.WARNING,
    # INFO on sqlalchemy.engine logs every statement with its parameters.
    "sqlalchemy": logging.WARNING,
    # alembic says "Context impl SQLiteImpl." at INFO on every start; its errors still pass.
    "alembic": logging.WARNING,
}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values first, before the token pattern eats them.
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*", re.I), r"\1 " + REDACTED),
    # key=value pairs in URLs, form bodies and messages
    (
        re.compile(
            r"(?i)\b((?:client_)?secret|api_key|apikey|(?:access_|refresh_)?token"
            r"|password|client_id)=([^&\s\"']+)"
        ),
        r"\1=" + REDACTED,
    ),
    # The look-behind lets a match start only where a run of address characters starts: without it,
    # a 100 kB run of letters with no "@" is scanned again from each of its characters (seconds).
    (
        re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
        "[email]",
    ),
    # international numbers: +31 6 12345678, 0031-20-1234567, +31 (0)6 1234 5678
    (re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?\d(?:[\s.\-]?\d){6,11}(?!\w)"), "[phone]"),
    # Dutch national numbers: ten digits from a leading 0 (06-12345678, 020 123 4567)
    (re.compile(r"(?<![\w+\-.:])0\d(?:[\s.\-]?\d){8}(?![\w\-])"), "[phone]"),
    # long hex strings: tokens, keys (dashed UUIDs are not matched)
    (re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])"), REDACTED),
)
# base64/base64url/JWT-like runs; masked only if they mix upper, lower and digits,
# so long lower-case file paths in tracebacks stay readable.
_B64_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])")

_secrets_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_installed_handlers: list[logging.Handler] = []
_MIN_SECRET_LENGTH = 4


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears in a log line from now on.

    Call it for every configured credential (client secret, API key) and for
    tokens obtained at runtime. Values shorter than 4 characters are ignored:
    masking them would shred every log line.
    """
    global _secrets
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value not in _secrets:
            # Longest first, so a secret containing another is masked whole.
            _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def clear_registered_secrets() -> None:
    """Forget all registered secrets (for tests)."""
    global _secrets
    with _secrets_lock:
        _secrets = ()


def _b64_replace(match: re.Match[str]) -> str:
    token = match.group(0)
    if any(c.isdigit() for c in token) and any(c.islower() for c in token) and any(c.isupper() for c in token):
        return REDACTED
    return token


def redact_text(text: str) -> str:
    """Mask registered secrets, credentials, e-mail addresses and phone numbers."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _B64_CANDIDATE.sub(_b64_replace, text)


def safe_text(text: object, limit: int = TEXT_LIMIT) -> str:
    """Text that came from a vendor (or may hold such text) made safe to store and to print.

    Redacted as :func:`redact_text` does (registered secrets, credentials, e-mail addresses,
    phone numbers), every control, invisible-format and bidi character escaped visibly (ESC as
    ``\\x1b``, CR LF as ``\\r\\n``, U+202E as ``\\u202e``), and cut to ``limit`` characters with
    a visible marker, ``… (cut, 100,043 characters)``. Clean text comes through unchanged.

    TAB and LF are escaped too, also in messages we write ourselves: a run-log event is one line
    (one table row, one JSON line), and none of ours spans lines. ``None`` gives "".

    ``limit``: :data:`TEXT_LIMIT` (2,000) for a whole message; :func:`safe_id` (:data:`ID_LIMIT`,
    200) for an id, a code or a title.
    """
    return "" if text is None else clean(str(text), limit, redact_text)


def safe_id(value: object) -> str:
    """A vendor id (or code, title, action) made safe to store and print: :func:`safe_text`
    bounded to :data:`ID_LIMIT` (200) characters."""
    return safe_text(value, ID_LIMIT)


def is_sensitive_key(key: Any) -> bool:
    """Whether values under this key are masked whatever they look like."""
    if not isinstance(key, str):
        return False
    k = key.lower().replace("-", "_")
    return k in SENSITIVE_KEYS or k.endswith(_SENSITIVE_SUFFIXES)


def redact_value(value: Any, *, by_key: bool = True) -> Any:
    """Redact a value recursively (dicts, lists, tuples, sets; strings by pattern).

    With ``by_key=False`` only value patterns apply: used for structures we
    generate ourselves, like a traceback dict whose frames have a "name" key.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if by_key and is_sensitive_key(k) and v is not None:
                out[k] = REDACTED
            elif k in SAFE_KEYS and isinstance(v, str):
                out[k] = _mask_secrets_only(v)
            else:
                out[k] = redact_value(v, by_key=by_key)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact_value(v, by_key=by_key) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    # Anything else is rendered with repr() by the JSON renderer: check that text.
    rendered = repr(value)
    cleaned = redact_text(rendered)
    return value if cleaned == rendered else cleaned


def _mask_secrets_only(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact the whole event dict, exception text included.

    Run it after the exception is rendered into ``exception`` and before the
    renderer.
    """
    out: EventDict = {}
    for key, value in event_dict.items():
        if key in ("exception", "event", "stack"):
            # Our own structures/messages: patterns only (traceback frames
            # have a "name" key that is a function name, not a person's).
            out[key] = redact_value(value, by_key=not isinstance(value, str | list))
        else:
            out.update(redact_value({key: value}))
    return out


def _parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}: use debug, info, warning or error")
    return value


def _shared_processors() -> list[Processor]:
    """Processors for every record, structlog or stdlib, before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _json_formatter(shared: list[Processor]) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            redact,
            structlog.processors.JSONRenderer(),
        ],
    )


def _console_formatter(shared: list[Processor], colors: bool) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Plain-text traceback (no locals) into "exception", redacted below;
            # ConsoleRenderer prints that string as is.
            structlog.processors.format_exc_info,
            redact,
            structlog.dev.ConsoleRenderer(colors=colors),
        ],
    )


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files (also after rollover) are mode 0600, and that formats (and so
    redacts) each record once: the stdlib's `shouldRollover` formats a record to measure it, then `emit`
    formats it again. Both run under the handler's lock, for one record after the other."""

    _formatted: tuple[logging.LogRecord, str] | None = None  # the last record and its text

    def format(self, record: logging.LogRecord) -> str:
        last = self._formatted
        if last is not None and last[0] is record:
            return last[1]
        text = super().format(record)
        self._formatted = (record, text)
        return text

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def configure_logging(
    *,
    level: str | int = "info",
    json: bool | None = None,
    log_file: Path | str | None = None,
    stream: TextIO | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
) -> None:
    """Configure structlog and stdlib logging; safe to call again.

    Lines go to one place: ``log_file`` when given (a rotating JSON log,
    ``max_bytes`` per file, ``backup_count`` old files, created 0600), else
    ``stream`` (default: stdout). ``json`` forces JSON lines (True) or console
    lines (False) on the stream; by default JSON unless it is a terminal. A
    second call replaces the handlers of the first, so nothing is logged twice.
    """
    numeric_level = _parse_level(level)
    stream = stream if stream is not None else sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    use_json = json if json is not None else not tty
    shared = _shared_processors()

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: structlog.testing.capture_logs must work on any logger.
        cache_logger_on_first_use=False,
    )

    handlers: list[logging.Handler] = []
    if log_file is None:
        console = logging.StreamHandler(stream)
        console.setFormatter(_json_formatter(shared) if use_json else _console_formatter(shared, tty))
        handlers.append(console)
    else:
        log_file = Path(log_file)
        make_private_dirs(log_file.parent)  # var/ too, not only var/log/
        file_handler = PrivateRotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
        )
        file_handler.setFormatter(_json_formatter(shared))
        handlers.append(file_handler)

    root = logging.getLogger()
    for old in _installed_handlers:
        root.removeHandler(old)
        old.close()
    _installed_handlers[:] = handlers
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(numeric_level)

    for name, fixed in STDLIB_LEVELS.items():
        logger = logging.getLogger(name)
        logger.setLevel(fixed if fixed is not None else logging.NOTSET)
        logger.propagate = True
    logging.captureWarnings(True)


def reset_logging(root_level: int = logging.WARNING) -> None:
    """Undo configure_logging: remove its handlers and registered secrets, structlog defaults.

    For tests, which configure logging many times in one process."""
    root = logging.getLogger()
    for handler in list(_installed_handlers):
        root.removeHandler(handler)
        handler.close()
    _installed_handlers.clear()
    root.setLevel(root_level)
    logging.captureWarnings(False)
    clear_registered_secrets()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A structlog logger (``structlog.stdlib.BoundLogger`` once configured)."""
    return structlog.get_logger(name, **initial)
