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

Bounds on every read (W2-2), each a :class:`~adapters.errors.LimitExceeded` (temporary, never
repeated at once, naming the bound and the endpoint):

* ``HttpPolicy.request_deadline`` is the total time of one request, from sending it to the
  last byte of its body. ``requests``' read timeout is per socket read, so a server that
  trickles one byte a second would never time out: the body is streamed (``stream=True``)
  and read one socket read at a time (``read1``), checking the deadline on the injected clock
  between reads; the socket's own timeout is shrunk to the time left, so one silent read
  cannot outlast the deadline either. Waiting for the status line and headers is bounded
  per read only (``min(read_timeout, request_deadline)``): the socket is not ours before
  ``requests`` returns.
* ``HttpPolicy.max_response_bytes`` caps the (decoded) body: a larger ``Content-Length`` is
  refused before reading, and reading stops at the cap, so a 50 MB answer is never held whole.

The overall deadline of a run (:func:`adapters.deadline.overall`), when one is set, bounds the
work as a whole (many requests, retries, pages, limiter waits), each hit a
:class:`~adapters.errors.RunDeadlineExceeded` naming the setting it came from:

* no attempt is sent once it has passed, and a rate-limiter wait that would end after it is
  not started (``SlidingWindowLimiter.acquire(max_wait=...)``: nothing reserved, no sleep);
* ``request_deadline`` and both socket timeouts are cut to the time left; when that cut is
  what ends the request (waiting for the answer or reading its body), the error is the run's,
  not :class:`~adapters.errors.DeadlineExceeded`;
* no retry sleep starts that would end after it. Giving up for that reason raises
  ``RunDeadlineExceeded`` (the last error as its cause) rather than ``RetriesExhausted``: the
  retry budget was not spent, and the message should name the setting that ended the work.

Requests in flight (``in_flight``, a semaphore the engine shares between all its clients): a
request holds a place from just before it is sent until its body is read, after the rate limiter
and the token fetch, so a thread waiting for either never holds a place. The engine's workers
outnumber the places; what they do between requests (planning, storing) overlaps the requests of
the others. A wait for a place that would outlast the run's deadline ends there, nothing sent.

The deadline's own clock is read for the time left; the transport converts that to its
injected clock once per call (retry rule) and per request (body reads).

