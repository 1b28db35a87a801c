"""Typed exceptions shared by the PAS and planner adapters.

Every failure an adapter raises is an :class:`AdapterError`, split in two families that
tell the engine what to do next:

* :class:`TemporaryError`: the vendor is (or may be) fine later. Leave the work for the next
  tick. The adapter already retried where that was safe.
* :class:`PermanentError`: repeating the same request will fail the same way (bad request,
  credentials, missing record, conflict). Needs a code fix, a human or a different request.

Messages are safe to log: they hold the vendor, method, path without query string, status,
error code and the vendor's message with secrets redacted (see ``adapters._redact``). They
never hold request or response bodies, tokens, API keys or client secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class AdapterError(Exception):
    """Base class of every adapter failure.

    Attributes: ``vendor`` ("pas"/"parro"), ``method``, ``path`` (no query string),
    ``status`` (HTTP status or None), ``code`` (vendor error code or None), ``message``
    (safe text), ``retry_after`` (seconds or None), ``details`` (vendor-provided list, e.g.
    validation problems), ``outcome_unknown`` (True when a write may or may not have been
    executed: a timeout or gateway error on a request that is not safe to repeat).
    """

    def __init__(
        self,
        message: str,
        *,
        vendor: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.details = list(details) if details else []
        self.outcome_unknown = outcome_unknown

    #: Whether the transport may repeat a request that failed this way (when the request is
    #: safe to repeat at all). Only a few temporary errors set this.
    retryable = False

    def __str__(self) -> str:
        where = " ".join(p for p in (self.vendor, self.method, self.path) if p)
        what = " ".join(str(p) for p in (self.status, self.code) if p is not None)
        text = ": ".join(part for part in (where, what, self.message) if part)
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g} s)"
        if self.outcome_unknown:
            text += " (outcome unknown: the request may have been executed)"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vendor={self.vendor!r}, method={self.method!r}, "
            f"path={self.path!r}, status={self.status!r}, code={self.code!r})"
        )


class PermanentError(AdapterError):
    """Repeating the same request will not help."""


class TemporaryError(AdapterError):
    """The vendor could not serve the request now; try again on a later tick."""


# --- permanent -------------------------------------------------------------------------


class BadRequest(PermanentError):
    """400: malformed request (invalid_parameter, invalid_cursor, ...)."""


class AuthError(PermanentError):
    """401: credentials missing, unknown or rejected."""


class InvalidToken(AuthError):
    """PAS rejected a freshly requested token too (contract: stop, do not loop on tokens)."""


class TokenEndpointError(AuthError):
    """PAS ``POST /oauth/token`` refused the client (invalid_client, invalid_request,
    unsupported_grant_type, 415). Never retried: the credentials or the request are wrong."""


class Forbidden(PermanentError):
    """403: the client has no access to this school."""


class NotFound(PermanentError):
    """404: unknown school, school year, planner or path."""


class MethodNotAllowed(PermanentError):
    """405: method not supported on this path."""


class Conflict(PermanentError):
    """409: the request conflicts with the current state."""


class DuplicateExternalRef(Conflict):
    """409 duplicate_external_ref: a planner with this external_ref already exists.

    ``existing_id`` is the id of that planner; ``ParroClient.get_existing_planner(error)``
    fetches it.
    """

    def __init__(self, message: str, *, existing_id: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.existing_id = existing_id


class InvalidState(Conflict):
    """409 invalid_state: e.g. opening a closed or cancelled planner."""


class InvalidMode(Conflict):
    """409 invalid_mode: a preferences-only operation on a self_select planner."""


class SlotUnavailable(Conflict):
    """409 slot_unavailable: a slot is already held by another child."""


class UnsupportedMediaType(PermanentError):
    """415: the body was not sent with the expected content type."""


class Unprocessable(PermanentError):
    """422: well-formed body the vendor does not accept."""


class ValidationFailed(Unprocessable):
    """422 validation_error; ``details`` lists ``{field, issue}`` problems."""


class IdempotencyMismatch(Unprocessable):
    """422 idempotency_mismatch: the Idempotency-Key was used for another request.

    The engine derived the key from an intent whose body changed: a bug, never retry.
    """


class ClientError(PermanentError):
    """Another 4xx status the contracts do not document."""


class UnexpectedResponse(PermanentError):
    """A response that breaks the contract: not JSON, a missing envelope member, a redirect."""


class PaginationLoop(UnexpectedResponse):
    """A listing stopped making progress: the planner returned a cursor already used in this
    listing, or pages that bring no item not seen before (a cursor that changes on every page
    while the items stay the same; PAS pages that ignore the offset)."""


# --- temporary -------------------------------------------------------------------------


class RequestTimeout(TemporaryError):
    """408 from the server."""

    retryable = True


class RateLimited(TemporaryError):
    """429: above the vendor's rate limit; ``retry_after`` says how long to wait."""

    retryable = True


