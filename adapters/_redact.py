"""Scrub secrets from text that may end up in an exception message.

Log lines are built from safe fields only (method, path, status, attempt, duration), so
this is the second line of defence: the vendor's own error text and the text of a
``requests`` exception can echo a URL with a query string, a token or the client secret.
"""

from __future__ import annotations

import re
import threading
from collections import deque

REDACTED = "[REDACTED]"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
# A query string may hold personal data (pupil_id, external_ref) or, with sloppy servers,
# secrets: keep scheme, host and path of any URL, drop the rest.
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]*)[?#][^\s'\"]*")
_SECRET_FIELD = re.compile(r"(?i)\b(client_secret|access_token|api_key|password)([\"']?\s*[=:]\s*[\"']?)[^\s&,'\"}]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


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
        text = _URL_QUERY.sub(rf"\1?{REDACTED}", text)
        text = _SECRET_FIELD.sub(rf"\1\2{REDACTED}", text)
        return _EMAIL.sub(REDACTED, text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"
