"""Scrub secrets from text that may end up in an exception message, and make vendor text safe to
store and print.

Log lines are built from safe fields only (method, path, status, attempt, duration), so
this is the second line of defence: the vendor's own error text and the text of a
``requests`` exception can echo a URL with a query string, a token or the client secret.

Vendor text is also hostile to a terminal and to a log reader: an id holding ANSI escapes and
CRLF clears the screen or fakes a line, a 100 kB title swamps the run log (issue W2-2).
:func:`clean` escapes and bounds it; ``connector.logging_setup.safe_text`` is the same with the
connector's redaction (phone numbers too). Pure text functions, no connector import.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable

REDACTED = "[REDACTED]"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
# A query string may hold personal data (pupil_id, external_ref) or, with sloppy servers,
# secrets: keep scheme, host and path of any URL, drop the rest.
# The query part is optional in the pattern (and kept out by `_drop_query`): a required one made a
# run of "http://" without "?" be scanned again from each of them (seconds for 100 kB).
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]*)([?#][^\s'\"]*)?")
_SECRET_FIELD = re.compile(r"(?i)\b(client_secret|access_token|api_key|password)([\"']?\s*[=:]\s*[\"']?)[^\s&,'\"}]+")
# Starts only where a run of address characters starts: else a long run without "@" is scanned
# again from each of its characters (quadratic: seconds for 100 kB of vendor text).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _drop_query(match: re.Match[str]) -> str:
    return f"{match.group(1)}?{REDACTED}" if match.group(2) else match.group(0)


class Redactor:
    """Replaces known secret values and secret-looking patterns with ``[REDACTED]``.

    Thread-safe. Secrets shorter than 4 characters are ignored (they would redact noise).
    Access tokens are added as they are issued; the most recent ``keep`` are remembered.
    """

    def __init__(self, secrets: tuple[str, ...] = (), keep: int = 32) -> None:
        self._lock = threading.Lock()
        self._secrets: deque[str] = deque(maxlen=keep)
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember ``secret`` so that :meth:`redact` removes it from text."""
        if secret and len(secret) >= 4:
            with self._lock:
                if secret not in self._secrets:
                    self._secrets.append(secret)

    def redact(self, text: str) -> str:
        """Return ``text`` with known secrets, bearer tokens, URL queries, secret-named
        fields and e-mail addresses replaced."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
        text = _URL_QUERY.sub(_drop_query, text)
        text = _SECRET_FIELD.sub(rf"\1\2{REDACTED}", text)
        return _EMAIL.sub(REDACTED, text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


# --- text made safe to store and print ----------------------------------------------------------

#: Bounds of vendor-supplied text once cleaned: an id, a code, a title or a field name; and a whole
#: message (a run-log event, an error text). The marker of a cut text counts within the bound.
ID_LIMIT = 200
TEXT_LIMIT = 2000

# Characters that move the cursor, clear or recolour a terminal, fake a line, or hide or reorder
# text: C0 (ESC, CR, LF and TAB included), DEL, C1; the soft hyphen and other invisible format
# characters (U+061C, U+180E, zero-width spaces and joiners, U+2060-U+206F, the BOM, the
# interlinear annotations, the tag characters); the bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) and marks (U+200E, U+200F); the line and paragraph separators;
# and lone surrogates, which cannot be encoded as UTF-8 at all (a write would raise).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\U000e0000-\U000e007f]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# An escape sequence that a cut would split: the cut goes before it instead.
_PARTIAL_ESCAPE = re.compile(r"\\(?:x[0-9a-f]?|u[0-9a-f]{0,3}|U[0-9a-f]{0,7})?$")


def _escaped(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    """``text`` with every control, invisible-format and bidi character written out visibly
    (``\\x1b``, ``\\r``, ``\\n``, ``\\t``, ``\\u202e``), so that it prints as one line, as it is.

    A backslash itself is left alone: escaping it would make the function change its own output
    (text is cleaned where it is stored and again where it is shown), and a literal ``\\n`` the
    vendor typed does no harm, it only reads like an escaped one."""
    return _UNSAFE.sub(_escaped, text)


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters; else its start with a visible marker,
    ``… (cut, 100,043 characters)`` (the length of ``text``), ``limit`` characters in all."""
    if len(text) <= limit:
        return text
    marker = f"… (cut, {len(text):,} characters)"
    head = text[: max(limit - len(marker), 0)]
    return _PARTIAL_ESCAPE.sub("", head) + marker


def clean(text: str, limit: int, redact: Callable[[str], str] | None = None) -> str:
    """Vendor-supplied text made safe to store and print: redacted (with ``redact``), control and
    bidi characters escaped, cut to ``limit`` characters. The cut's marker gives the length of the
    whole text as it would have been shown (escaped). Clean text comes through unchanged (unless
    a cut left a fragment that now looks like a token or a phone number: it is masked), so text
    can be cleaned where it is stored and again where it is shown.

    Redaction runs before the escaping (a phone number split by a newline is still one) and again
    after it (an e-mail address split by an invisible soft hyphen becomes one: ``jan\\xadx@…``),
    and both before the cut, so that a cut never leaves half a secret behind."""
    if redact is not None:
        text = redact(text)
    text = escape_controls(text)
    if redact is not None:
        text = redact(text)
    return cut(text, limit)