class ServerError(TemporaryError):
    """5xx. 500/502/503/504 are retried (with ``retry_after`` when the vendor sent one)."""

    # The base class has a plain class attribute; here it depends on the status. Nothing assigns it.
    @property
    def retryable(self) -> bool:  # type: ignore[override]  # read-only property over a class attribute
        return self.status in (500, 502, 503, 504)


class TransportError(TemporaryError):
    """Connection failure or timeout; no HTTP status.

    ``sent`` is False only when the request certainly did not reach the server (connect
    timeout), which makes even an unsafe request safe to repeat.
    """

    retryable = True

    def __init__(self, message: str, *, sent: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.sent = sent


class VendorUnavailable(TemporaryError):
    """The vendor asked to wait longer than we are willing to block (``retry_after`` above
    the configured cap, e.g. the nightly PAS maintenance). Leave the work for a later tick."""


class RetriesExhausted(TemporaryError):
    """Gave up after the bounded retry time. ``status`` is the last HTTP status (None after a
    connection error), ``attempts`` the number of requests sent; ``__cause__`` is the last
    error."""

    def __init__(self, message: str, *, attempts: int = 0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.attempts = attempts


class LimitExceeded(TemporaryError):
    """A bound this side puts on every vendor read was hit: the request took longer than its
    total deadline, the response was larger than the cap, a listing had more pages than the
    cap, or the run the request belongs to reached its overall deadline. Never repeated at
    once (a vendor that trickles or floods would do it again); the work is left for a later
    tick.

    ``bound`` names the setting that holds the limit (``request_deadline_seconds``,
    ``max_response_mb``, ``max_pages``, the run's deadline setting) and ``limit`` its value in
    the unit of that setting, so the message says what to raise if the vendor really is that
    slow or that large.
    """

    def __init__(self, message: str, *, bound: str, limit: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.bound = bound
        self.limit = limit


class DeadlineExceeded(LimitExceeded):
    """One request (sending, waiting and reading the whole body) took longer than its total
    deadline. ``requests``' own read timeout is per socket read, so a server that sends one
    byte a second would otherwise never time out."""


class ResponseTooLarge(LimitExceeded):
    """The response body is larger than the cap; reading stopped at the cap (or at once, when
    ``Content-Length`` already said so)."""


class TooManyPages(LimitExceeded):
    """A listing went on for more pages than the cap (a vendor whose ``total`` or cursors never
    end would otherwise be read for ever)."""


class RunDeadlineExceeded(LimitExceeded):
    """The work this request belongs to (a run) reached its overall deadline
    (:func:`adapters.deadline.overall`); the request was not sent (or its wait was cut short).

    ``bound`` is the name of the setting the deadline came from (e.g.
    ``"[sync] run_deadline_seconds"``) and ``limit`` its seconds. Never retried: the time is up.
    When a retry was given up because its wait would cross the deadline, ``__cause__`` is the
    last error. ``outcome_unknown`` is set when a write was sent but its answer not read.
    """


_BY_CODE: dict[str, type[AdapterError]] = {
    "duplicate_external_ref": DuplicateExternalRef,
    "invalid_state": InvalidState,
    "invalid_mode": InvalidMode,
    "slot_unavailable": SlotUnavailable,
    "validation_error": ValidationFailed,
    "idempotency_mismatch": IdempotencyMismatch,
}

_BY_STATUS: dict[int, type[AdapterError]] = {
    400: BadRequest,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    408: RequestTimeout,
    409: Conflict,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: RateLimited,
}


def error_for_status(status: int, code: str | None) -> type[AdapterError]:
    """Return the exception class for an HTTP error status and vendor code.

    Known codes refine the status class; unknown codes fall back to the status, as both
    contracts require ("handle unknown codes by HTTP status").
    """
    by_status = _BY_STATUS.get(status)
    if by_status is None:
        by_status = ServerError if status >= 500 else ClientError
    refined = _BY_CODE.get(code or "")
    if refined is not None and issubclass(refined, by_status):
        return refined
    return by_status
