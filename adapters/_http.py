"""Shared HTTP transport of both adapters: one place for timeouts, retries, rate limiting,
error classification and logging (pitfalls.md, "requests and tenacity").

Retry rules, in one sentence each:

* Only requests that are safe to repeat are retried: GETs, the PAS token request, and
  writes the contract makes idempotent: those with an ``Idempotency-Key``, open/close
  (documented as ``200`` no-ops when repeated) and a PATCH that adds no slots (it only sets
  values). The client decides (``safe=``). An unsafe write is only repeated after a ``429``
  or a connect timeout, both of which mean it was not executed.
* Retried: connection errors, timeouts, 408, 429, 500, 502, 503, 504.
* ``Retry-After`` (seconds or HTTP-date) is honoured as the wait; otherwise exponential
  backoff with jitter. A ``Retry-After`` above ``HttpPolicy.retry_after_cap`` raises
  :class:`~adapters.errors.VendorUnavailable` at once instead of blocking a thread.
* The total time per call is bounded by ``HttpPolicy.deadline`` (checked before every
  sleep, on the injected clock: tenacity's ``stop_before_delay`` reads ``time.monotonic``
  itself, so the same rule is reimplemented on our clock); giving up raises :class:`~adapters.errors.RetriesExhausted`
  naming method, path and the last status.
* urllib3 retries are disabled (``max_retries=0``) so attempts do not multiply.

Thread safety: each thread gets its own ``requests.Session`` (``threading.local``), because
Sessions are not guaranteed thread-safe (psf/requests#1871). The limiter, the redactor and
the auth objects are thread-safe, so one client may be shared between threads. Sessions
are closed by ``close()``; use a bounded thread pool, not a thread per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
import structlog
import tenacity
from requests.adapters import HTTPAdapter

from adapters._classify import Call, error_from_exception, error_from_response
from adapters._ratelimit import SlidingWindowLimiter
from adapters._redact import Redactor
from adapters.errors import (
    AdapterError,
    RateLimited,
    RetriesExhausted,
    TemporaryError,
    TransportError,
    UnexpectedResponse,
)

log = structlog.get_logger(__name__)

# urllib3 logs full URLs (with query strings) at DEBUG. Quiet it unless the application's
# logging setup already chose a level.
if logging.getLogger("urllib3").level == logging.NOTSET:
    logging.getLogger("urllib3").setLevel(logging.WARNING)


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry budget of one client. All values in seconds.

    ``read_timeout`` is per socket read (requests semantics), PAS asks to allow >= 10 s.
    ``deadline`` bounds the retrying of one call (one page, one write): no sleep starts that
    would end after it. ``retry_after_cap`` is the longest ``Retry-After`` we wait for.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    deadline: float = 90.0
    retry_after_cap: float = 60.0
    backoff_multiplier: float = 0.5
    backoff_max: float = 20.0
    backoff_jitter: float = 1.0
    max_attempts: int = 8


class RetryingAuth(Protocol):
    """A ``requests`` auth hook that can tell whether a 401 deserves one repeat."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def should_repeat_after_401(self, response: requests.Response) -> bool: ...


def default_session() -> requests.Session:
    """Return a Session without urllib3-level retries (tenacity owns retrying)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept"] = "application/json"
    return session


class _stop_at_deadline(tenacity.stop.stop_base):
    """Stop when the next sleep would end after the deadline, measured on *our* clock.

    tenacity's own ``stop_before_delay`` reads ``time.monotonic`` directly, which tests
    cannot advance; this is the same rule on the injected clock.
    """

    def __init__(self, clock: Callable[[], float], deadline_at: float) -> None:
        self._clock = clock
        self._deadline_at = deadline_at

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep >= self._deadline_at


class _wait_retry_after(tenacity.wait.wait_base):
    """Wait what the vendor asked for (at least that long), else the fallback backoff."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self._fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return self._fallback(retry_state)


def _retryable_if_safe(exc: BaseException) -> bool:
    return isinstance(exc, AdapterError) and exc.retryable


def _retryable_if_unsafe(exc: BaseException) -> bool:
    # A 429 was rejected before execution; a connect timeout never reached the server.
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, TransportError) and not exc.sent


