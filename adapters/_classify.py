"""Turn a failed response or a ``requests`` exception into a typed adapter error.

Both error formats are understood, whatever the vendor: planner ``{"error": {"code",
"message", "details"?}}`` and PAS ``application/problem+json`` ``{type, title, status,
detail}`` (the token endpoint adds the OAuth ``error`` member). Unknown codes fall back to
the HTTP status (both contracts, "Errors"). Gateway bodies may be HTML: never parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import requests

from adapters._redact import ID_LIMIT, Redactor, clean
from adapters._retry_after import parse_retry_after
from adapters.errors import (
    AdapterError,
    DuplicateExternalRef,
    InvalidToken,
    PermanentError,
    TransportError,
    UnexpectedResponse,
    VendorUnavailable,
    error_for_status,
)

# A write that ended in one of these may have been executed (planner contract,
# "Idempotency": timeout, 502 or 504; a 500 may have failed half-way).
_UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 504})
_MAX_TEXT = 300
_WORDS = re.compile(r"[^\W_]+")
# Words a problem title may use beside those of its own type and HTTP status and still say nothing
# about the occurrence (see `plain_title`). No word here is also a first name or surname one meets.
_TITLE_WORDS = frozenset(
    _WORDS.findall(
        "a an the is are was were not no of in on at for or and to too by with this that has have been be"
        " please try again later now request requests access token parameter parameters value values field"
        " fields resource service server temporarily temporary error failed invalid missing unknown malformed"
        " expired revoked limit exceeded rate maintenance progress nightly scheduled school year pupil pupils"
        " group groups note notes staff"
    )
)


@dataclass(frozen=True)
class Call:
    """What was being sent, for error messages: never a query string or a body."""

    vendor: str
    method: str
    path: str
    safe: bool


def error_from_response(
    response: requests.Response,
    call: Call,
    *,
    redactor: Redactor,
    retry_after_cap: float,
    reauthed: bool = False,
) -> AdapterError:
    """Return the typed error for a response whose status was not expected.

    4xx give a :class:`~adapters.errors.PermanentError` subclass (refined by code), except
    408/429 which are temporary; 5xx give :class:`~adapters.errors.ServerError`. A
    ``Retry-After`` above ``retry_after_cap`` gives
    :class:`~adapters.errors.VendorUnavailable`. A 401 after a token refresh gives
    :class:`~adapters.errors.InvalidToken`.
    """
    status = response.status_code
    code, message, details, error = parse_error_body(response, redactor)
    common: dict[str, Any] = {
        "vendor": call.vendor,
        "method": call.method,
        "path": call.path,
        "status": status,
        "code": code,
        "details": details,
    }
    if status < 400:
        kind = "redirect" if 300 <= status < 400 else "success status"
        return UnexpectedResponse(f"unexpected {kind} (HTTP {status})", **common)
    if status == 401 and reauthed:
        return InvalidToken(message + " (rejected again after requesting a new token)", **common)
    cls = error_for_status(status, code)
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        common["retry_after"] = retry_after
        common["outcome_unknown"] = not call.safe and status in _UNKNOWN_OUTCOME_STATUSES
        if retry_after is not None and retry_after > retry_after_cap:
            # Contracts, "Rate limits and maintenance": do not block a thread for an
            # hour-long maintenance window; the engine tries again on a later tick.
            return VendorUnavailable(message, **common)
    if cls is DuplicateExternalRef:
        existing = error.get("existing_id")
        return DuplicateExternalRef(message, existing_id=existing if isinstance(existing, str) else None, **common)
    return cls(message, **common)


def error_from_exception(exc: requests.RequestException, call: Call, *, redactor: Redactor) -> AdapterError:
    """Return a :class:`~adapters.errors.TransportError` for connection failures and
    timeouts (``sent`` False only for a connect timeout), a plain
    :class:`~adapters.errors.PermanentError` for anything else (invalid URL, ...).

    The text is redacted: the requests message holds the full URL with its query string.
    """
    text = clean(f"{type(exc).__name__}: {exc}", _MAX_TEXT, redactor.redact)
    if isinstance(
        exc,
        (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ),
    ):
        sent = not isinstance(exc, requests.ConnectTimeout)
        return TransportError(
            text,
            sent=sent,
            outcome_unknown=sent and not call.safe,
            vendor=call.vendor,
            method=call.method,
            path=call.path,
        )
    return PermanentError(text, vendor=call.vendor, method=call.method, path=call.path)


def parse_error_body(
    response: requests.Response, redactor: Redactor
) -> tuple[str | None, str, list[dict[str, str]], dict[str, Any]]:
    """Return (code, safe message, safe details, planner error object) of an error body.

    Never raises: a body that is not a JSON object gives no code and ``"HTTP <status>"``.
    """
    generic = f"HTTP {response.status_code}"
    if "json" not in response.headers.get("Content-Type", "").lower():
        return None, generic, [], {}
    try:
        body = response.json()
    except ValueError:
        return None, generic, [], {}
    if not isinstance(body, dict):
        return None, generic, [], {}
    # Only the vendor's codes, plain titles and field names are kept: its own sentences (a planner
    # "message", a problem "detail", a detail's "issue", a title that says more than its type) may
    # quote a pupil's or parent's name, which no pattern can recognise, and an error ends up in logs
    # and the sync log (issues 6 and W2-2).
    error = body.get("error")
    if isinstance(error, dict):  # planner format
        code, message, details = error.get("code"), None, error.get("details")
    else:  # problem+json; the token endpoint adds "error": "invalid_client" etc.
        code = error if isinstance(error, str) else problem_slug(body.get("type"))
        message, details, error = body.get("title"), None, {}
    # Codes, titles and field names are vendor text all the same: escaped, bounded and redacted like
    # any (an ANSI escape in a field name would reach the terminal through the run log).
    code = clean(code, ID_LIMIT, redactor.redact) if isinstance(code, str) and code else None
    safe_details = [
        {"field": clean(str(item["field"]), ID_LIMIT, redactor.redact)}
        for item in (details if isinstance(details, list) else [])
        if isinstance(item, dict) and "field" in item
    ]
    if not (isinstance(message, str) and plain_title(message, code, response.status_code)):
        message = None
    text = clean(message, ID_LIMIT, redactor.redact) if message else (code or generic)
    return code, text, safe_details, error


def plain_title(title: str, code: str | None, status: int) -> bool:
    """Whether a problem ``title`` says no more than its type and status: "Not found", "Bad request",
    "Service unavailable", "Invalid client".

    RFC 9457 has the title summarise the problem type, the same for every occurrence. One PAS title
    was found quoting a parent's name, which no pattern recognises: a title with any other word
    than those of its code, of its HTTP status or of a short list of plain words is not kept, and
    the code stands for it (as for the planner, whose messages are never kept)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    known = {*_WORDS.findall(f"{code or ''} {phrase} {status}".lower()), *_TITLE_WORDS}
    words = _WORDS.findall(title.lower())
    return len(title) <= ID_LIMIT and bool(words) and set(words) <= known


def problem_slug(problem_type: Any) -> str | None:
    """Return the last path segment of a problem ``type`` URI as its code
    (``https://pas.example/problems/invalid-token`` -> ``invalid-token``), or None."""
    if not isinstance(problem_type, str):
        return None
    slug = problem_type.rstrip("/").rsplit("/", 1)[-1]
    return slug or None
