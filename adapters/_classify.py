"""Turn a failed response or a ``requests`` exception into a typed adapter error.

Both error formats are understood, whatever the vendor: planner ``{"error": {"code",
"message", "details"?}}`` and PAS ``application/problem+json`` ``{type, title, status,
detail}`` (the token endpoint adds the OAuth ``error`` member). Unknown codes fall back to
the HTTP status (both contracts, "Errors"). Gateway bodies may be HTML: never parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from adapters._redact import Redactor
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
    text = redactor.redact(f"{type(exc).__name__}: {exc}")[:_MAX_TEXT]
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
    # Only the vendor's codes, titles and field names are kept: its own sentences (a planner
    # "message", a problem "detail", a detail's "issue") may quote a pupil's or parent's name,
    # which no pattern can recognise, and an error ends up in logs and the sync log (issue 6).
    error = body.get("error")
    if isinstance(error, dict):  # planner format
        code, message, details = error.get("code"), None, error.get("details")
    else:  # problem+json; the token endpoint adds "error": "invalid_client" etc.
        code = error if isinstance(error, str) else problem_slug(body.get("type"))
        message, details, error = body.get("title"), None, {}
    safe_details = [
        {"field": redactor.redact(str(item["field"]))[:_MAX_TEXT]}
        for item in (details if isinstance(details, list) else [])
        if isinstance(item, dict) and "field" in item
    ]
    text = (
        redactor.redact(str(message))[:_MAX_TEXT] if message else (code if isinstance(code, str) and code else generic)
    )
    return (code if isinstance(code, str) and code else None), text, safe_details, error


def problem_slug(problem_type: Any) -> str | None:
    """Return the last path segment of a problem ``type`` URI as its code
    (``https://pas.example/problems/invalid-token`` -> ``invalid-token``), or None."""
    if not isinstance(problem_type, str):
        return None
    slug = problem_type.rstrip("/").rsplit("/", 1)[-1]
    return slug or None
