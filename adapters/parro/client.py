"""Planner client: directory reads, planners, bookings, preferences, assignments, messages.

See the package docstring for the return types and the idempotency rules.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, SecretStr

from adapters._http import DEFAULT_MAX_PAGES, HttpPolicy, Transport, default_session
from adapters._ratelimit import SlidingWindowLimiter
from adapters._redact import Redactor
from adapters.errors import DuplicateExternalRef, UnexpectedResponse
from adapters.parro.auth import ApiKeyAuth
from adapters.parro.models import (
    AssignmentRequest,
    AssignmentResult,
    MessageCreate,
    MessageResult,
    PlannerCreate,
    PlannerPatch,
    PlannerResult,
)
from adapters.parro.pagination import CursorPager, KeyFunc, by_id

MAX_LIMIT = 200  # contract, "Pagination": limit is 1 to 200
# Contract, parameter IdempotencyKeyRequired: 1 to 255 printable ASCII characters.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7E]{1,255}")
_Model = TypeVar("_Model", bound=BaseModel)


def _preference_key(item: dict[str, Any]) -> Hashable | None:
    # Preferences have no id. A guardian who resubmits while we page yields a second
    # record with a later submitted_at: both are kept, the caller uses the latest.
    return (item.get("child_id"), item.get("guardian_id"), item.get("submitted_at"))


class ParroClient:
    """Client of the planner API for one school organisation (one API key).

    ``base_url`` is the environment's base URL (``https://planner.example``); the client
    appends ``/v1``. ``requests_per_minute`` defaults to the documented 120 per key; pass a
    shared ``limiter`` if several clients use one key. ``max_pages`` caps the pages of one
    listing; ``policy`` holds the per-request deadline and response cap (:class:`HttpPolicy`).
    ``in_flight``, a semaphore shared with other clients, bounds their requests in flight together.
    ``clock`` (monotonic) and ``sleep`` are injectable for tests. Thread-safe (one Session per
    thread). Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        *,
        policy: HttpPolicy | None = None,
        requests_per_minute: int = 120,
        limiter: SlidingWindowLimiter | None = None,
        page_size: int = 200,
        max_pages: int = DEFAULT_MAX_PAGES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        session_factory: Callable[[], requests.Session] = default_session,
        in_flight: threading.Semaphore | None = None,
    ) -> None:
        self.page_size = _check_limit(page_size)
        self.max_pages = _check_max_pages(max_pages)
        self._auth = ApiKeyAuth(api_key)
        self._transport = Transport(
            vendor="parro",
            base_url=base_url.rstrip("/") + "/v1",
            auth=self._auth,
            policy=policy or HttpPolicy(),
            limiter=limiter or SlidingWindowLimiter(requests_per_minute, 60.0, clock=clock, sleep=sleep),
            redactor=Redactor((self._auth.secret,)),
            clock=clock,
            sleep=sleep,
            session_factory=session_factory,
            in_flight=in_flight,
        )

    # --- directory --------------------------------------------------------------------

    def groups(self, *, limit: int | None = None) -> CursorPager:
        """Return a :class:`CursorPager` over groups ``{id, name, external_id, ...}``."""
        return self._pager("/groups", {}, limit)

    def children(self, *, group_id: str | None = None, limit: int | None = None) -> CursorPager:
        """Return a :class:`CursorPager` over children, optionally of one group."""
        return self._pager("/children", _optional(group_id=group_id), limit)

    def guardians(self, *, limit: int | None = None) -> CursorPager:
        """Return a :class:`CursorPager` over guardians ``{id, name, email, child_ids,
        app_active}``."""
        return self._pager("/guardians", {}, limit)

    def staff(self, *, limit: int | None = None) -> CursorPager:
        """Return a :class:`CursorPager` over staff members."""
        return self._pager("/staff", {}, limit)

    # --- planners ---------------------------------------------------------------------

    def planners(
        self,
        *,
        external_ref: str | None = None,
        group_id: str | None = None,
        limit: int | None = None,
    ) -> CursorPager:
        """Return a :class:`CursorPager` over planners, filtered by ``external_ref`` (at
        most one match) and/or ``group_id``."""
        params = _optional(external_ref=external_ref, group_id=group_id)
        return self._pager("/planners", params, limit)

    def find_planner(self, external_ref: str) -> dict[str, Any] | None:
        """Return the planner with this ``external_ref``, or None.

        This is the look-up for an intent left in flight (pitfalls, "Side effects").
        """
        for planner in self.planners(external_ref=external_ref):
            return planner
        return None

    def get_planner(self, planner_id: str) -> dict[str, Any]:
        """Return the planner as a dict. Raises :class:`~adapters.errors.NotFound`."""
        path = f"/planners/{_segment(planner_id)}"
        return self._planner(self._transport.request("GET", path, safe=True), "GET", path)

    def get_existing_planner(self, error: DuplicateExternalRef) -> dict[str, Any]:
        """Return the planner a ``409 duplicate_external_ref`` pointed at.

        Raises ``ValueError`` when the error carried no ``existing_id``.
        """
        if not error.existing_id:
            raise ValueError("the duplicate_external_ref error carried no existing_id")
        return self.get_planner(error.existing_id)

    def create_planner(self, planner: PlannerCreate | Mapping[str, Any], *, idempotency_key: str) -> PlannerResult:
        """Create a draft planner; return :class:`PlannerResult` (``status`` 201, or 200 with
        ``replayed=True`` when this key and body were seen before).

        ``idempotency_key`` is required and must be derived deterministically from the
        intent, so that a repeat after a timeout or 502 is a replay. Raises
        :class:`~adapters.errors.DuplicateExternalRef` (with ``existing_id``),
        :class:`~adapters.errors.IdempotencyMismatch`,
        :class:`~adapters.errors.ValidationFailed`, ``ValueError``/pydantic
        ``ValidationError`` for a body that breaks the contract.
        """
        body = _model(PlannerCreate, planner).to_json()
        response = self._transport.request(
            "POST",
            "/planners",
            safe=True,
            expect=(200, 201),
            json=body,
            headers=_idempotency(idempotency_key),
        )
        return PlannerResult(
            planner=self._planner(response, "POST", "/planners"),
            replayed=response.status_code == 200 or _replayed(response),
            status=response.status_code,
        )

    def update_planner(
        self,
        planner_id: str,
        patch: PlannerPatch | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> PlannerResult:
        """Change title, description or closes_at, or add slots; return the planner.

        Repeated (retried) when ``idempotency_key`` is given, or when the patch adds no
        slots (setting values is idempotent by itself); adding slots without a key is sent
        once (contract: "Adding slots is not idempotent by itself"). Raises
        :class:`~adapters.errors.InvalidState`, :class:`~adapters.errors.ValidationFailed`,
        :class:`~adapters.errors.NotFound`, ...
        """
        model = _model(PlannerPatch, patch)
        path = f"/planners/{_segment(planner_id)}"
        headers = _idempotency(idempotency_key) if idempotency_key is not None else None
        response = self._transport.request(
            "PATCH",
            path,
            safe=headers is not None or model.add_slots is None,
            json=model.to_json(),
            headers=headers,
        )
        return PlannerResult(
            planner=self._planner(response, "PATCH", path), replayed=_replayed(response), status=response.status_code
        )

    def open_planner(self, planner_id: str) -> dict[str, Any]:
        """Release a draft planner; return it (``scheduled`` or ``open``).

        Retried when needed: the contract makes a repeated release a ``200`` no-op. Raises
        :class:`~adapters.errors.InvalidState` for a closed/cancelled/expired planner.
        """
        path = f"/planners/{_segment(planner_id)}/open"
        return self._planner(self._transport.request("POST", path, safe=True), "POST", path)

    def close_planner(self, planner_id: str) -> dict[str, Any]:
        """Close a planner early; return it. A repeat is a ``200`` no-op, so it is retried.
        Raises :class:`~adapters.errors.InvalidState` for a cancelled planner."""
        path = f"/planners/{_segment(planner_id)}/close"
        return self._planner(self._transport.request("POST", path, safe=True), "POST", path)

    def bookings(self, planner_id: str, *, limit: int | None = None) -> CursorPager:
        """Return a :class:`CursorPager` over all bookings (cancelled ones included)."""
        return self._pager(f"/planners/{_segment(planner_id)}/bookings", {}, limit)

    def preferences(self, planner_id: str, *, limit: int | None = None) -> CursorPager:
        """Return a :class:`CursorPager` over submitted preferences (preferences mode).

        Items have no ``id``; they are de-duplicated on (child_id, guardian_id,
        submitted_at). Iterating raises :class:`~adapters.errors.InvalidMode` for a
        self_select planner.
        """
        path = f"/planners/{_segment(planner_id)}/preferences"
        return self._pager(path, {}, limit, key=_preference_key)

    def assign(
        self,
        planner_id: str,
        assignments: AssignmentRequest | Mapping[str, Any] | Sequence[Mapping[str, str]],
        *,
        idempotency_key: str | None = None,
    ) -> AssignmentResult:
        """Assign children to slots (preferences mode); return the resulting bookings.

        Retried only with an ``idempotency_key``. Raises
        :class:`~adapters.errors.SlotUnavailable`, :class:`~adapters.errors.InvalidMode`,
        :class:`~adapters.errors.InvalidState`, :class:`~adapters.errors.ValidationFailed`.
        """
        if isinstance(assignments, Sequence):
            assignments = {"assignments": list(assignments)}
        body = _model(AssignmentRequest, assignments).to_json()
        path = f"/planners/{_segment(planner_id)}/assignments"
        headers = _idempotency(idempotency_key) if idempotency_key is not None else None
        response = self._transport.request("POST", path, safe=headers is not None, json=body, headers=headers)
        payload = self._transport.json(response, "POST", path)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise UnexpectedResponse(
                "assignment result lacks a data array",
                vendor="parro",
                method="POST",
                path=path,
                status=response.status_code,
            )
        return AssignmentResult(data=[d for d in data if isinstance(d, dict)], replayed=_replayed(response))

    # --- messages ---------------------------------------------------------------------

    def send_message(self, message: MessageCreate | Mapping[str, Any], *, idempotency_key: str) -> MessageResult:
        """Queue a plain-text message; return its id and whether this was a replay.

        ``idempotency_key`` is required (derive it from the intent). Guardians without the
        app are silently not reached (contract). Raises
        :class:`~adapters.errors.IdempotencyMismatch`,
        :class:`~adapters.errors.ValidationFailed`, ...
        """
        body = _model(MessageCreate, message).to_json()
        response = self._transport.request(
            "POST", "/messages", safe=True, expect=(202,), json=body, headers=_idempotency(idempotency_key)
        )
        payload = self._transport.json(response, "POST", "/messages")
        message_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise UnexpectedResponse(
                "message response lacks an id",
                vendor="parro",
                method="POST",
                path="/messages",
                status=response.status_code,
            )
        return MessageResult(id=message_id, replayed=_replayed(response))

    # --- plumbing ---------------------------------------------------------------------

    def _pager(self, path: str, params: dict[str, str], limit: int | None, key: KeyFunc = by_id) -> CursorPager:
        page_limit = _check_limit(limit if limit is not None else self.page_size)

        def fetch_page(cursor: str | None, size: int) -> Any:
            query = dict(params, limit=str(size))
            if cursor is not None:
                query["cursor"] = cursor  # unchanged, with the same filters (contract)
            response = self._transport.request("GET", path, safe=True, params=query)
            return self._transport.json(response, "GET", path)

        return CursorPager(
            fetch_page, resource=path.rsplit("/", 1)[-1], limit=page_limit, key=key, max_pages=self.max_pages, path=path
        )

    def _planner(self, response: requests.Response, method: str, path: str) -> dict[str, Any]:
        body = self._transport.json(response, method, path)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise UnexpectedResponse(
                "planner response lacks an id", vendor="parro", method=method, path=path, status=response.status_code
            )
        return body

    def close(self) -> None:
        """Close the HTTP sessions."""
        self._transport.close()

    def __enter__(self) -> ParroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ParroClient(base_url={self._transport.base_url!r}, auth={self._auth!r})"


def _model(model: type[_Model], value: _Model | Mapping[str, Any]) -> _Model:
    return value if isinstance(value, model) else model.model_validate(value)


def _idempotency(key: str) -> dict[str, str]:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency_key must be 1-255 printable ASCII characters")
    return {"Idempotency-Key": key}


def _replayed(response: requests.Response) -> bool:
    return response.headers.get("Idempotent-Replayed", "").strip().lower() == "true"


def _segment(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("id must be a non-empty string")
    return quote(value, safe="")


def _optional(**params: str | None) -> dict[str, str]:
    for name, value in params.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be a non-empty string")
    return {name: value for name, value in params.items() if value is not None}


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def _check_max_pages(max_pages: int) -> int:
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise ValueError("max_pages must be a positive integer")
    return max_pages
