"""PAS client: read-only access to schools, school years, groups, staff, pupils and notes.

See the package docstring for what the methods return and why items are plain dicts.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import requests
from pydantic import SecretStr

from adapters._http import DEFAULT_MAX_PAGES, HttpPolicy, Transport, default_session
from adapters._ratelimit import SlidingWindowLimiter
from adapters._redact import Redactor
from adapters._time import aware_isoformat
from adapters.errors import UnexpectedResponse
from adapters.parnassys.auth import OAuth2ClientCredentials
from adapters.parnassys.pagination import Sweep

_BRIN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{2}$")
_SCHOOLYEAR = re.compile(r"^[0-9]{4}-[0-9]{4}$")
MAX_LIMIT = 500  # contract, "Pagination": limit is 1 to 500
PupilStatus = Literal["ingeschreven", "uitgeschreven"]


class PasClient:
    """Client of one PAS environment with one set of client credentials.

    ``base_url`` is the environment's base URL from onboarding (``https://pas.example``);
    the client appends ``/api/v1``. ``requests_per_minute`` defaults to the documented 300
    per client; pass a shared ``limiter`` when several clients use the same credentials.
    ``max_pages`` caps the pages of one listing; ``policy`` holds the per-request deadline and
    response cap (:class:`HttpPolicy`). ``in_flight``, a semaphore shared with other clients, bounds
    their requests in flight together. ``clock`` (monotonic) and ``sleep`` are injectable for
    tests. Thread-safe: one Session per thread, a locked token cache and limiter. Use as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        *,
        policy: HttpPolicy | None = None,
        requests_per_minute: int = 300,
        limiter: SlidingWindowLimiter | None = None,
        page_size: int = 250,
        max_pages: int = DEFAULT_MAX_PAGES,
        token_refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        session_factory: Callable[[], requests.Session] = default_session,
        in_flight: threading.Semaphore | None = None,
    ) -> None:
        self.page_size = _check_limit(page_size)
        self.max_pages = _check_max_pages(max_pages)
        policy = policy or HttpPolicy()
        if policy.read_timeout < 10:
            # Contract, "Rate limits and maintenance": allow at least 10 s per request.
            raise ValueError("PAS needs a read timeout of at least 10 seconds")
        self._redactor = Redactor()
        self._auth = OAuth2ClientCredentials(
            client_id,
            client_secret,
            redactor=self._redactor,
            clock=clock,
            refresh_margin=token_refresh_margin,
        )
        self._transport = Transport(
            vendor="pas",
            base_url=base_url.rstrip("/") + "/api/v1",
            auth=self._auth,
            policy=policy,
            limiter=limiter or SlidingWindowLimiter(requests_per_minute, 60.0, clock=clock, sleep=sleep),
            redactor=self._redactor,
            clock=clock,
            sleep=sleep,
            session_factory=session_factory,
            in_flight=in_flight,
        )
        self._auth.transport = self._transport

    # --- single objects ---------------------------------------------------------------

    def get_school(self, brin: str) -> dict[str, Any]:
        """Return the school ``{brin, name, region, ...}`` as a dict.

        Raises ``ValueError`` for a malformed BRIN, :class:`~adapters.errors.NotFound`,
        :class:`~adapters.errors.Forbidden`, and the other adapter errors.
        """
        path = f"/schools/{_check_brin(brin)}"
        response = self._transport.request("GET", path, safe=True)
        body = self._transport.json(response, "GET", path)
        if not isinstance(body, dict):
            raise UnexpectedResponse(
                "school is not a JSON object", vendor="pas", method="GET", path=path, status=response.status_code
            )
        return body

    def server_time(self, brin: str) -> datetime:
        """PAS's clock now: the ``server_time`` of one page of the school's school years.

        Raises :class:`~adapters.errors.UnexpectedResponse` when the envelope has none."""
        sweep = self.schoolyears(brin, limit=1)
        next(iter(sweep), None)  # the first page carries the envelope's server_time
        if sweep.server_time is None:
            raise UnexpectedResponse(
                "PAS sent no server_time", vendor="pas", method="GET", path=f"/schools/{brin}/schoolyears"
            )
        return sweep.server_time

    # --- lists ------------------------------------------------------------------------

    def schoolyears(self, brin: str, *, limit: int | None = None) -> Sweep:
        """Return a :class:`Sweep` over the school years ``{id, start, end, current}``."""
        return self._sweep(f"/schools/{_check_brin(brin)}/schoolyears", {}, limit)

    def groups(self, brin: str, *, schoolyear: str | None = None, limit: int | None = None) -> Sweep:
        """Return a :class:`Sweep` over the groups of ``schoolyear`` (default: current).

        Raises ``ValueError`` for a malformed BRIN or school year id.
        """
        params = _schoolyear_param(schoolyear)
        return self._sweep(f"/schools/{_check_brin(brin)}/groups", params, limit)

    def staff(self, brin: str, *, schoolyear: str | None = None, limit: int | None = None) -> Sweep:
        """Return a :class:`Sweep` over the staff members; ``group_ids`` refer to
        ``schoolyear`` (default: current)."""
        params = _schoolyear_param(schoolyear)
        return self._sweep(f"/schools/{_check_brin(brin)}/staff", params, limit)

    def pupils(
        self,
        brin: str,
        *,
        schoolyear: str | None = None,
        changed_since: datetime | str | None = None,
        status: PupilStatus | None = None,
        limit: int | None = None,
    ) -> Sweep:
        """Return a :class:`Sweep` over the pupils (with embedded guardians).

        ``changed_since`` (inclusive) must carry an offset: an aware datetime or an ISO 8601
        string such as a stored watermark; naive values raise ``ValueError``. After a
        complete sweep, ``sweep.watermark`` is the next ``changed_since``.
        """
        params = _schoolyear_param(schoolyear)
        if changed_since is not None:
            params["changed_since"] = aware_isoformat(changed_since, "changed_since")
        if status is not None:
            if status not in ("ingeschreven", "uitgeschreven"):
                raise ValueError("status must be 'ingeschreven' or 'uitgeschreven'")
            params["status"] = status
        return self._sweep(f"/schools/{_check_brin(brin)}/pupils", params, limit)

    def notes(
        self,
        brin: str,
        *,
        categories: Sequence[str] = (),
        created_since: datetime | str | None = None,
        pupil_id: str | None = None,
        limit: int | None = None,
    ) -> Sweep:
        """Return a :class:`Sweep` over note *metadata* (never the body).

        ``categories`` are matched exactly (case-sensitive) and sent as repeated
        ``category`` parameters. ``created_since`` (inclusive) must carry an offset. There is
        deliberately no way to request ``include=body`` (contract, "Data minimisation"); a
        ``body`` member the server sends anyway is dropped.
        """
        if isinstance(categories, str):
            raise TypeError("categories must be a sequence of strings, not one string")
        params: list[tuple[str, str]] = []
        for category in categories:
            if not isinstance(category, str) or not category:
                raise ValueError("every category must be a non-empty string")
            params.append(("category", category))
        if created_since is not None:
            params.append(("created_since", aware_isoformat(created_since, "created_since")))
        if pupil_id is not None:
            if not pupil_id:
                raise ValueError("pupil_id must not be empty")
            params.append(("pupil_id", pupil_id))
        return self._sweep(f"/schools/{_check_brin(brin)}/notes", params, limit, item_filter=_without_body)

    # --- plumbing ---------------------------------------------------------------------

    def _sweep(
        self,
        path: str,
        params: dict[str, str] | list[tuple[str, str]],
        limit: int | None,
        item_filter: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Sweep:
        page_limit = _check_limit(limit if limit is not None else self.page_size)
        base = list(params.items()) if isinstance(params, dict) else list(params)

        def fetch_page(offset: int, size: int) -> Any:
            query = [*base, ("offset", str(offset)), ("limit", str(size))]
            response = self._transport.request("GET", path, safe=True, params=query)
            return self._transport.json(response, "GET", path)

        return Sweep(
            fetch_page,
            resource=path.rsplit("/", 1)[-1],
            limit=page_limit,
            item_filter=item_filter,
            max_pages=self.max_pages,
            path=path,
        )

    @property
    def tokens_fetched(self) -> int:
        """Number of access tokens requested so far."""
        return self._auth.tokens_fetched

    def close(self) -> None:
        """Close the HTTP sessions."""
        self._transport.close()

    def __enter__(self) -> PasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PasClient(base_url={self._transport.base_url!r}, auth={self._auth!r})"


def _check_brin(brin: str) -> str:
    if not isinstance(brin, str) or not _BRIN.fullmatch(brin):
        raise ValueError("brin must look like 12AB00 (two digits, two capitals, two digits)")
    return brin


def _schoolyear_param(schoolyear: str | None) -> dict[str, str]:
    if schoolyear is None:
        return {}
    if not isinstance(schoolyear, str) or not _SCHOOLYEAR.fullmatch(schoolyear):
        raise ValueError("schoolyear must look like 2026-2027")
    return {"schoolyear": schoolyear}


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def _without_body(note: dict[str, Any]) -> dict[str, Any]:
    # Data minimisation: we never ask for bodies, and do not keep one sent by mistake.
    note.pop("body", None)
    return note


def _check_max_pages(max_pages: int) -> int:
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise ValueError("max_pages must be a positive integer")
    return max_pages
