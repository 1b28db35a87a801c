"""Configuration of the simulator: schools, credentials, world size and fault injection.

`parse_fault_spec` turns the CLI's `--faults` string into a `FaultConfig`; see its docstring
for the syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")

_BRIN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{2}$")
_STATUSES = (429, 502, 503, 504)
_APIS = ("pas", "planner")


class FaultSpecError(ValueError):
    """A `--faults` spec could not be parsed; the message lists every problem at once."""


@dataclass(frozen=True)
class SimSchool:
    """One school of the board.

    `api_key` is the planner organisation's key (the key identifies the school).
    `pas_access=False` makes PAS answer `403` for this school (client not authorised).
    """

    brin: str
    name: str
    region: str
    api_key: str
    pas_access: bool = True


@dataclass(frozen=True)
class FaultConfig:
    """Deterministic fault injection (all draws are seeded from `SimConfig.seed`).

    rate: share of API requests answered with a fault from `kinds` (429/502/503/504).
    executed_share: for writes (non-GET) that get a 502/504: share that is executed first
        and only then answered with the gateway error (outcome unknown to the client).
        429/503 on writes are always rejected before executing.
    html_share: share of 502/504 bodies that are HTML instead of JSON.
    retry_after: `Retry-After` seconds on injected 429/503 (and 502).
    latency_ms: (min, max) real delay added to every API request; (0, 0) in tests.
    revoke_token_after: revoke all PAS tokens once, after this many authenticated PAS requests.
    maintenance: PAS nightly maintenance window (local simulated time) answering 503, or None.
    apis: which APIs get `rate` faults.
    enforce_rate_limits: enforce 300/min (PAS client) and 120/min (planner key) in real time.
    """

    rate: float = 0.0
    kinds: tuple[int, ...] = (429, 502, 503)
    executed_share: float = 0.5
    html_share: float = 0.5
    retry_after: int = 1
    latency_ms: tuple[int, int] = (0, 0)
    revoke_token_after: int | None = None
    maintenance: tuple[time, time] | None = (time(1, 0), time(1, 30))
    apis: tuple[str, ...] = _APIS
    enforce_rate_limits: bool = False


def _default_start() -> datetime:
    return datetime(2026, 9, 1, 8, 0, tzinfo=AMS)


@dataclass(frozen=True)
class SimConfig:
    """Everything the simulated world is generated from; same config + seed => same world.

    clock_rate: simulated seconds per real second (0 = the clock only moves through
        `/_sim/clock`; 1 = real time; 60 = one simulated minute per second).
    planner_delay_hours / deregister_delay_hours: how long after the PAS registration a new
        pupil appears in, or a deregistered pupil disappears from, the planner.
    """

    schools: tuple[SimSchool, ...]
    pas_client_id: str
    pas_client_secret: str
    seed: int = 1
    faults: FaultConfig = field(default_factory=FaultConfig)
    start_time: datetime = field(default_factory=_default_start)
    school_year: str = "2026-2027"
    school_year_start: date = date(2026, 8, 1)
    school_year_end: date = date(2027, 7, 31)
    pupils_per_school: int = 200
    clock_rate: float = 0.0
    token_lifetime_s: int = 3600
    planner_delay_hours: int = 72
    deregister_delay_hours: int = 48

    def __post_init__(self) -> None:
        problems = []
        if not self.schools:
            problems.append("at least one school is required")
        brins = [s.brin for s in self.schools]
        keys = [s.api_key for s in self.schools]
        if len(set(brins)) != len(brins) or len(set(keys)) != len(keys):
            problems.append("BRIN codes and API keys must be unique")
        problems += [f"invalid BRIN {b!r}" for b in brins if not _BRIN.match(b)]
        problems += [
            f"invalid region {s.region!r}" for s in self.schools if s.region not in ("noord", "midden", "zuid")
        ]
        if self.start_time.tzinfo is None:
            problems.append("start_time must be timezone-aware")
        if not re.match(r"^\d{4}-\d{4}$", self.school_year):
            problems.append("school_year must look like 2026-2027")
        if not 10 <= self.pupils_per_school <= 2000:
            problems.append("pupils_per_school must be between 10 and 2000")
        if problems:
            raise ValueError("; ".join(problems))


def demo_config(seed: int = 1, faults: FaultConfig | None = None, schools: int = 2) -> SimConfig:
    """A ready-made board of `schools` schools with fixed demo credentials."""
    names = ["Basisschool De Regenboog", "OBS 't Klavertje", "CBS De Wegwijzer", "IKC Zuiderlicht"]
    regions = ["midden", "noord", "zuid", "midden"]
    return SimConfig(
        schools=tuple(
            SimSchool(f"1{i + 2}AB00", names[i % 4], regions[i % 4], f"sim-key-{i + 1}") for i in range(schools)
        ),
        pas_client_id="sim-client",
        pas_client_secret="sim-secret",
        seed=seed,
        faults=faults or FaultConfig(),
    )


def _parse_ms(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)?", text.strip())
    if not m:
        raise ValueError(text)
    value = float(m.group(1))
    return int(value * 1000) if m.group(2) == "s" else int(value)


def _parse_clock(text: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(text)
    return time(int(m.group(1)), int(m.group(2)))


def _share(value: str) -> float:
    f = float(value)
    if not 0.0 <= f <= 1.0:
        raise ValueError(value)
    return f


def parse_fault_spec(spec: str | None, base: FaultConfig | None = None) -> FaultConfig:
    """Parse a `--faults` spec: comma-separated `key=value` items, e.g.
    `rate=0.2,latency=50ms,revoke_token_after=30,maintenance=01:00-01:30`.

    Keys: rate=0..1, kinds=429/502/503/504, executed_share=0..1, html_share=0..1,
    retry_after=SECONDS, latency=50ms | 0.05s | 20-200ms, revoke_token_after=N|off,
    maintenance=HH:MM-HH:MM|off, apis=pas/planner, rate_limits=on|off.
    An empty spec or `none` gives the defaults. Raises FaultSpecError naming every bad item.
    """
    cfg = base or FaultConfig()
    if spec is None or spec.strip().lower() in ("", "none"):
        return cfg
    # FaultConfig field -> parsed value; each branch below gives its field's type.
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            problems.append(f"{item!r}: expected key=value")
            continue
        try:
            if key in ("rate", "executed_share", "html_share"):
                changes[key] = _share(value)
            elif key == "kinds":
                kinds = tuple(int(k) for k in value.split("/"))
                if not kinds or any(k not in _STATUSES for k in kinds):
                    raise ValueError(value)
                changes["kinds"] = kinds
            elif key == "retry_after":
                retry_after = int(value)
                if retry_after < 0:
                    raise ValueError(value)
                changes["retry_after"] = retry_after
            elif key == "latency":
                lo, _, hi = value.partition("-")
                lo_ms = _parse_ms(lo)
                hi_ms = _parse_ms(hi) if hi else lo_ms
                if hi_ms < lo_ms:
                    raise ValueError(value)
                changes["latency_ms"] = (lo_ms, hi_ms)
            elif key == "revoke_token_after":
                n = None if value.lower() == "off" else int(value)
                if n is not None and n < 1:
                    raise ValueError(value)
                changes["revoke_token_after"] = n
            elif key == "maintenance":
                if value.lower() == "off":
                    changes["maintenance"] = None
                else:
                    start, _, end = value.partition("-")
                    changes["maintenance"] = (_parse_clock(start), _parse_clock(end))
            elif key == "apis":
                apis = tuple(a.strip().lower() for a in value.split("/"))
                if not apis or any(a not in _APIS for a in apis):
                    raise ValueError(value)
                changes["apis"] = apis
            elif key == "rate_limits":
                if value.lower() not in ("on", "off"):
                    raise ValueError(value)
                changes["enforce_rate_limits"] = value.lower() == "on"
            else:
                problems.append(f"unknown key {key!r}")
        except ValueError:
            problems.append(f"bad value for {key}: {value!r}")
    if problems:
        raise FaultSpecError(
            "invalid --faults spec: "
            + "; ".join(problems)
            + " (example: rate=0.2,latency=50ms,revoke_token_after=30,maintenance=01:00-01:30)"
        )
    return replace(cfg, **changes)