Thread safety: each thread gets its own ``requests.Session`` (``threading.local``), because
Sessions are not guaranteed thread-safe (psf/requests#1871). The limiter, the redactor and
the auth objects are thread-safe, so one client may be shared between threads. Sessions
are closed by ``close()``; use a bounded thread pool, not a thread per request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import structlog
import tenacity
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from adapters import deadline
from adapters._classify import Call, error_from_exception, error_from_response
from adapters._ratelimit import SlidingWindowLimiter
from adapters._redact import Redactor
from adapters.errors import (
    AdapterError,
    DeadlineExceeded,
    LimitExceeded,
    RateLimited,
    ResponseTooLarge,
    RetriesExhausted,
    RunDeadlineExceeded,
    TemporaryError,
    TransportError,
    UnexpectedResponse,
)

log = structlog.get_logger(__name__)

# urllib3 logs full URLs (with query strings) at DEBUG. Quiet it unless the application's
# logging setup already chose a level.
if logging.getLogger("urllib3").level == logging.NOTSET:
    logging.getLogger("urllib3").setLevel(logging.WARNING)

MIB = 1024 * 1024
#: Default cap on the pages of one listing (PAS sweep, planner cursor listing).
DEFAULT_MAX_PAGES = 10_000
# Largest piece asked of one socket read. read1 returns what one read brings (often less),
# so this only bounds the memory of one step, not how long a step may wait.
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry budget of one client. All values in seconds.

    ``read_timeout`` is per socket read (requests semantics), PAS asks to allow >= 10 s.
    ``deadline`` bounds the retrying of one call (one page, one write): no sleep starts that
    would end after it. ``retry_after_cap`` is the longest ``Retry-After`` we wait for.
    ``request_deadline`` bounds one request as a whole (sent, answered and its body read);
    ``max_response_bytes`` caps one response body.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    deadline: float = 90.0
    retry_after_cap: float = 60.0
    backoff_multiplier: float = 0.5
    backoff_max: float = 20.0
    backoff_jitter: float = 1.0
    max_attempts: int = 8
    request_deadline: float = 60.0
    max_response_bytes: int = 10 * MIB

    def __post_init__(self) -> None:
        if self.request_deadline <= 0:
            raise ValueError("request_deadline must be positive")
        if self.max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")


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


class _stop_at_run_deadline(_stop_at_deadline):
    """The same rule for the run's overall deadline; remembers whether it was the one that stopped.

    Placed first in the stop rules, so it is always consulted (``|`` stops at the first yes).
    """

    def __init__(self, clock: Callable[[], float], deadline_at: float) -> None:
        super().__init__(clock, deadline_at)
        self.stopped_before: float | None = None  # the sleep that would have crossed the deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if super().__call__(retry_state):
            self.stopped_before = retry_state.upcoming_sleep
            return True
        return False


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
        in_flight: threading.Semaphore | None = None,
    ) -> None:
        self.vendor = vendor
        self._in_flight = in_flight
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

    def _environment(self, session: requests.Session, url: str) -> dict[str, Any]:
        """requests' settings from the environment (proxies, no_proxy, CA bundle) for the URL's origin,
        read once per session and origin: they depend on nothing else, and reading them walks
        os.environ twice per request, a tenth of the engine's time opening a board's planners."""
        origin = urlsplit(url)[:2]  # scheme and host:port: what proxy selection and no_proxy look at
        known: dict[tuple[str, str], dict[str, Any]] = self._local.__dict__.setdefault("environment", {})
        if origin not in known:
            known[origin] = dict(session.merge_environment_settings(url, {}, True, None, None))
        return dict(known[origin])

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
        run = deadline.current()
        # The run's deadline on our clock, which the retry rule measures on.
        run_stop = None if run is None else _stop_at_run_deadline(self._clock, started + run.left())
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
        stop: tenacity.stop.stop_base = _stop_at_deadline(
            self._clock, started + policy.deadline
        ) | tenacity.stop_after_attempt(policy.max_attempts)
        if run_stop is not None:
            stop = run_stop | stop
        retrying = tenacity.Retrying(
            sleep=self._sleep,
            stop=stop,
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
            what = type(exc).__name__
            if isinstance(exc, TransportError):  # the class name alone means nothing to whoever reads it
                what += ": no connection or no answer"
            gave_up = f"gave up after {state['attempts']} attempts in {elapsed:.1f} s ({what})"
            last: dict[str, Any] = {  # what the last error said, kept by the one raised instead
                "vendor": self.vendor,
                "method": method,
                "path": path,
                "status": exc.status,
                "code": exc.code,
                "retry_after": exc.retry_after,
                "outcome_unknown": exc.outcome_unknown,
            }
            if run is not None and run_stop is not None and run_stop.stopped_before is not None:
                # The run's deadline, not the retry budget, ended it: say so, so the operator
                # raises the right setting (the last error stays the cause).
                when = (
                    "passed"
                    if run.passed()
                    else f"would pass during the {run_stop.stopped_before:.1f} s wait before the next attempt"
                )
                raise RunDeadlineExceeded(
                    f"the run's deadline of {run.seconds:g} s ({run.setting}) {when}: {gave_up}",
                    bound=run.setting,
                    limit=run.seconds,
                    **last,
                ) from exc
            raise RetriesExhausted(gave_up, attempts=int(state["attempts"]), **last) from exc

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
        fields = {"vendor": self.vendor, "method": call.method, "path": call.path, "attempt": attempt}
        run = deadline.current()
        if run is None:
            self._limiter.acquire()
        else:
            left = run.left()
            if left <= 0:
                raise self._run_over(call, run, fields, "passed before this request could be sent")
            # A rate-limiter wait that would end after the deadline is not started at all.
            if self._limiter.acquire(max_wait=left) is None:
                raise self._run_over(
                    call, run, fields, "would pass while waiting for the rate limit; the request was not sent"
                )
        begun = self._clock()
        failure: AdapterError | None = None
        policy = self.policy
        connect_timeout, read_timeout = policy.connect_timeout, min(policy.read_timeout, policy.request_deadline)
        limit = policy.request_deadline  # the total time of this request
        binding: deadline.Deadline | None = None  # the run's deadline, when it ends this request first
        cut_connect = cut_read = False  # whether a socket wait was shortened to the run's time left
        with contextlib.ExitStack() as slot:  # its place among the requests in flight, until the body is read
            try:
                session = self._session()
                # Prepared here (which runs the auth hook) rather than by session.request, so that
                # fetching a PAS token, which has its own bounds, does not eat this request's deadline
                # (nor waits for a place in flight while holding one).
                prepared = session.prepare_request(requests.Request(call.method, url, auth=auth, **kwargs))
                self._take_place(slot, call, run, fields)
                begun = self._clock()
                if run is not None:
                    left = run.left()  # again: the limiter, the token fetch and the wait may have taken time
                    if left <= 0:
                        raise self._run_over(call, run, fields, "passed before this request could be sent")
                    if left < limit:
                        limit, binding = left, run
                    cut_connect, cut_read = left < connect_timeout, left < read_timeout
                    connect_timeout, read_timeout = min(connect_timeout, left), min(read_timeout, left)
                settings = self._environment(session, prepared.url or url)
                response = session.send(
                    prepared,
                    timeout=(connect_timeout, read_timeout),
                    allow_redirects=False,  # never forward credentials to another location
                    **settings,  # stream=True: the body is read below, within the deadline and the cap
                )
            except requests.RequestException as exc:
                duration_ms = round((self._clock() - begun) * 1000)
                log.warning("http_request_failed", **fields, error=type(exc).__name__, duration_ms=duration_ms)
                if run is not None and isinstance(exc, requests.ConnectTimeout) and cut_connect:
                    failure = self._run_error(call, run, "passed while connecting; the request was not sent")
                elif run is not None and isinstance(exc, requests.ReadTimeout) and cut_read:
                    failure = self._run_error(
                        call, run, "passed while waiting for the response", outcome_unknown=not call.safe
                    )
                else:
                    failure = error_from_exception(exc, call, redactor=self._redactor)
            if failure is None:
                failure = self._read_body(response, call, begun, limit, binding)
                if failure is not None:
                    duration_ms = round((self._clock() - begun) * 1000)
                    log.warning(
                        "http_request_failed",
                        **fields,
                        status=response.status_code,
                        error=type(failure).__name__,
                        duration_ms=duration_ms,
                    )
        if failure is not None:
            # Raised outside the handler so that the requests exception (whose text holds
            # the URL with its query string) is neither the cause nor the context.
            raise failure
        duration_ms = round((self._clock() - begun) * 1000)
        level = log.debug if response.status_code < 400 else log.warning
        level("http_request", **fields, status=response.status_code, duration_ms=duration_ms)
        return response

    def _take_place(
        self, slot: contextlib.ExitStack, call: Call, run: deadline.Deadline | None, fields: Mapping[str, Any]
    ) -> None:
        """Wait for a place among the requests the board has in flight (`in_flight`, shared by every
        client of the engine), and hold it until `slot` closes. A wait that would outlast the run's
        deadline ends at the deadline, with nothing sent."""
        gate = self._in_flight
        if gate is None:
            return
        if run is None:
            gate.acquire()
        elif not gate.acquire(timeout=max(0.0, run.left())):
            raise self._run_over(
                call, run, fields, "passed while waiting for a request in flight to end; the request was not sent"
            )
        slot.callback(gate.release)

    def _read_body(
        self, response: requests.Response, call: Call, begun: float, limit: float, run: deadline.Deadline | None
    ) -> AdapterError | None:
        """Read the streamed body into the response, within ``limit`` seconds of ``begun`` and the
        size cap. ``run`` is the run's deadline when that is what ``limit`` was cut to.

        Returns the error instead of raising it (see ``_send``); on an error the connection is
        closed, never handed back to the pool half read. Afterwards ``response.content``,
        ``.json()`` and ``.text`` work as for an unstreamed response.
        """
        raw = response.raw
        if raw is None:  # a response built in memory (a test double): nothing to stream
            return None
        policy = self.policy
        deadline_at = begun + limit
        declared = _content_length(response)
        if declared is not None and declared > policy.max_response_bytes:
            response.close()
            return self._too_large(call, response, f"Content-Length says {declared} bytes")
        body = bytearray()
        failure: AdapterError | None = None
        error: requests.RequestException | None = None
        cut_short = False  # whether the last socket wait was shortened to the deadline
        try:
            while True:
                left = deadline_at - self._clock()
                if left <= 0:
                    failure = self._too_slow(call, response, len(body), run)
                    break
                cut_short = left <= policy.read_timeout
                _limit_socket_wait(raw, min(left, policy.read_timeout))
                # One socket read at most: read(n) would wait for n bytes, a trickle at a time.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                body += chunk
                if len(body) > policy.max_response_bytes:
                    failure = self._too_large(call, response, f"stopped reading at {len(body)} bytes")
                    break
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            timed_out = isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError)
            if self._clock() >= deadline_at or (timed_out and cut_short):
                failure = self._too_slow(call, response, len(body), run)
            else:
                error = _as_requests_error(exc)
        if error is not None:
            failure = error_from_exception(error, call, redactor=self._redactor)
        if failure is not None:
            response.close()
            return failure
        response._content = bytes(body)
        # Undeclared in the stubs; tells requests the body is in memory, not still on the wire.
        setattr(response, "_content_consumed", True)  # noqa: B010
        return None

    def _too_slow(
        self, call: Call, response: requests.Response, read: int, run: deadline.Deadline | None
    ) -> LimitExceeded:
        if run is not None:
            return self._run_error(
                call,
                run,
                f"passed while reading the response, after {read} bytes of the body",
                **self._where(call, response),
            )
        seconds = self.policy.request_deadline
        return DeadlineExceeded(
            f"request took longer than its total deadline of {seconds:g} s (request_deadline_seconds) "
            f"after {read} bytes of the body",
            bound="request_deadline_seconds",
            limit=seconds,
            **self._where(call, response),
        )

    def _too_large(self, call: Call, response: requests.Response, what: str) -> ResponseTooLarge:
        cap = self.policy.max_response_bytes
        return ResponseTooLarge(
            f"response body larger than the cap of {cap / MIB:g} MB (max_response_mb): {what}",
            bound="max_response_mb",
            limit=cap / MIB,
            **self._where(call, response),
        )

    def _run_over(
        self, call: Call, run: deadline.Deadline, fields: Mapping[str, Any], when: str
    ) -> RunDeadlineExceeded:
        """The error for a request that is not sent because the run's deadline is (about to be) reached."""
        log.warning("http_request_skipped", **fields, reason="run_deadline", setting=run.setting)
        return self._run_error(call, run, when)

    def _run_error(self, call: Call, run: deadline.Deadline, when: str, **where: Any) -> RunDeadlineExceeded:
        where = {"vendor": self.vendor, "method": call.method, "path": call.path, **where}
        return RunDeadlineExceeded(
            f"the run's deadline of {run.seconds:g} s ({run.setting}) {when}",
            bound=run.setting,
            limit=run.seconds,
            **where,
        )

    def _where(self, call: Call, response: requests.Response) -> dict[str, Any]:
        # A write whose answer we could not read has been executed, or may have been: only a
        # request that is safe to repeat can simply be sent again on a later tick.
        return {
            "vendor": self.vendor,
            "method": call.method,
            "path": call.path,
            "status": response.status_code,
            "outcome_unknown": not call.safe,
        }

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


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def _limit_socket_wait(raw: Any, seconds: float) -> None:
    """Let the next socket read wait at most ``seconds`` (the time left before the deadline).

    Best effort through urllib3's connection: a response without a live socket (fully read, or
    a test double) is left alone. urllib3 sets the socket timeout again for each new request
    on a pooled connection, so nothing has to be restored.
    """
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    settimeout = getattr(sock, "settimeout", None)
    if callable(settimeout):
        settimeout(max(seconds, 0.001))


def _as_requests_error(exc: BaseException) -> requests.RequestException:
    """The ``requests`` exception that ``iter_content`` would raise for a failure while reading
    a body, so that ``error_from_exception`` classifies it as for any other request."""
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return requests.exceptions.ReadTimeout(str(exc))
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return requests.exceptions.ContentDecodingError(str(exc))
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return requests.exceptions.ChunkedEncodingError(str(exc))
    if isinstance(exc, urllib3.exceptions.SSLError):
        return requests.exceptions.SSLError(str(exc))
    return requests.exceptions.ConnectionError(str(exc))
