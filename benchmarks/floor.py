"""The floor of a benchmark scenario: the shortest wall time the contracts allow for its requests.

Three bounds, the floor is the largest:
- latency: the fewest requests the scenario needs × the latency ÷ the requests allowed in flight
  (`sync.concurrency`);
- PAS: the board has one PAS client, 300 requests per minute (contract "Rate limits");
- planner: 120 requests per minute per school key; the keys are independent, so the busiest key counts.

A rate limit is a sliding window (adapters/_ratelimit.py, as the vendors count): at most `per_minute`
requests start in any 60 s, so the n-th request starts ⌊(n-1)/per_minute⌋ minutes after the first at
the earliest, and ends one latency later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PAS_PER_MINUTE = 300  # one client for the board
PLANNER_PER_MINUTE = 120  # per school key


@dataclass(frozen=True)
class Need:
    """The fewest requests of a scenario: PAS requests of the board, planner requests per school key."""

    pas: int = 0
    planner: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.pas + sum(self.planner.values())

    def __add__(self, other: Need) -> Need:
        keys = set(self.planner) | set(other.planner)
        return Need(self.pas + other.pas, {k: self.planner.get(k, 0) + other.planner.get(k, 0) for k in keys})


def rate_bound(requests: int, per_minute: int, latency_s: float) -> float:
    """The earliest end of `requests` requests under a limit of `per_minute` per sliding minute."""
    if requests <= 0:
        return 0.0
    return (requests - 1) // per_minute * 60.0 + latency_s


def floor(
    need: Need,
    latency_s: float,
    concurrency: int,
    *,
    pas_per_minute: int = PAS_PER_MINUTE,
    planner_per_minute: int = PLANNER_PER_MINUTE,
) -> dict[str, float | str]:
    """The floor in seconds, each bound, and which bound it is."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    bounds = {
        "latency": need.total * latency_s / concurrency,
        "pas_limit": rate_bound(need.pas, pas_per_minute, latency_s),
        "planner_limit": max((rate_bound(n, planner_per_minute, latency_s) for n in need.planner.values()), default=0),
    }
    bound = max(bounds, key=lambda k: bounds[k])
    return {
        "floor_s": round(bounds[bound], 3),
        "floor_bound": bound,
        **{f"{k}_bound_s": round(v, 3) for k, v in bounds.items()},
    }


def shares_a_window(before: Need, need: Need) -> bool:
    """Would `need`, started within a minute of `before`, pass a limit only because of `before`?"""
    if before.pas + need.pas > PAS_PER_MINUTE >= need.pas:
        return True
    return any(before.planner.get(k, 0) + n > PLANNER_PER_MINUTE >= n for k, n in need.planner.items())


def ratio(wall_s: float, floor_s: float) -> float | None:
    """Wall time in floors (None when the floor is 0: nothing to wait for)."""
    return round(wall_s / floor_s, 2) if floor_s > 0 else None