class Transport:
    """Sends requests for one vendor client. Not part of the public adapter API."""

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        auth: RetryingAuth | None,
        policy: HttpPolicy,
        limiter: SlidingWindowLimiter,
        redactor: Redactor,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        session_factory: Callable[[], requests.Session] = default_session,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._auth = auth
        self._limiter = limiter
        self._redactor = redactor
        self._clock = clock
        self._sleep = sleep
        self._session_factory = session_factory
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    # --- sessions -----------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every Session this transport opened (in any thread)."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    # --- requests -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        safe: bool,
        expect: tuple[int, ...] = (200,),
        use_auth: bool = True,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one logical request, retrying where safe; return the response.

        ``path`` starts with ``/`` and holds no query string (that goes in ``params``), so it
        is safe to log. ``safe`` says the request may be repeated. Returns a response whose
        status is in ``expect``. Raises a :class:`~adapters.errors.PermanentError` subclass
        for 4xx, :class:`~adapters.errors.VendorUnavailable` for a long ``Retry-After``,
        :class:`~adapters.errors.RetriesExhausted` when the retry budget ran out, or the
        last :class:`~adapters.errors.TemporaryError` for an unsafe request.
        """
        url = self.base_url + path
        call = Call(self.vendor, method, path, safe)
        started = self._clock()
        state = {"attempts": 0, "reauthed": False}
        kwargs = {"params": params, "json": json, "data": data, "headers": headers}
        auth = self._auth if use_auth else None

        def attempt() -> requests.Response:
            while True:
                state["attempts"] += 1
                response = self._send(call, url, state["attempts"], auth, kwargs)
                # PAS contract, "Authentication": on invalid_token request a new token once
                # and repeat the request once; the auth hook decides and drops the token.
                if (
                    response.status_code == 401
                    and auth is not None
                    and not state["reauthed"]
                    and auth.should_repeat_after_401(response)
                ):
                    state["reauthed"] = True
                    log.info("http_reauthenticate", vendor=self.vendor, method=method, path=path)
                    continue
                if response.status_code in expect:
                    return response
                raise error_from_response(
                    response,
                    call,
                    redactor=self._redactor,
                    retry_after_cap=self.policy.retry_after_cap,
                    reauthed=bool(state["reauthed"]),
                )

        predicate = _retryable_if_safe if safe else _retryable_if_unsafe
        policy = self.policy
        retrying = tenacity.Retrying(
            sleep=self._sleep,
            stop=(
                _stop_at_deadline(self._clock, started + policy.deadline)
                | tenacity.stop_after_attempt(policy.max_attempts)
            ),
            wait=_wait_retry_after(
                tenacity.wait_exponential_jitter(
                    multiplier=policy.backoff_multiplier,
                    max=policy.backoff_max,
                    jitter=policy.backoff_jitter,
                )
            ),
            retry=tenacity.retry_if_exception(predicate),
            before_sleep=lambda rs: self._log_retry(method, path, rs),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except TemporaryError as exc:
            if not predicate(exc):
                raise
            elapsed = self._clock() - started
            raise RetriesExhausted(
                f"gave up after {state['attempts']} attempts in {elapsed:.1f} s ({type(exc).__name__})",
                vendor=self.vendor,
                method=method,
                path=path,
                status=exc.status,
                code=exc.code,
                retry_after=exc.retry_after,
                attempts=int(state["attempts"]),
                outcome_unknown=exc.outcome_unknown,
            ) from exc

    def json(self, response: requests.Response, method: str, path: str) -> Any:
        """Return the decoded JSON body of a success response.

        Raises :class:`~adapters.errors.UnexpectedResponse` when it is not JSON.
        """
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponse(
                "response body is not JSON",
                vendor=self.vendor,
                method=method,
                path=path,
                status=response.status_code,
            ) from None

    def _send(
        self,
        call: Call,
        url: str,
        attempt: int,
        auth: RetryingAuth | None,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        self._limiter.acquire()
        begun = self._clock()
        fields = {"vendor": self.vendor, "method": call.method, "path": call.path, "attempt": attempt}
        failure: AdapterError | None = None
        try:
            response = self._session().request(
                call.method,
                url,
                auth=auth,
                timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                allow_redirects=False,  # never forward credentials to another location
                **kwargs,
            )
        except requests.RequestException as exc:
            duration_ms = round((self._clock() - begun) * 1000)
            log.warning("http_request_failed", **fields, error=type(exc).__name__, duration_ms=duration_ms)
            failure = error_from_exception(exc, call, redactor=self._redactor)
        if failure is not None:
            # Raised outside the handler so that the requests exception (whose text holds
            # the URL with its query string) is neither the cause nor the context.
            raise failure
        duration_ms = round((self._clock() - begun) * 1000)
        level = log.debug if response.status_code < 400 else log.warning
        level("http_request", **fields, status=response.status_code, duration_ms=duration_ms)
        return response

    def _log_retry(self, method: str, path: str, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "http_retry",
            vendor=self.vendor,
            method=method,
            path=path,
            status=getattr(exc, "status", None),
            error=type(exc).__name__,
            attempt=retry_state.attempt_number,
            sleep_s=round(retry_state.upcoming_sleep, 3),
        )

    def __repr__(self) -> str:
        return f"Transport(vendor={self.vendor!r}, base_url={self.base_url!r})"
