"""Shared pieces: the simulated clock, timestamp helpers, request/response values, errors."""

from __future__ import annotations

import json
import threading
import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config import AMS


class SimClock:
    """Thread-safe simulated clock. With rate 0 it only moves through `set`/`advance`."""

    def __init__(self, start: datetime, rate: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._base = start.astimezone(AMS)
        self._anchor = _time.monotonic()
        self._rate = rate

    def now(self) -> datetime:
        """The simulated instant, in Europe/Amsterdam."""
        with self._lock:
            elapsed = (_time.monotonic() - self._anchor) * self._rate
            return (self._base + timedelta(seconds=elapsed)).astimezone(AMS)

    def set(self, instant: datetime) -> datetime:
        """Jump to `instant` (aware). Moving backwards is refused with ValueError."""
        if instant.tzinfo is None:
            raise ValueError("instant must carry an offset")
        current = self.now()
        if instant < current:
            raise ValueError("the simulated clock cannot move backwards")
        with self._lock:
            self._base = instant.astimezone(AMS)
            self._anchor = _time.monotonic()
        return self._base

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (>= 0)."""
        if seconds < 0:
            raise ValueError("the simulated clock cannot move backwards")
        return self.set(self.now() + timedelta(seconds=seconds))


def fmt_ts(value: datetime) -> str:
    """ISO 8601 with the Europe/Amsterdam offset, whole seconds (contract: Time)."""
    return value.astimezone(AMS).isoformat(timespec="seconds")


def parse_ts(text: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp that carries an offset; None when invalid or offset-less."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


@dataclass
class Request:
    """A parsed HTTP request. Header names are lower-cased."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def single(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    """An HTTP response about to be written."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, payload: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> Response:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status, data, {"Content-Type": f"{content_type}; charset=utf-8", **(headers or {})})

    def payload(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


class ApiError(Exception):
    """Raised by handlers to answer with a ready-made error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def problem(
    status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> ApiError:
    """PAS error: application/problem+json (RFC 9457)."""
    body = {"type": f"https://pas.example/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    return ApiError(Response.json(status, body, "application/problem+json", headers))


def planner_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> ApiError:
    """Planner error: {"error": {"code", "message", ...}}."""
    return ApiError(Response.json(status, {"error": {"code": code, "message": message, **extra}}, headers=headers))


def json_equal(a: Any, b: Any) -> bool:
    """Compare two JSON values (contract: bodies are compared as JSON values).

    Unlike Python's ==, `true` differs from `1`; member order does not matter.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
