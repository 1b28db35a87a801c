"""Deterministic fault injection.

A decision is a pure function of (seed, api, method, path, n) where n counts the requests to
that method+path, so a serial client sees the same faults on every run regardless of timing.
Scripted faults (`/_sim/faults/next`) come first, then the PAS maintenance window, then
(optional) real-time rate limits, then the random `rate`.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time as _time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .common import Request, Response, planner_error, problem
from .config import AMS, FaultConfig

_HTML = (
    "<html><head><title>{s} {t}</title></head><body><center><h1>{s} {t}</h1></center>"
    "<hr><center>gateway</center></body></html>"
)
_TITLES = {502: "Bad Gateway", 504: "Gateway Timeout"}
_LIMITS = {"pas": 300, "planner": 120}  # requests per minute (contract: Rate limits)


@dataclass
class Fault:
    """An injected failure; `executed` means the request runs first (outcome unknown)."""

    status: int
    executed: bool
    response: Response


def fault_response(api: str, status: int, retry_after: int | None, html: bool) -> Response:
    """The error body a vendor (or its gateway) would send for `status`."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if status in (502, 504) and html:
        body = _HTML.format(s=status, t=_TITLES[status]).encode()
        return Response(status, body, {"Content-Type": "text/html; charset=utf-8", **headers})
    if api == "pas":
        slug, title, detail = {
            429: ("rate-limited", "Too many requests", "Rate limit of 300 requests per minute exceeded."),
            503: ("maintenance", "Service unavailable", "Temporarily unavailable."),
            502: ("bad-gateway", "Bad gateway", "The gateway could not reach the API."),
            504: ("gateway-timeout", "Gateway timeout", "The API did not answer in time."),
        }[status]
        return problem(status, slug, title, detail, headers).response
    code = {429: "rate_limited", 503: "service_unavailable", 502: "bad_gateway", 504: "bad_gateway"}[status]
    return planner_error(status, code, f"Temporary failure ({status}).", headers).response


class FaultInjector:
    """Decides, per API request, whether and how it fails."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._scripted: list[dict[str, Any]] = []
        self._windows: dict[str, deque[float]] = {}

    def _u(self, *parts: Any) -> float:
        digest = hashlib.sha256("|".join(map(str, (self.seed, *parts))).encode()).hexdigest()
        return int(digest[:13], 16) / 16**13

    def script(self, entry: dict[str, Any]) -> None:
        """Queue a fault for the next matching request(s); see the control docs."""
        with self._lock:
            self._scripted.append(dict(entry))

    def scripted(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._scripted]

    def latency(self, api: str, req: Request) -> float:
        """Seconds of real delay for this request (deterministic within the configured range)."""
        lo, hi = self.config.latency_ms
        if hi <= 0:
            return 0.0
        with self._lock:
            n = self._counts[f"lat {req.method} {req.path}"]
            self._counts[f"lat {req.method} {req.path}"] += 1
        return (lo + (hi - lo) * self._u("latency", api, req.method, req.path, n)) / 1000

    def decide(self, api: str, req: Request, now: datetime) -> Fault | None:
        """The fault for this request, or None."""
        cfg = self.config
        write = req.method != "GET"
        with self._lock:
            for entry in self._scripted:
                if all(
                    entry.get(k) in (None, v) for k, v in (("api", api), ("method", req.method), ("path", req.path))
                ):
                    entry["count"] = entry.get("count", 1) - 1
                    if entry["count"] <= 0:
                        self._scripted.remove(entry)
                    status = int(entry.get("status", 502))
                    executed = bool(entry.get("executed", False)) and write and status in (502, 504)
                    retry = entry.get("retry_after", cfg.retry_after)
                    return Fault(status, executed, fault_response(api, status, retry, bool(entry.get("html", False))))
            n = self._counts[f"{req.method} {req.path}"]
            self._counts[f"{req.method} {req.path}"] += 1
        if api == "pas" and cfg.maintenance is not None:
            wait = _maintenance_wait(now, cfg.maintenance)
            if wait is not None:
                return Fault(
                    503,
                    False,
                    problem(
                        503,
                        "maintenance",
                        "Service unavailable",
                        "Nightly maintenance in progress.",
                        {"Retry-After": str(wait)},
                    ).response,
                )
        if cfg.enforce_rate_limits:
            wait = self._rate_limited(api, req)
            if wait is not None:
                return Fault(429, False, fault_response(api, 429, wait, False))
        if api not in cfg.apis or cfg.rate <= 0 or not cfg.kinds:
            return None
        if self._u("rate", api, req.method, req.path, n) >= cfg.rate:
            return None
        status = cfg.kinds[int(self._u("kind", api, req.method, req.path, n) * len(cfg.kinds))]
        executed = write and status in (502, 504) and self._u("exec", req.path, n) < cfg.executed_share
        html = status in (502, 504) and self._u("html", req.path, n) < cfg.html_share
        retry = cfg.retry_after if status in (429, 502, 503) else None
        return Fault(status, executed, fault_response(api, status, retry, html))

    def _rate_limited(self, api: str, req: Request) -> int | None:
        # PAS limits per client (one client per simulator), the planner per API key
        key = "pas" if api == "pas" else f"planner {req.header('authorization') or ''}"
        now = _time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= _LIMITS[api]:
                return max(1, math.ceil(window[0] + 60 - now))
            window.append(now)
        return None


def _maintenance_wait(now: datetime, window: tuple[Any, Any]) -> int | None:
    """Seconds until the maintenance window ends, when `now` (local) is inside it."""
    local = now.astimezone(AMS)
    start, end = window
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start <= end else (t >= start or t < end)
    if not inside:
        return None
    end_dt = datetime.combine(local.date(), end, tzinfo=AMS)
    if end_dt <= local:
        end_dt += timedelta(days=1)
    return max(1, math.ceil((end_dt - local).total_seconds()))
